//! Static facts about the control-flow graph, computed before the
//! abstract interpretation: which instructions any path can reach (the
//! kernel's `check_cfg`, which rejects the rest) and which registers are
//! live at each instruction (read on some path before being written).
//!
//! State pruning compares only live registers: a register the rest of
//! the program overwrites before reading cannot make a path unsafe,
//! whatever it holds. The kernel learns the same through read marks
//! propagated along the parentage chain; a backward data-flow pass over
//! the graph gives the same answer for registers without that machinery.

use crate::prog_type::ProgramType;
use crate::proto::Arg;
use rxdp_isa::{AtomicOp, CallKind, Insn, Operand, Reg};

/// A set of registers, bit `i` for `ri`.
pub type RegSet = u16;

const CALLER_SAVED: RegSet = 0b11_1111; // r0..r5
const ARGS: RegSet = 0b11_1110; // r1..r5

fn bit(r: Reg) -> RegSet {
    1 << r.num()
}

/// Reachability and register liveness per instruction.
#[derive(Clone, Debug)]
pub struct Liveness {
    live_in: Vec<RegSet>,
    reachable: Vec<bool>,
}

impl Liveness {
    /// Computes both for a structurally valid program.
    pub fn compute(insns: &[Insn], prog_type: &dyn ProgramType) -> Liveness {
        let uses: Vec<(RegSet, RegSet)> = insns.iter().map(|i| uses_defs(i, prog_type)).collect();
        let mut live_in = vec![0; insns.len()];
        // Iterate to a fixed point, walking backwards (few passes: loops
        // are the only reason for more than one).
        loop {
            let mut changed = false;
            for pc in (0..insns.len()).rev() {
                if insns[pc] == Insn::LdImm64Hi {
                    continue;
                }
                let out = successors(insns, pc)
                    .into_iter()
                    .flatten()
                    .fold(0, |acc, s| acc | live_in[s]);
                let (uses, defs) = uses[pc];
                let inn = uses | (out & !defs);
                if inn != live_in[pc] {
                    live_in[pc] = inn;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        Liveness {
            live_in,
            reachable: reachable(insns),
        }
    }

    /// Registers live on entry to `pc`.
    pub fn live_in(&self, pc: usize) -> RegSet {
        self.live_in.get(pc).copied().unwrap_or(0)
    }

    /// Whether some path from the entry reaches `pc` (ignoring what
    /// conditions prove).
    pub fn reachable(&self, pc: usize) -> bool {
        self.reachable[pc]
    }
}

/// The instructions control may pass to from `pc`, within its function.
pub fn successors(insns: &[Insn], pc: usize) -> [Option<usize>; 2] {
    let next = pc + insns[pc].slots();
    let next = (next < insns.len()).then_some(next);
    match insns[pc] {
        Insn::Exit => [None, None],
        Insn::Ja { .. } => [insns[pc].jump_target(pc).map(|t| t as usize), None],
        Insn::Jmp { .. } => [next, insns[pc].jump_target(pc).map(|t| t as usize)],
        _ => [next, None],
    }
}

/// The registers an instruction reads and writes.
fn uses_defs(insn: &Insn, prog_type: &dyn ProgramType) -> (RegSet, RegSet) {
    let src = |o: &Operand| match o {
        Operand::Reg(r) => bit(*r),
        Operand::Imm(_) => 0,
    };
    match insn {
        Insn::Alu {
            op: rxdp_isa::AluOp::Mov,
            dst,
            src: s,
            ..
        } => (src(s), bit(*dst)),
        Insn::Alu { dst, src: s, .. } => (bit(*dst) | src(s), bit(*dst)),
        Insn::MovSx { dst, src, .. } => (bit(*src), bit(*dst)),
        Insn::Neg { dst, .. } | Insn::End { dst, .. } => (bit(*dst), bit(*dst)),
        Insn::Ja { .. } => (0, 0),
        Insn::Jmp { dst, src: s, .. } => (bit(*dst) | src(s), 0),
        Insn::Call(CallKind::Helper(id)) => {
            let args = u32::try_from(*id)
                .ok()
                .and_then(|id| prog_type.helper_proto(id))
                .map_or(ARGS, |p| {
                    p.args
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| **a != Arg::None)
                        .fold(0, |acc, (i, _)| acc | 1 << (i + 1))
                });
            (args, CALLER_SAVED)
        }
        Insn::Call(_) => (ARGS, CALLER_SAVED),
        Insn::Callx { dst } => (bit(*dst) | ARGS, CALLER_SAVED),
        Insn::Exit => (1, 0),
        Insn::Ldx { dst, src, .. } => (bit(*src), bit(*dst)),
        Insn::Stx { dst, src, .. } => (bit(*dst) | bit(*src), 0),
        Insn::St { dst, .. } => (bit(*dst), 0),
        Insn::Atomic {
            op: AtomicOp::Cmpxchg,
            dst,
            src,
            ..
        } => (bit(*dst) | bit(*src) | 1, 1),
        Insn::Atomic {
            fetch, dst, src, ..
        } => (bit(*dst) | bit(*src), if *fetch { bit(*src) } else { 0 }),
        Insn::LdImm64 { dst, .. } => (0, bit(*dst)),
        Insn::LdImm64Hi => (0, 0),
        Insn::LdAbs { .. } => (bit(Reg::R1), CALLER_SAVED),
        Insn::LdInd { src, .. } => (bit(Reg::R1) | bit(*src), CALLER_SAVED),
    }
}

/// Which instructions a walk from the entry reaches, following jumps
/// both ways and calls into their subprograms.
fn reachable(insns: &[Insn]) -> Vec<bool> {
    let mut seen = vec![false; insns.len()];
    let mut work = vec![0usize];
    while let Some(pc) = work.pop() {
        if pc >= insns.len() || seen[pc] {
            continue;
        }
        seen[pc] = true;
        if let Insn::LdImm64 { .. } = insns[pc]
            && pc + 1 < insns.len()
        {
            seen[pc + 1] = true;
        }
        work.extend(successors(insns, pc).into_iter().flatten());
        if let Some(t) = insns[pc].call_target(pc) {
            work.push(t as usize);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfg::check_structure;
    use crate::prog_type::RawMemory;
    use rxdp_isa::{AluOp, Width};

    fn mov(dst: u8, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::new(dst).unwrap(),
            src: Operand::Imm(imm),
        }
    }

    #[test]
    fn a_register_overwritten_before_use_is_dead() {
        // 0: r2 = 1   1: r0 = 0   2: exit
        let insns = [mov(2, 1), mov(0, 0), Insn::Exit];
        check_structure(&insns).unwrap();
        let l = Liveness::compute(&insns, &RawMemory);
        assert_eq!(l.live_in(0), 0);
        assert_eq!(l.live_in(2), 1);
    }

    #[test]
    fn code_after_an_unconditional_jump_is_unreachable() {
        let insns = [
            Insn::Ja {
                off: 1,
                long: false,
            },
            mov(0, 1),
            mov(0, 0),
            Insn::Exit,
        ];
        check_structure(&insns).unwrap();
        let l = Liveness::compute(&insns, &RawMemory);
        assert!(l.reachable(0) && l.reachable(2) && l.reachable(3));
        assert!(!l.reachable(1));
    }
}
