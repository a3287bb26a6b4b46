//! Tail calls: chains, the fall-through of a failed call, the limit of 33
//! and the kernel's order of checks, tail calls from subprograms.
//!
//! Every program gets `r1` = a 64-byte context of eight u64 counters that
//! the programs increment, so that what ran can be read after the run
//! (registers do not survive a tail call).

mod common;

use common::*;
use rxdp_interp::{
    Env, Fault, FaultKind, HelperCtx, HelperError, Interpreter, MAX_TAIL_CALL_CNT, Region,
    RegionKind, Stack, TailCallSlot, TailTarget,
};
use rxdp_isa::AluOp::*;
use rxdp_isa::Cond::*;
use rxdp_isa::{Insn, Size, Width};

/// The address programs pass as their prog array.
const ARRAY: u64 = 0xa000;

/// An environment with one prog array and the counters as its memory.
struct TailEnv {
    progs: Vec<Option<Interpreter>>,
    ctx: Region,
}

// SAFETY: the one region is the caller's counters, which outlive the run;
// the programs live in the environment, which outlives the run.
unsafe impl Env for TailEnv {
    fn call_helper(
        &mut self,
        id: u32,
        _: [u64; 5],
        _: &mut HelperCtx<'_, Self>,
    ) -> Result<u64, HelperError> {
        Err(HelperError::Unknown(id))
    }
    fn regions(&self, out: &mut Vec<Region>) {
        out.push(self.ctx);
    }
    fn tail_call_target(
        &mut self,
        prog_array: u64,
        index: u32,
    ) -> Result<TailCallSlot, HelperError> {
        if prog_array != ARRAY {
            return Err(HelperError::Failed {
                id: 12,
                reason: format!("{prog_array:#x} is no prog array"),
            });
        }
        Ok(match self.progs.get(index as usize) {
            None => TailCallSlot::OutOfRange,
            Some(None) => TailCallSlot::Empty,
            Some(Some(p)) => TailCallSlot::Prog(TailTarget::new(p)),
        })
    }
}

/// Runs `main` with the prog array `array` in the checked mode and, unless
/// that faulted, in the fast mode; asserts both agree on the result and on
/// the counters. Returns the result and the counters.
fn run_chain(main: &[Insn], array: &[Option<Vec<Insn>>]) -> (Result<u64, Fault>, [u64; 8]) {
    let main = Interpreter::new(main).expect("prepare main");
    let run = |checked: bool| {
        let mut counters = [0u64; 8];
        let addr = counters.as_mut_ptr().expose_provenance() as u64;
        let mut env = TailEnv {
            progs: array
                .iter()
                .map(|p| p.as_ref().map(|p| Interpreter::new(p).expect("prepare")))
                .collect(),
            ctx: Region {
                start: addr,
                len: 64,
                writable: true,
                kind: RegionKind::Context,
            },
        };
        let r = if checked {
            main.run_checked(addr, &mut Stack::new(), &mut env)
        } else {
            // SAFETY: only run after the checked run found every access of
            // this deterministic program valid.
            unsafe { main.run(addr, &mut Stack::new(), &mut env) }
        };
        (r, counters)
    };
    let checked = run(true);
    if checked.0.is_ok() {
        assert_eq!(run(false), checked, "fast and checked modes disagree");
    }
    checked
}

/// `r6 = r1`: keeps the context.
fn keep_ctx() -> Insn {
    movx(6, 1)
}

/// `ctx[i] += 1` (needs r6 = ctx; clobbers r0).
fn count(i: i16) -> [Insn; 3] {
    [
        ldx(Size::DW, 0, 6, 8 * i),
        alu64(Add, 0, k(1)),
        stx(Size::DW, 6, 0, 8 * i),
    ]
}

/// `bpf_tail_call(r6, ARRAY, index)`: five slots.
fn tail(index: i32) -> Vec<Insn> {
    prog![movx(1, 6), lddw(2, ARRAY), mov64(3, index), call_helper(12)]
}

#[test]
fn a_chain_of_three_runs_each_once_and_returns_the_last_exit() {
    let step = |i: i16, next: i32| {
        let mut p = prog![keep_ctx(), count(i)];
        p.extend(tail(next));
        // Never reached: a successful tail call does not return.
        p.extend(prog![mov64(0, 100 + i as i32), EXIT]);
        p
    };
    let last = prog![keep_ctx(), count(2), mov64(0, 42), EXIT];
    let array = [Some(step(0, 1)), Some(step(1, 2)), Some(last)];
    let (r, counters) = run_chain(&step(0, 1), &array);
    assert_eq!(r, Ok(42));
    assert_eq!(counters, [1, 1, 1, 0, 0, 0, 0, 0]);
}

#[test]
fn a_failed_tail_call_falls_through_with_registers_untouched() {
    // r0 = 1234, r4 = 40, r5 = 50; after the failed call r0 + r3 + r4 + r5,
    // minus 1_000_000 if r1 or r2 changed.
    let p = |index: i32| {
        let mut p = prog![keep_ctx(), mov64(0, 1234), mov64(4, 40), mov64(5, 50)];
        p.extend(tail(index));
        p.extend(prog![
            alu64(Add, 0, x(3)),
            alu64(Add, 0, x(4)),
            alu64(Add, 0, x(5)),
            lddw(7, ARRAY),
            jmp(Width::W64, Eq, 2, x(7), 1),
            alu64(Sub, 0, k(1_000_000)),
            jmp(Width::W64, Eq, 1, x(6), 1),
            alu64(Sub, 0, k(1_000_000)),
            EXIT,
        ]);
        p
    };
    let target = prog![mov64(0, 7), EXIT];
    // Slot 1 is empty, slot 5 past the end of a 2-entry array.
    let array = [Some(target), None];
    assert_eq!(run_chain(&p(1), &array).0, Ok(1234 + 1 + 40 + 50));
    assert_eq!(run_chain(&p(5), &array).0, Ok(1234 + 5 + 40 + 50));
    // Only the low 32 bits of the index count: 1 << 32 is index 0.
    let mut wide = prog![keep_ctx(), movx(1, 6), lddw(2, ARRAY), lddw(3, 1 << 32)];
    wide.extend(prog![call_helper(12), mov64(0, 1), EXIT]);
    assert_eq!(run_chain(&wide, &array).0, Ok(7));
}

