//! Arithmetic and logic: the eight classic two-operand operations, test,
//! imul, the one-operand group (not, neg, mul, imul, div, idiv), shifts and
//! rotates, and the rax sign extensions (cdq, cqo).
//!
//! Opcodes from the Intel SDM Vol. 2A/2B and its opcode map (Appendix A):
//! group 1 (80/81/83 /n), the `op r/m, r` forms (00..39), TEST (84/85,
//! A8/A9, F6/F7 /0), group 3 (F6/F7 /2../7), IMUL (0F AF, 6B, 69), group 2
//! (C0/C1, D0/D1, D2/D3 /n), CDQ/CQO (99).

use super::asm::{Asm, Enc, RegField, Rm};
use super::mov::imm_bytes;
use super::operand::{Reg, Size};

/// A two-operand ALU operation; the value is its group-1 `/digit` and,
/// shifted left by three, its `op r/m, r` opcode row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// dst += src.
    Add = 0,
    /// dst |= src.
    Or = 1,
    /// dst += src + CF.
    Adc = 2,
    /// dst -= src + CF.
    Sbb = 3,
    /// dst &= src.
    And = 4,
    /// dst -= src.
    Sub = 5,
    /// dst ^= src.
    Xor = 6,
    /// Flags of dst - src.
    Cmp = 7,
}

impl AluOp {
    /// All eight operations in encoding order.
    pub const ALL: [AluOp; 8] = [
        AluOp::Add,
        AluOp::Or,
        AluOp::Adc,
        AluOp::Sbb,
        AluOp::And,
        AluOp::Sub,
        AluOp::Xor,
        AluOp::Cmp,
    ];

    /// The `/digit` of the group-1 immediate forms.
    pub const fn digit(self) -> u8 {
        self as u8
    }

    /// The `op r/m, r` opcode at `size` (the byte form is one less).
    pub(super) const fn rm_r_opcode(self, size: Size) -> u8 {
        let full = (self.digit() << 3) | 1;
        if matches!(size, Size::B) {
            full - 1
        } else {
            full
        }
    }
}

/// A shift or rotate; the value is its group-2 `/digit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShiftOp {
    /// Rotate left.
    Rol = 0,
    /// Rotate right.
    Ror = 1,
    /// Shift left.
    Shl = 4,
    /// Logical shift right.
    Shr = 5,
    /// Arithmetic shift right.
    Sar = 7,
}

impl ShiftOp {
    /// All five operations.
    pub const ALL: [ShiftOp; 5] = [
        ShiftOp::Rol,
        ShiftOp::Ror,
        ShiftOp::Shl,
        ShiftOp::Shr,
        ShiftOp::Sar,
    ];
}

/// A one-operand group-3 operation; the value is its `/digit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// Bitwise not.
    Not = 2,
    /// Two's complement negation.
    Neg = 3,
    /// Unsigned rdx:rax = rax * src.
    Mul = 4,
    /// Signed rdx:rax = rax * src.
    Imul = 5,
    /// Unsigned rax = rdx:rax / src, rdx = remainder.
    Div = 6,
    /// Signed rax = rdx:rax / src, rdx = remainder.
    Idiv = 7,
}

impl UnaryOp {
    /// All six operations.
    pub const ALL: [UnaryOp; 6] = [
        UnaryOp::Not,
        UnaryOp::Neg,
        UnaryOp::Mul,
        UnaryOp::Imul,
        UnaryOp::Div,
        UnaryOp::Idiv,
    ];
}

/// The opcode of a byte/non-byte pair at `size`.
const fn pick(size: Size, byte: u8, other: u8) -> u8 {
    if matches!(size, Size::B) { byte } else { other }
}

impl Asm {
    /// `op dst, src` at `size` (`op r/m, r`: 00/01 + 8 * op).
    pub fn alu_rr(&mut self, op: AluOp, size: Size, dst: Reg, src: Reg) {
        self.rr(size, op.rm_r_opcode(size), dst, src);
    }

    /// `op r/m, r` with both operands registers: the common layout of the
    /// ALU, test and mov register forms.
    fn rr(&mut self, size: Size, opcode: u8, dst: Reg, src: Reg) {
        let byte = size == Size::B;
        self.put_enc(Enc {
            size,
            lock: false,
            opcode: &[opcode],
            reg: RegField::Reg(src),
            rm: Rm::Reg(dst),
            reg_byte: byte,
            rm_byte: byte,
        });
    }

    /// A `/digit` instruction on one register operand.
    fn digit_r(&mut self, size: Size, opcode: &[u8], digit: u8, reg: Reg) {
        self.put_enc(Enc {
            size,
            lock: false,
            opcode,
            reg: RegField::Digit(digit),
            rm: Rm::Reg(reg),
            reg_byte: false,
            rm_byte: size == Size::B,
        });
    }

    /// `op dst, imm` at `size`, in the shortest form: `83 /op ib` when the
    /// immediate fits in a sign-extended byte (W, D, Q), else the
    /// accumulator form (`04/05 + 8 * op`) for rax, else `80/81 /op`. At Q
    /// the 32-bit immediate is sign-extended; B takes -128..=255, W
    /// -32768..=65535.
    pub fn alu_ri(&mut self, op: AluOp, size: Size, dst: Reg, imm: i32) {
        let Some((bytes, len)) = imm_bytes(size, imm) else {
            return self.fail("immediate wider than the operation");
        };
        if size != Size::B && i8::try_from(imm).is_ok() {
            self.digit_r(size, &[0x83], op.digit(), dst);
            self.put(&[imm as u8]);
            return;
        }
        if dst == Reg::Rax {
            if size == Size::W {
                self.put(&[0x66]);
            }
            self.put_rex(if size == Size::Q { 0x08 } else { 0 }, false);
            self.put(&[pick(size, 0x04, 0x05) | (op.digit() << 3)]);
        } else {
            self.digit_r(size, &[pick(size, 0x80, 0x81)], op.digit(), dst);
        }
        self.put(&bytes[..len]);
    }

