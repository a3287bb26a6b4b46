//! ALU and ALU64 semantics, with expected values computed by hand.

mod common;

use common::*;
use rxdp_isa::AluOp::*;
use rxdp_isa::Endian::{Be, Le, Swap};
use rxdp_isa::{Insn, Reg, Size, Width};

const MIN64: u64 = 0x8000_0000_0000_0000;

/// r0 = a; r1 = b; r0 op= r1 (`width`); exit — and the K form with `b`
/// as an immediate when it fits.
fn binop(width: Width, op: rxdp_isa::AluOp, a: u64, b: u64) -> u64 {
    let alu = |src| match width {
        Width::W64 => alu64(op, 0, src),
        Width::W32 => alu32(op, 0, src),
    };
    let by_reg = run(&prog![lddw(0, a), lddw(1, b), alu(x(1)), EXIT]);
    // The K form takes an i32, sign-extended for ALU64 and used as 32 bits
    // for ALU: only compare where `b` is what that immediate denotes.
    let imm = b as i32;
    let denotes = match width {
        Width::W64 => imm as i64 as u64 == b,
        Width::W32 => true,
    };
    if denotes {
        let by_imm = run(&prog![lddw(0, a), alu(k(imm)), EXIT]);
        assert_eq!(by_imm, by_reg, "{op:?} {width:?} K vs X");
    }
    by_reg
}

#[test]
fn plain_arithmetic() {
    assert_eq!(binop(Width::W64, Add, u64::MAX, 2), 1);
    assert_eq!(binop(Width::W64, Sub, 1, 2), u64::MAX);
    assert_eq!(binop(Width::W64, Mul, 0x1_0000_0001, 3), 0x3_0000_0003);
    assert_eq!(binop(Width::W64, Or, 0xf0, 0x0f), 0xff);
    assert_eq!(binop(Width::W64, And, 0xff, 0x3c), 0x3c);
    assert_eq!(binop(Width::W64, Xor, 0xff, 0x0f), 0xf0);
    assert_eq!(binop(Width::W64, Div, 100, 7), 14);
    assert_eq!(binop(Width::W64, Mod, 100, 7), 2);
}

#[test]
fn thirty_two_bit_results_are_zero_extended() {
    assert_eq!(binop(Width::W32, Add, 0xffff_ffff_ffff_ffff, 2), 1);
    assert_eq!(
        binop(Width::W32, Sub, 0xaaaa_aaaa_0000_0001, 2),
        0xffff_ffff
    );
    assert_eq!(binop(Width::W32, Mul, 0x1_0000_0003, 3), 9);
    assert_eq!(binop(Width::W32, Or, 0xffff_0000_0000_0000, 1), 1);
    assert_eq!(
        binop(Width::W32, Mov, 0xdead, 0xffff_ffff_1234_5678),
        0x1234_5678
    );
    // mov32 of a negative immediate: 32 ones, not 64.
    assert_eq!(
        run(&prog![lddw(0, u64::MAX), alu32(Mov, 0, k(-1)), EXIT]),
        0xffff_ffff
    );
}

#[test]
fn immediates_are_sign_extended_for_64_bit_ops() {
    assert_eq!(run(&prog![mov64(0, -1), EXIT]), u64::MAX);
    assert_eq!(
        run(&prog![mov64(0, 0), alu64(Add, 0, k(-2)), EXIT]),
        (-2i64) as u64
    );
    assert_eq!(
        run(&prog![lddw(0, u64::MAX), alu64(And, 0, k(-256)), EXIT]),
        0xffff_ffff_ffff_ff00
    );
}

#[test]
fn division_by_zero_gives_zero() {
    for w in [Width::W64, Width::W32] {
        assert_eq!(binop(w, Div, 12345, 0), 0, "{w:?}");
        assert_eq!(binop(w, Sdiv, 12345, 0), 0, "{w:?}");
    }
    // ALU divides by the low 32 bits of the register only.
    assert_eq!(binop(Width::W32, Div, 5, 0x1_0000_0000), 0);
}

#[test]
fn modulo_by_zero_leaves_dst() {
    let a = 0xdead_beef_1234_5678;
    assert_eq!(binop(Width::W64, Mod, a, 0), a);
    assert_eq!(binop(Width::W64, Smod, a, 0), a);
    // ALU: the dividend is unchanged but, as every 32-bit result, zero-extended.
    assert_eq!(binop(Width::W32, Mod, a, 0), 0x1234_5678);
    assert_eq!(binop(Width::W32, Smod, a, 0), 0x1234_5678);
}

#[test]
fn signed_int_min_by_minus_one() {
    assert_eq!(binop(Width::W64, Sdiv, MIN64, u64::MAX), MIN64);
    assert_eq!(binop(Width::W64, Smod, MIN64, u64::MAX), 0);
    assert_eq!(
        binop(Width::W32, Sdiv, 0x8000_0000, 0xffff_ffff),
        0x8000_0000
    );
    assert_eq!(binop(Width::W32, Smod, 0x8000_0000, 0xffff_ffff), 0);
}

