//! Data movement: register moves, immediates, loads with zero or sign
//! extension, stores, lea, and the in-register extensions and byte swaps.
//!
//! Opcodes from the Intel SDM Vol. 2B: MOV (88/89/8B/C6/C7/B8+rd), MOVZX
//! (0F B6/B7), MOVSX (0F BE/BF), MOVSXD (63), LEA (8D), BSWAP (0F C8+rd).

use super::asm::{Asm, BranchTarget, Enc, Label, RegField, Rm};
use super::operand::{Mem, Reg, Size};

/// The bytes of an immediate of operand size `size` (8, 16 or 32 bits;
/// 64-bit operations take a sign-extended 32-bit one), or `None` when `imm`
/// does not fit: B accepts -128..=255, W -32768..=65535.
pub(super) fn imm_bytes(size: Size, imm: i32) -> Option<([u8; 4], usize)> {
    let len = match size {
        Size::B if (-128..=255).contains(&imm) => 1,
        Size::W if (-32768..=65535).contains(&imm) => 2,
        Size::D | Size::Q => 4,
        _ => return None,
    };
    Some((imm.to_le_bytes(), len))
}

impl Asm {
    /// `mov dst, src` at `size` (88/89 /r). At D the upper 32 bits of `dst`
    /// are zeroed, as BPF's 32-bit moves need.
    pub fn mov_rr(&mut self, size: Size, dst: Reg, src: Reg) {
        let opcode = if size == Size::B { 0x88 } else { 0x89 };
        self.put_enc(Enc {
            size,
            lock: false,
            opcode: &[opcode],
            reg: RegField::Reg(src),
            rm: Rm::Reg(dst),
            reg_byte: size == Size::B,
            rm_byte: size == Size::B,
        });
    }

    /// `mov r32, imm32` (B8+rd id): `dst` = `imm` zero-extended to 64 bits;
    /// 5 bytes, 6 for r8..r15.
    pub fn mov_r32_imm(&mut self, dst: Reg, imm: u32) {
        self.put_plus_r(false, &[0xb8], dst);
        self.put(&imm.to_le_bytes());
    }

    /// `mov r64, imm32` (REX.W C7 /0 id): `dst` = `imm` sign-extended to
    /// 64 bits; 7 bytes.
    pub fn mov_r64_imm(&mut self, dst: Reg, imm: i32) {
        self.put_enc(Enc {
            size: Size::Q,
            lock: false,
            opcode: &[0xc7],
            reg: RegField::Digit(0),
            rm: Rm::Reg(dst),
            reg_byte: false,
            rm_byte: false,
        });
        self.put(&imm.to_le_bytes());
    }

    /// `movabs r64, imm64` (REX.W B8+rd io); 10 bytes.
    pub fn movabs(&mut self, dst: Reg, imm: u64) {
        self.put_plus_r(true, &[0xb8], dst);
        self.put(&imm.to_le_bytes());
    }

    /// The shortest of [`Asm::mov_r32_imm`], [`Asm::mov_r64_imm`] and
    /// [`Asm::movabs`] that sets all 64 bits of `dst` to `imm`. Flags are
    /// untouched (no `xor r, r` for zero: the caller chooses that).
    pub fn mov_imm64(&mut self, dst: Reg, imm: u64) {
        if let Ok(v) = u32::try_from(imm) {
            self.mov_r32_imm(dst, v);
        } else if let Ok(v) = i32::try_from(imm as i64) {
            self.mov_r64_imm(dst, v);
        } else {
            self.movabs(dst, imm);
        }
    }

    /// Loads `size` bytes at `mem` into `dst`, zero-extended to 64 bits:
    /// `movzx r32, m8` (0F B6), `movzx r32, m16` (0F B7), `mov r32, m32`
    /// (8B), `mov r64, m64` (REX.W 8B).
    pub fn load(&mut self, size: Size, dst: Reg, mem: Mem) {
        let (opsize, opcode): (Size, &[u8]) = match size {
            Size::B => (Size::D, &[0x0f, 0xb6]),
            Size::W => (Size::D, &[0x0f, 0xb7]),
            Size::D => (Size::D, &[0x8b]),
            Size::Q => (Size::Q, &[0x8b]),
        };
        self.load_with(opsize, opcode, dst, mem);
    }

    /// Loads `size` bytes at `mem` into `dst`, sign-extended to 64 bits:
    /// `movsx r64, m8` (REX.W 0F BE), `movsx r64, m16` (REX.W 0F BF),
    /// `movsxd r64, m32` (REX.W 63), `mov r64, m64` (REX.W 8B).
    pub fn load_sx(&mut self, size: Size, dst: Reg, mem: Mem) {
        let opcode: &[u8] = match size {
            Size::B => &[0x0f, 0xbe],
            Size::W => &[0x0f, 0xbf],
            Size::D => &[0x63],
            Size::Q => &[0x8b],
        };
        self.load_with(Size::Q, opcode, dst, mem);
    }

