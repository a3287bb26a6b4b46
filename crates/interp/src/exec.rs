//! The execution loop, shared by the fast and the checked mode.
//!
//! One function, generic over `CHECKED`, serves both: in the fast mode
//! every `if CHECKED` block is compiled out, so the loop is a single
//! `match` over a dense opcode with registers in a local array and no
//! bounds checks (the invariants `prepare` established make them
//! redundant, see the SAFETY comments).

use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};

use crate::RunLimits;
use crate::alu::*;
use crate::callback::{HelperCtx, InterpCaller};
use crate::check::MemCheck;
use crate::env::{Env, HelperError};
use crate::fault::{Access, Fault, FaultKind};
use crate::prepare::{AtomicKind, Interpreter, Op, OpCode};
use crate::stack::{CallFrame, MAX_CALL_FRAMES, STACK_FRAME_SIZE, Stack};
use crate::tail_call::tail_call;

impl Interpreter {
    /// Fast mode: runs the program with `r1 = ctx` and returns `r0`, with no
    /// checks at all.
    ///
    /// # Safety
    ///
    /// The program must have been proven safe (by the verifier) for this
    /// environment: every memory access it can make is to memory valid for
    /// that access, every atomic is aligned, and `ctx` is what the proof
    /// assumed.
    pub unsafe fn run<E: Env>(
        &self,
        ctx: u64,
        stack: &mut Stack,
        env: &mut E,
    ) -> Result<u64, Fault> {
        // SAFETY: the caller guarantees the program's accesses are valid.
        unsafe { self.execute::<E, false>([ctx, 0, 0, 0, 0], stack, env, u64::MAX) }
    }

    /// Fast mode with `r1..r5` set from `args` (the rest zero), for
    /// program types whose entry takes more than a context, such as the
    /// conformance suite's `(memory, length)`.
    ///
    /// # Safety
    ///
    /// As for [`Interpreter::run`].
    pub unsafe fn run_with_args<E: Env>(
        &self,
        args: [u64; 5],
        stack: &mut Stack,
        env: &mut E,
    ) -> Result<u64, Fault> {
        // SAFETY: the caller guarantees the program's accesses are valid.
        unsafe { self.execute::<E, false>(args, stack, env, u64::MAX) }
    }

    /// Checked mode with `r1..r5` set from `args`.
    pub fn run_checked_with_args<E: Env>(
        &self,
        args: [u64; 5],
        stack: &mut Stack,
        env: &mut E,
        limits: RunLimits,
    ) -> Result<u64, Fault> {
        // SAFETY: as in `run_checked_with`.
        unsafe { self.execute::<E, true>(args, stack, env, limits.max_insns) }
    }

    /// Checked mode with the default [`RunLimits`]: every load, store and
    /// atomic is checked against the memory the program may touch at that
    /// moment; a violation ends the run with a [`Fault`].
    pub fn run_checked<E: Env>(
        &self,
        ctx: u64,
        stack: &mut Stack,
        env: &mut E,
    ) -> Result<u64, Fault> {
        self.run_checked_with(ctx, stack, env, RunLimits::default())
    }

    /// Checked mode with explicit limits.
    pub fn run_checked_with<E: Env>(
        &self,
        ctx: u64,
        stack: &mut Stack,
        env: &mut E,
        limits: RunLimits,
    ) -> Result<u64, Fault> {
        // SAFETY: with CHECKED every access is first checked to lie in the
        // live stack (ours) or in a region the environment reported, which
        // the `Env` contract makes valid memory; atomics are also checked
        // for alignment.
        unsafe { self.execute::<E, true>([ctx, 0, 0, 0, 0], stack, env, limits.max_insns) }
    }

    /// A run from the main program's entry: resets the run's scratch
    /// state and runs the loop. With `CHECKED = false` the caller vouches
    /// for memory safety.
    #[inline(always)]
    unsafe fn execute<E: Env, const CHECKED: bool>(
        &self,
        args: [u64; 5],
        stack: &mut Stack,
        env: &mut E,
        max_insns: u64,
    ) -> Result<u64, Fault> {
        stack.counters.tail_calls = 0;
        if CHECKED {
            stack.counters.budget = max_insns;
            stack.counters.max_insns = max_insns;
            stack.regions.clear();
            stack.granted.clear();
            env.regions(&mut stack.regions);
        }
        let entry = Entry {
            prog: self,
            pc: 0,
            args,
            fp: stack.top(),
            depth: 0,
        };
        // SAFETY: the caller's (for CHECKED, the checks'); frame 0 is free.
        unsafe { interpret::<E, CHECKED>(stack, env, entry) }.map_err(unbox)
    }
}

