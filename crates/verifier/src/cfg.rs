//! Structural checks of a program's control flow, done before any
//! abstract interpretation (the kernel's `add_subprog_and_kfunc` and
//! `check_subprogs`): sizes, jump and call targets, `lddw` pairing,
//! subprogram boundaries, fall-through off the end, and writes to the
//! read-only frame pointer.
//!
//! The result, [`Structure`], splits the program into subprograms: one
//! starting at slot 0 and one at every bpf-to-bpf call target (and every
//! subprogram whose address a `lddw` takes). Later passes iterate over it.

use crate::error::VerifyError;
use rxdp_isa::{AtomicOp, CallKind, Insn, Reg};

/// The largest program accepted, in slots: the kernel's limit for
/// privileged loaders (`BPF_COMPLEXITY_LIMIT_INSNS`, which it also applies
/// to the program's length).
pub const MAX_INSNS: usize = 1_000_000;

/// One subprogram: a function of the program, as slot indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subprog {
    /// First slot.
    pub start: usize,
    /// One past the last slot.
    pub end: usize,
}

/// What the structural checks learnt about a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Structure {
    /// The subprograms in slot order; the first starts at 0 (the main
    /// program) and together they cover every slot.
    pub subprogs: Vec<Subprog>,
}

impl Structure {
    /// The index of the subprogram containing slot `pc`.
    pub fn subprog_of(&self, pc: usize) -> usize {
        self.subprogs
            .partition_point(|s| s.start <= pc)
            .saturating_sub(1)
    }

    /// The index of the subprogram starting exactly at slot `start`.
    pub fn subprog_at(&self, start: usize) -> Option<usize> {
        self.subprogs.binary_search_by_key(&start, |s| s.start).ok()
    }
}

/// Checks the structure of a program given as one [`Insn`] per slot (as
/// [`rxdp_isa::decode`] returns it) and splits it into subprograms.
pub fn check_structure(insns: &[Insn]) -> Result<Structure, VerifyError> {
    check_size(insns)?;
    let mut starts = vec![0];
    for (pc, insn) in insns.iter().enumerate() {
        check_insn(insns, pc, insn)?;
        if let Some(target) = insn.call_target(pc) {
            starts.push(check_call_target(insns, pc, target)?);
        }
    }
    starts.sort_unstable();
    starts.dedup();
    let subprogs: Vec<Subprog> = starts
        .iter()
        .enumerate()
        .map(|(i, &start)| Subprog {
            start,
            end: starts.get(i + 1).copied().unwrap_or(insns.len()),
        })
        .collect();
    for sub in &subprogs {
        check_subprog(insns, *sub)?;
    }
    Ok(Structure { subprogs })
}

fn check_size(insns: &[Insn]) -> Result<(), VerifyError> {
    if insns.is_empty() {
        return Err(VerifyError::program("program has no instructions"));
    }
    if insns.len() > MAX_INSNS {
        return Err(VerifyError::program(format!(
            "program of {} insns is too large (limit {MAX_INSNS})",
            insns.len()
        )));
    }
    Ok(())
}

/// Checks one slot on its own: `lddw` pairing, kfuncs, frame-pointer
/// writes.
fn check_insn(insns: &[Insn], pc: usize, insn: &Insn) -> Result<(), VerifyError> {
    match insn {
        Insn::LdImm64Hi if pc == 0 || !matches!(insns[pc - 1], Insn::LdImm64 { .. }) => {
            return Err(VerifyError::at(
                pc,
                "invalid BPF_LD_IMM insn: second half of lddw without its first half",
            ));
        }
        Insn::LdImm64 { .. } if insns.get(pc + 1) != Some(&Insn::LdImm64Hi) => {
            return Err(VerifyError::at(
                pc,
                "invalid BPF_LD_IMM insn: lddw is missing its second half",
            ));
        }
        Insn::Call(CallKind::Kfunc(id)) => {
            return Err(VerifyError::at(
                pc,
                format!("calling kernel function (kfunc btf_id {id}) is not supported"),
            ));
        }
        _ => {}
    }
    if written_register(insn) == Some(Reg::FP) {
        return Err(VerifyError::at(pc, "frame pointer is read only"));
    }
    Ok(())
}

/// The register an instruction explicitly writes, if any (calls clobber
/// r0-r5 implicitly and never r10, so they do not count here).
pub(crate) fn written_register(insn: &Insn) -> Option<Reg> {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::MovSx { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::End { dst, .. }
        | Insn::Ldx { dst, .. }
        | Insn::LdImm64 { dst, .. } => Some(dst),
        Insn::Atomic {
            op: AtomicOp::Cmpxchg,
            ..
        } => Some(Reg::R0),
        Insn::Atomic {
            op: AtomicOp::Xchg,
            src,
            ..
        } => Some(src),
        Insn::Atomic {
            fetch: true, src, ..
        } => Some(src),
        _ => None,
    }
}

/// Checks the target of a bpf-to-bpf call (or of a `lddw` of a function
/// address) and returns it as a slot index.
fn check_call_target(insns: &[Insn], pc: usize, target: i64) -> Result<usize, VerifyError> {
    let t = usize::try_from(target)
        .ok()
        .filter(|&t| t < insns.len())
        .ok_or_else(|| {
            VerifyError::at(
                pc,
                format!(
                    "call to invalid destination: insn {target} (program has {} insns)",
                    insns.len()
                ),
            )
        })?;
    if insns[t] == Insn::LdImm64Hi {
        return Err(VerifyError::at(
            pc,
            format!("jump into the middle of ldimm64 insn {}", t - 1),
        ));
    }
    Ok(t)
}

/// Checks that every jump of a subprogram stays inside it and lands on an
/// instruction, and that its last instruction cannot fall through.
fn check_subprog(insns: &[Insn], sub: Subprog) -> Result<(), VerifyError> {
    for (pc, insn) in insns.iter().enumerate().take(sub.end).skip(sub.start) {
        let Some(target) = insn.jump_target(pc) else {
            continue;
        };
        let in_range = target >= sub.start as i64 && target < sub.end as i64;
        if !in_range {
            return Err(VerifyError::at(
                pc,
                format!("jump out of range from insn {pc} to {target}"),
            ));
        }
        let t = target as usize;
        if insns[t] == Insn::LdImm64Hi {
            return Err(VerifyError::at(
                pc,
                format!("jump into the middle of ldimm64 insn {}", t - 1),
            ));
        }
    }
    // To avoid falling through from one subprogram into the next (or off
    // the end), the last slot must be an exit or an unconditional jump.
    let last = sub.end - 1;
    if !matches!(insns[last], Insn::Exit | Insn::Ja { .. }) {
        return Err(VerifyError::at(last, "last insn is not an exit or jmp"));
    }
    Ok(())
}
