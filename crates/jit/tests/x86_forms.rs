//! Every instruction form of the x86 encoder, over all registers, sizes and
//! boundary displacements and immediates, decoded by iced-x86 back to the
//! same mnemonic and operands, with exact lengths.

mod x86_support;

use rxdp_jit::x86::{AluOp, Asm, Mem, Reg, ShiftOp, Size, UnaryOp, X86Error};
use x86_support::{Op, check_one, mem_len, mem_rex, mems};

/// 1 for the 0x66 prefix at W.
fn p66(size: Size) -> usize {
    (size == Size::W) as usize
}

/// Whether a byte access of `reg` needs REX (spl, bpl, sil, dil, r8b..).
fn byte_rex(size: Size, reg: Reg) -> bool {
    size == Size::B && matches!(reg as u8, 4..=7)
}

#[test]
fn loads_over_all_bases_displacements_and_sizes() {
    for mem in mems() {
        for dst in Reg::ALL {
            for size in Size::ALL {
                let bytes = check_one(Op::Load(size, dst, mem));
                let opcode = if matches!(size, Size::B | Size::W) {
                    2
                } else {
                    1
                };
                let rex = size == Size::Q || dst.needs_rex() || mem_rex(mem);
                assert_eq!(
                    bytes.len(),
                    rex as usize + opcode + mem_len(mem),
                    "{bytes:02x?}"
                );

                let bytes = check_one(Op::LoadSx(size, dst, mem));
                let opcode = if matches!(size, Size::B | Size::W) {
                    2
                } else {
                    1
                };
                assert_eq!(bytes.len(), 1 + opcode + mem_len(mem), "{bytes:02x?}");
            }
        }
    }
}

#[test]
fn stores_over_all_bases_displacements_and_sizes() {
    for mem in mems() {
        for src in Reg::ALL {
            for size in Size::ALL {
                let bytes = check_one(Op::Store(size, mem, src));
                let rex = size == Size::Q || src.needs_rex() || mem_rex(mem) || byte_rex(size, src);
                let want = p66(size) + rex as usize + 1 + mem_len(mem);
                assert_eq!(bytes.len(), want, "{bytes:02x?}");
            }
        }
        for size in Size::ALL {
            let imms: &[i32] = match size {
                Size::B => &[0, -128, 127, 255],
                Size::W => &[0, -32768, 65535, 0x1234],
                _ => &[0, -1, i32::MIN, i32::MAX],
            };
            for &imm in imms {
                let bytes = check_one(Op::StoreImm(size, mem, imm));
                let rex = size == Size::Q || mem_rex(mem);
                let imm_len = size.bytes().min(4) as usize;
                assert_eq!(
                    bytes.len(),
                    p66(size) + rex as usize + 1 + mem_len(mem) + imm_len
                );
            }
        }
    }
}

#[test]
fn lea_and_atomics_over_memory_forms() {
    for mem in mems() {
        for reg in [Reg::Rax, Reg::Rsi, Reg::R8, Reg::R12, Reg::R15] {
            check_one(Op::Lea(Size::D, reg, mem));
            check_one(Op::Lea(Size::Q, reg, mem));
            for size in Size::ALL {
                for op in [AluOp::Add, AluOp::And, AluOp::Or, AluOp::Xor] {
                    check_one(Op::LockAlu(op, size, mem, reg));
                }
                check_one(Op::LockXadd(size, mem, reg));
                check_one(Op::Xchg(size, mem, reg));
                let bytes = check_one(Op::LockCmpxchg(size, mem, reg));
                let rex = size == Size::Q || reg.needs_rex() || mem_rex(mem) || byte_rex(size, reg);
                assert_eq!(bytes.len(), 1 + p66(size) + rex as usize + 2 + mem_len(mem));
            }
        }
    }
}

