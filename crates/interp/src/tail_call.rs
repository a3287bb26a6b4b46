//! Tail calls: `bpf_tail_call(ctx, prog_array, index)`, helper 12.
//!
//! A successful tail call does not return. The program of the current
//! frame is replaced by the target, which starts at its first instruction
//! in the same frame (same `r10`; what the stack holds is not defined for
//! it, as in the kernel), with `r1` the context the caller passed. Its
//! `exit` returns to whoever called the frame that tail-called: the caller
//! of a bpf-to-bpf subprogram, the helper that ran a callback, or the end
//! of the run in the main frame. A failed tail call has no effect: the
//! program continues with its next instruction, all registers as they were
//! (the kernel's interpreter leaves them untouched; its verifier makes
//! `r0`-`r5` unreadable after the call, so no verified program can observe
//! them).
//!
//! The kernel's order of checks, which decides what counts toward the
//! limit (`___bpf_prog_run`, `JMP_TAIL_CALL`, kernel/bpf/core.c; the JITs
//! agree since "bpf: Change value of MAX_TAIL_CALL_CNT from 32 to 33"):
//!
//! 1. `index >= max_entries`: fail, not counted;
//! 2. 33 tail calls already made in this run: fail;
//! 3. count it;
//! 4. the slot is empty: fail (counted all the same);
//! 5. jump.
//!
//! So a program that tail-calls itself runs 34 times. The count is one per
//! run, shared by every frame: a subprogram cannot reset it (the kernel's
//! "bpf, x64: Fix tailcall hierarchy", 2024, passes it by pointer through
//! bpf-to-bpf calls for this reason).
//!
//! The environment only looks the slot up ([`crate::Env::tail_call_target`]);
//! the interpreter turns `call 12` into a dedicated op at preparation.

use core::ptr::NonNull;

use crate::env::Env;
use crate::fault::FaultKind;
use crate::prepare::Interpreter;

/// The helper id of `bpf_tail_call`.
pub const BPF_FUNC_TAIL_CALL: u32 = 12;

/// Tail calls one run may make (`MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALL_CNT: u32 = 33;

/// A prepared program a tail call jumps to.
///
/// It is a pointer: the environment keeps the program alive for the whole
/// run (a prog array frees a replaced program only after a grace period),
/// as the [`Env`] contract requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TailTarget(NonNull<Interpreter>);

impl TailTarget {
    /// A target pointing at `prog`.
    pub fn new(prog: &Interpreter) -> TailTarget {
        TailTarget(NonNull::from(prog))
    }

    /// The program.
    pub(crate) fn as_ptr(self) -> *const Interpreter {
        self.0.as_ptr()
    }
}

/// What a prog array slot holds, as [`Env::tail_call_target`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailCallSlot {
    /// The index is not below the prog array's `max_entries`: the tail
    /// call fails without counting toward the limit.
    OutOfRange,
    /// The slot is empty: the tail call fails, and counts toward the limit
    /// (the kernel counts before it looks at the slot).
    Empty,
    /// The slot holds this program.
    Prog(TailTarget),
}

/// Runs the checks of a tail call; the program to jump to, or `None` to
/// fall through. `count` is the run's tail call count.
#[inline(never)]
pub(crate) fn tail_call<E: Env>(
    env: &mut E,
    prog_array: u64,
    index: u32,
    count: &mut u32,
) -> Result<Option<*const Interpreter>, FaultKind> {
    let slot = env
        .tail_call_target(prog_array, index)
        .map_err(FaultKind::Helper)?;
    if slot == TailCallSlot::OutOfRange || *count >= MAX_TAIL_CALL_CNT {
        return Ok(None);
    }
    *count += 1;
    Ok(match slot {
        TailCallSlot::Prog(t) => Some(t.as_ptr()),
        TailCallSlot::OutOfRange | TailCallSlot::Empty => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_plain_pointers() {
        let p = Interpreter::new(&[rxdp_isa::Insn::Exit]).unwrap();
        let t = TailTarget::new(&p);
        assert_eq!(t.as_ptr(), &p as *const Interpreter);
        assert_eq!(t, TailTarget::new(&p));
    }
}
