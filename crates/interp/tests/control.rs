//! Jumps, bpf-to-bpf calls, helper calls and legacy packet loads.

mod common;

use common::*;
use rxdp_interp::{FaultKind, HelperError, Interpreter, Stack};
use rxdp_isa::AluOp::*;
use rxdp_isa::Cond::*;
use rxdp_isa::{Cond, Insn, Operand, Reg, Size, Width};

/// 1 if `a cond b` jumps (`width`), else 0; checks the K form too when `b`
/// is representable as the immediate.
fn taken(width: Width, cond: Cond, a: u64, b: u64) -> u64 {
    let body = |src: Operand| {
        prog![
            mov64(0, 0),
            jmp(width, cond, 1, src, 1),
            EXIT,
            mov64(0, 1),
            EXIT
        ]
    };
    let mut p = prog![lddw(1, a), lddw(2, b)];
    p.extend(body(x(2)));
    let by_reg = run(&p);
    let imm = b as i32;
    let denotes = match width {
        Width::W64 => imm as i64 as u64 == b,
        Width::W32 => true,
    };
    if denotes {
        let mut p = prog![lddw(1, a)];
        p.extend(body(k(imm)));
        assert_eq!(run(&p), by_reg, "{cond:?} {width:?} K vs X");
    }
    by_reg
}

#[test]
fn conditions_64() {
    let m1 = u64::MAX;
    let cases = [
        (Eq, 5, 5, 1),
        (Eq, 5, 6, 0),
        (Ne, 5, 6, 1),
        (Gt, m1, 1, 1),
        (Sgt, m1, 1, 0),
        (Ge, 3, 3, 1),
        (Sge, m1, 0, 0),
        (Lt, 1, m1, 1),
        (Slt, m1, 0, 1),
        (Le, 4, 3, 0),
        (Sle, m1, m1, 1),
        (Set, 0b1010, 0b0100, 0),
        (Set, 0b1010, 0b0010, 1),
    ];
    for (c, a, b, want) in cases {
        assert_eq!(taken(Width::W64, c, a, b), want, "{c:?} {a:#x} {b:#x}");
    }
}

#[test]
fn jmp32_compares_only_the_low_half() {
    let a = 0x1_0000_0005;
    assert_eq!(taken(Width::W32, Eq, a, 5), 1);
    assert_eq!(taken(Width::W64, Eq, a, 5), 0);
    // 0xffff_ffff is -1 in 32 bits, 4294967295 in 64.
    assert_eq!(taken(Width::W32, Slt, 0xffff_ffff, 0), 1);
    assert_eq!(taken(Width::W64, Slt, 0xffff_ffff, 0), 0);
    assert_eq!(taken(Width::W32, Gt, 0x2_0000_0001, 0x1_0000_0002), 0);
    assert_eq!(taken(Width::W64, Gt, 0x2_0000_0001, 0x1_0000_0002), 1);
    assert_eq!(taken(Width::W32, Set, 0x1_0000_0000, 0x1_0000_0000), 0);
    assert_eq!(taken(Width::W64, Set, 0x1_0000_0000, 0x1_0000_0000), 1);
    // JMP32 K: the immediate as 32 bits, -1 is 0xffff_ffff.
    assert_eq!(taken(Width::W32, Eq, 0x7_ffff_ffff, u64::MAX), 1);
}

#[test]
fn ja_and_gotol_and_backward_loops() {
    let p = prog![
        mov64(0, 1),
        Insn::Ja { off: 1, long: true },
        mov64(0, 2),
        ja(1),
        mov64(0, 3),
        EXIT
    ];
    assert_eq!(run(&p), 1);
    // for (r0 = 0, r1 = 10; r1 != 0; r1--) r0 += r1
    let p = prog![
        mov64(0, 0),
        mov64(1, 10),
        alu64(Add, 0, x(1)),
        alu64(Sub, 1, k(1)),
        jmp(Width::W64, Ne, 1, k(0), -3),
        EXIT
    ];
    assert_eq!(run(&p), 55);
}

