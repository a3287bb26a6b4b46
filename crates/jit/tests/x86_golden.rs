//! Exact bytes of the x86 encoder for forms hand-assembled from the Intel
//! SDM Vol. 2 (opcode tables, ModR/M Table 2-2, SIB Table 2-3): the special
//! cases of memory operands, REX, short immediates and accumulator forms.

use rxdp_jit::x86::{AluOp, Asm, Mem, Reg, Scale, ShiftOp, Size, UnaryOp};

fn bytes(emit: impl FnOnce(&mut Asm)) -> Vec<u8> {
    let mut a = Asm::new();
    emit(&mut a);
    a.finish(0).unwrap()
}

#[test]
fn memory_operand_special_cases() {
    use Reg::*;
    let cases: [(Vec<u8>, &[u8]); 8] = [
        // mov rax, [rsp+8]: rsp base needs SIB 24.
        (
            bytes(|a| a.load(Size::Q, Rax, Mem::new(Rsp, 8))),
            &[0x48, 0x8b, 0x44, 0x24, 0x08],
        ),
        // mov rax, [rbp]: rbp base needs mod 01 disp8 0.
        (
            bytes(|a| a.load(Size::Q, Rax, Mem::new(Rbp, 0))),
            &[0x48, 0x8b, 0x45, 0x00],
        ),
        // mov rax, [r13] and [r12]: same rules, with REX.B.
        (
            bytes(|a| a.load(Size::Q, Rax, Mem::new(R13, 0))),
            &[0x49, 0x8b, 0x45, 0x00],
        ),
        (
            bytes(|a| a.load(Size::Q, Rax, Mem::new(R12, 0))),
            &[0x49, 0x8b, 0x04, 0x24],
        ),
        // mov [rdi+0x80], esi: disp32 once disp8 cannot hold it.
        (
            bytes(|a| a.store(Size::D, Mem::new(Rdi, 0x80), Rsi)),
            &[0x89, 0xb7, 0x80, 0x00, 0x00, 0x00],
        ),
        // mov [rdi], sil: REX 40 so that 6 means sil, not dh.
        (
            bytes(|a| a.store(Size::B, Mem::new(Rdi, 0), Rsi)),
            &[0x40, 0x88, 0x37],
        ),
        // mov qword [r10+rax*8+0x10], 7.
        (
            bytes(|a| a.store_imm(Size::Q, Mem::indexed(R10, Rax, Scale::X8, 0x10), 7)),
            &[0x49, 0xc7, 0x44, 0xc2, 0x10, 0x07, 0x00, 0x00, 0x00],
        ),
        // movsx rax, byte [r8+r9*2-128]: REX.WXB.
        (
            bytes(|a| a.load_sx(Size::B, Rax, Mem::indexed(R8, R9, Scale::X2, -128))),
            &[0x4b, 0x0f, 0xbe, 0x44, 0x48, 0x80],
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}

#[test]
fn common_instructions() {
    use Reg::*;
    let cases: Vec<(Vec<u8>, &[u8])> = vec![
        (
            bytes(|a| a.load(Size::B, Rax, Mem::new(Rdi, 0x10))),
            &[0x0f, 0xb6, 0x47, 0x10],
        ),
        (
            bytes(|a| a.load_sx(Size::D, Rax, Mem::new(Rbx, -1))),
            &[0x48, 0x63, 0x43, 0xff],
        ),
        (
            bytes(|a| a.alu_ri(AluOp::Add, Size::Q, Rax, 1)),
            &[0x48, 0x83, 0xc0, 0x01],
        ),
        (
            bytes(|a| a.alu_ri(AluOp::Add, Size::D, Rax, 0x80)),
            &[0x05, 0x80, 0, 0, 0],
        ),
        (
            bytes(|a| a.alu_ri(AluOp::Sub, Size::Q, Rcx, 0x80)),
            &[0x48, 0x81, 0xe9, 0x80, 0, 0, 0],
        ),
        (
            bytes(|a| a.alu_ri(AluOp::Sub, Size::Q, Rsp, 8)),
            &[0x48, 0x83, 0xec, 0x08],
        ),
        (
            bytes(|a| a.alu_rr(AluOp::Xor, Size::D, Rax, Rax)),
            &[0x31, 0xc0],
        ),
        (
            bytes(|a| a.alu_rr(AluOp::Xor, Size::D, R11, R11)),
            &[0x45, 0x31, 0xdb],
        ),
        (
            bytes(|a| a.alu_rr(AluOp::Cmp, Size::Q, R8, R9)),
            &[0x4d, 0x39, 0xc8],
        ),
        (bytes(|a| a.test_rr(Size::B, Rdi, Rdi)), &[0x40, 0x84, 0xff]),
        (
            bytes(|a| a.shift_ri(ShiftOp::Shl, Size::Q, Rdx, 3)),
            &[0x48, 0xc1, 0xe2, 0x03],
        ),
        (
            bytes(|a| a.shift_cl(ShiftOp::Sar, Size::D, R15)),
            &[0x41, 0xd3, 0xff],
        ),
        (
            bytes(|a| a.shift_ri(ShiftOp::Rol, Size::W, Rax, 8)),
            &[0x66, 0xc1, 0xc0, 0x08],
        ),
        (
            bytes(|a| a.imul_rr(Size::Q, Rax, Rbx)),
            &[0x48, 0x0f, 0xaf, 0xc3],
        ),
        (
            bytes(|a| a.unary(UnaryOp::Div, Size::Q, Rcx)),
            &[0x48, 0xf7, 0xf1],
        ),
        (bytes(|a| a.bswap(Size::Q, R12)), &[0x49, 0x0f, 0xcc]),
        (bytes(|a| a.mov_rr(Size::Q, Rbp, Rsp)), &[0x48, 0x89, 0xe5]),
        (bytes(|a| a.mov_r32_imm(R9, 1)), &[0x41, 0xb9, 1, 0, 0, 0]),
        (
            bytes(|a| a.mov_r64_imm(Rax, -1)),
            &[0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff],
        ),
        (
            bytes(|a| a.movabs(Rdi, 0x1122_3344_5566_7788)),
            &[0x48, 0xbf, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
        ),
        (
            bytes(|a| a.store_imm(Size::D, Mem::new(Rbp, -8), 0)),
            &[0xc7, 0x45, 0xf8, 0, 0, 0, 0],
        ),
        (
            bytes(|a| a.lea(Size::Q, Rsi, Mem::new(Rbp, -16))),
            &[0x48, 0x8d, 0x75, 0xf0],
        ),
        (
            bytes(|a| a.lock_xadd(Size::Q, Mem::new(Rdi, 8), Rax)),
            &[0xf0, 0x48, 0x0f, 0xc1, 0x47, 0x08],
        ),
        (
            bytes(|a| a.lock_cmpxchg(Size::D, Mem::new(Rsi, 0), Rcx)),
            &[0xf0, 0x0f, 0xb1, 0x0e],
        ),
        (
            bytes(|a| a.xchg(Size::Q, Mem::new(R12, 4), Rbx)),
            &[0x49, 0x87, 0x5c, 0x24, 0x04],
        ),
        (
            bytes(|a| a.lock_alu(AluOp::Add, Size::D, Mem::new(Rax, 0), Rdx)),
            &[0xf0, 0x01, 0x10],
        ),
        (bytes(|a| a.push(R13)), &[0x41, 0x55]),
        (bytes(|a| a.pop(Rbx)), &[0x5b]),
        (bytes(|a| a.call_reg(Rax)), &[0xff, 0xd0]),
        (bytes(|a| a.jmp_reg(R11)), &[0x41, 0xff, 0xe3]),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
}
