//! Callbacks: a `bpf_loop` written, as the XDP layer writes it, on
//! `HelperCtx::call`, run by hand-written programs in both modes.

mod common;

use common::*;
use rxdp_interp::{
    CALLBACK_TAG, Env, Fault, FaultKind, HelperCtx, HelperError, Interpreter, Region, RegionKind,
    RunLimits, Stack, callback_value,
};
use rxdp_isa::AluOp::*;
use rxdp_isa::Cond::*;
use rxdp_isa::{Insn, Pseudo, Size, Width};

/// `bpf_loop`'s helper id.
const BPF_FUNC_LOOP: u32 = 181;
/// `BPF_MAX_LOOPS` (include/linux/bpf.h).
const BPF_MAX_LOOPS: u64 = 1 << 23;
const EINVAL: i64 = 22;
const E2BIG: i64 = 7;

/// An environment with `bpf_loop` and, as memory, a buffer of counters.
struct LoopEnv {
    mem: Region,
    /// Callbacks run, all levels together.
    callbacks: usize,
}

/// `bpf_loop(nr_loops, callback_fn, callback_ctx, flags)` with the
/// kernel's semantics (kernel/bpf/bpf_iter.c): flags must be 0 (-EINVAL),
/// at most BPF_MAX_LOOPS iterations (-E2BIG), the callback gets (index,
/// callback_ctx) and a non-zero return stops the loop; returns the
/// iterations run.
fn bpf_loop(
    env: &mut LoopEnv,
    ctx: &mut HelperCtx<'_, LoopEnv>,
    a: [u64; 5],
) -> Result<u64, HelperError> {
    let nr_loops = a[0] as u32;
    if a[3] != 0 {
        return Ok(-EINVAL as u64);
    }
    if u64::from(nr_loops) > BPF_MAX_LOOPS {
        return Ok(-E2BIG as u64);
    }
    for i in 0..nr_loops {
        env.callbacks += 1;
        // SAFETY: bpf_loop's callback prototype: r1 the index, r2 the
        // callback_ctx the program passed.
        let stop = unsafe { ctx.call(env, a[1], [u64::from(i), a[2], 0, 0, 0]) }?;
        if stop != 0 {
            return Ok(u64::from(i) + 1);
        }
    }
    Ok(u64::from(nr_loops))
}

// SAFETY: the one region is the caller's buffer, which outlives the run.
unsafe impl Env for LoopEnv {
    fn call_helper(
        &mut self,
        id: u32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, Self>,
    ) -> Result<u64, HelperError> {
        match id {
            BPF_FUNC_LOOP => bpf_loop(self, ctx, args),
            _ => Err(HelperError::Unknown(id)),
        }
    }
    fn regions(&self, out: &mut Vec<Region>) {
        out.push(self.mem);
    }
}

/// What a run left: its result, the buffer (r1 points to it) and the
/// number of callbacks run.
type Outcome = (Result<u64, Fault>, [u64; 4], usize);

/// Runs `p` with `r1` = a buffer of four u64 in the checked mode and,
/// unless that faulted, in the fast mode; asserts both agree.
fn run_loop(p: &[Insn], limits: RunLimits) -> Outcome {
    let prog = Interpreter::new(p).expect("prepare");
    let run = |checked: bool| {
        let mut buf = [0u64; 4];
        let addr = buf.as_mut_ptr().expose_provenance() as u64;
        let mut env = LoopEnv {
            mem: Region {
                start: addr,
                len: 32,
                writable: true,
                kind: RegionKind::Memory,
            },
            callbacks: 0,
        };
        let r = if checked {
            prog.run_checked_with(addr, &mut Stack::new(), &mut env, limits)
        } else {
            // SAFETY: only run after the checked run found every access of
            // this deterministic program valid.
            unsafe { prog.run(addr, &mut Stack::new(), &mut env) }
        };
        (r, buf, env.callbacks)
    };
    let checked = run(true);
    if checked.0.is_ok() {
        assert_eq!(run(false), checked, "fast and checked modes disagree");
    }
    checked
}

/// `lddw rdst, <the subprogram starting at slot pc + 1 + off>`.
fn func(dst: u8, off: i32) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: reg(dst),
            pseudo: Pseudo::Func,
            imm: u64::from(off as u32),
        },
        Insn::LdImm64Hi,
    ]
}

