//! The frame of one compiled subprogram: prologue and epilogue.
//!
//! ```text
//!   [return address]            rsp = 8 mod 16 on entry (System V)
//!   [saved rbp]        <- rbp = BPF r10, the top of the BPF stack
//!   [BPF stack, `stack` bytes: r10 - depth .. r10, plus padding]
//!   [saved rbx/r13/r14/r15, only those the subprogram writes]
//!                      <- rsp, 16-byte aligned for calls
//! ```
//!
//! The same layout serves the main program (called from Rust, so it
//! preserves what System V requires: rbp always, rbx and r13..r15 when it
//! writes them) and bpf-to-bpf callees (which preserve r6..r9 for their
//! caller the same way).

use super::regs::CALLEE_SAVED;
use crate::x86::{AluOp, Asm, Reg, Size};

/// What a subprogram's frame holds.
#[derive(Clone, Debug)]
pub(super) struct Frame {
    /// Bytes reserved below rbp for the BPF stack (with padding).
    stack: u32,
    /// Callee-saved registers pushed after the stack, in push order.
    saved: Vec<Reg>,
}

impl Frame {
    /// The frame of a subprogram with `stack_depth` bytes of BPF stack
    /// that writes the callee-saved registers in `callee_saved` (bit `i`
    /// for `ri`).
    pub(super) fn new(stack_depth: u32, callee_saved: u16) -> Frame {
        let saved: Vec<Reg> = CALLEE_SAVED
            .iter()
            .filter(|(bit, _)| callee_saved & bit != 0)
            .map(|&(_, r)| r)
            .collect();
        // After `push rbp` rsp is 16-byte aligned; keep it so after the
        // stack and the pushes.
        let pushes = 8 * saved.len() as u32;
        let stack = (stack_depth + pushes).next_multiple_of(16) - pushes;
        Frame { stack, saved }
    }

    /// `push rbp; mov rbp, rsp; sub rsp, stack; push saved...`.
    pub(super) fn prologue(&self, asm: &mut Asm) {
        asm.push(Reg::Rbp);
        asm.mov_rr(Size::Q, Reg::Rbp, Reg::Rsp);
        if self.stack > 0 {
            asm.alu_ri(AluOp::Sub, Size::Q, Reg::Rsp, self.stack as i32);
        }
        for &r in &self.saved {
            asm.push(r);
        }
    }

    /// `pop saved...; mov rsp, rbp; pop rbp; ret`: the body leaves rsp
    /// where the prologue left it.
    pub(super) fn epilogue(&self, asm: &mut Asm) {
        for &r in self.saved.iter().rev() {
            asm.pop(r);
        }
        if self.stack > 0 {
            asm.mov_rr(Size::Q, Reg::Rsp, Reg::Rbp);
        }
        asm.pop(Reg::Rbp);
        asm.ret();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_keeps_rsp_aligned() {
        for depth in [0, 1, 8, 16, 24, 504, 512] {
            for saved in [0u16, 1 << 6, 0b11 << 6, 0b111 << 6, 0b1111 << 6] {
                let f = Frame::new(depth, saved);
                assert!(f.stack >= depth);
                assert_eq!((f.stack + 8 * f.saved.len() as u32) % 16, 0);
            }
        }
    }
}
