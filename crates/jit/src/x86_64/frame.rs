//! The frame of one compiled subprogram: prologue, epilogue, and the
//! unwinding a tail call does before it jumps.
//!
//! ```text
//!   [return address]            rsp = 8 mod 16 on entry (System V)
//!   [saved r12]        <- main programs and subprograms that tail-call
//!   [saved rbp]        <- rbp = BPF r10, the top of the BPF stack
//!   [BPF stack, `stack` bytes: r10 - depth .. r10, plus padding]
//!   [saved rbx/r13/r14/r15, only those the subprogram writes]
//!                      <- rsp, 16-byte aligned for calls
//! ```
//!
//! The main program is called from Rust with r1..r5 in the five first
//! argument registers (the context in rdi) and the
//! [`RunCtx`](super::RunCtx) in the sixth, r9; it saves the caller's r12
//! and keeps the run there. Its first [`TAIL_CALL_OFFSET`] bytes are always
//!
//! ```text
//!   push r12; mov r12, r9; push rbp; mov rbp, rsp
//! ```
//!
//! and a tail call enters its target right after them: the caller has
//! popped its callee-saved registers and its stack (`mov rsp, rbp`), so
//! the target finds the return address, the saved r12 and the saved rbp
//! where its own prologue would have put them, and its epilogue returns to
//! whoever called the frame that tail-called. A subprogram that tail-calls
//! builds the same three words (its "saved r12" is the run itself), so a
//! tail call from a subprogram replaces the subprogram and returns to its
//! caller; other subprograms skip the r12 slot.
//!
//! A *leaf* main program (one subprogram, no call of any kind, no use of
//! r10, so neither r12 nor a frame pointer) has no frame at all: it
//! starts right at its body, after pushing the callee-saved registers it
//! writes, and returns with `ret`. Tail calls enter it two instructions
//! earlier, at `pop rbp; pop r12`, which takes down the frame the caller
//! left before falling into the body.

use super::regs::CALLEE_SAVED;
use crate::x86::{AluOp, Asm, Label, Reg, Size};

/// Bytes from the start of a main program that has a frame to where tail
/// calls enter it.
pub const TAIL_CALL_OFFSET: usize = 9;

/// Which frame layout a subprogram has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The main program: entered from Rust or by tail calls.
    Main,
    /// A main program that needs no frame (see the module docs).
    Leaf,
    /// A bpf-to-bpf callee (or callback) that may tail-call.
    TailCalling,
    /// Any other callee.
    Plain,
}

impl Kind {
    /// Whether the frame holds the r12 slot.
    fn has_r12(self) -> bool {
        matches!(self, Kind::Main | Kind::TailCalling)
    }
}

/// What a subprogram's frame holds.
#[derive(Clone, Debug)]
pub(super) struct Frame {
    kind: Kind,
    /// Bytes reserved below rbp for the BPF stack (with padding).
    stack: u32,
    /// Callee-saved registers pushed after the stack, in push order.
    saved: Vec<Reg>,
}

impl Frame {
    /// The frame of a subprogram of `kind` with `stack_depth` bytes of BPF
    /// stack that writes the callee-saved registers in `callee_saved` (bit
    /// `i` for `ri`). `aligned` keeps rsp 16-byte aligned below the frame,
    /// as calls into Rust (helpers) need; a program that calls no helper
    /// (tail calls included, since their targets may) needs no padding.
    pub(super) fn new(kind: Kind, stack_depth: u32, callee_saved: u16, aligned: bool) -> Frame {
        let saved: Vec<Reg> = CALLEE_SAVED
            .iter()
            .filter(|(bit, _)| callee_saved & bit != 0)
            .map(|&(_, r)| r)
            .collect();
        // rsp is 8 mod 16 on entry: after `push rbp` it is 16-aligned, or
        // 8 mod 16 with the r12 slot too. Keep it 16-aligned after the
        // stack and the pushes.
        let pushes = 8 * saved.len() as u32 + if kind.has_r12() { 8 } else { 0 };
        let stack = match aligned {
            true => (stack_depth + pushes).next_multiple_of(16) - pushes,
            false => stack_depth.next_multiple_of(8),
        };
        Frame { kind, stack, saved }
    }