/// Where the loop starts: the main program's entry, or a callback's.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// The program (the Env contract keeps tail-call targets alive).
    pub(crate) prog: *const Interpreter,
    /// The first slot to run, a valid index of `prog`'s ops.
    pub(crate) pc: usize,
    /// `r1..r5`.
    pub(crate) args: [u64; 5],
    /// The entry frame's `r10`.
    pub(crate) fp: u64,
    /// The entry frame's depth, below `MAX_CALL_FRAMES`; its `exit` ends
    /// the loop.
    pub(crate) depth: usize,
}

/// The loop for a helper's callback: a separate copy, so that the main
/// entry's stays specialised for depth 0.
///
/// # Safety
///
/// As for [`interpret`].
#[inline(never)]
pub(crate) unsafe fn run_callback<E: Env, const CHECKED: bool>(
    stack: &mut Stack,
    env: &mut E,
    entry: Entry,
) -> Result<u64, Fault> {
    // SAFETY: the caller's.
    unsafe { interpret::<E, CHECKED>(stack, env, entry) }.map_err(unbox)
}

/// A fault out of its box, off the run's way: the loop returns faults
/// boxed so that its result fits two registers.
#[cold]
#[inline(never)]
#[expect(clippy::boxed_local, reason = "the loop's faults come boxed")]
fn unbox(fault: Box<Fault>) -> Fault {
    *fault
}