#[test]
fn loads_and_stores_of_every_size_unaligned() {
    let r10 = 10;
    let p = prog![
        lddw(1, 0x8877_6655_4433_2211),
        stx(Size::DW, r10, 1, -17), // unaligned
        ldx(Size::B, 0, r10, -17),  // 0x11
        ldx(Size::H, 2, r10, -16),  // 0x3322
        alu64(Lsh, 2, k(8)),
        alu64(Or, 0, x(2)),
        ldx(Size::W, 3, r10, -13), // bytes 4..8: 0x8877_6655
        alu64(Xor, 0, x(3)),
        ldx(Size::DW, 4, r10, -17),
        alu64(Sub, 4, x(1)), // 0
        alu64(Or, 0, x(4)),
        EXIT
    ];
    assert_eq!(run(&p), (0x33_2200 | 0x11) ^ 0x8877_6655);
}

#[test]
fn sign_extending_loads() {
    let p = |size, v: u64| {
        run(&prog![
            lddw(1, v),
            stx(Size::DW, 10, 1, -8),
            ldsx(size, 0, 10, -8),
            EXIT
        ])
    };
    assert_eq!(p(Size::B, 0x80), 0xffff_ffff_ffff_ff80);
    assert_eq!(p(Size::B, 0x7f), 0x7f);
    assert_eq!(p(Size::H, 0x8001), 0xffff_ffff_ffff_8001);
    assert_eq!(p(Size::W, 0x8000_0000), 0xffff_ffff_8000_0000);
    assert_eq!(p(Size::W, 0x1_7fff_ffff), 0x7fff_ffff);
}

#[test]
fn store_immediate_is_truncated_to_its_size() {
    let p = |size| {
        run(&prog![
            lddw(1, u64::MAX),
            stx(Size::DW, 10, 1, -8),
            st(size, 10, -8, -2),
            ldx(Size::DW, 0, 10, -8),
            EXIT
        ])
    };
    assert_eq!(p(Size::B), 0xffff_ffff_ffff_fffe);
    assert_eq!(p(Size::H), 0xffff_ffff_ffff_fffe);
    assert_eq!(p(Size::W), 0xffff_ffff_ffff_fffe);
    assert_eq!(p(Size::DW), 0xffff_ffff_ffff_fffe);
    let q = |size| {
        run(&prog![
            mov64(1, 0),
            stx(Size::DW, 10, 1, -8),
            st(size, 10, -8, 0x1234_5678),
            ldx(Size::DW, 0, 10, -8),
            EXIT
        ])
    };
    assert_eq!(q(Size::B), 0x78);
    assert_eq!(q(Size::H), 0x5678);
    assert_eq!(q(Size::W), 0x1234_5678);
}

/// Runs a subprogram as callee of a chain `depth` calls deep: frame k calls
/// frame k+1 and adds 1 to r0 on return.
fn call_chain(calls: usize) -> Result<u64, rxdp_interp::Fault> {
    // slot 0: main: call f; r0 += 1; exit. Each fn: call next; r0 += 1; exit.
    // The last: r0 = 0; exit.
    let mut p = Vec::new();
    for _ in 0..calls {
        p.extend(prog![call_local(2), alu64(Add, 0, k(1)), EXIT]);
    }
    p.extend(prog![mov64(0, 0), EXIT]);
    run_env(&p, 0, TestEnv::new)
}

#[test]
fn calls_eight_frames_deep_and_not_nine() {
    // Seven calls: frames 0..=7, eight in all.
    assert_eq!(call_chain(7), Ok(7));
    let e = call_chain(8).unwrap_err();
    assert_eq!(e.kind, FaultKind::CallDepth);
    assert_eq!(e.pc, 7 * 3, "the eighth call instruction faults");
}