    /// `test dst, src` at `size` (84/85 /r).
    pub fn test_rr(&mut self, size: Size, dst: Reg, src: Reg) {
        self.rr(size, pick(size, 0x84, 0x85), dst, src);
    }

    /// `test dst, imm` at `size`: A8/A9 for rax, else F6/F7 /0. There is no
    /// sign-extended imm8 form. At Q the immediate is sign-extended.
    pub fn test_ri(&mut self, size: Size, dst: Reg, imm: i32) {
        let Some((bytes, len)) = imm_bytes(size, imm) else {
            return self.fail("immediate wider than the operation");
        };
        if dst == Reg::Rax {
            if size == Size::W {
                self.put(&[0x66]);
            }
            self.put_rex(if size == Size::Q { 0x08 } else { 0 }, false);
            self.put(&[pick(size, 0xa8, 0xa9)]);
        } else {
            self.digit_r(size, &[pick(size, 0xf6, 0xf7)], 0, dst);
        }
        self.put(&bytes[..len]);
    }

    /// `imul dst, src` (0F AF /r): dst *= src, low half; W, D or Q.
    pub fn imul_rr(&mut self, size: Size, dst: Reg, src: Reg) {
        if size == Size::B {
            return self.fail("imul r, r/m has no 8-bit form");
        }
        self.put_enc(Enc {
            size,
            lock: false,
            opcode: &[0x0f, 0xaf],
            reg: RegField::Reg(dst),
            rm: Rm::Reg(src),
            reg_byte: false,
            rm_byte: false,
        });
    }

    /// `imul dst, src, imm` (6B /r ib when the immediate fits a byte, else
    /// 69 /r iw/id): dst = src * imm; W, D or Q.
    pub fn imul_rri(&mut self, size: Size, dst: Reg, src: Reg, imm: i32) {
        let fits8 = i8::try_from(imm).is_ok();
        let imm = match imm_bytes(size, imm) {
            Some(b) if size != Size::B => b,
            _ => return self.fail("imul: no such size or immediate"),
        };
        self.put_enc(Enc {
            size,
            lock: false,
            opcode: &[if fits8 { 0x6b } else { 0x69 }],
            reg: RegField::Reg(dst),
            rm: Rm::Reg(src),
            reg_byte: false,
            rm_byte: false,
        });
        self.put(&imm.0[..if fits8 { 1 } else { imm.1 }]);
    }

    /// A group-3 operation on `reg` at `size` (F6/F7 /digit). Mul, imul,
    /// div and idiv use rax and rdx implicitly (al/ah at B).
    pub fn unary(&mut self, op: UnaryOp, size: Size, reg: Reg) {
        self.digit_r(size, &[pick(size, 0xf6, 0xf7)], op as u8, reg);
    }

    /// `neg reg` at `size`.
    pub fn neg(&mut self, size: Size, reg: Reg) {
        self.unary(UnaryOp::Neg, size, reg);
    }

    /// `not reg` at `size`.
    pub fn not(&mut self, size: Size, reg: Reg) {
        self.unary(UnaryOp::Not, size, reg);
    }

    /// `mul src` at `size`: rdx:rax = rax * src, unsigned.
    pub fn mul(&mut self, size: Size, src: Reg) {
        self.unary(UnaryOp::Mul, size, src);
    }

    /// `div src` at `size`: rax = rdx:rax / src, rdx = rdx:rax % src,
    /// unsigned. Faults (#DE) on a zero divisor: the caller checks first.
    pub fn div(&mut self, size: Size, src: Reg) {
        self.unary(UnaryOp::Div, size, src);
    }

    /// `idiv src` at `size`: signed division of rdx:rax. Faults (#DE) on a
    /// zero divisor and on MIN / -1: the caller checks first.
    pub fn idiv(&mut self, size: Size, src: Reg) {
        self.unary(UnaryOp::Idiv, size, src);
    }

    /// `op reg, count` at `size`: D1 /op for a count of 1, else C1 /op ib
    /// (D0/C0 at B). The processor masks the count to 5 bits (6 at Q).
    pub fn shift_ri(&mut self, op: ShiftOp, size: Size, reg: Reg, count: u8) {
        if count == 1 {
            self.digit_r(size, &[pick(size, 0xd0, 0xd1)], op as u8, reg);
        } else {
            self.digit_r(size, &[pick(size, 0xc0, 0xc1)], op as u8, reg);
            self.put(&[count]);
        }
    }

    /// `op reg, cl` at `size` (D3 /op, D2 at B).
    pub fn shift_cl(&mut self, op: ShiftOp, size: Size, reg: Reg) {
        self.digit_r(size, &[pick(size, 0xd2, 0xd3)], op as u8, reg);
    }

    /// `cdq` (99): edx = sign of eax, before a 32-bit idiv.
    pub fn cdq(&mut self) {
        self.put(&[0x99]);
    }

    /// `cqo` (REX.W 99): rdx = sign of rax, before a 64-bit idiv.
    pub fn cqo(&mut self) {
        self.put(&[0x48, 0x99]);
    }
}
