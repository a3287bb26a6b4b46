//! Atomics, and the checked mode's memory faults.

mod common;

use common::*;
use rxdp_interp::{
    Access, FaultKind, HelperError, Interpreter, Region, RegionKind, RunLimits, Stack,
};
use rxdp_isa::AluOp;
use rxdp_isa::AtomicOp::{self, *};
use rxdp_isa::{Insn, Size};

/// Runs `r1 = &mem; r2 = src; r0 = r0_in; <atomic on [r1+0]>;` then returns
/// (r0, r2, memory afterwards), in both modes on fresh copies of `mem`.
fn atomic_run(
    size: Size,
    op: AtomicOp,
    fetch: bool,
    mem: u64,
    src: u64,
    r0_in: u64,
) -> (u64, u64, u64) {
    let mut results = Vec::new();
    for fast in [false, true] {
        let mut buf = mem.to_le_bytes();
        let base = buf.as_mut_ptr().expose_provenance() as u64;
        let r = region(&mut buf, true, RegionKind::Memory);
        // r0 and r2 are both results: return r0, stash r2 on the stack.
        let insns = prog![
            lddw(1, base),
            lddw(2, src),
            lddw(0, r0_in),
            atomic(size, op, fetch, 1, 2, 0),
            stx(Size::DW, 10, 2, -8),
            EXIT
        ];
        let prog = Interpreter::new(&insns).unwrap();
        let mut stack = Stack::new();
        let mut env = TestEnv::new();
        env.regions.push(r);
        let r0 = if fast {
            // SAFETY: the program touches its stack and `buf`, aligned.
            unsafe { prog.run(0, &mut stack, &mut env) }
        } else {
            prog.run_checked(0, &mut stack, &mut env)
        }
        .unwrap();
        let r2 = u64::from_le_bytes(stack.bytes()[4096 - 8..].try_into().unwrap());
        results.push((r0, r2, u64::from_le_bytes(buf)));
    }
    assert_eq!(results[0], results[1], "fast and checked disagree");
    results[0]
}

const MEM: u64 = 0xaaaa_aaaa_0000_00f0;

#[test]
fn atomic_arithmetic_without_fetch() {
    let r0 = 0x77;
    assert_eq!(
        atomic_run(Size::DW, Add, false, MEM, 0x10, r0),
        (r0, 0x10, MEM + 0x10)
    );
    assert_eq!(
        atomic_run(Size::DW, Or, false, MEM, 0x0f, r0),
        (r0, 0x0f, MEM | 0x0f)
    );
    assert_eq!(
        atomic_run(Size::DW, And, false, MEM, 0x30, r0),
        (r0, 0x30, 0x30)
    );
    assert_eq!(
        atomic_run(Size::DW, Xor, false, MEM, 0xff, r0),
        (r0, 0xff, 0xaaaa_aaaa_0000_000f)
    );
    // 32-bit: only the low word changes; the register is untouched.
    let src = 0x1_0000_0010;
    assert_eq!(
        atomic_run(Size::W, Add, false, MEM, src, r0),
        (r0, src, MEM + 0x10)
    );
    assert_eq!(
        atomic_run(Size::W, Add, false, 0x5_ffff_ffff, 1, r0),
        (r0, 1, 0x5_0000_0000)
    );
}

#[test]
fn atomic_fetch_puts_the_old_value_in_src() {
    let r0 = 0x77;
    assert_eq!(
        atomic_run(Size::DW, Add, true, MEM, 0x10, r0),
        (r0, MEM, MEM + 0x10)
    );
    assert_eq!(
        atomic_run(Size::DW, And, true, MEM, 0x30, r0),
        (r0, MEM, 0x30)
    );
    // 32-bit fetch zero-extends the old low word.
    assert_eq!(
        atomic_run(Size::W, Or, true, MEM, 0xffff_ffff_0000_0001, r0),
        (r0, 0xf0, MEM | 1)
    );
    assert_eq!(
        atomic_run(Size::W, Xor, true, 0x1_8000_0000, 0, r0),
        (r0, 0x8000_0000, 0x1_8000_0000)
    );
}

#[test]
fn atomic_exchange() {
    let r0 = 0x77;
    assert_eq!(atomic_run(Size::DW, Xchg, true, MEM, 5, r0), (r0, MEM, 5));
    assert_eq!(
        atomic_run(Size::W, Xchg, true, MEM, 0x9_0000_0005, r0),
        (r0, 0xf0, 0xaaaa_aaaa_0000_0005)
    );
}

