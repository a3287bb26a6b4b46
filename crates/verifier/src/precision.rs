//! Which scalar values matter to the proof (the kernel's precision
//! tracking, `mark_chain_precision`, done as a static analysis).
//!
//! Most numbers a program computes never decide anything the verifier
//! checks: they are stored, returned, passed to helpers as plain values.
//! A scalar matters only if it can flow into a *precise use*: a
//! conditional jump, pointer arithmetic, a helper's size argument, a tail
//! call's key, a map key (array lookups with a constant key need no null
//! check), a subprogram's or callback's return value. State pruning may
//! ignore the exact ranges of the others: a checkpoint with `r3 = 5`
//! covers a path with `r3 = 7` when nothing downstream can tell them
//! apart, which is what lets both arms of an `if` meet again.
//!
//! The analysis runs backwards over the control-flow graph to a fixed
//! point, over registers and the current frame's stack slots addressed
//! through `r10`. Anything it cannot follow (a load through another
//! pointer that feeds a precise use) makes every stack slot precise;
//! stores through other pointers always make their value precise. Calls
//! are summarised conservatively: arguments are precise, and a subprogram
//! that reads memory precisely makes its callers' stacks precise.

use crate::cfg::Structure;
use crate::liveness::{RegSet, successors};
use crate::prog_type::ProgramType;
use crate::proto::{Arg, HelperProto};
use crate::state::Frame;
use rxdp_isa::{AluOp, AtomicOp, CallKind, Insn, Operand, Reg, Size};

/// What must be exact on entry to an instruction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    /// Registers whose value must be exact.
    pub regs: RegSet,
    /// Stack slots of the running frame (bit `i`: bytes `[-8(i+1), -8i)`).
    pub slots: u64,
    /// Every stack slot of every frame.
    pub any_stack: bool,
}

impl Need {
    fn union(self, o: Need) -> Need {
        Need {
            regs: self.regs | o.regs,
            slots: self.slots | o.slots,
            any_stack: self.any_stack || o.any_stack,
        }
    }

    fn add(&mut self, r: Reg) {
        self.regs |= 1 << r.num();
    }

    fn kill(&mut self, r: Reg) {
        self.regs &= !(1 << r.num());
    }

    fn has(&self, r: Reg) -> bool {
        self.regs & (1 << r.num()) != 0
    }

    /// Whether stack slot `i` of this frame must be exact.
    pub fn slot(&self, i: usize) -> bool {
        self.any_stack || (i < 64 && self.slots & (1 << i) != 0)
    }

    /// Whether register `r` must be exact.
    pub fn reg(&self, r: usize) -> bool {
        self.regs & (1 << r) != 0
    }
}

const ARGS: RegSet = 0b11_1110;
const CALLER_SAVED: RegSet = 0b11_1111;

/// The bits of the slots bytes `[off, off + size)` from `r10` touch.
fn slot_bits(off: i32, size: i32) -> u64 {
    let mut bits = 0u64;
    for a in off..off + size {
        if !(-512..0).contains(&a) {
            continue;
        }
        let (slot, _) = Frame::slot_of(a);
        bits |= 1 << slot;
    }
    bits
}

/// The precision each instruction needs.
#[derive(Clone, Debug)]
pub struct Precision {
    at: Vec<Need>,
}

impl Precision {
    /// Computes it for a structurally valid program.
    pub fn compute(
        insns: &[Insn],
        structure: &Structure,
        prog_type: &dyn ProgramType,
    ) -> Precision {
        let mut p = Precision {
            at: vec![Need::default(); insns.len()],
        };
        loop {
            let mut changed = false;
            let any_entry = structure.subprogs.iter().any(|s| p.at[s.start].any_stack);
            for pc in (0..insns.len()).rev() {
                if insns[pc] == Insn::LdImm64Hi {
                    continue;
                }
                let out = successors(insns, pc)
                    .into_iter()
                    .flatten()
                    .fold(Need::default(), |acc, s| acc.union(p.at[s]));
                let main = structure.subprog_of(pc) == 0;
                let inn = p.transfer(insns, pc, out, main, any_entry, prog_type);
                if inn != p.at[pc] {
                    p.at[pc] = inn;
                    changed = true;
                }
            }
            if !changed {
                return p;
            }
        }
    }

    /// What must be exact on entry to `pc`.
    pub fn at(&self, pc: usize) -> Need {
        self.at.get(pc).copied().unwrap_or_default()
    }