/// A main program: `bpf_loop(nr, cb, r10 - 8, flags)` summing into its
/// stack slot r10 - 8; returns `((sum * 1000) + bpf_loop's r0) * 100 + r6 +
/// r7` (r6 = 6 and r7 = 7 before the call), followed by `cb`.
fn summing(nr: u64, flags: i32, cb: &[Insn]) -> Vec<Insn> {
    let mut p = prog![
        mov64(6, 6),
        mov64(7, 7),
        st(Size::DW, 10, -8, 0),
        lddw(1, nr),
        func(2, 17), // slot 5: the callback starts at slot 23
        movx(3, 10),
        alu64(Add, 3, k(-8)),
        mov64(4, flags),
        call_helper(BPF_FUNC_LOOP as i32), // slot 10
        movx(8, 0),
        ldx(Size::DW, 0, 10, -8),
        alu64(Mul, 0, k(1000)),
        alu64(Add, 0, x(8)),
        alu64(Mul, 0, k(100)),
        alu64(Add, 0, x(6)),
        alu64(Add, 0, x(7)),
        EXIT, // slot 18
        EXIT,
        EXIT,
        EXIT,
        EXIT, // slot 22: padding up to the callback
    ];
    assert_eq!(p.len(), 23);
    p.extend_from_slice(cb);
    p
}

/// The callback: `*r2 += r1`, clobbering r6 and r7; returns 1 (stop) when
/// the index is `stop_at`.
fn add_index(stop_at: i32) -> Vec<Insn> {
    prog![
        mov64(6, 99),
        mov64(7, 99),
        ldx(Size::DW, 0, 2, 0),
        alu64(Add, 0, x(1)),
        stx(Size::DW, 2, 0, 0),
        mov64(0, 0),
        jmp(Width::W64, Ne, 1, k(stop_at), 1),
        mov64(0, 1),
        EXIT,
    ]
}

/// What [`summing`] returns, in the program's wrapping arithmetic.
fn expect(sum: u64, ret: u64) -> u64 {
    (sum * 1000).wrapping_add(ret).wrapping_mul(100) + 6 + 7
}

#[test]
fn bpf_loop_sums_indices_through_the_callers_stack() {
    let (r, _, callbacks) = run_loop(&summing(10, 0, &add_index(-1)), RunLimits::default());
    assert_eq!(r, Ok(expect(45, 10)));
    assert_eq!(callbacks, 10);
    let (r, _, callbacks) = run_loop(&summing(0, 0, &add_index(-1)), RunLimits::default());
    assert_eq!(r, Ok(expect(0, 0)));
    assert_eq!(callbacks, 0);
}

#[test]
fn a_callback_returning_1_stops_the_loop() {
    let (r, _, callbacks) = run_loop(&summing(10, 0, &add_index(3)), RunLimits::default());
    assert_eq!(r, Ok(expect(1 + 2 + 3, 4)));
    assert_eq!(callbacks, 4);
}

#[test]
fn bpf_loop_rejects_flags_and_too_many_loops_without_calling_back() {
    let p = summing(BPF_MAX_LOOPS + 1, 0, &add_index(-1));
    let (r, _, callbacks) = run_loop(&p, RunLimits::default());
    assert_eq!(r, Ok(expect(0, -E2BIG as u64)));
    assert_eq!(callbacks, 0);
    let (r, _, callbacks) = run_loop(&summing(3, 1, &add_index(-1)), RunLimits::default());
    assert_eq!(r, Ok(expect(0, -EINVAL as u64)));
    assert_eq!(callbacks, 0);
}

#[test]
fn a_callback_has_its_own_frame_below_the_callers() {
    // The callback returns its r10's distance below the caller's (passed
    // as callback_ctx), after using its own slot r10 - 8.
    let p = prog![
        st(Size::DW, 10, -8, 5),
        mov64(1, 1),
        func(2, 10), // slot 2: the callback at slot 13
        movx(3, 10),
        mov64(4, 0),
        call_helper(BPF_FUNC_LOOP as i32),
        // The caller's slot is intact: r0 = its value * 10000 + distance
        // (stored by the callback in the caller's -16 slot).
        ldx(Size::DW, 0, 10, -8),
        alu64(Mul, 0, k(10_000)),
        ldx(Size::DW, 1, 10, -16),
        alu64(Add, 0, x(1)),
        EXIT,
        EXIT, // slot 12
        // callback (slot 13)
        st(Size::DW, 10, -8, 77),
        movx(0, 2),
        alu64(Sub, 0, x(10)),
        stx(Size::DW, 2, 0, -16),
        mov64(0, 0),
        EXIT,
    ];
    assert_eq!(run_loop(&p, RunLimits::default()).0, Ok(5 * 10_000 + 512));
}