#[test]
fn register_moves_and_extensions() {
    for dst in Reg::ALL {
        for src in Reg::ALL {
            for size in Size::ALL {
                let bytes = check_one(Op::MovRr(size, dst, src));
                let rex = size == Size::Q
                    || dst.needs_rex()
                    || src.needs_rex()
                    || byte_rex(size, dst)
                    || byte_rex(size, src);
                assert_eq!(bytes.len(), p66(size) + rex as usize + 2);
            }
            check_one(Op::Movzx(Size::B, dst, src));
            check_one(Op::Movzx(Size::W, dst, src));
            for (to, from) in [(Size::D, Size::B), (Size::D, Size::W)] {
                check_one(Op::Movsx(to, from, dst, src));
            }
            for from in [Size::B, Size::W, Size::D] {
                check_one(Op::Movsx(Size::Q, from, dst, src));
            }
        }
        // movzx from a byte register needs REX only for spl..dil and r8b..
        let bytes = check_one(Op::Movzx(Size::B, Reg::Rsi, Reg::Rax));
        assert_eq!(bytes, [0x0f, 0xb6, 0xf0]);
        let bytes = check_one(Op::Movzx(Size::B, Reg::Rax, Reg::Rsi));
        assert_eq!(bytes, [0x40, 0x0f, 0xb6, 0xc6]);
        check_one(Op::Bswap(Size::D, dst));
        check_one(Op::Bswap(Size::Q, dst));
        check_one(Op::ShiftRi(ShiftOp::Rol, Size::W, dst, 8));
    }
}

#[test]
fn immediate_moves_pick_the_shortest_form() {
    for dst in Reg::ALL {
        let rex = dst.needs_rex() as usize;
        for imm in [0, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX] {
            assert_eq!(check_one(Op::MovR32Imm(dst, imm)).len(), 5 + rex);
        }
        for imm in [0, -1, i32::MIN, i32::MAX] {
            assert_eq!(check_one(Op::MovR64Imm(dst, imm)).len(), 7);
        }
        for imm in [0, u64::MAX, 1 << 63, 0x1234_5678_9abc_def0] {
            assert_eq!(check_one(Op::Movabs(dst, imm)).len(), 10);
        }
        let cases = [
            (0, 5),
            (u32::MAX as u64, 5),
            (u32::MAX as u64 + 1, 10),
            (-1i64 as u64, 7),
            (i32::MIN as i64 as u64, 7),
            (i32::MIN as i64 as u64 - 1, 10),
        ];
        for (imm, len) in cases {
            let bytes = check_one(Op::MovImm64(dst, imm));
            let rex_extra = if len == 5 { rex } else { 0 };
            assert_eq!(bytes.len(), len + rex_extra, "{imm:#x}");
        }
    }
}

/// Immediates around the imm8 boundary, and the extremes, per size.
fn imms(size: Size) -> Vec<i32> {
    match size {
        Size::B => vec![0, 1, -1, 127, -128, 128, 255],
        Size::W => vec![0, 127, -128, 128, -129, 32767, -32768, 65535],
        _ => vec![0, 127, -128, 128, -129, i32::MAX, i32::MIN],
    }
}

#[test]
fn alu_register_and_immediate_forms() {
    for op in AluOp::ALL {
        for dst in Reg::ALL {
            for size in Size::ALL {
                for src in Reg::ALL {
                    check_one(Op::AluRr(op, size, dst, src));
                }
                for imm in imms(size) {
                    let bytes = check_one(Op::AluRi(op, size, dst, imm));
                    let rex = size == Size::Q || dst.needs_rex() || byte_rex(size, dst);
                    let short = size != Size::B && i8::try_from(imm).is_ok();
                    let imm_len = if short {
                        1
                    } else {
                        size.bytes().min(4) as usize
                    };
                    // The accumulator forms drop the ModR/M byte.
                    let modrm = (dst != Reg::Rax || short) as usize;
                    let want = p66(size) + rex as usize + 1 + modrm + imm_len;
                    assert_eq!(bytes.len(), want, "{op:?} {size:?} {dst:?} {imm}");
                }
            }
        }
    }
}

#[test]
fn test_imul_unary_and_shift_forms() {
    for dst in Reg::ALL {
        for size in Size::ALL {
            for src in [Reg::Rax, Reg::Rsp, Reg::Rdi, Reg::R8, Reg::R13] {
                check_one(Op::TestRr(size, dst, src));
                if size != Size::B {
                    check_one(Op::ImulRr(size, dst, src));
                    for imm in imms(size) {
                        let bytes = check_one(Op::ImulRri(size, dst, src, imm));
                        let short = i8::try_from(imm).is_ok();
                        let imm_len = if short {
                            1
                        } else {
                            size.bytes().min(4) as usize
                        };
                        let rex = size == Size::Q || dst.needs_rex() || src.needs_rex();
                        assert_eq!(bytes.len(), p66(size) + rex as usize + 2 + imm_len);
                    }
                }
            }
            for imm in imms(size) {
                let bytes = check_one(Op::TestRi(size, dst, imm));
                let rex = size == Size::Q || dst.needs_rex() || byte_rex(size, dst);
                let modrm = (dst != Reg::Rax) as usize;
                let imm_len = size.bytes().min(4) as usize;
                assert_eq!(bytes.len(), p66(size) + rex as usize + 1 + modrm + imm_len);
            }
            for op in UnaryOp::ALL {
                check_one(Op::Unary(op, size, dst));
            }
            for op in ShiftOp::ALL {
                for count in [1, 2, 31, 63] {
                    let bytes = check_one(Op::ShiftRi(op, size, dst, count));
                    let rex = size == Size::Q || dst.needs_rex() || byte_rex(size, dst);
                    let imm_len = (count != 1) as usize;
                    assert_eq!(bytes.len(), p66(size) + rex as usize + 2 + imm_len);
                }
                check_one(Op::ShiftCl(op, size, dst));
            }
        }
    }
}