/// The loop: runs from `entry` until the entry frame exits.
///
/// # Safety
///
/// `entry.prog` is alive for the call and `entry.pc` one of its slots;
/// `entry.fp` is the top of frame `entry.depth` of `stack` and that frame
/// and the deeper ones are free. With `CHECKED = false`, every access the
/// program can make is valid (the verifier's proof).
///
/// A fault comes boxed: the result then fits two registers, and the
/// common `Ok` needs no memory.
#[inline(always)]
unsafe fn interpret<E: Env, const CHECKED: bool>(
    stack: &mut Stack,
    env: &mut E,
    entry: Entry,
) -> Result<u64, Box<Fault>> {
    let stack_top = stack.top();
    let base = entry.depth;
    let mut prog = entry.prog;
    // SAFETY: `prog` is alive (the caller's contract).
    let mut ops: *const Op = unsafe { (*prog).ops.as_ptr() };
    // One literal, so that the entry writes each register once.
    let [a1, a2, a3, a4, a5] = entry.args;
    let mut regs: [u64; 11] = [0, a1, a2, a3, a4, a5, 0, 0, 0, 0, entry.fp];
    let mut fp = entry.fp;
    let mut depth = base;
    let mut pc = entry.pc;
    let mut budget = stack.counters.budget;
    // Declared before the macros below so that they can name them.
    let mut op: Op;

    // The slot of the op being run: `pc` has moved one past it, and no op
    // faults or calls a helper after it has moved `pc` further.
    macro_rules! at {
        () => {
            pc - 1
        };
    }
    macro_rules! r {
        ($i:expr) => {
            // SAFETY: `prepare` sets register fields only from
            // `Reg::num`, which is at most 10.
            *unsafe { regs.get_unchecked_mut($i as usize) }
        };
    }
    macro_rules! alu {
        (K, |$a:ident, $b:ident| $e:expr) => {{
            let $a: u64 = r!(op.dst);
            let $b: u64 = op.imm;
            r!(op.dst) = $e;
        }};
        (X, |$a:ident, $b:ident| $e:expr) => {{
            let $a: u64 = r!(op.dst);
            let $b: u64 = r!(op.src);
            r!(op.dst) = $e;
        }};
    }
    macro_rules! jmp {
            (K, |$a:ident, $b:ident| $e:expr) => {{
                let $a: u64 = r!(op.dst);
                let $b: u64 = op.imm;
                if $e {
                    pc = op.off as usize;
                }
            }};
            (X, |$a:ident, $b:ident| $e:expr) => {{
                let $a: u64 = r!(op.dst);
                let $b: u64 = r!(op.src);
                if $e {
                    pc = op.off as usize;
                }
            }};
        }
    macro_rules! fault {
        ($kind:expr) => {
            return Err(Box::new(Fault {
                pc: at!(),
                kind: $kind,
            }))
        };
    }
    macro_rules! check {
        ($addr:expr, $size:expr, $access:expr) => {
            if CHECKED {
                let chk = MemCheck {
                    stack_top,
                    regions: &stack.regions,
                    granted: &stack.granted,
                };
                if let Err(kind) = chk.check($addr, $size, $access, fp) {
                    fault!(kind);
                }
            }
        };
    }
    macro_rules! load {
        ($t:ty) => {{
            let addr = r!(op.src).wrapping_add(op.off as i64 as u64);
            check!(addr, size_of::<$t>() as u64, Access::Read);
            // SAFETY: fast mode: the caller vouches for every access;
            // checked mode: `check!` found it in accessible memory.
            unsafe { ptr::with_exposed_provenance::<$t>(addr as usize).read_unaligned() }
        }};
    }
    macro_rules! store {
        ($t:ty, $v:expr) => {{
            let addr = r!(op.dst).wrapping_add(op.off as i64 as u64);
            let v = $v as $t;
            check!(addr, size_of::<$t>() as u64, Access::Write);
            // SAFETY: as for `load!`, for writes.
            unsafe { ptr::with_exposed_provenance_mut::<$t>(addr as usize).write_unaligned(v) }
        }};
    }
    macro_rules! atomic_addr {
        ($size:expr) => {{
            let addr = r!(op.dst).wrapping_add(op.off as i64 as u64);
            if CHECKED && addr % $size != 0 {
                fault!(FaultKind::MisalignedAtomic { addr, size: $size });
            }
            check!(addr, $size, Access::Write);
            addr as usize
        }};
    }
    // Returns from the entry frame (the end of the run or of a
    // callback) or from a bpf-to-bpf call.
    macro_rules! exit {
        () => {{
            if depth == base {
                if CHECKED {
                    stack.counters.budget = budget;
                }
                return Ok(r!(0));
            }
            depth -= 1;
            let frame = stack.frames[depth];
            [r!(6), r!(7), r!(8), r!(9)] = frame.saved;
            prog = frame.prog;
            ops = frame.ops;
            pc = frame.ret_pc;
            fp += STACK_FRAME_SIZE as u64;
            r!(10) = fp;
        }};
    }
    // Calls a helper with a context for grants and callbacks. The
    // budget lives in the stack across the call, for callbacks to use.
    macro_rules! helper {
        ($id:expr, $args:expr) => {{
            if CHECKED {
                stack.counters.budget = budget;
            }
            let ctx = HelperCtx::interp(InterpCaller {
                stack: &mut *stack,
                // SAFETY: `prog` is alive for the run.
                prog: unsafe { &*prog },
                depth,
                fp,
                pc: at!(),
                checked: CHECKED,
            });
            let result = call_helper::<E, CHECKED>(env, $id, $args, ctx);
            if CHECKED {
                budget = stack.counters.budget;
            }
            match result {
                Ok(v) => r!(0) = v,
                Err(HelperError::Callback(fault)) => return Err(fault),
                Err(e) => fault!(FaultKind::Helper(e)),
            }
        }};
    }
    macro_rules! legacy {
        ($t:ty, $off:expr) => {{
            match legacy_load::<E, $t>(env, $off) {
                Ok(Some(v)) => r!(0) = v,
                // Out of the packet: `r0 = 0; exit`, as the kernel's
                // rewrite (`bpf_gen_ld_abs`, net/core/filter.c) does: the
                // current frame returns 0.
                Ok(None) => {
                    r!(0) = 0;
                    exit!();
                }
                Err(kind) => fault!(kind),
            }
        }};
    }

    loop {
        // SAFETY: `pc` is always a valid index of `ops` (whose program is
        // alive: the run's own, or a tail-call target the Env contract
        // keeps alive): it starts at 0 or at a callback slot `prepare`
        // validated, and becomes either a target `prepare` validated, the
        // slot after an op that is not the last (the trailing `FellOff`
        // never advances), the slot after the second of a `lddw` (which
        // `prepare` checked), 0 of a tail-call target, or a return address
        // (the slot after a call) saved by the call together with its
        // program's ops.
        op = unsafe { *ops.add(pc) };
        pc += 1;
        if CHECKED {
            if budget == 0 {
                fault!(FaultKind::InsnLimit {
                    max_insns: stack.counters.max_insns
                });
            }
            budget -= 1;
        }
        match op.code {
            OpCode::Add64K => alu!(K, |a, b| a.wrapping_add(b)),
            OpCode::Add64X => alu!(X, |a, b| a.wrapping_add(b)),
            OpCode::Sub64K => alu!(K, |a, b| a.wrapping_sub(b)),
            OpCode::Sub64X => alu!(X, |a, b| a.wrapping_sub(b)),
            OpCode::Mul64K => alu!(K, |a, b| a.wrapping_mul(b)),
            OpCode::Mul64X => alu!(X, |a, b| a.wrapping_mul(b)),
            OpCode::Div64K => alu!(K, |a, b| div64(a, b)),
            OpCode::Div64X => alu!(X, |a, b| div64(a, b)),
            OpCode::Sdiv64K => alu!(K, |a, b| sdiv64(a, b)),
            OpCode::Sdiv64X => alu!(X, |a, b| sdiv64(a, b)),
            OpCode::Mod64K => alu!(K, |a, b| mod64(a, b)),
            OpCode::Mod64X => alu!(X, |a, b| mod64(a, b)),
            OpCode::Smod64K => alu!(K, |a, b| smod64(a, b)),
            OpCode::Smod64X => alu!(X, |a, b| smod64(a, b)),
            OpCode::Or64K => alu!(K, |a, b| a | b),
            OpCode::Or64X => alu!(X, |a, b| a | b),
            OpCode::And64K => alu!(K, |a, b| a & b),
            OpCode::And64X => alu!(X, |a, b| a & b),
            OpCode::Lsh64K => alu!(K, |a, b| lsh64(a, b)),
            OpCode::Lsh64X => alu!(X, |a, b| lsh64(a, b)),
            OpCode::Rsh64K => alu!(K, |a, b| rsh64(a, b)),
            OpCode::Rsh64X => alu!(X, |a, b| rsh64(a, b)),
            OpCode::Arsh64K => alu!(K, |a, b| arsh64(a, b)),
            OpCode::Arsh64X => alu!(X, |a, b| arsh64(a, b)),
            OpCode::Xor64K => alu!(K, |a, b| a ^ b),
            OpCode::Xor64X => alu!(X, |a, b| a ^ b),
            OpCode::Mov64K => r!(op.dst) = op.imm,
            OpCode::Mov64X => r!(op.dst) = r!(op.src),

            OpCode::Add32K => alu!(K, |a, b| zext32(a.wrapping_add(b))),
            OpCode::Add32X => alu!(X, |a, b| zext32(a.wrapping_add(b))),
            OpCode::Sub32K => alu!(K, |a, b| zext32(a.wrapping_sub(b))),
            OpCode::Sub32X => alu!(X, |a, b| zext32(a.wrapping_sub(b))),
            OpCode::Mul32K => alu!(K, |a, b| zext32(a.wrapping_mul(b))),
            OpCode::Mul32X => alu!(X, |a, b| zext32(a.wrapping_mul(b))),
            OpCode::Div32K => alu!(K, |a, b| div32(a, b)),
            OpCode::Div32X => alu!(X, |a, b| div32(a, b)),
            OpCode::Sdiv32K => alu!(K, |a, b| sdiv32(a, b)),
            OpCode::Sdiv32X => alu!(X, |a, b| sdiv32(a, b)),
            OpCode::Mod32K => alu!(K, |a, b| mod32(a, b)),
            OpCode::Mod32X => alu!(X, |a, b| mod32(a, b)),
            OpCode::Smod32K => alu!(K, |a, b| smod32(a, b)),
            OpCode::Smod32X => alu!(X, |a, b| smod32(a, b)),
            OpCode::Or32K => alu!(K, |a, b| zext32(a | b)),
            OpCode::Or32X => alu!(X, |a, b| zext32(a | b)),
            OpCode::And32K => alu!(K, |a, b| zext32(a & b)),
            OpCode::And32X => alu!(X, |a, b| zext32(a & b)),
            OpCode::Lsh32K => alu!(K, |a, b| lsh32(a, b)),
            OpCode::Lsh32X => alu!(X, |a, b| lsh32(a, b)),
            OpCode::Rsh32K => alu!(K, |a, b| rsh32(a, b)),
            OpCode::Rsh32X => alu!(X, |a, b| rsh32(a, b)),
            OpCode::Arsh32K => alu!(K, |a, b| arsh32(a, b)),
            OpCode::Arsh32X => alu!(X, |a, b| arsh32(a, b)),
            OpCode::Xor32K => alu!(K, |a, b| zext32(a ^ b)),
            OpCode::Xor32X => alu!(X, |a, b| zext32(a ^ b)),
            OpCode::Mov32K => r!(op.dst) = op.imm,
            OpCode::Mov32X => r!(op.dst) = zext32(r!(op.src)),

            OpCode::MovSx64B => r!(op.dst) = r!(op.src) as i8 as u64,
            OpCode::MovSx64H => r!(op.dst) = r!(op.src) as i16 as u64,
            OpCode::MovSx64W => r!(op.dst) = r!(op.src) as i32 as u64,
            OpCode::MovSx32B => r!(op.dst) = u64::from(r!(op.src) as i8 as u32),
            OpCode::MovSx32H => r!(op.dst) = u64::from(r!(op.src) as i16 as u32),
            OpCode::Neg64 => r!(op.dst) = r!(op.dst).wrapping_neg(),
            OpCode::Neg32 => r!(op.dst) = zext32(r!(op.dst).wrapping_neg()),
            OpCode::Le16 => r!(op.dst) = u64::from((r!(op.dst) as u16).to_le()),
            OpCode::Le32 => r!(op.dst) = u64::from((r!(op.dst) as u32).to_le()),
            OpCode::Le64 => r!(op.dst) = r!(op.dst).to_le(),
            OpCode::Be16 => r!(op.dst) = u64::from((r!(op.dst) as u16).to_be()),
            OpCode::Be32 => r!(op.dst) = u64::from((r!(op.dst) as u32).to_be()),
            OpCode::Be64 => r!(op.dst) = r!(op.dst).to_be(),
            OpCode::Swap16 => r!(op.dst) = u64::from((r!(op.dst) as u16).swap_bytes()),
            OpCode::Swap32 => r!(op.dst) = u64::from((r!(op.dst) as u32).swap_bytes()),
            OpCode::Swap64 => r!(op.dst) = r!(op.dst).swap_bytes(),

            OpCode::Ja => pc = op.off as usize,
            OpCode::Jeq64K => jmp!(K, |a, b| a == b),
            OpCode::Jeq64X => jmp!(X, |a, b| a == b),
            OpCode::Jgt64K => jmp!(K, |a, b| a > b),
            OpCode::Jgt64X => jmp!(X, |a, b| a > b),
            OpCode::Jge64K => jmp!(K, |a, b| a >= b),
            OpCode::Jge64X => jmp!(X, |a, b| a >= b),
            OpCode::Jset64K => jmp!(K, |a, b| a & b != 0),
            OpCode::Jset64X => jmp!(X, |a, b| a & b != 0),
            OpCode::Jne64K => jmp!(K, |a, b| a != b),
            OpCode::Jne64X => jmp!(X, |a, b| a != b),
            OpCode::Jsgt64K => jmp!(K, |a, b| (a as i64) > b as i64),
            OpCode::Jsgt64X => jmp!(X, |a, b| (a as i64) > b as i64),
            OpCode::Jsge64K => jmp!(K, |a, b| a as i64 >= b as i64),
            OpCode::Jsge64X => jmp!(X, |a, b| a as i64 >= b as i64),
            OpCode::Jlt64K => jmp!(K, |a, b| a < b),
            OpCode::Jlt64X => jmp!(X, |a, b| a < b),
            OpCode::Jle64K => jmp!(K, |a, b| a <= b),
            OpCode::Jle64X => jmp!(X, |a, b| a <= b),
            OpCode::Jslt64K => jmp!(K, |a, b| (a as i64) < b as i64),
            OpCode::Jslt64X => jmp!(X, |a, b| (a as i64) < b as i64),
            OpCode::Jsle64K => jmp!(K, |a, b| a as i64 <= b as i64),
            OpCode::Jsle64X => jmp!(X, |a, b| a as i64 <= b as i64),
            OpCode::Jeq32K => jmp!(K, |a, b| a as u32 == b as u32),
            OpCode::Jeq32X => jmp!(X, |a, b| a as u32 == b as u32),
            OpCode::Jgt32K => jmp!(K, |a, b| a as u32 > b as u32),
            OpCode::Jgt32X => jmp!(X, |a, b| a as u32 > b as u32),
            OpCode::Jge32K => jmp!(K, |a, b| a as u32 >= b as u32),
            OpCode::Jge32X => jmp!(X, |a, b| a as u32 >= b as u32),
            OpCode::Jset32K => jmp!(K, |a, b| a as u32 & b as u32 != 0),
            OpCode::Jset32X => jmp!(X, |a, b| a as u32 & b as u32 != 0),
            OpCode::Jne32K => jmp!(K, |a, b| a as u32 != b as u32),
            OpCode::Jne32X => jmp!(X, |a, b| a as u32 != b as u32),
            OpCode::Jsgt32K => jmp!(K, |a, b| a as i32 > b as i32),
            OpCode::Jsgt32X => jmp!(X, |a, b| a as i32 > b as i32),
            OpCode::Jsge32K => jmp!(K, |a, b| a as i32 >= b as i32),
            OpCode::Jsge32X => jmp!(X, |a, b| a as i32 >= b as i32),
            OpCode::Jlt32K => jmp!(K, |a, b| (a as u32) < b as u32),
            OpCode::Jlt32X => jmp!(X, |a, b| (a as u32) < b as u32),
            OpCode::Jle32K => jmp!(K, |a, b| a as u32 <= b as u32),
            OpCode::Jle32X => jmp!(X, |a, b| a as u32 <= b as u32),
            OpCode::Jslt32K => jmp!(K, |a, b| (a as i32) < b as i32),
            OpCode::Jslt32X => jmp!(X, |a, b| (a as i32) < b as i32),
            OpCode::Jsle32K => jmp!(K, |a, b| a as i32 <= b as i32),
            OpCode::Jsle32X => jmp!(X, |a, b| a as i32 <= b as i32),

            // One arm for both, so that the helper call (the environment's
            // `call_helper` inlined) is emitted once: a smaller loop.
            OpCode::CallHelper | OpCode::Callx => {
                let id = if op.code == OpCode::CallHelper {
                    op.imm as u32
                } else {
                    let target = r!(op.dst);
                    let Ok(id) = u32::try_from(target) else {
                        fault!(FaultKind::BadCallx { target });
                    };
                    id
                };
                let args = [r!(1), r!(2), r!(3), r!(4), r!(5)];
                helper!(id, args);
            }
            OpCode::TailCall => {
                let counter = &mut stack.counters.tail_calls;
                match tail_call(env, r!(2), r!(3) as u32, counter) {
                    // The target starts in this frame; r1 is still the
                    // context the caller passed.
                    Ok(Some(target)) => {
                        prog = target;
                        // SAFETY: the Env contract keeps targets alive
                        // for the run.
                        ops = unsafe { (*prog).ops.as_ptr() };
                        pc = 0;
                    }
                    // Failed: falls through, registers untouched.
                    Ok(None) => {}
                    Err(kind) => fault!(kind),
                }
            }
            OpCode::CallLocal => {
                if depth >= MAX_CALL_FRAMES - 1 {
                    fault!(FaultKind::CallDepth);
                }
                stack.frames[depth] = CallFrame {
                    ret_pc: pc,
                    saved: [r!(6), r!(7), r!(8), r!(9)],
                    prog,
                    ops,
                };
                depth += 1;
                fp -= STACK_FRAME_SIZE as u64;
                r!(10) = fp;
                pc = op.off as usize;
            }
            OpCode::Exit => exit!(),
            OpCode::RetK => {
                // The end of the run (or callback) returns the constant
                // without a trip through the register file.
                if !CHECKED && depth == base {
                    return Ok(op.imm);
                }
                r!(0) = op.imm;
                // The checked mode runs the `exit` in the next slot as
                // its own instruction, so that the budget counts both.
                if !CHECKED {
                    exit!();
                }
            }

            OpCode::LdxB => r!(op.dst) = u64::from(load!(u8)),
            OpCode::LdxH => r!(op.dst) = u64::from(load!(u16)),
            OpCode::LdxW => r!(op.dst) = u64::from(load!(u32)),
            OpCode::LdxDW => r!(op.dst) = load!(u64),
            OpCode::LdxSB => r!(op.dst) = load!(i8) as u64,
            OpCode::LdxSH => r!(op.dst) = load!(i16) as u64,
            OpCode::LdxSW => r!(op.dst) = load!(i32) as u64,
            OpCode::StxB => store!(u8, r!(op.src)),
            OpCode::StxH => store!(u16, r!(op.src)),
            OpCode::StxW => store!(u32, r!(op.src)),
            OpCode::StxDW => store!(u64, r!(op.src)),
            OpCode::StB => store!(u8, op.imm),
            OpCode::StH => store!(u16, op.imm),
            OpCode::StW => store!(u32, op.imm),
            OpCode::StDW => store!(u64, op.imm),

            OpCode::Atomic32 => {
                let addr = atomic_addr!(4);
                // SAFETY: valid memory as for `load!`; aligned (checked
                // mode checks it, the verifier proved it for the fast).
                let cell = unsafe { AtomicU32::from_ptr(ptr::with_exposed_provenance_mut(addr)) };
                let kind = AtomicKind::from_imm(op.imm);
                match atomic32(cell, kind, r!(op.src), r!(0)) {
                    Fetched::Nothing => {}
                    Fetched::Src(v) => r!(op.src) = v,
                    Fetched::R0(v) => r!(0) = v,
                }
            }
            OpCode::AtomicAdd32 => {
                let addr = atomic_addr!(4);
                // SAFETY: as for `Atomic32`.
                let cell = unsafe { AtomicU32::from_ptr(ptr::with_exposed_provenance_mut(addr)) };
                cell.fetch_add(r!(op.src) as u32, SeqCst);
            }
            OpCode::AtomicAdd64 => {
                let addr = atomic_addr!(8);
                // SAFETY: as for `Atomic32`.
                let cell = unsafe { AtomicU64::from_ptr(ptr::with_exposed_provenance_mut(addr)) };
                cell.fetch_add(r!(op.src), SeqCst);
            }
            OpCode::Atomic64 => {
                let addr = atomic_addr!(8);
                // SAFETY: as for `Atomic32`.
                let cell = unsafe { AtomicU64::from_ptr(ptr::with_exposed_provenance_mut(addr)) };
                let kind = AtomicKind::from_imm(op.imm);
                match atomic64(cell, kind, r!(op.src), r!(0)) {
                    Fetched::Nothing => {}
                    Fetched::Src(v) => r!(op.src) = v,
                    Fetched::R0(v) => r!(0) = v,
                }
            }

            OpCode::LdDw => {
                r!(op.dst) = op.imm;
                pc += 1;
            }
            OpCode::LdAbsB => legacy!(u8, op.imm as i32),
            OpCode::LdAbsH => legacy!(u16, op.imm as i32),
            OpCode::LdAbsW => legacy!(u32, op.imm as i32),
            OpCode::LdIndB => legacy!(u8, ind_offset(r!(op.src), op.imm)),
            OpCode::LdIndH => legacy!(u16, ind_offset(r!(op.src), op.imm)),
            OpCode::LdIndW => legacy!(u32, ind_offset(r!(op.src), op.imm)),

            // Unreachable: `prepare` forbids jumps into the second slot
            // and `LdDw` skips it. Were it reached, doing nothing is
            // harmless.
            OpCode::LdDwHi => {}
            OpCode::FellOff => fault!(FaultKind::FellOffEnd),
        }
    }
}

