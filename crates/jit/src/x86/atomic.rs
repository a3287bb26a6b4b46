//! Atomic read-modify-write on memory: lock add/and/or/xor, lock xadd,
//! xchg (locked by the processor without a prefix) and lock cmpxchg, as
//! BPF's atomic instructions need them.
//!
//! Opcodes from the Intel SDM Vol. 2A/2B: LOCK (F0), ADD/OR/AND/XOR
//! `r/m, r` (01/09/21/31), XADD (0F C1), XCHG (87; "if a memory operand is
//! referenced, the processor's locking protocol is automatically
//! implemented"), CMPXCHG (0F B1, compares with rax). Byte forms are one
//! less.

use super::alu::AluOp;
use super::asm::{Asm, Enc, RegField, Rm};
use super::operand::{Mem, Reg, Size};

impl Asm {
    /// `lock op [mem], src` at `size` for add, or, and, xor, adc, sbb or
    /// sub (cmp cannot be locked).
    pub fn lock_alu(&mut self, op: AluOp, size: Size, mem: Mem, src: Reg) {
        if op == AluOp::Cmp {
            return self.fail("cmp cannot take a lock prefix");
        }
        self.mem_r(true, size, &[op.rm_r_opcode(size)], mem, src);
    }

    /// `lock xadd [mem], src`: src = old value, `[mem]` += src.
    pub fn lock_xadd(&mut self, size: Size, mem: Mem, src: Reg) {
        let op = if size == Size::B { 0xc0 } else { 0xc1 };
        self.mem_r(true, size, &[0x0f, op], mem, src);
    }

    /// `xchg [mem], reg`: swaps atomically (no lock prefix needed).
    pub fn xchg(&mut self, size: Size, mem: Mem, reg: Reg) {
        let op = if size == Size::B { 0x86 } else { 0x87 };
        self.mem_r(false, size, &[op], mem, reg);
    }

    /// `lock cmpxchg [mem], src`: if `[mem]` == rax then `[mem]` = src,
    /// else rax = `[mem]`; ZF says which.
    pub fn lock_cmpxchg(&mut self, size: Size, mem: Mem, src: Reg) {
        let op = if size == Size::B { 0xb0 } else { 0xb1 };
        self.mem_r(true, size, &[0x0f, op], mem, src);
    }

    fn mem_r(&mut self, lock: bool, size: Size, opcode: &[u8], mem: Mem, reg: Reg) {
        self.put_enc(Enc {
            size,
            lock,
            opcode,
            reg: RegField::Reg(reg),
            rm: Rm::Mem(mem),
            reg_byte: size == Size::B,
            rm_byte: false,
        });
    }
}