    /// The prologue. For the main program, `entry` is bound where runs
    /// start and `tail_entry` where tail calls enter ([`TAIL_CALL_OFFSET`]
    /// past the start, or before the start of a leaf).
    pub(super) fn prologue(&self, asm: &mut Asm, entry: Label, tail_entry: Label) {
        if self.kind == Kind::Leaf {
            asm.bind(tail_entry);
            asm.pop(Reg::Rbp);
            asm.pop(Reg::R12);
            asm.bind(entry);
            for &r in &self.saved {
                asm.push(r);
            }
            return;
        }
        asm.bind(entry);
        match self.kind {
            Kind::Main => {
                asm.push(Reg::R12);
                asm.mov_rr(Size::Q, Reg::R12, Reg::R9);
            }
            Kind::TailCalling => asm.push(Reg::R12),
            Kind::Plain | Kind::Leaf => {}
        }
        asm.push(Reg::Rbp);
        asm.mov_rr(Size::Q, Reg::Rbp, Reg::Rsp);
        if self.kind == Kind::Main {
            asm.bind(tail_entry);
        }
        if self.stack > 0 {
            asm.alu_ri(AluOp::Sub, Size::Q, Reg::Rsp, self.stack as i32);
        }
        for &r in &self.saved {
            asm.push(r);
        }
    }

    /// Pops what the body's part of the prologue pushed: the callee-saved
    /// registers and the stack, leaving rsp = rbp.
    pub(super) fn unwind(&self, asm: &mut Asm) {
        for &r in self.saved.iter().rev() {
            asm.pop(r);
        }
        if self.stack > 0 {
            asm.mov_rr(Size::Q, Reg::Rsp, Reg::Rbp);
        }
    }

    /// `unwind; pop rbp; [pop r12]; ret`: the body leaves rsp where the
    /// prologue left it.
    pub(super) fn epilogue(&self, asm: &mut Asm) {
        self.unwind(asm);
        if self.kind == Kind::Leaf {
            asm.ret();
            return;
        }
        asm.pop(Reg::Rbp);
        if self.kind.has_r12() {
            asm.pop(Reg::R12);
        }
        asm.ret();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_keeps_rsp_aligned() {
        for kind in [Kind::Main, Kind::TailCalling, Kind::Plain] {
            let entry_pushes = if kind.has_r12() { 16 } else { 8 };
            for depth in [0, 1, 8, 16, 24, 504, 512] {
                for saved in [0u16, 1 << 6, 0b11 << 6, 0b111 << 6, 0b1111 << 6] {
                    let f = Frame::new(kind, depth, saved, true);
                    assert!(f.stack >= depth);
                    // 8 (the return address) + the pushes before rbp's
                    // value + the stack + the callee-saved pushes.
                    let total = 8 + entry_pushes + f.stack + 8 * f.saved.len() as u32;
                    assert_eq!(total % 16, 0, "{kind:?} {depth} {saved:b}");
                }
            }
        }
    }

    #[test]
    fn tail_calls_enter_main_programs_past_the_fixed_prologue() {
        let mut asm = Asm::new();
        let (entry, tail) = (asm.new_label(), asm.new_label());
        Frame::new(Kind::Main, 64, 1 << 6, true).prologue(&mut asm, entry, tail);
        assert_eq!(asm.label_offset(entry), Some(0));
        assert_eq!(asm.label_offset(tail), Some(TAIL_CALL_OFFSET));
        assert_eq!(
            &asm.bytes()[..TAIL_CALL_OFFSET],
            // push r12; mov r12, r9; push rbp; mov rbp, rsp
            &[0x41, 0x54, 0x4d, 0x89, 0xcc, 0x55, 0x48, 0x89, 0xe5]
        );
    }

    #[test]
    fn leaves_have_no_frame_and_tail_calls_take_down_the_callers() {
        let mut asm = Asm::new();
        let (entry, tail) = (asm.new_label(), asm.new_label());
        let f = Frame::new(Kind::Leaf, 0, 1 << 6, false);
        f.prologue(&mut asm, entry, tail);
        f.epilogue(&mut asm);
        assert_eq!(asm.label_offset(tail), Some(0));
        assert_eq!(asm.label_offset(entry), Some(3));
        // pop rbp; pop r12; push rbx; pop rbx; ret
        assert_eq!(asm.bytes(), &[0x5d, 0x41, 0x5c, 0x53, 0x5b, 0xc3]);
    }
}