#[test]
fn callee_saved_registers_survive_calls_and_r1_to_r5_pass_in() {
    let p = prog![
        mov64(6, 6),
        mov64(7, 7),
        mov64(8, 8),
        mov64(9, 9),
        mov64(1, 100),
        mov64(2, 20),
        call_local(6),
        // r0 = r0 + r6 + r7 + r8 + r9
        alu64(Add, 0, x(6)),
        alu64(Add, 0, x(7)),
        alu64(Add, 0, x(8)),
        alu64(Add, 0, x(9)),
        EXIT,
        EXIT, // padding, never run
        // callee: clobbers r6-r9, returns r1 + r2
        mov64(6, 1000),
        mov64(7, 1000),
        mov64(8, 1000),
        mov64(9, 1000),
        movx(0, 1),
        alu64(Add, 0, x(2)),
        EXIT,
    ];
    assert_eq!(run(&p), 120 + 6 + 7 + 8 + 9);
}

#[test]
fn each_frame_has_its_own_stack() {
    let p = prog![
        st(Size::DW, 10, -8, 11),
        movx(6, 10),
        call_local(4),
        // caller: its own slot is intact; the callee's r10 was 512 lower.
        ldx(Size::DW, 0, 10, -8),
        alu64(Sub, 6, x(0)), // r6 = old r10 - 11 (unused)
        alu64(Mul, 0, k(1000)),
        EXIT,
        // callee: writes its own -8 slot, returns caller r10 - own r10
        st(Size::DW, 10, -8, 22),
        movx(0, 6),
        alu64(Sub, 0, x(10)),
        EXIT,
    ];
    // Caller's slot still holds 11: 11 * 1000.
    assert_eq!(run(&p), 11_000);
    let distance = prog![
        movx(6, 10),
        call_local(1),
        EXIT,
        movx(0, 6),
        alu64(Sub, 0, x(10)),
        EXIT
    ];
    assert_eq!(run(&distance), 512);
}

#[test]
fn helper_calls_pass_r1_to_r5_and_return_r0() {
    let env = || {
        let mut e = TestEnv::new();
        e.helper = Box::new(|id, a, _| match id {
            7 => Ok(a[0] * 10_000 + a[1] * 1000 + a[2] * 100 + a[3] * 10 + a[4]),
            _ => Err(HelperError::Unknown(id)),
        });
        e
    };
    let args = prog![
        mov64(1, 1),
        mov64(2, 2),
        mov64(3, 3),
        mov64(4, 4),
        mov64(5, 5)
    ];
    let mut p = args.clone();
    p.extend(prog![call_helper(7), EXIT]);
    assert_eq!(run_env(&p, 0, env), Ok(12345));
    // callx: the helper id is in the register.
    let mut p = args.clone();
    p.extend(prog![mov64(6, 7), Insn::Callx { dst: Reg::R6 }, EXIT]);
    assert_eq!(run_env(&p, 0, env), Ok(12345));
    // An unknown helper is a fault naming the call.
    let e = run_env(&prog![mov64(0, 0), call_helper(99), EXIT], 0, env).unwrap_err();
    assert_eq!(e.pc, 1);
    assert_eq!(e.kind, FaultKind::Helper(HelperError::Unknown(99)));
    let e = run_env(
        &prog![lddw(6, 1 << 33), Insn::Callx { dst: Reg::R6 }, EXIT],
        0,
        env,
    );
    assert_eq!(e.unwrap_err().kind, FaultKind::BadCallx { target: 1 << 33 });
}