/// Calls a helper; in the checked mode, refreshes the environment's
/// regions afterwards.
#[inline(always)]
fn call_helper<E: Env, const CHECKED: bool>(
    env: &mut E,
    id: u32,
    args: [u64; 5],
    mut ctx: HelperCtx<'_, E>,
) -> Result<u64, HelperError> {
    let r0 = env.call_helper(id, args, &mut ctx)?;
    if CHECKED && let Some(stack) = ctx.interp_stack() {
        stack.regions.clear();
        env.regions(&mut stack.regions);
    }
    Ok(r0)
}

/// The packet offset of `LD_IND`: the register plus the immediate, in 32
/// bits (as the kernel's rewrite into a helper call computes it).
#[inline(always)]
fn ind_offset(src: u64, imm: u64) -> i32 {
    (src as u32).wrapping_add(imm as u32) as i32
}

/// A value of a legacy packet load.
trait BigEndian: Copy {
    fn be_to_u64(self) -> u64;
}
impl BigEndian for u8 {
    fn be_to_u64(self) -> u64 {
        self.into()
    }
}
impl BigEndian for u16 {
    fn be_to_u64(self) -> u64 {
        u16::from_be(self).into()
    }
}
impl BigEndian for u32 {
    fn be_to_u64(self) -> u64 {
        u32::from_be(self).into()
    }
}

