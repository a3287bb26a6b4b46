//! Instructions without ModR/M operands: push, pop, nops of every length,
//! alignment padding, int3, endbr64, pause and lfence.
//!
//! Opcodes from the Intel SDM Vol. 2B: PUSH (50+rd), POP (58+rd), NOP
//! (90, and 0F 1F /0 with the recommended multi-byte sequences of Table
//! 4-12), INT3 (CC), ENDBR64 (F3 0F 1E FA), PAUSE (F3 90), LFENCE
//! (0F AE E8).

use super::asm::Asm;
use super::operand::Reg;

/// The longest x86 instruction, and so the longest single nop.
pub const MAX_INSN_LEN: usize = 15;

/// The recommended nops of 1 to 9 bytes (SDM Vol. 2B, NOP, Table 4-12);
/// longer ones add 0x66 prefixes to the 8-byte form (Table 4-12's note on
/// redundant prefixes), up to the 15-byte instruction limit.
const NOPS: [&[u8]; 9] = [
    &[0x90],
    &[0x66, 0x90],
    &[0x0f, 0x1f, 0x00],
    &[0x0f, 0x1f, 0x40, 0x00],
    &[0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
    &[0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
    &[0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

impl Asm {
    /// `push reg` (50+rd): 1 byte, 2 for r8..r15.
    pub fn push(&mut self, reg: Reg) {
        self.put_plus_r(false, &[0x50], reg);
    }

    /// `pop reg` (58+rd): 1 byte, 2 for r8..r15.
    pub fn pop(&mut self, reg: Reg) {
        self.put_plus_r(false, &[0x58], reg);
    }

    /// One nop instruction of exactly `len` bytes, 1..=15. The 5-byte one
    /// (0F 1F 44 00 00) is the patch-site nop a `jmp rel32` replaces.
    pub fn nop(&mut self, len: usize) {
        match len {
            1..=9 => self.put(NOPS[len - 1]),
            10..=MAX_INSN_LEN => {
                self.put(&[0x66; MAX_INSN_LEN - 9][..len - 9]);
                self.put(NOPS[8]);
            }
            _ => self.fail("a nop is 1 to 15 bytes"),
        }
    }

    /// Pads with the fewest nops to the next multiple of `boundary` (a
    /// power of two), as a jump target's alignment wants.
    pub fn align(&mut self, boundary: usize) {
        if !boundary.is_power_of_two() {
            return self.fail("alignment is not a power of two");
        }
        let mut pad = self.len().wrapping_neg() & (boundary - 1);
        while pad > 0 {
            let n = pad.min(MAX_INSN_LEN);
            self.nop(n);
            pad -= n;
        }
    }

    /// `int3` (CC): the trap that fills freed code.
    pub fn int3(&mut self) {
        self.put(&[0xcc]);
    }

    /// `endbr64` (F3 0F 1E FA): an indirect-branch target under CET IBT; a
    /// nop elsewhere.
    pub fn endbr64(&mut self) {
        self.put(&[0xf3, 0x0f, 0x1e, 0xfa]);
    }

    /// `pause` (F3 90): the spin-wait hint of a retpoline's capture loop.
    pub fn pause(&mut self) {
        self.put(&[0xf3, 0x90]);
    }

    /// `lfence` (0F AE E8): stops speculation in a retpoline's capture loop.
    pub fn lfence(&mut self) {
        self.put(&[0x0f, 0xae, 0xe8]);
    }
}
