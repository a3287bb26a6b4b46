//! What a helper call sees of the run, and callbacks: helpers that call a
//! subprogram of the program (`bpf_loop`, helper 181;
//! `bpf_for_each_map_elem`, helper 164; ...).
//!
//! # Function addresses
//!
//! A program names a callback with `lddw rX, <subprogram>` (`src` =
//! `BPF_PSEUDO_FUNC`, [`rxdp_isa::Pseudo::Func`]; the immediate is the
//! subprogram's first slot relative to the slot after the `lddw`: the
//! kernel's `find_subprog(env, i + insn->imm + 1)`). The fixup layer leaves
//! these `lddw`s as they are; [`crate::Interpreter::new`] turns each into
//! `rX = CALLBACK_TAG | slot`, [`CALLBACK_TAG`] in the high 32 bits and the
//! absolute slot of the subprogram in the low 32. The value stands for the
//! kernel's code address of the subprogram: the verifier lets the program
//! only pass it to a helper (no arithmetic on `PTR_TO_FUNC`), and the
//! helper hands it back to [`HelperCtx::call`], which accepts only values
//! the program's own `lddw`s produce. The tag makes the value a
//! non-canonical address on x86-64 and aarch64, so it can never be mistaken
//! for a pointer.
//!
//! # Running a callback
//!
//! [`HelperCtx::call`] runs the subprogram as a bpf-to-bpf call would: in
//! the next frame (depth + 1; the 8-frame limit holds, as the kernel's
//! verifier counts callback frames), on the same [`crate::Stack`], in the
//! same mode, with `r1..r5` from the helper and `r10` the new frame's top.
//! The caller's frame stays live, so the callback may access the caller's
//! stack through a pointer it was passed (`bpf_loop`'s `callback_ctx`),
//! and the caller's registers are untouched. The callback's `exit` returns
//! its `r0` to the helper. A checked run's instruction budget and a run's
//! tail call count are shared with the callback.

use core::marker::PhantomData;

use crate::env::{Env, Region};
use crate::exec::{Entry, run_callback};
use crate::fault::{Fault, FaultKind};
use crate::prepare::Interpreter;
use crate::stack::{MAX_CALL_FRAMES, STACK_FRAME_SIZE, Stack};

/// The high 32 bits of the value a `lddw rX, <subprogram>` loads; the low
/// 32 bits are the subprogram's slot.
pub const CALLBACK_TAG: u64 = 0xca11_bac0_0000_0000;

/// The value `lddw rX, <subprogram>` loads for a subprogram starting at
/// `slot`.
pub const fn callback_value(slot: u32) -> u64 {
    CALLBACK_TAG | slot as u64
}

/// What a helper call sees of the run that made it: a way to grant memory
/// to the checked mode, and to run callbacks. One is passed to every
/// [`Env::call_helper`], and by native code's helpers (see
/// [`HelperCtx::native`]) to the same helper functions.
pub struct HelperCtx<'a, E> {
    caller: Caller<'a, E>,
}

/// Who called the helper.
enum Caller<'a, E> {
    /// The interpreter.
    Interp(InterpCaller<'a>, PhantomData<fn(&mut E)>),
    /// Compiled code, which runs its callbacks itself.
    Native(&'a mut dyn NativeCaller<E>),
}

/// The interpreter's side of a helper call.
pub(crate) struct InterpCaller<'a> {
    pub(crate) stack: &'a mut Stack,
    /// The program that made the call (after a tail call, the target).
    pub(crate) prog: &'a Interpreter,
    /// The frame depth of the caller (0 for the main program).
    pub(crate) depth: usize,
    /// The caller's `r10`.
    pub(crate) fp: u64,
    /// The slot of the helper call, for faults.
    pub(crate) pc: usize,
    /// Whether the run is checked.
    pub(crate) checked: bool,
}

/// How compiled code runs a callback for a helper: the JIT's side of
/// [`HelperCtx::call`]. Its runs are never checked.
pub trait NativeCaller<E> {
    /// Runs the callback `func` (a value the program loaded with `lddw rX,
    /// <subprogram>`) with `r1..r5 = args`, in environment `env`.
    ///
    /// # Safety
    ///
    /// As for [`HelperCtx::call`] in the fast mode: `args` must be the
    /// callback prototype's arguments the verifier assumed.
    unsafe fn call(&mut self, env: &mut E, func: u64, args: [u64; 5]) -> Result<u64, Fault>;
}

