//! Random instruction sequences: the buffer decodes (iced-x86) to exactly
//! the instructions emitted, one for one, each with the length the encoder
//! reported through `Asm::len`; random branches land on their labels.

mod x86_support;

use iced_x86::OpKind;
use proptest::prelude::*;
use rxdp_jit::x86::{AluOp, Asm, Cond, JumpSize, Mem, Reg, Scale, ShiftOp, Size, UnaryOp};
use x86_support::{DISPS, Op, check, decode_all};

fn reg() -> impl Strategy<Value = Reg> {
    (0..16usize).prop_map(|i| Reg::ALL[i])
}

fn size() -> impl Strategy<Value = Size> {
    (0..4usize).prop_map(|i| Size::ALL[i])
}

/// W, D or Q: the sizes imul accepts.
fn wide() -> impl Strategy<Value = Size> {
    (1..4usize).prop_map(|i| Size::ALL[i])
}

fn disp() -> impl Strategy<Value = i32> {
    prop_oneof![(0..DISPS.len()).prop_map(|i| DISPS[i]), any::<i32>()]
}

fn mem() -> impl Strategy<Value = Mem> {
    let index = prop_oneof![
        Just(None),
        (
            reg().prop_filter("rsp is no index", |r| *r != Reg::Rsp),
            0..4u8
        )
            .prop_map(|(r, s)| {
                let scale = [Scale::X1, Scale::X2, Scale::X4, Scale::X8][s as usize];
                Some((r, scale))
            }),
    ];
    (reg(), index, disp()).prop_map(|(base, index, disp)| Mem { base, index, disp })
}

/// An immediate that fits `size`, biased to the imm8 boundary.
fn imm_for(size: Size) -> BoxedStrategy<i32> {
    match size {
        Size::B => (-128..=255i32).boxed(),
        Size::W => prop_oneof![-129..=128i32, -32768..=65535i32].boxed(),
        _ => prop_oneof![-129..=128i32, any::<i32>()].boxed(),
    }
}

fn alu() -> impl Strategy<Value = AluOp> {
    (0..8usize).prop_map(|i| AluOp::ALL[i])
}

