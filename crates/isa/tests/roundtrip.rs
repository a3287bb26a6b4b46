//! Property tests: every valid instruction survives encode -> decode ->
//! disassemble -> assemble -> encode with its bytes unchanged, and so does
//! every random slot that `decode` accepts.

use proptest::prelude::*;
use rxdp_isa::{
    AluOp, AtomicOp, CallKind, Cond, DisasmOptions, Endian, Insn, Operand, Pseudo, Reg, Size,
    Width, assemble, decode, disasm, encode,
};

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).expect("0..=10"))
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

/// Immediates: edge values often, any value otherwise.
fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i32::MIN),
        Just(i32::MAX),
        -300i32..300,
        any::<i32>()
    ]
}

fn off() -> impl Strategy<Value = i16> {
    prop_oneof![
        Just(0),
        Just(i16::MIN),
        Just(i16::MAX),
        -20i16..20,
        any::<i16>()
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![reg().prop_map(Operand::Reg), imm().prop_map(Operand::Imm)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    use AluOp::*;
    proptest::sample::select(vec![
        Add, Sub, Mul, Div, Sdiv, Mod, Smod, Or, And, Lsh, Rsh, Arsh, Xor, Mov,
    ])
}

fn cond() -> impl Strategy<Value = Cond> {
    use Cond::*;
    proptest::sample::select(vec![Eq, Gt, Ge, Set, Ne, Sgt, Sge, Lt, Le, Slt, Sle])
}

fn pseudo() -> impl Strategy<Value = Pseudo> {
    use Pseudo::*;
    proptest::sample::select(vec![
        Imm64,
        MapFd,
        MapValue,
        BtfId,
        Func,
        MapIdx,
        MapIdxValue,
    ])
}

fn alu() -> impl Strategy<Value = Insn> {
    prop_oneof![
        (width(), alu_op(), reg(), operand()).prop_map(|(width, op, dst, src)| Insn::Alu {
            width,
            op,
            dst,
            src
        }),
        (width(), reg(), reg(), 0usize..3).prop_map(|(width, dst, src, i)| {
            let from = match (i, width) {
                (0, _) => Size::B,
                (1, _) | (2, Width::W32) => Size::H,
                _ => Size::W,
            };
            Insn::MovSx {
                width,
                dst,
                src,
                from,
            }
        }),
        (width(), reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        (
            proptest::sample::select(vec![Endian::Le, Endian::Be, Endian::Swap]),
            reg(),
            proptest::sample::select(vec![16u8, 32, 64]),
        )
            .prop_map(|(kind, dst, bits)| Insn::End { kind, dst, bits }),
    ]
}

fn jump() -> impl Strategy<Value = Insn> {
    prop_oneof![
        off().prop_map(|o| Insn::Ja {
            off: o.into(),
            long: false
        }),
        imm().prop_map(|off| Insn::Ja { off, long: true }),
        (width(), cond(), reg(), operand(), off()).prop_map(|(width, cond, dst, src, off)| {
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            }
        }),
        imm().prop_map(|i| Insn::Call(CallKind::Helper(i))),
        imm().prop_map(|i| Insn::Call(CallKind::Local(i))),
        imm().prop_map(|i| Insn::Call(CallKind::Kfunc(i))),
        reg().prop_map(|dst| Insn::Callx { dst }),
        Just(Insn::Exit),
    ]
}

fn memory() -> impl Strategy<Value = Insn> {
    let narrow = || proptest::sample::select(vec![Size::B, Size::H, Size::W]);
    prop_oneof![
        (size(), any::<bool>(), reg(), reg(), off()).prop_map(|(size, signed, dst, src, off)| {
            let signed = signed && size != Size::DW;
            Insn::Ldx {
                size,
                signed,
                dst,
                src,
                off,
            }
        }),
        (size(), reg(), reg(), off()).prop_map(|(size, dst, src, off)| Insn::Stx {
            size,
            dst,
            src,
            off
        }),
        (size(), reg(), off(), imm()).prop_map(|(size, dst, off, imm)| Insn::St {
            size,
            dst,
            off,
            imm
        }),
        (
            proptest::sample::select(vec![Size::W, Size::DW]),
            proptest::sample::select(vec![
                AtomicOp::Add,
                AtomicOp::Or,
                AtomicOp::And,
                AtomicOp::Xor,
                AtomicOp::Xchg,
                AtomicOp::Cmpxchg,
            ]),
            any::<bool>(),
            reg(),
            reg(),
            off(),
        )
            .prop_map(|(size, op, fetch, dst, src, off)| {
                // Exchanges always fetch; there is no other encoding.
                let fetch = fetch || matches!(op, AtomicOp::Xchg | AtomicOp::Cmpxchg);
                Insn::Atomic {
                    size,
                    op,
                    fetch,
                    dst,
                    src,
                    off,
                }
            }),
        (narrow(), imm()).prop_map(|(size, imm)| Insn::LdAbs { size, imm }),
        (narrow(), reg(), imm()).prop_map(|(size, src, imm)| Insn::LdInd { size, src, imm }),
    ]
}

fn lddw() -> impl Strategy<Value = Insn> {
    let imm64 = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        (0u64..100),
        any::<u64>(),
        any::<u32>().prop_map(u64::from)
    ];
    (reg(), pseudo(), imm64).prop_map(|(dst, pseudo, imm)| Insn::LdImm64 { dst, pseudo, imm })
}

fn insn() -> impl Strategy<Value = Insn> {
    prop_oneof![alu(), jump(), memory(), lddw()]
}

/// Slots as `decode` returns them: a `lddw` followed by its second half.
fn slots(insns: &[Insn]) -> Vec<Insn> {
    insns
        .iter()
        .flat_map(|i| {
            if i.slots() == 2 {
                vec![*i, Insn::LdImm64Hi]
            } else {
                vec![*i]
            }
        })
        .collect()
}

/// Disassembles `bytes` with `opts` and assembles the text back.
fn through_text(bytes: &[u8], opts: &DisasmOptions<'_>) -> Result<Vec<u8>, TestCaseError> {
    let insns = decode(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let text = disasm(&insns, opts);
    let a = assemble(&text)
        .map_err(|e| TestCaseError::fail(format!("{}\n--- text:\n{text}", e.render(&text))))?;
    Ok(encode(&a.insns))
}

fn named() -> DisasmOptions<'static> {
    DisasmOptions {
        helper_names: true,
        auto_labels: true,
        slot_numbers: true,
        ..DisasmOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_instruction_round_trips(i in insn()) {
        let bytes = encode(&slots(&[i]));
        prop_assert_eq!(decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?, slots(&[i]));
        prop_assert_eq!(&through_text(&bytes, &DisasmOptions::default())?, &bytes);
        prop_assert_eq!(&through_text(&bytes, &named())?, &bytes);
    }

    #[test]
    fn programs_round_trip_with_labels(prog in proptest::collection::vec(
        prop_oneof![
            4 => insn(),
            // Short jumps and calls so that many land inside the program.
            2 => (-8i16..8).prop_map(|o| Insn::Ja { off: o.into(), long: false }),
            2 => (cond(), reg(), -8i16..8).prop_map(|(cond, dst, off)| Insn::Jmp {
                width: Width::W64, cond, dst, src: Operand::Imm(0), off,
            }),
            1 => (-8i32..8).prop_map(|o| Insn::Call(CallKind::Local(o))),
            1 => (reg(), -8i32..8).prop_map(|(dst, o)| Insn::LdImm64 {
                dst, pseudo: Pseudo::Func, imm: u64::from(o as u32),
            }),
        ],
        1..24,
    )) {
        let bytes = encode(&slots(&prog));
        prop_assert_eq!(&through_text(&bytes, &named())?, &bytes);
        prop_assert_eq!(&through_text(&bytes, &DisasmOptions::default())?, &bytes);
    }

    #[test]
    fn decodable_random_slots_round_trip(
        code in prop_oneof![any::<u8>(), proptest::sample::select(VALID_CODES.to_vec())],
        dst in 0u8..=10,
        src in prop_oneof![3 => Just(0u8), 2 => 0u8..=10, 1 => 0u8..16],
        off in prop_oneof![Just(0i16), Just(1), Just(8), Just(16), Just(32), any::<i16>()],
        imm in prop_oneof![Just(0i32), Just(1), Just(16), Just(64), Just(0xe1), Just(0xf1), any::<i32>()],
        hi in any::<i32>(),
    ) {
        let mut bytes = vec![code, dst | (src << 4)];
        bytes.extend(off.to_le_bytes());
        bytes.extend(imm.to_le_bytes());
        if code == 0x18 {
            bytes.extend([0; 4]);
            bytes.extend(hi.to_le_bytes());
        }
        if decode(&bytes).is_ok() {
            prop_assert_eq!(&through_text(&bytes, &DisasmOptions::default())?, &bytes);
            prop_assert_eq!(&through_text(&bytes, &named())?, &bytes);
        }
    }
}

/// Opcodes that exist, so that random slots decode often enough.
const VALID_CODES: &[u8] = &[
    0x07, 0x0f, 0x04, 0x0c, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x34, 0x3c, 0x47, 0x57, 0x67, 0x77,
    0x87, 0x84, 0x97, 0x9f, 0x94, 0xa7, 0xb7, 0xbf, 0xb4, 0xbc, 0xc7, 0xcf, 0xd4, 0xdc, 0xd7, 0x05,
    0x06, 0x15, 0x1d, 0x16, 0x1e, 0x25, 0x45, 0x4e, 0x55, 0x65, 0x6e, 0x75, 0xa5, 0xad, 0xb6, 0xc5,
    0xdd, 0xde, 0x85, 0x8d, 0x95, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x63, 0x6b, 0x73, 0x7b,
    0x62, 0x6a, 0x72, 0x7a, 0xc3, 0xdb, 0x18, 0x20, 0x28, 0x30, 0x40, 0x48, 0x50,
];