#[test]
fn stack_indirect_branches_and_fixed_instructions() {
    for reg in Reg::ALL {
        let rex = reg.needs_rex() as usize;
        assert_eq!(check_one(Op::Push(reg)).len(), 1 + rex);
        assert_eq!(check_one(Op::Pop(reg)).len(), 1 + rex);
        assert_eq!(check_one(Op::CallReg(reg)).len(), 2 + rex);
        assert_eq!(check_one(Op::JmpReg(reg)).len(), 2 + rex);
    }
    assert_eq!(check_one(Op::Ret), [0xc3]);
    assert_eq!(check_one(Op::Int3), [0xcc]);
    assert_eq!(check_one(Op::Cdq), [0x99]);
    assert_eq!(check_one(Op::Cqo), [0x48, 0x99]);
    assert_eq!(check_one(Op::Endbr64), [0xf3, 0x0f, 0x1e, 0xfa]);
    assert_eq!(check_one(Op::Pause), [0xf3, 0x90]);
    assert_eq!(check_one(Op::Lfence), [0x0f, 0xae, 0xe8]);
}

#[test]
fn nops_of_every_length_are_one_instruction() {
    for len in 1..=15 {
        assert_eq!(check_one(Op::Nop(len)).len(), len);
    }
    // The patch-site nop the kernel also uses.
    assert_eq!(check_one(Op::Nop(5)), [0x0f, 0x1f, 0x44, 0x00, 0x00]);
}

#[test]
fn align_pads_to_the_boundary_with_whole_nops() {
    for start in 0..40 {
        for boundary in [1, 2, 8, 16, 32] {
            let mut a = Asm::new();
            for _ in 0..start {
                a.int3();
            }
            a.align(boundary);
            assert_eq!(a.len() % boundary, 0);
            assert!(a.len() - start < boundary);
            let ins = x86_support::decode_all(&a.finish(0).unwrap(), 0);
            assert!(
                ins[start..]
                    .iter()
                    .all(|i| i.mnemonic() == iced_x86::Mnemonic::Nop)
            );
        }
    }
}

#[test]
fn operands_without_an_encoding_are_errors_and_emit_nothing() {
    let bad: [fn(&mut Asm); 10] = [
        |a| a.imul_rr(Size::B, Reg::Rax, Reg::Rcx),
        |a| a.lea(Size::B, Reg::Rax, Mem::new(Reg::Rcx, 0)),
        |a| a.bswap(Size::W, Reg::Rax),
        |a| a.movzx(Size::D, Reg::Rax, Reg::Rcx),
        |a| a.movsx(Size::D, Size::D, Reg::Rax, Reg::Rcx),
        |a| a.alu_ri(AluOp::Add, Size::B, Reg::Rax, 256),
        |a| a.store_imm(Size::W, Mem::new(Reg::Rax, 0), 65536),
        |a| {
            a.load(
                Size::Q,
                Reg::Rax,
                Mem::indexed(Reg::Rax, Reg::Rsp, x86_support_scale(), 0),
            )
        },
        |a| a.nop(16),
        |a| a.lock_alu(AluOp::Cmp, Size::Q, Mem::new(Reg::Rax, 0), Reg::Rcx),
    ];
    for emit in bad {
        let mut a = Asm::new();
        a.int3();
        emit(&mut a);
        assert_eq!(a.len(), 1, "nothing emitted");
        match a.finish(0) {
            Err(X86Error::Operand { offset: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}

fn x86_support_scale() -> rxdp_jit::x86::Scale {
    rxdp_jit::x86::Scale::X1
}