/// `LD_ABS`/`LD_IND`: the big-endian value at `off` in the legacy packet,
/// or `None` if it lies outside (negative offsets, the kernel's special
/// `SKF_*_OFF` ranges, are outside).
#[inline(never)]
fn legacy_load<E: Env, T: BigEndian>(env: &E, off: i32) -> Result<Option<u64>, FaultKind> {
    let (base, len) = env.legacy_packet().ok_or(FaultKind::NoLegacyPacket)?;
    let Ok(off) = u64::try_from(off) else {
        return Ok(None);
    };
    if off + size_of::<T>() as u64 > len {
        return Ok(None);
    }
    // SAFETY: the `Env` contract makes the legacy packet valid for reads of
    // `len` bytes; the access lies inside it.
    let v = unsafe { ptr::with_exposed_provenance::<T>((base + off) as usize).read_unaligned() };
    Ok(Some(v.be_to_u64()))
}

/// The register an atomic writes back, if any: the operand register for
/// fetching operations and `xchg`, `r0` for `cmpxchg`. Only that one is
/// written, so a fetch into `r0` itself keeps the fetched value.
enum Fetched {
    /// Nothing is written back.
    Nothing,
    /// The old memory value goes into the operand register.
    Src(u64),
    /// The old memory value goes into `r0`.
    R0(u64),
}