#[test]
fn a_program_tail_calling_itself_runs_34_times() {
    let mut p = prog![keep_ctx(), count(0)];
    p.extend(tail(0));
    p.extend(prog![mov64(0, 7), EXIT]);
    let (r, counters) = run_chain(&p, &[Some(p.clone())]);
    assert_eq!(MAX_TAIL_CALL_CNT, 33);
    assert_eq!(r, Ok(7), "the 34th run's tail call fails and falls through");
    assert_eq!(counters[0], 34);
}

/// A program that makes `n` tail calls to `index` (each failing), then one
/// to slot 1, which returns 2; returns 1 if that last one fails.
fn failing_then_valid(n: i32, index: i32) -> Vec<Insn> {
    let mut p = prog![keep_ctx(), mov64(7, 0)];
    p.extend(tail(index)); // slots 2..=6
    p.extend(prog![
        alu64(Add, 7, k(1)),
        jmp(Width::W64, Lt, 7, k(n), -7) // back to slot 2
    ]);
    p.extend(tail(1));
    p.extend(prog![mov64(0, 1), EXIT]);
    p
}

#[test]
fn failed_calls_to_empty_slots_count_toward_the_limit_but_out_of_range_ones_do_not() {
    let array = [None, Some(prog![mov64(0, 2), EXIT]), None];
    // 32 empty-slot calls leave one tail call.
    assert_eq!(run_chain(&failing_then_valid(32, 2), &array).0, Ok(2));
    // 33 exhaust the limit: the valid call fails.
    assert_eq!(run_chain(&failing_then_valid(33, 2), &array).0, Ok(1));
    // Out-of-range indexes are rejected before counting.
    assert_eq!(run_chain(&failing_then_valid(100, 3), &array).0, Ok(2));
}

#[test]
fn a_tail_call_from_a_subprogram_returns_to_the_subprograms_caller() {
    let main = prog![
        keep_ctx(),
        mov64(7, 3),
        call_local(3),
        alu64(Add, 0, k(1000)),
        alu64(Add, 0, x(7)),
        EXIT,
        // subprogram (slot 6): clobbers r7, tail-calls with its r1 = ctx.
        mov64(7, 50),
        lddw(2, ARRAY),
        mov64(3, 0),
        call_helper(12),
        mov64(0, 5),
        EXIT,
    ];
    let target = prog![keep_ctx(), count(0), mov64(0, 7), EXIT];
    let (r, counters) = run_chain(&main, &[Some(target)]);
    // The target's 7, then the main program's own code with its r7.
    assert_eq!(r, Ok(7 + 1000 + 3));
    assert_eq!(counters[0], 1);
}

#[test]
fn subprograms_share_the_count_and_cannot_reset_it() {
    // The kernel selftest "tailcall hierarchy" shape: a loop of 40 calls of
    // a subprogram that tail-calls a counting program.
    let main = prog![
        keep_ctx(),
        mov64(7, 0),
        movx(1, 6), // loop (slot 2)
        call_local(4),
        alu64(Add, 7, k(1)),
        jmp(Width::W64, Lt, 7, k(40), -4),
        movx(0, 7),
        EXIT,
        // subprogram (slot 8)
        lddw(2, ARRAY),
        mov64(3, 0),
        call_helper(12),
        mov64(0, 0),
        EXIT,
    ];
    let target = prog![keep_ctx(), count(0), mov64(0, 0), EXIT];
    let (r, counters) = run_chain(&main, &[Some(target)]);
    assert_eq!(r, Ok(40));
    assert_eq!(counters[0], 33);
}

#[test]
fn the_targets_own_accesses_are_checked() {
    // The target reads past the 64-byte context; the fault names its slot.
    let target = prog![mov64(0, 0), ldx(Size::DW, 0, 1, 64), EXIT];
    let mut main = prog![keep_ctx()];
    main.extend(tail(0));
    main.push(EXIT);
    let (r, _) = run_chain(&main, &[Some(target)]);
    let e = r.unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(
        matches!(e.kind, FaultKind::OutOfBounds { addr, .. } if addr % 8 == 0),
        "{e}"
    );
}

#[test]
fn an_environment_without_prog_arrays_faults_as_for_an_unknown_helper() {
    let p = prog![mov64(3, 0), call_helper(12), EXIT];
    let e = run_env(&p, 0, TestEnv::new).unwrap_err();
    assert_eq!(
        (e.pc, e.kind),
        (1, FaultKind::Helper(HelperError::Unknown(12)))
    );
    // So does a prog array address the environment does not know.
    let mut bad = prog![keep_ctx(), movx(1, 6), lddw(2, 0xbad), mov64(3, 0)];
    bad.extend(prog![call_helper(12), EXIT]);
    let e = run_chain(&bad, &[]).0.unwrap_err();
    assert!(matches!(
        e.kind,
        FaultKind::Helper(HelperError::Failed { id: 12, .. })
    ));
}