#[test]
fn atomic_compare_exchange_uses_r0() {
    // Match: memory takes src, r0 gets the old value.
    assert_eq!(
        atomic_run(Size::DW, Cmpxchg, true, MEM, 9, MEM),
        (MEM, 9, 9)
    );
    // No match: memory unchanged, r0 still gets the old value.
    assert_eq!(
        atomic_run(Size::DW, Cmpxchg, true, MEM, 9, 1),
        (MEM, 9, MEM)
    );
    // 32-bit: compares the low halves; r0 receives the old word, zero-extended.
    assert_eq!(
        atomic_run(Size::W, Cmpxchg, true, MEM, 9, 0xffff_ffff_0000_00f0),
        (0xf0, 9, 0xaaaa_aaaa_0000_0009)
    );
    assert_eq!(
        atomic_run(Size::W, Cmpxchg, true, MEM, 9, 0xf1),
        (0xf0, 9, MEM)
    );
}

fn packet_env(pkt: &mut [u8], ctx: &mut [u8]) -> impl Fn() -> TestEnv + use<> {
    let p = region(pkt, true, RegionKind::Packet);
    let c = region(ctx, false, RegionKind::Context);
    move || {
        let mut e = TestEnv::new();
        e.regions = vec![c, p];
        e
    }
}

#[test]
fn packet_access_in_bounds_and_one_byte_past_the_end() {
    let mut pkt = [7u8; 64];
    let mut ctx = [0u8; 16];
    let base = pkt.as_mut_ptr().expose_provenance() as u64;
    let env = packet_env(&mut pkt, &mut ctx);
    let read = |off| prog![lddw(1, base), ldx(Size::W, 0, 1, off), EXIT];
    assert_eq!(run_env(&read(60), 0, &env), Ok(0x0707_0707));
    let e = run_env(&read(61), 0, &env).unwrap_err();
    assert_eq!(e.pc, 2);
    let FaultKind::OutOfBounds {
        access,
        addr,
        size,
        near: Some(near),
    } = e.kind
    else {
        panic!("{e:?}");
    };
    assert_eq!(
        (access, addr, size, near.kind),
        (Access::Read, base + 61, 4, RegionKind::Packet)
    );
    let msg = e.to_string();
    assert!(msg.starts_with("insn 2: read of 4 bytes at 0x"), "{msg}");
    assert!(msg.contains("nearest is packet"), "{msg}");
    assert!(msg.contains("1 bytes past its end"), "{msg}");
}

#[test]
fn writes_to_the_context_are_faults_reads_are_not() {
    let mut pkt = [0u8; 8];
    let mut ctx = [1u8, 0, 0, 0, 0, 0, 0, 0];
    let cbase = ctx.as_mut_ptr().expose_provenance() as u64;
    let env = packet_env(&mut pkt, &mut ctx);
    assert_eq!(
        run_env(&prog![ldx(Size::B, 0, 1, 0), EXIT], cbase, &env),
        Ok(1)
    );
    let e = run_env(&prog![st(Size::W, 1, 4, 0), EXIT], cbase, &env).unwrap_err();
    assert_eq!(e.pc, 0);
    assert!(matches!(
        e.kind,
        FaultKind::ReadOnly {
            size: 4,
            region: Region {
                kind: RegionKind::Context,
                ..
            },
            ..
        }
    ));
    assert!(e.to_string().contains("read-only context"), "{e}");
    // An atomic is a write too.
    let e = run_env(
        &prog![mov64(2, 1), atomic(Size::DW, Add, false, 1, 2, 0), EXIT],
        cbase,
        &env,
    )
    .unwrap_err();
    assert!(matches!(e.kind, FaultKind::ReadOnly { .. }), "{e}");
}