/// Applies a 32-bit atomic; the fetched value is zero-extended.
fn atomic32(cell: &AtomicU32, kind: AtomicKind, src: u64, r0: u64) -> Fetched {
    let v = src as u32;
    let old = |x: u32| Fetched::Src(u64::from(x));
    match kind {
        AtomicKind::Add => _ = cell.fetch_add(v, SeqCst),
        AtomicKind::Or => _ = cell.fetch_or(v, SeqCst),
        AtomicKind::And => _ = cell.fetch_and(v, SeqCst),
        AtomicKind::Xor => _ = cell.fetch_xor(v, SeqCst),
        AtomicKind::FetchAdd => return old(cell.fetch_add(v, SeqCst)),
        AtomicKind::FetchOr => return old(cell.fetch_or(v, SeqCst)),
        AtomicKind::FetchAnd => return old(cell.fetch_and(v, SeqCst)),
        AtomicKind::FetchXor => return old(cell.fetch_xor(v, SeqCst)),
        AtomicKind::Xchg => return old(cell.swap(v, SeqCst)),
        AtomicKind::Cmpxchg => {
            let (Ok(prev) | Err(prev)) = cell.compare_exchange(r0 as u32, v, SeqCst, SeqCst);
            return Fetched::R0(u64::from(prev));
        }
    }
    Fetched::Nothing
}

/// Applies a 64-bit atomic.
fn atomic64(cell: &AtomicU64, kind: AtomicKind, src: u64, r0: u64) -> Fetched {
    match kind {
        AtomicKind::Add => _ = cell.fetch_add(src, SeqCst),
        AtomicKind::Or => _ = cell.fetch_or(src, SeqCst),
        AtomicKind::And => _ = cell.fetch_and(src, SeqCst),
        AtomicKind::Xor => _ = cell.fetch_xor(src, SeqCst),
        AtomicKind::FetchAdd => return Fetched::Src(cell.fetch_add(src, SeqCst)),
        AtomicKind::FetchOr => return Fetched::Src(cell.fetch_or(src, SeqCst)),
        AtomicKind::FetchAnd => return Fetched::Src(cell.fetch_and(src, SeqCst)),
        AtomicKind::FetchXor => return Fetched::Src(cell.fetch_xor(src, SeqCst)),
        AtomicKind::Xchg => return Fetched::Src(cell.swap(src, SeqCst)),
        AtomicKind::Cmpxchg => {
            let (Ok(prev) | Err(prev)) = cell.compare_exchange(r0, src, SeqCst, SeqCst);
            return Fetched::R0(prev);
        }
    }
    Fetched::Nothing
}