/// A callback that runs `bpf_loop(1, itself, ctx)` after counting its
/// level in `ctx[0]`; the main program starts it after `calls` bpf-to-bpf
/// calls.
fn recursing(calls: usize) -> Vec<Insn> {
    let mut p = Vec::new();
    for _ in 0..calls {
        p.extend(prog![call_local(1), EXIT]);
    }
    // Start the loop with r2 = cb (slot n + 7), r3 = ctx (r1 at entry).
    let n = p.len() as i32;
    p.extend(prog![
        movx(3, 1),
        mov64(1, 1),
        func(2, 4), // slot n + 2
        mov64(4, 0),
        call_helper(BPF_FUNC_LOOP as i32),
        EXIT, // slot n + 6
        // callback (slot n + 7): r2 = ctx.
        movx(6, 2),
        ldx(Size::DW, 0, 6, 0),
        alu64(Add, 0, k(1)),
        stx(Size::DW, 6, 0, 0),
        movx(3, 6),
        mov64(1, 1),
        func(2, -7), // slot n + 13: back to n + 7
        mov64(4, 0),
        call_helper(BPF_FUNC_LOOP as i32), // slot n + 16
        EXIT,
    ]);
    assert_eq!(p.len() as i32, n + 18);
    p
}

#[test]
fn callbacks_take_frames_and_the_ninth_faults() {
    let p = recursing(0);
    let (r, buf, _) = run_loop(&p, RunLimits::default());
    let e = r.unwrap_err();
    // Frames 1..=7 ran the callback; the one in frame 7 asked for an 8th.
    assert_eq!(buf[0], 7);
    assert_eq!((e.pc, e.kind), (p.len() - 2, FaultKind::CallDepth));
    // Two bpf-to-bpf frames first leave room for five callbacks.
    let p = recursing(2);
    let (r, buf, _) = run_loop(&p, RunLimits::default());
    assert_eq!(buf[0], 5);
    assert_eq!(r.unwrap_err().kind, FaultKind::CallDepth);
}

#[test]
fn only_the_programs_own_callbacks_can_be_called() {
    // A plain number, and a tagged value naming a slot no `lddw` of a
    // function names: both fault at the helper call.
    for func in [5, callback_value(0)] {
        let p = prog![
            mov64(1, 1),
            mov64(3, 0),
            mov64(4, 0),
            lddw(2, func),
            call_helper(BPF_FUNC_LOOP as i32),
            EXIT,
        ];
        let e = run_loop(&p[..], RunLimits::default()).0.unwrap_err();
        assert_eq!((e.pc, e.kind), (5, FaultKind::BadCallback { func }));
    }
    assert_eq!(callback_value(3) & CALLBACK_TAG, CALLBACK_TAG);
}

#[test]
fn a_fault_in_a_callback_ends_the_run_with_the_callbacks_fault() {
    // The callback reads 8 bytes past the top of the stack.
    let mut cb = prog![movx(3, 2), alu64(Add, 3, k(8)), ldx(Size::DW, 0, 3, 0)];
    cb.extend(prog![mov64(0, 0), EXIT]);
    let p = summing(3, 0, &cb);
    let (r, _, callbacks) = run_loop(&p, RunLimits::default());
    let e = r.unwrap_err();
    assert_eq!(e.pc, 23 + 2, "the callback's load");
    assert!(matches!(e.kind, FaultKind::OutOfBounds { .. }), "{e}");
    assert_eq!(callbacks, 1);
}

#[test]
fn callbacks_spend_the_runs_instruction_budget() {
    // The main program runs 9 instructions up to the call, each callback
    // 8: the twelfth callback runs out after 3.
    let p = summing(1000, 0, &add_index(-1));
    let limits = RunLimits { max_insns: 100 };
    let (r, buf, callbacks) = run_loop(&p, limits);
    assert_eq!(r.unwrap_err().kind, FaultKind::InsnLimit { max_insns: 100 });
    assert_eq!(callbacks, 12);
    assert_eq!(buf, [0; 4]);
    // The budget that fits exactly: 9 before the call, 8 per callback, and
    // 8 after it (the fused `r0 = 0; exit` counts as two).
    let p = summing(3, 0, &add_index(-1));
    let exact = 9 + 3 * 8 + 8;
    let fits = RunLimits { max_insns: exact };
    assert_eq!(run_loop(&p, fits).0, Ok(expect(3, 3)));
    let short = RunLimits {
        max_insns: exact - 1,
    };
    assert!(run_loop(&p, short).0.is_err());
}