#[test]
fn legacy_packet_loads_are_big_endian_and_end_the_program_out_of_bounds() {
    let mut pkt = [0x12u8, 0x34, 0x56, 0x78, 0x9a];
    let addr = pkt.as_mut_ptr().expose_provenance() as u64;
    let env = || {
        let mut e = TestEnv::new();
        e.legacy = Some((addr, 5));
        e
    };
    let abs = |size, imm| prog![mov64(0, 77), Insn::LdAbs { size, imm }, EXIT];
    assert_eq!(run_env(&abs(Size::B, 4), 0, env), Ok(0x9a));
    assert_eq!(run_env(&abs(Size::H, 1), 0, env), Ok(0x3456));
    assert_eq!(run_env(&abs(Size::W, 1), 0, env), Ok(0x3456_789a));
    // Past the end: the program returns 0 at once, even from later code.
    assert_eq!(run_env(&abs(Size::W, 2), 0, env), Ok(0));
    assert_eq!(run_env(&abs(Size::B, -1), 0, env), Ok(0));
    let ind = |imm| {
        prog![
            mov64(0, 77),
            mov64(3, 2),
            Insn::LdInd {
                size: Size::H,
                src: Reg::R3,
                imm
            },
            EXIT
        ]
    };
    assert_eq!(run_env(&ind(1), 0, env), Ok(0x789a));
    assert_eq!(run_env(&ind(2), 0, env), Ok(0));
    let e = run_env(&abs(Size::B, 0), 0, TestEnv::new).unwrap_err();
    assert_eq!((e.pc, e.kind), (1, FaultKind::NoLegacyPacket));
}

#[test]
fn a_legacy_load_out_of_bounds_in_a_subprogram_returns_0_from_that_frame() {
    // The kernel rewrites LD_ABS into a helper call followed by `r0 = 0;
    // exit` on failure (bpf_gen_ld_abs): the exit leaves the current frame
    // only, and the caller goes on.
    let mut pkt = [0x12u8, 0x34];
    let addr = pkt.as_mut_ptr().expose_provenance() as u64;
    let env = || {
        let mut e = TestEnv::new();
        e.legacy = Some((addr, 2));
        e
    };
    let p = prog![
        mov64(6, 5),
        call_local(3),
        alu64(Add, 0, k(100)),
        alu64(Add, 0, x(6)),
        EXIT,
        // subprogram: r6 clobbered, then a load past the end.
        mov64(6, 1000),
        mov64(0, 77),
        Insn::LdAbs {
            size: Size::W,
            imm: 0
        },
        mov64(0, 9),
        EXIT,
    ];
    assert_eq!(run_env(&p, 0, env), Ok(105));
}

#[test]
fn running_past_the_end_is_a_fault() {
    let e = run_env(&prog![mov64(0, 1)], 0, TestEnv::new).unwrap_err();
    assert_eq!((e.pc, e.kind), (1, FaultKind::FellOffEnd));
}

#[test]
fn stack_is_reused_across_runs() {
    let prog = Interpreter::new(&prog![
        ldx(Size::DW, 0, 10, -8),
        st(Size::DW, 10, -8, 5),
        EXIT
    ])
    .unwrap();
    let mut stack = Stack::new();
    let mut env = TestEnv::new();
    // Fast mode reads what the previous run left (no per-run zeroing).
    // SAFETY: the program touches only its stack frame.
    let first = unsafe { prog.run(0, &mut stack, &mut env) };
    // SAFETY: as above.
    let second = unsafe { prog.run(0, &mut stack, &mut env) };
    assert_eq!((first, second), (Ok(0), Ok(5)));
}

#[test]
fn fused_constant_returns_keep_their_exit_slot_and_budget() {
    // `r0 = 9; exit` at slots 2-3 is one op in the fast mode; a jump to
    // slot 3 must still land on the exit.
    let p = |first: i32| {
        prog![
            mov64(0, first),
            jmp(Width::W64, Eq, 0, k(5), 1),
            mov64(0, 9),
            EXIT
        ]
    };
    assert_eq!(run(&p(5)), 5, "jump to the exit of the pair");
    assert_eq!(run(&p(6)), 9, "through the pair");
    // The checked mode still counts the move and the exit.
    let prog = Interpreter::new(&prog![mov64(0, 9), EXIT]).unwrap();
    let limits = |max_insns| rxdp_interp::RunLimits { max_insns };
    let mut env = TestEnv::new();
    let e = prog
        .run_checked_with(0, &mut Stack::new(), &mut env, limits(1))
        .unwrap_err();
    assert_eq!((e.pc, e.kind), (1, FaultKind::InsnLimit { max_insns: 1 }));
    let ok = prog.run_checked_with(0, &mut Stack::new(), &mut env, limits(2));
    assert_eq!(ok, Ok(9));
}
