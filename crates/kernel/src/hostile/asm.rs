//! An instruction buffer with labels: hostile programs jump forward and
//! backward (loops) and call subprograms written later, so targets are
//! named by [`Label`] and resolved once the whole program is written.

use rxdp_isa::{AluOp, CallKind, Cond, Insn, Operand, Reg, Size, Width};

/// A position in the program, bound once with [`Asm::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Label(usize);

/// The program being written.
#[derive(Debug, Default)]
pub(crate) struct Asm {
    pub(crate) insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    /// (slot of a jump or call, its target).
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    pub(crate) fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Binds `l` to the next slot.
    pub(crate) fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.insns.len());
    }

    pub(crate) fn emit(&mut self, insn: Insn) {
        self.insns.push(insn);
        if insn.slots() == 2 {
            self.insns.push(Insn::LdImm64Hi);
        }
    }

    pub(crate) fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Operand) {
        self.emit(Insn::Alu {
            width,
            op,
            dst,
            src,
        });
    }

    /// `dst op= imm` (64-bit).
    pub(crate) fn alu_k(&mut self, op: AluOp, dst: Reg, imm: i32) {
        self.alu(Width::W64, op, dst, Operand::Imm(imm));
    }

    /// `dst op= src` (64-bit).
    pub(crate) fn alu_x(&mut self, op: AluOp, dst: Reg, src: Reg) {
        self.alu(Width::W64, op, dst, Operand::Reg(src));
    }

    pub(crate) fn mov_k(&mut self, dst: Reg, imm: i32) {
        self.alu_k(AluOp::Mov, dst, imm);
    }

    pub(crate) fn mov_x(&mut self, dst: Reg, src: Reg) {
        self.alu_x(AluOp::Mov, dst, src);
    }

    pub(crate) fn ldx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) {
        self.emit(Insn::Ldx {
            size,
            signed: false,
            dst,
            src,
            off,
        });
    }

    pub(crate) fn stx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) {
        self.emit(Insn::Stx {
            size,
            dst,
            src,
            off,
        });
    }

    pub(crate) fn st(&mut self, size: Size, dst: Reg, off: i16, imm: i32) {
        self.emit(Insn::St {
            size,
            dst,
            off,
            imm,
        });
    }

    pub(crate) fn call(&mut self, helper: i32) {
        self.emit(Insn::Call(CallKind::Helper(helper)));
    }

    /// A bpf-to-bpf call of the function at `l`.
    pub(crate) fn call_local(&mut self, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::Call(CallKind::Local(0)));
    }

    pub(crate) fn jmp(&mut self, width: Width, cond: Cond, dst: Reg, src: Operand, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off: 0,
        });
    }

    pub(crate) fn ja(&mut self, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::Ja {
            off: 0,
            long: false,
        });
    }

    pub(crate) fn exit(&mut self) {
        self.emit(Insn::Exit);
    }

    /// Resolves every jump and call. A label never bound resolves to the
    /// last slot, and an offset out of range to 0: the program stays
    /// encodable (hostile, not malformed).
    pub(crate) fn finish(mut self) -> Vec<Insn> {
        let last = self.insns.len().saturating_sub(1);
        for &(slot, l) in &self.fixups {
            let target = self.labels[l.0].unwrap_or(last);
            let off = target as i64 - (slot as i64 + 1);
            let off16 = i16::try_from(off).unwrap_or(0);
            self.insns[slot] = match self.insns[slot] {
                Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    ..
                } => Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    off: off16,
                },
                Insn::Ja { long, .. } => Insn::Ja {
                    off: if long { off as i32 } else { i32::from(off16) },
                    long,
                },
                Insn::Call(CallKind::Local(_)) => Insn::Call(CallKind::Local(off as i32)),
                other => other,
            };
        }
        self.insns
    }
}
