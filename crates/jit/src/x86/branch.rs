//! Control transfer: jumps and calls to labels (rel8 or rel32) and to
//! absolute addresses (rel32, resolved against the image's final address),
//! indirect jumps and calls, ret; and the stand-alone rel32 encodings the
//! text poker writes over a patch site.
//!
//! Opcodes from the Intel SDM Vol. 2A/2B: JMP (EB cb, E9 cd, FF /4), Jcc
//! (70+cc cb, 0F 80+cc cd), CALL (E8 cd, FF /2), RET (C3).

use super::asm::{Asm, BranchTarget, Enc, JumpSize, Label, RegField, Rm, rel32};
use super::error::X86Error;
use super::operand::{Cond, Reg, Size};

/// Length of `jmp rel32` and `call rel32`: the size of a patch site.
pub const REL32_LEN: usize = 5;

impl Asm {
    /// `jmp target` with the given encoding (EB cb or E9 cd).
    pub fn jmp(&mut self, target: Label, size: JumpSize) {
        self.jmp_to(BranchTarget::Label(target), size, None);
    }

    /// `jcc target` with the given encoding (70+cc cb or 0F 80+cc cd).
    pub fn jcc(&mut self, cond: Cond, target: Label, size: JumpSize) {
        self.jcc_to(cond, target, size, None);
    }

    /// `jmp target`, short or near as the pass's [`JumpPlan`] says.
    ///
    /// [`JumpPlan`]: super::JumpPlan
    pub fn jmp_relaxed(&mut self, target: Label) {
        let size = self.next_relaxed_size();
        self.jmp_to(BranchTarget::Label(target), size, Some(5));
    }

    /// `jcc target`, short or near as the pass's [`JumpPlan`] says.
    ///
    /// [`JumpPlan`]: super::JumpPlan
    pub fn jcc_relaxed(&mut self, cond: Cond, target: Label) {
        let size = self.next_relaxed_size();
        self.jcc_to(cond, target, size, Some(6));
    }

    fn jmp_to(&mut self, target: BranchTarget, size: JumpSize, relaxed: Option<usize>) {
        let site = self.len();
        match size {
            JumpSize::Short => {
                self.put(&[0xeb, 0]);
                self.add_fixup(site, 1, target, relaxed);
            }
            JumpSize::Near => {
                self.put(&[0xe9, 0, 0, 0, 0]);
                self.add_fixup(site, 4, target, relaxed);
            }
        }
    }

    fn jcc_to(&mut self, cond: Cond, target: Label, size: JumpSize, relaxed: Option<usize>) {
        let site = self.len();
        let target = BranchTarget::Label(target);
        match size {
            JumpSize::Short => {
                self.put(&[0x70 | cond.code(), 0]);
                self.add_fixup(site, 1, target, relaxed);
            }
            JumpSize::Near => {
                self.put(&[0x0f, 0x80 | cond.code(), 0, 0, 0, 0]);
                self.add_fixup(site, 4, target, relaxed);
            }
        }
    }

    /// `call target` (E8 cd) to a label in this image (a bpf-to-bpf call).
    pub fn call(&mut self, target: Label) {
        let site = self.len();
        self.put(&[0xe8, 0, 0, 0, 0]);
        self.add_fixup(site, 4, BranchTarget::Label(target), None);
    }

    /// `call target` (E8 cd) to an absolute address (a helper), resolved by
    /// [`Asm::finish`] against the image's base; an error there if out of
    /// +-2 GiB. The rel32 is at `site + 1`.
    pub fn call_abs(&mut self, target: u64) {
        let site = self.len();
        self.put(&[0xe8, 0, 0, 0, 0]);
        self.add_fixup(site, 4, BranchTarget::Abs(target), None);
    }

    /// `jmp target` (E9 cd) to an absolute address (another program, a
    /// thunk), resolved like [`Asm::call_abs`].
    pub fn jmp_abs(&mut self, target: u64) {
        self.jmp_to(BranchTarget::Abs(target), JumpSize::Near, None);
    }

    /// `call reg` (FF /2): an indirect call.
    pub fn call_reg(&mut self, reg: Reg) {
        self.indirect(2, reg);
    }

    /// `jmp reg` (FF /4): an indirect jump.
    pub fn jmp_reg(&mut self, reg: Reg) {
        self.indirect(4, reg);
    }

    fn indirect(&mut self, digit: u8, reg: Reg) {
        // The operand size of near branches is 64 bits without REX.W
        // (SDM Vol. 2A, 2.2.1.7): Size::D here means "no prefix".
        self.put_enc(Enc {
            size: Size::D,
            lock: false,
            opcode: &[0xff],
            reg: RegField::Digit(digit),
            rm: Rm::Reg(reg),
            reg_byte: false,
            rm_byte: false,
        });
    }

    /// `ret` (C3).
    pub fn ret(&mut self) {
        self.put(&[0xc3]);
    }
}

/// The bytes of `jmp rel32` placed at address `site` and going to
/// `target`: what the text poker writes over a 5-byte patch site.
pub fn encode_jmp_rel32(site: u64, target: u64) -> Result<[u8; REL32_LEN], X86Error> {
    encode_rel32(0xe9, site, target)
}

/// The bytes of `call rel32` placed at address `site` and going to
/// `target`.
pub fn encode_call_rel32(site: u64, target: u64) -> Result<[u8; REL32_LEN], X86Error> {
    encode_rel32(0xe8, site, target)
}

fn encode_rel32(opcode: u8, site: u64, target: u64) -> Result<[u8; REL32_LEN], X86Error> {
    let disp =
        rel32(site.wrapping_add(REL32_LEN as u64), target).ok_or(X86Error::Rel32OutOfRange {
            site: 0,
            target,
            base: site,
        })?;
    let d = disp.to_le_bytes();
    Ok([opcode, d[0], d[1], d[2], d[3]])
}