    fn load_with(&mut self, opsize: Size, opcode: &[u8], dst: Reg, mem: Mem) {
        self.put_enc(Enc {
            size: opsize,
            lock: false,
            opcode,
            reg: RegField::Reg(dst),
            rm: Rm::Mem(mem),
            reg_byte: false,
            rm_byte: false,
        });
    }

    /// Stores the low `size` bytes of `src` at `mem` (88/89 /r).
    pub fn store(&mut self, size: Size, mem: Mem, src: Reg) {
        let opcode = if size == Size::B { 0x88 } else { 0x89 };
        self.put_enc(Enc {
            size,
            lock: false,
            opcode: &[opcode],
            reg: RegField::Reg(src),
            rm: Rm::Mem(mem),
            reg_byte: size == Size::B,
            rm_byte: false,
        });
    }

    /// Stores an immediate of `size` at `mem` (C6 /0 ib, C7 /0 iw/id; at Q
    /// the 32-bit immediate is sign-extended). B takes -128..=255, W
    /// -32768..=65535.
    pub fn store_imm(&mut self, size: Size, mem: Mem, imm: i32) {
        let Some((bytes, len)) = imm_bytes(size, imm) else {
            return self.fail("immediate wider than the store");
        };
        let opcode = if size == Size::B { 0xc6 } else { 0xc7 };
        self.put_enc(Enc {
            size,
            lock: false,
            opcode: &[opcode],
            reg: RegField::Digit(0),
            rm: Rm::Mem(mem),
            reg_byte: false,
            rm_byte: false,
        });
        self.put(&bytes[..len]);
    }

    /// `lea dst, [rip + label]` (REX.W 8D /r, mod 00 r/m 101, disp32): the
    /// run-time address of a label of this image, position-independent.
    pub fn lea_label(&mut self, dst: Reg, label: Label) {
        let site = self.len();
        self.put_rex(0x48 | if dst.needs_rex() { 0x04 } else { 0 }, false);
        self.put(&[0x8d, (dst.low3() << 3) | 0b101, 0, 0, 0, 0]);
        self.add_fixup(site, 4, BranchTarget::Label(label), None);
    }

    /// `lea dst, [mem]` (8D /r) at D or Q (W works too; B has no encoding).
    pub fn lea(&mut self, size: Size, dst: Reg, mem: Mem) {
        if size == Size::B {
            return self.fail("lea has no 8-bit form");
        }
        self.load_with(size, &[0x8d], dst, mem);
    }

    /// Zero-extends the low `from` (B or W) bits of `src` into `dst`:
    /// `movzx r32, r8/r16` (0F B6/B7), which clears bits 32..63 too.
    pub fn movzx(&mut self, from: Size, dst: Reg, src: Reg) {
        let opcode: &[u8] = match from {
            Size::B => &[0x0f, 0xb6],
            Size::W => &[0x0f, 0xb7],
            _ => return self.fail("movzx extends from 8 or 16 bits"),
        };
        self.extend_rr(Size::D, opcode, from, dst, src);
    }

    /// Sign-extends the low `from` bits of `src` into `dst` at operand size
    /// `to`: `movsx r32/r64, r8/r16` (0F BE/BF) and `movsxd r64, r32`
    /// (REX.W 63). `to` is D or Q and wider than `from`.
    pub fn movsx(&mut self, to: Size, from: Size, dst: Reg, src: Reg) {
        let opcode: &[u8] = match (to, from) {
            (Size::D | Size::Q, Size::B) => &[0x0f, 0xbe],
            (Size::D | Size::Q, Size::W) => &[0x0f, 0xbf],
            (Size::Q, Size::D) => &[0x63],
            _ => return self.fail("movsx: no such size pair"),
        };
        self.extend_rr(to, opcode, from, dst, src);
    }

    fn extend_rr(&mut self, to: Size, opcode: &[u8], from: Size, dst: Reg, src: Reg) {
        self.put_enc(Enc {
            size: to,
            lock: false,
            opcode,
            reg: RegField::Reg(dst),
            rm: Rm::Reg(src),
            reg_byte: false,
            rm_byte: from == Size::B,
        });
    }

    /// `bswap r32` / `bswap r64` (0F C8+rd, REX.W for 64). For a 16-bit
    /// swap use `rol r16, 8` ([`Asm::shift_ri`]); `bswap r16` is undefined.
    pub fn bswap(&mut self, size: Size, reg: Reg) {
        match size {
            Size::D | Size::Q => self.put_plus_r(size == Size::Q, &[0x0f, 0xc8], reg),
            _ => self.fail("bswap is 32 or 64 bits"),
        }
    }
}