#[test]
fn a_returned_callee_frame_is_dead() {
    // The callee returns a pointer into its own frame; the caller reads it.
    let p = prog![
        call_local(2),
        ldx(Size::DW, 0, 0, 0),
        EXIT,
        st(Size::DW, 10, -8, 1),
        movx(0, 10),
        alu64(AluOp::Add, 0, k(-8)),
        EXIT
    ];
    let e = run_checked(&p, 0, &mut TestEnv::new()).unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(
        matches!(
            e.kind,
            FaultKind::DeadStackFrame {
                access: Access::Read,
                size: 8,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not live"), "{e}");
    // While the callee runs, the caller's frame is live to it.
    let p = prog![
        st(Size::DW, 10, -8, 42),
        movx(1, 10),
        alu64(AluOp::Add, 1, k(-8)),
        call_local(1),
        EXIT,
        ldx(Size::DW, 0, 1, 0),
        EXIT
    ];
    assert_eq!(run_checked(&p, 0, &mut TestEnv::new()), Ok(42));
}

#[test]
fn stack_bounds() {
    let e = run_checked(&prog![st(Size::B, 10, 0, 1), EXIT], 0, &mut TestEnv::new()).unwrap_err();
    assert!(
        matches!(
            e.kind,
            FaultKind::OutOfBounds {
                near: Some(Region {
                    kind: RegionKind::Stack,
                    ..
                }),
                ..
            }
        ),
        "{e}"
    );
    let e = run_checked(
        &prog![st(Size::DW, 10, -516, 1), EXIT],
        0,
        &mut TestEnv::new(),
    )
    .unwrap_err();
    // Below frame 0 lies stack memory of frames not live now.
    assert!(matches!(e.kind, FaultKind::DeadStackFrame { .. }), "{e}");
    assert_eq!(
        run_checked(
            &prog![st(Size::DW, 10, -512, 1), mov64(0, 0), EXIT],
            0,
            &mut TestEnv::new()
        ),
        Ok(0)
    );
}

/// A map lookup helper (id 1) returning a pointer to `value`, granting it
/// when `grant` is set.
fn lookup_env(value: Region, grant: bool) -> TestEnv {
    let mut e = TestEnv::new();
    e.helper = Box::new(move |id, _, g| match id {
        1 => {
            if grant {
                g(value);
            }
            Ok(value.start)
        }
        _ => Err(HelperError::Unknown(id)),
    });
    e
}

#[test]
fn granted_map_values_are_accessible_and_others_are_not() {
    let mut value = [0u8; 16];
    let r = region(&mut value, true, RegionKind::MapValue);
    let p = prog![
        call_helper(1),
        st(Size::DW, 0, 8, 5),
        mov64(2, 3),
        atomic(Size::DW, Add, false, 0, 2, 8),
        ldx(Size::DW, 0, 0, 8),
        EXIT
    ];
    assert_eq!(run_checked(&p, 0, &mut lookup_env(r, true)), Ok(8));
    let e = run_checked(&p, 0, &mut lookup_env(r, false)).unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(
        matches!(
            e.kind,
            FaultKind::OutOfBounds {
                access: Access::Write,
                size: 8,
                ..
            }
        ),
        "{e}"
    );
    // Past the granted value's end.
    let over = prog![call_helper(1), ldx(Size::DW, 0, 0, 12), EXIT];
    let e = run_checked(&over, 0, &mut lookup_env(r, true)).unwrap_err();
    assert!(
        matches!(
            e.kind,
            FaultKind::OutOfBounds {
                near: Some(Region {
                    kind: RegionKind::MapValue,
                    ..
                }),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn misaligned_atomics_fault_in_checked_mode() {
    let p = prog![mov64(2, 1), atomic(Size::W, Add, false, 10, 2, -6), EXIT];
    let e = run_checked(&p, 0, &mut TestEnv::new()).unwrap_err();
    assert_eq!(e.pc, 1);
    assert!(
        matches!(e.kind, FaultKind::MisalignedAtomic { size: 4, .. }),
        "{e}"
    );
}

#[test]
fn runaway_loops_hit_the_instruction_budget() {
    let prog = Interpreter::new(&prog![
        mov64(0, 0),
        alu64(AluOp::Add, 0, k(1)),
        Insn::Ja {
            off: -2,
            long: false
        }
    ])
    .unwrap();
    let limits = RunLimits { max_insns: 1001 };
    let e = prog
        .run_checked_with(0, &mut Stack::new(), &mut TestEnv::new(), limits)
        .unwrap_err();
    assert_eq!(e.kind, FaultKind::InsnLimit { max_insns: 1001 });
    // 1 + 2 * 500 instructions ran; the next one (slot 1) is refused.
    assert_eq!(e.pc, 1);
    // Exactly enough budget is enough.
    let ok = Interpreter::new(&prog![mov64(0, 3), EXIT]).unwrap();
    let two = RunLimits { max_insns: 2 };
    assert_eq!(
        ok.run_checked_with(0, &mut Stack::new(), &mut TestEnv::new(), two),
        Ok(3)
    );
}

#[test]
fn regions_are_asked_again_after_helper_calls() {
    // The helper swaps the environment's packet for a shorter one, as
    // bpf_xdp_adjust_tail does; the next access sees the new bounds.
    struct Shrink {
        len: u64,
        base: u64,
    }
    // SAFETY: reports a prefix of a buffer that outlives the run.
    unsafe impl rxdp_interp::Env for Shrink {
        fn call_helper(
            &mut self,
            _: u32,
            _: [u64; 5],
            _: &mut rxdp_interp::HelperCtx<'_, Self>,
        ) -> Result<u64, HelperError> {
            self.len = 4;
            Ok(0)
        }
        fn regions(&self, out: &mut Vec<Region>) {
            out.push(Region {
                start: self.base,
                len: self.len,
                writable: true,
                kind: RegionKind::Packet,
            });
        }
    }
    let mut pkt = [0u8; 16];
    let base = pkt.as_mut_ptr().expose_provenance() as u64;
    let p = prog![
        movx(6, 1),
        ldx(Size::B, 0, 6, 8),
        call_helper(1),
        ldx(Size::B, 0, 6, 8),
        EXIT
    ];
    let prog = Interpreter::new(&p).unwrap();
    let e = prog
        .run_checked(base, &mut Stack::new(), &mut Shrink { len: 16, base })
        .unwrap_err();
    assert_eq!(e.pc, 3);
}