impl<E> core::fmt::Debug for HelperCtx<'_, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.caller {
            Caller::Interp(c, _) => f
                .debug_struct("HelperCtx")
                .field("depth", &c.depth)
                .field("pc", &c.pc)
                .field("checked", &c.checked)
                .finish_non_exhaustive(),
            Caller::Native(_) => f.debug_struct("HelperCtx").finish_non_exhaustive(),
        }
    }
}

impl<'a, E> HelperCtx<'a, E> {
    /// The context of a helper the interpreter calls.
    pub(crate) fn interp(caller: InterpCaller<'a>) -> HelperCtx<'a, E> {
        HelperCtx {
            caller: Caller::Interp(caller, PhantomData),
        }
    }

    /// The interpreter's stack, when the interpreter made the call.
    pub(crate) fn interp_stack(&mut self) -> Option<&mut Stack> {
        match &mut self.caller {
            Caller::Interp(c, _) => Some(c.stack),
            Caller::Native(_) => None,
        }
    }

    /// The context of a helper compiled code calls: nothing to grant (its
    /// runs are unchecked), callbacks run by `caller`.
    pub fn native(caller: &'a mut dyn NativeCaller<E>) -> HelperCtx<'a, E> {
        HelperCtx {
            caller: Caller::Native(caller),
        }
    }
}

impl<E: Env> HelperCtx<'_, E> {
    /// Lets the program access `region` for the rest of the run (checked
    /// mode; the fast mode ignores it). For memory the helper hands out,
    /// such as a map value.
    pub fn grant(&mut self, region: Region) {
        if let Caller::Interp(c, _) = &mut self.caller
            && c.checked
        {
            c.stack.granted.push(region);
        }
    }

    /// Whether the run is in the checked mode.
    pub fn is_checked(&self) -> bool {
        matches!(&self.caller, Caller::Interp(c, _) if c.checked)
    }

    /// Runs the callback `func` (a value the program loaded with `lddw rX,
    /// <subprogram>`, see the module docs) with `r1..r5 = args` in a new
    /// frame, and returns its `r0`.
    ///
    /// Fails with a [`Fault`] at the helper call if `func` is no callback
    /// of the calling program ([`FaultKind::BadCallback`]) or if the new
    /// frame would be the ninth ([`FaultKind::CallDepth`]), and with the
    /// callback's own fault if it faults; `?` turns any of them into the
    /// [`crate::HelperError::Callback`] that ends the run with that fault.
    ///
    /// # Safety
    ///
    /// In the fast mode the callback runs unchecked, on the strength of the
    /// verifier's proof, which assumed the arguments of the helper's
    /// callback prototype (for `bpf_loop`: `r1` the index, `r2` the
    /// `callback_ctx` the program passed): `args` must be those. The
    /// checked mode checks every access, so any `args` are safe there.
    pub unsafe fn call(&mut self, env: &mut E, func: u64, args: [u64; 5]) -> Result<u64, Fault> {
        let c = match &mut self.caller {
            Caller::Interp(c, _) => c,
            // SAFETY: the caller's contract is the native caller's.
            Caller::Native(n) => return unsafe { n.call(env, func, args) },
        };
        let fault = |kind| Fault { pc: c.pc, kind };
        let Some(pc) = c.prog.callback_slot(func) else {
            return Err(fault(FaultKind::BadCallback { func }));
        };
        let depth = c.depth + 1;
        if depth >= MAX_CALL_FRAMES {
            return Err(fault(FaultKind::CallDepth));
        }
        let entry = Entry {
            prog: c.prog,
            pc,
            args,
            fp: c.fp - STACK_FRAME_SIZE as u64,
            depth,
        };
        if c.checked {
            // SAFETY: the checked mode checks every access.
            unsafe { run_callback::<E, true>(c.stack, env, entry) }
        } else {
            // SAFETY: the caller passes the arguments the verifier assumed
            // for the callback, which it proved safe with them; the
            // callback's frame is free (the caller's is the deepest live
            // one) and inside the stack (depth < MAX_CALL_FRAMES).
            unsafe { run_callback::<E, false>(c.stack, env, entry) }
        }
    }
}
