//! Property: the fast and the checked mode compute the same result on
//! random straight-line ALU programs.

mod common;

use common::*;
use proptest::prelude::*;
use rxdp_interp::{Interpreter, Stack};
use rxdp_isa::{AluOp, Endian, Insn, Operand, Reg, Size, Width};

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn gp_reg() -> impl Strategy<Value = Reg> {
    (0u8..10).prop_map(|n| Reg::new(n).unwrap())
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        gp_reg().prop_map(Operand::Reg),
        // Small values, edge values and anything.
        prop_oneof![-2i32..=2, Just(i32::MIN), Just(i32::MAX), any::<i32>()].prop_map(Operand::Imm),
    ]
}

fn alu_insn() -> impl Strategy<Value = Insn> {
    prop_oneof![
        8 => (width(), 0..AluOp::ALL.len(), gp_reg(), operand()).prop_map(|(width, i, dst, src)| Insn::Alu {
            width,
            op: AluOp::ALL[i],
            dst,
            src,
        }),
        1 => (width(), gp_reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        1 => (gp_reg(), gp_reg(), prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)], width())
            .prop_map(|(dst, src, from, width)| {
                let from = if width == Width::W32 && from == Size::W { Size::H } else { from };
                Insn::MovSx { width, dst, src, from }
            }),
        1 => (prop_oneof![Just(Endian::Le), Just(Endian::Be), Just(Endian::Swap)], gp_reg(),
              prop_oneof![Just(16u8), Just(32), Just(64)])
            .prop_map(|(kind, dst, bits)| Insn::End { kind, dst, bits }),
    ]
}

/// Loads the initial registers, runs `body`, and folds r0..r9 into r0 so a
/// difference in any register shows.
fn program(init: &[u64; 10], body: &[Insn]) -> Vec<Insn> {
    let mut p = Vec::new();
    for (i, v) in init.iter().enumerate() {
        p.extend(lddw(i as u8, *v));
    }
    p.extend_from_slice(body);
    for i in 1..10 {
        p.push(alu64(AluOp::Lsh, 0, k(7)));
        p.push(alu64(AluOp::Xor, 0, x(i)));
    }
    p.push(EXIT);
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fast_and_checked_agree(
        init in prop::array::uniform10(prop_oneof![any::<u64>(), Just(0u64), Just(i64::MIN as u64), Just(u64::MAX)]),
        body in prop::collection::vec(alu_insn(), 1..40),
    ) {
        let prog = Interpreter::new(&program(&init, &body)).unwrap();
        let checked = prog.run_checked(0, &mut Stack::new(), &mut TestEnv::new());
        // SAFETY: ALU instructions touch no memory.
        let fast = unsafe { prog.run(0, &mut Stack::new(), &mut TestEnv::new()) };
        prop_assert!(checked.is_ok());
        prop_assert_eq!(fast, checked);
    }
}