fn op() -> impl Strategy<Value = Op> {
    let sized_imm = |f: fn(Size, i32) -> BoxedStrategy<Op>| {
        size().prop_flat_map(move |s| imm_for(s).prop_flat_map(move |i| f(s, i)))
    };
    prop_oneof![
        (size(), reg(), reg()).prop_map(|(s, d, x)| Op::MovRr(s, d, x)),
        (reg(), any::<u32>()).prop_map(|(d, i)| Op::MovR32Imm(d, i)),
        (reg(), any::<i32>()).prop_map(|(d, i)| Op::MovR64Imm(d, i)),
        (reg(), any::<u64>()).prop_map(|(d, i)| Op::Movabs(d, i)),
        (reg(), any::<u64>()).prop_map(|(d, i)| Op::MovImm64(d, i)),
        (size(), reg(), mem()).prop_map(|(s, d, m)| Op::Load(s, d, m)),
        (size(), reg(), mem()).prop_map(|(s, d, m)| Op::LoadSx(s, d, m)),
        (size(), mem(), reg()).prop_map(|(s, m, x)| Op::Store(s, m, x)),
        sized_imm(|s, i| mem().prop_map(move |m| Op::StoreImm(s, m, i)).boxed()),
        (wide(), reg(), mem()).prop_map(|(s, d, m)| Op::Lea(s, d, m)),
        (0..2usize, reg(), reg()).prop_map(|(f, d, x)| Op::Movzx(Size::ALL[f], d, x)),
        (0..5usize, reg(), reg()).prop_map(|(k, d, x)| {
            let (t, f) = [
                (Size::D, Size::B),
                (Size::D, Size::W),
                (Size::Q, Size::B),
                (Size::Q, Size::W),
                (Size::Q, Size::D),
            ][k];
            Op::Movsx(t, f, d, x)
        }),
        (2..4usize, reg()).prop_map(|(s, r)| Op::Bswap(Size::ALL[s], r)),
        (alu(), size(), reg(), reg()).prop_map(|(o, s, d, x)| Op::AluRr(o, s, d, x)),
        sized_imm(|s, i| (alu(), reg())
            .prop_map(move |(o, d)| Op::AluRi(o, s, d, i))
            .boxed()),
        (size(), reg(), reg()).prop_map(|(s, d, x)| Op::TestRr(s, d, x)),
        sized_imm(|s, i| reg().prop_map(move |d| Op::TestRi(s, d, i)).boxed()),
        (wide(), reg(), reg()).prop_map(|(s, d, x)| Op::ImulRr(s, d, x)),
        wide().prop_flat_map(
            |s| (reg(), reg(), imm_for(s)).prop_map(move |(d, x, i)| Op::ImulRri(s, d, x, i))
        ),
        (0..6usize, size(), reg()).prop_map(|(o, s, r)| Op::Unary(UnaryOp::ALL[o], s, r)),
        (0..5usize, size(), reg(), any::<u8>()).prop_map(|(o, s, r, c)| Op::ShiftRi(
            ShiftOp::ALL[o],
            s,
            r,
            c
        )),
        (0..5usize, size(), reg()).prop_map(|(o, s, r)| Op::ShiftCl(ShiftOp::ALL[o], s, r)),
        (0..4usize, size(), mem(), reg()).prop_map(|(o, s, m, x)| {
            let op = [AluOp::Add, AluOp::And, AluOp::Or, AluOp::Xor][o];
            Op::LockAlu(op, s, m, x)
        }),
        (size(), mem(), reg()).prop_map(|(s, m, x)| Op::LockXadd(s, m, x)),
        (size(), mem(), reg()).prop_map(|(s, m, x)| Op::Xchg(s, m, x)),
        (size(), mem(), reg()).prop_map(|(s, m, x)| Op::LockCmpxchg(s, m, x)),
        reg().prop_map(Op::Push),
        reg().prop_map(Op::Pop),
        reg().prop_map(Op::CallReg),
        reg().prop_map(Op::JmpReg),
        prop_oneof![
            Just(Op::Cdq),
            Just(Op::Cqo),
            Just(Op::Ret),
            Just(Op::Int3),
            Just(Op::Endbr64),
            Just(Op::Pause),
            Just(Op::Lfence),
        ],
        (1..=15usize).prop_map(Op::Nop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sequences_decode_to_what_was_emitted(ops in prop::collection::vec(op(), 1..64)) {
        let mut a = Asm::new();
        let mut lens = Vec::new();
        for op in &ops {
            let start = a.len();
            op.emit(&mut a);
            lens.push(a.len() - start);
        }
        let base = 0x40_0000;
        let code = a.finish(base).unwrap();
        let ins = decode_all(&code, base);
        prop_assert_eq!(ins.len(), ops.len());
        for ((op, len), ins) in ops.iter().zip(&lens).zip(&ins) {
            prop_assert_eq!(ins.len(), *len, "{:?}", op);
            check(ins, &op.expect(), &format!("{op:?}"));
        }
    }

    /// Blocks of filler with labels between them and near or short jumps
    /// and calls to random labels: every branch decodes to its label.
    #[test]
    fn branches_land_on_their_labels(
        blocks in prop::collection::vec((prop::collection::vec(op(), 0..4), 0..8usize, 0..3u8, 0..16usize), 1..24),
    ) {
        let mut a = Asm::new();
        let labels: Vec<_> = blocks.iter().map(|_| a.new_label()).collect();
        let mut want = Vec::new();
        for (i, (filler, target, kind, cond)) in blocks.iter().enumerate() {
            a.bind(labels[i]);
            for op in filler {
                op.emit(&mut a);
            }
            let l = labels[target % labels.len()];
            let site = a.len();
            match kind {
                0 => a.jmp(l, JumpSize::Near),
                1 => a.jcc(Cond::ALL[*cond], l, JumpSize::Near),
                _ => a.call(l),
            }
            want.push((site, a.len() - site, target % labels.len()));
        }
        let base = 0x1000;
        let offsets: Vec<u64> = labels.iter().map(|l| a.label_offset(*l).unwrap() as u64).collect();
        let code = a.finish(base).unwrap();
        let ins = decode_all(&code, base);
        for (site, len, target) in want {
            let b = ins.iter().find(|i| i.ip() == base + site as u64).unwrap();
            prop_assert_eq!(b.op0_kind(), OpKind::NearBranch64);
            prop_assert_eq!(b.len(), len);
            prop_assert_eq!(b.near_branch_target(), base + offsets[target]);
        }
    }
}