    fn transfer(
        &self,
        insns: &[Insn],
        pc: usize,
        out: Need,
        main: bool,
        any_entry: bool,
        prog_type: &dyn ProgramType,
    ) -> Need {
        let mut n = out;
        match insns[pc] {
            Insn::Alu {
                op: AluOp::Mov,
                dst,
                src,
                ..
            } => {
                let need = n.has(dst);
                n.kill(dst);
                if let (true, Operand::Reg(s)) = (need, src) {
                    n.add(s);
                }
            }
            // Either operand may be a pointer: the other is its offset.
            Insn::Alu {
                op: AluOp::Add | AluOp::Sub,
                dst,
                src: Operand::Reg(s),
                ..
            } => {
                n.add(dst);
                n.add(s);
            }
            Insn::Alu { dst, src, .. } => {
                if let (true, Operand::Reg(s)) = (n.has(dst), src) {
                    n.add(s);
                }
            }
            Insn::MovSx { dst, src, .. } => {
                let need = n.has(dst);
                n.kill(dst);
                if need {
                    n.add(src);
                }
            }
            Insn::Neg { .. } | Insn::End { .. } | Insn::Ja { .. } | Insn::LdImm64Hi => {}
            Insn::Jmp { dst, src, .. } => {
                n.add(dst);
                if let Operand::Reg(s) = src {
                    n.add(s);
                }
            }
            Insn::Call(CallKind::Helper(id)) => {
                n.regs &= !CALLER_SAVED;
                let proto = u32::try_from(id)
                    .ok()
                    .and_then(|id| prog_type.helper_proto(id));
                helper_uses(&mut n, proto, any_entry);
            }
            Insn::Call(CallKind::Local(off)) => {
                n.regs &= !CALLER_SAVED;
                n.regs |= ARGS;
                let target = (pc as i64 + 1 + i64::from(off)) as usize;
                n.any_stack |= self.at(target).any_stack;
            }
            Insn::Call(CallKind::Kfunc(_)) | Insn::Callx { .. } => {
                n.regs |= ARGS;
                n.any_stack = true;
            }
            Insn::Exit => {
                n = Need::default();
                if !main {
                    n.add(Reg::R0);
                }
            }
            Insn::Ldx {
                dst,
                src,
                off,
                size,
                ..
            } => {
                let need = n.has(dst);
                n.kill(dst);
                if need {
                    if src == Reg::FP {
                        n.slots |= slot_bits(i32::from(off), size.bytes() as i32);
                    } else {
                        n.any_stack = true;
                    }
                }
            }
            Insn::Stx {
                dst,
                src,
                off,
                size,
            } => store(&mut n, dst, i32::from(off), size, Some(src)),
            Insn::St { dst, off, size, .. } => store(&mut n, dst, i32::from(off), size, None),
            Insn::Atomic { op, src, .. } => {
                n.add(src);
                if op == AtomicOp::Cmpxchg {
                    n.add(Reg::R0);
                }
            }
            Insn::LdImm64 { dst, .. } => n.kill(dst),
            Insn::LdAbs { .. } | Insn::LdInd { .. } => {
                n.regs &= !CALLER_SAVED;
                n.regs |= ARGS;
            }
        }
        n
    }
}

/// A store at `off` from `base`: through `r10`, the value matters if the
/// slot does (and a whole-slot store ends the slot's need); through any
/// other pointer, it might land anywhere and always matters.
fn store(n: &mut Need, base: Reg, off: i32, size: Size, value: Option<Reg>) {
    let bytes = size.bytes() as i32;
    if base != Reg::FP {
        if let Some(v) = value {
            n.add(v);
        }
        return;
    }
    let bits = slot_bits(off, bytes);
    let needed = n.any_stack || n.slots & bits != 0;
    if bytes == 8 && off % 8 == 0 {
        n.slots &= !bits;
    }
    if let (true, Some(v)) = (needed, value) {
        n.add(v);
    }
}

/// The precise uses of a helper call's arguments.
fn helper_uses(n: &mut Need, proto: Option<&HelperProto>, any_entry: bool) {
    let Some(p) = proto else {
        n.regs |= ARGS;
        n.any_stack = true;
        return;
    };
    for (i, a) in p.args.iter().enumerate() {
        let r = Reg::new(i as u8 + 1).expect("r1..r5");
        match a {
            Arg::Size { .. } | Arg::AllocSize => n.add(r),
            Arg::MapKey => n.any_stack = true,
            _ => {}
        }
    }
    if p.tail_call {
        n.add(Reg::R3);
    }
    if p.callback.is_some() {
        n.any_stack |= any_entry;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfg::check_structure;
    use crate::prog_type::RawMemory;
    use rxdp_isa::{Cond, Width};

    fn mov(dst: u8, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::new(dst).unwrap(),
            src: Operand::Imm(imm),
        }
    }

    #[test]
    fn a_value_only_returned_is_not_precise_but_a_compared_one_is() {
        // 0: r2 = 5   1: r3 = 7   2: if r2 > 3 goto +0   3: r0 = r3   4: exit
        let insns = [
            mov(2, 5),
            mov(3, 7),
            Insn::Jmp {
                width: Width::W64,
                cond: Cond::Gt,
                dst: Reg::R2,
                src: Operand::Imm(3),
                off: 0,
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Reg(Reg::R3),
            },
            Insn::Exit,
        ];
        let s = check_structure(&insns).unwrap();
        let p = Precision::compute(&insns, &s, &RawMemory);
        assert!(p.at(2).reg(2));
        assert!(!p.at(2).reg(3));
        assert!(!p.at(0).reg(2), "r2 is written at 0");
    }

    #[test]
    fn a_slot_loaded_into_a_compare_is_precise_up_to_its_store() {
        // 0: *(u64 *)(r10 - 8) = r1   1: r2 = *(u64 *)(r10 - 8)
        // 2: if r2 == 0 goto +0       3: r0 = 0   4: exit
        let insns = [
            Insn::Stx {
                size: Size::DW,
                dst: Reg::FP,
                src: Reg::R1,
                off: -8,
            },
            Insn::Ldx {
                size: Size::DW,
                signed: false,
                dst: Reg::R2,
                src: Reg::FP,
                off: -8,
            },
            Insn::Jmp {
                width: Width::W64,
                cond: Cond::Eq,
                dst: Reg::R2,
                src: Operand::Imm(0),
                off: 0,
            },
            mov(0, 0),
            Insn::Exit,
        ];
        let s = check_structure(&insns).unwrap();
        let p = Precision::compute(&insns, &s, &RawMemory);
        assert!(p.at(1).slot(0));
        assert!(!p.at(0).slot(0), "the store overwrites the whole slot");
        assert!(p.at(0).reg(1));
    }
}