#[test]
fn signed_division_truncates_toward_zero() {
    let m = |v: i64| v as u64;
    assert_eq!(binop(Width::W64, Sdiv, m(-7), 2), m(-3));
    assert_eq!(binop(Width::W64, Smod, m(-7), 2), m(-1));
    assert_eq!(binop(Width::W64, Sdiv, 7, m(-2)), m(-3));
    assert_eq!(binop(Width::W64, Smod, 7, m(-2)), 1);
    assert_eq!(binop(Width::W32, Sdiv, 0xffff_fff9, 2), 0xffff_fffd);
    assert_eq!(binop(Width::W32, Smod, 0xffff_fff9, 2), 0xffff_ffff);
    // Unsigned division sees the same bits as huge numbers.
    assert_eq!(binop(Width::W32, Div, 0xffff_fff9, 2), 0x7fff_fffc);
}

#[test]
fn shift_counts_are_masked() {
    assert_eq!(binop(Width::W64, Lsh, 1, 65), 2);
    assert_eq!(binop(Width::W64, Rsh, 8, 64 + 3), 1);
    assert_eq!(binop(Width::W64, Arsh, MIN64, 127), u64::MAX);
    assert_eq!(binop(Width::W32, Lsh, 1, 33), 2);
    assert_eq!(binop(Width::W32, Rsh, 0xffff_ffff_8000_0000, 31 + 32), 1);
    // Lsh32 drops bits shifted past bit 31.
    assert_eq!(binop(Width::W32, Lsh, 0x8000_0001, 1), 2);
}

#[test]
fn arsh32_acts_on_the_low_half_then_zero_extends() {
    assert_eq!(
        binop(Width::W32, Arsh, 0x0000_0000_8000_0000, 4),
        0xf800_0000
    );
    assert_eq!(binop(Width::W32, Arsh, 0xffff_ffff_0000_0010, 4), 1);
    assert_eq!(
        binop(Width::W64, Arsh, 0xffff_ffff_0000_0010, 4),
        0xffff_ffff_f000_0001
    );
}

fn movsx(width: Width, from: Size, v: u64) -> u64 {
    let m = Insn::MovSx {
        width,
        dst: Reg::R0,
        src: Reg::R1,
        from,
    };
    run(&prog![lddw(0, 0x5555_5555_5555_5555), lddw(1, v), m, EXIT])
}

#[test]
fn sign_extending_moves() {
    assert_eq!(
        movsx(Width::W64, Size::B, 0x1234_5680),
        0xffff_ffff_ffff_ff80
    );
    assert_eq!(movsx(Width::W64, Size::B, 0xff7f), 0x7f);
    assert_eq!(movsx(Width::W64, Size::H, 0x1_8001), 0xffff_ffff_ffff_8001);
    assert_eq!(
        movsx(Width::W64, Size::W, 0x1_8000_0000),
        0xffff_ffff_8000_0000
    );
    // ALU movsx: sign-extends into 32 bits, then zero-extends.
    assert_eq!(movsx(Width::W32, Size::B, 0x80), 0xffff_ff80);
    assert_eq!(
        movsx(Width::W32, Size::H, 0xffff_ffff_0000_8000),
        0xffff_8000
    );
    assert_eq!(movsx(Width::W32, Size::H, 0x7fff), 0x7fff);
}

#[test]
fn negation() {
    let neg = |width, v| {
        run(&prog![
            lddw(0, v),
            Insn::Neg {
                width,
                dst: Reg::R0
            },
            EXIT
        ])
    };
    assert_eq!(neg(Width::W64, 1), u64::MAX);
    assert_eq!(neg(Width::W64, MIN64), MIN64);
    assert_eq!(neg(Width::W32, 1), 0xffff_ffff);
    assert_eq!(neg(Width::W32, 0x1_0000_0000), 0);
    assert_eq!(neg(Width::W32, 0xffff_ffff_0000_0002), 0xffff_fffe);
}

/// This host is little-endian: le is a truncation, be a swap.
#[cfg(target_endian = "little")]
#[test]
fn byte_order() {
    let v = 0x0102_0304_0506_0708;
    let conv = |kind, bits| run(&prog![lddw(0, v), end(kind, 0, bits), EXIT]);
    assert_eq!(conv(Le, 16), 0x0708);
    assert_eq!(conv(Le, 32), 0x0506_0708);
    assert_eq!(conv(Le, 64), v);
    assert_eq!(conv(Be, 16), 0x0807);
    assert_eq!(conv(Be, 32), 0x0807_0605);
    assert_eq!(conv(Be, 64), 0x0807_0605_0403_0201);
    assert_eq!(conv(Swap, 16), 0x0807);
    assert_eq!(conv(Swap, 32), 0x0807_0605);
    assert_eq!(conv(Swap, 64), 0x0807_0605_0403_0201);
}

#[test]
fn lddw_loads_all_64_bits_and_skips_its_second_slot() {
    assert_eq!(
        run(&prog![lddw(0, 0xfedc_ba98_7654_3210), EXIT]),
        0xfedc_ba98_7654_3210
    );
    // Two lddw in a row, then an add: the second slots execute nothing.
    assert_eq!(
        run(&prog![
            lddw(0, 1 << 40),
            lddw(1, 5),
            alu64(Add, 0, x(1)),
            EXIT
        ]),
        (1 << 40) + 5
    );
}
