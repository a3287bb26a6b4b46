//! Conditional jumps (the kernel's `check_cond_jmp_op`): a branch whose
//! outcome the state decides is followed alone; otherwise both are, each
//! with what it teaches — scalar bounds refined on both sides, a null
//! check turning `*_or_null` pointers (and every copy of them) into
//! pointers or zero, a comparison with `data_end` proving how many packet
//! bytes may be read.

use super::{Flow, Res, Verifier};
use crate::error::VerifyError;
use crate::scalar::Scalar;
use crate::state::{Reg, RegType, State};
use rxdp_isa::{Cond, Insn, Operand, Width};

/// The largest offset a packet pointer may carry for a comparison to
/// prove anything (`MAX_PACKET_OFF`).
const MAX_PACKET_OFF: u64 = 0xffff;

/// What a comparison of a packet pointer with its end proves, when it
/// proves something: the pointer is `<=` the end (`Le`) or `<` it (`Lt`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PktFact {
    Le,
    Lt,
}

impl Verifier<'_> {
    /// Applies a conditional jump; may fork the path.
    pub(super) fn check_cond_jmp(&mut self, st: &mut State, pc: usize, insn: &Insn) -> Res<Flow> {
        let Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } = *insn
        else {
            return Err(VerifyError::at(pc, "verifier bug: not a jump"));
        };
        let target = (pc as i64 + 1 + i64::from(off)) as usize;
        let d = dst.num();
        let dreg = *self.read_reg(st, pc, d)?;
        let (sreg, s) = match src {
            Operand::Reg(r) => (*self.read_reg(st, pc, r.num())?, Some(r.num())),
            Operand::Imm(imm) => (Reg::constant(imm as i64 as u64), None),
        };
        if dreg.is_scalar() && sreg.is_scalar() {
            return self.scalar_branch(st, pc, target, (cond, width), (d, dreg), (s, sreg));
        }
        if let Some(flow) = self.null_check(st, pc, target, (cond, width), &dreg, &sreg) {
            return Ok(flow);
        }
        if width == Width::W64 && self.packet_compare(st, target, cond, &dreg, &sreg) {
            return Ok(Flow::Next(pc + 1));
        }
        if !self.allow_ptr_leaks() {
            let r = if dreg.ty.is_pointer() {
                d
            } else {
                s.unwrap_or(d)
            };
            return Err(VerifyError::at(
                pc,
                format!("R{r} pointer comparison prohibited"),
            ));
        }
        // Privileged: pointers may be compared, learning nothing.
        self.push_branch(st.clone(), target);
        Ok(Flow::Next(pc + 1))
    }

    fn scalar_branch(
        &mut self,
        st: &mut State,
        pc: usize,
        target: usize,
        (cond, width): (Cond, Width),
        (d, dreg): (u8, Reg),
        (s, sreg): (Option<u8>, Reg),
    ) -> Res<Flow> {
        match Scalar::branch_taken(cond, width, &dreg.var, &sreg.var) {
            Some(true) => return Ok(Flow::Next(target)),
            Some(false) => return Ok(Flow::Next(pc + 1)),
            None => {}
        }
        let mut taken = st.clone();
        let taken_ok = refine(&mut taken, cond, width, true, (d, dreg), (s, sreg));
        let fall_ok = refine(st, cond, width, false, (d, dreg), (s, sreg));
        match (taken_ok, fall_ok) {
            (true, true) => {
                self.push_branch(taken, target);
                Ok(Flow::Next(pc + 1))
            }
            (true, false) => {
                *st = taken;
                Ok(Flow::Next(target))
            }
            (false, true) => Ok(Flow::Next(pc + 1)),
            (false, false) => Ok(Flow::Done),
        }
    }

    /// `if ptr == 0` / `if ptr != 0`: for a maybe-null pointer, forks into
    /// a null and a non-null world; for a pointer that cannot be null,
    /// the outcome is known. None if this is not such a check.
    fn null_check(
        &mut self,
        st: &mut State,
        pc: usize,
        target: usize,
        (cond, width): (Cond, Width),
        dreg: &Reg,
        sreg: &Reg,
    ) -> Option<Flow> {
        if width != Width::W64 || !matches!(cond, Cond::Eq | Cond::Ne) || !sreg.is_zero() {
            return None;
        }
        let null_when_taken = cond == Cond::Eq;
        if !dreg.ty.is_or_null() {
            if !dreg.ty.is_pointer() {
                return None;
            }
            // A pointer that cannot be null is never equal to 0.
            return Some(Flow::Next(if null_when_taken { pc + 1 } else { target }));
        }
        let mut taken = st.clone();
        mark_ptr_or_null(&mut taken, dreg, null_when_taken, self);
        mark_ptr_or_null(st, dreg, !null_when_taken, self);
        self.push_branch(taken, target);
        Some(Flow::Next(pc + 1))
    }

    /// A comparison of packet pointers with their end: refines the
    /// ranges of both branches. Returns false if the operands are not
    /// such a pair.
    fn packet_compare(
        &mut self,
        st: &mut State,
        target: usize,
        cond: Cond,
        dreg: &Reg,
        sreg: &Reg,
    ) -> bool {
        let is_end = |ptr: &Reg, end: &Reg| {
            (ptr.ty == RegType::Packet && end.ty == RegType::PacketEnd)
                || (ptr.ty == RegType::PacketMeta
                    && end.ty == RegType::Packet
                    && end.off == 0
                    && end.var.const_value() == Some(0))
        };
        // Normalise to `ptr cond end`.
        let (ptr, cond) = if is_end(dreg, sreg) {
            (dreg, cond)
        } else if is_end(sreg, dreg) {
            let swapped = match cond {
                Cond::Gt => Cond::Lt,
                Cond::Ge => Cond::Le,
                Cond::Lt => Cond::Gt,
                Cond::Le => Cond::Ge,
                c => c,
            };
            (sreg, swapped)
        } else {
            return false;
        };
        let (when_taken, when_not) = match cond {
            Cond::Gt => (None, Some(PktFact::Le)),
            Cond::Ge => (None, Some(PktFact::Lt)),
            Cond::Lt => (Some(PktFact::Lt), None),
            Cond::Le => (Some(PktFact::Le), None),
            _ if self.allow_ptr_leaks() => (None, None),
            _ => return false,
        };
        let mut taken = st.clone();
        if let Some(f) = when_taken {
            find_good_pkt_pointers(&mut taken, ptr, f);
        }
        if let Some(f) = when_not {
            find_good_pkt_pointers(st, ptr, f);
        }
        self.push_branch(taken, target);
        true
    }
}

/// Refines the operands of `dst cond src` for one branch; false when the
/// branch is impossible.
fn refine(
    st: &mut State,
    cond: Cond,
    width: Width,
    taken: bool,
    (d, dreg): (u8, Reg),
    (s, sreg): (Option<u8>, Reg),
) -> bool {
    let (mut dv, mut sv) = (dreg.var, sreg.var);
    if !Scalar::refine(cond, width, taken, &mut dv, &mut sv) {
        return false;
    }
    set_scalar(st, d, dreg.id, dv);
    if let Some(s) = s {
        set_scalar(st, s, sreg.id, sv);
    }
    true
}

/// Gives register `r` the value `var`, and every copy of it (same id)
/// too (the kernel's `sync_linked_regs`).
fn set_scalar(st: &mut State, r: u8, id: u32, var: Scalar) {
    st.reg_mut(r).var = var;
    if id == 0 {
        return;
    }
    st.for_each_reg(|reg| {
        if reg.is_scalar() && reg.id == id {
            reg.var = var;
        }
    });
}

/// The kernel's `mark_ptr_or_null_regs`: in the null world every copy of
/// the pointer is the number 0 (and the reference it held is gone); in
/// the other, a pointer.
fn mark_ptr_or_null(st: &mut State, ptr: &Reg, is_null: bool, v: &Verifier<'_>) {
    let id = ptr.id;
    let keep_id = |r: &Reg| r.ty == RegType::MapValueOrNull && v.map(r.aux).spin_lock_off.is_some();
    st.for_each_reg(|r| {
        if r.ty.is_or_null() && r.id == id && id != 0 {
            if is_null {
                *r = Reg::constant(0);
            } else {
                let keep = keep_id(r);
                r.ty = r.ty.non_null();
                if !keep {
                    r.id = 0;
                }
            }
        }
    });
    if is_null && ptr.ref_id != 0 {
        st.refs.retain(|x| x.id != ptr.ref_id);
    }
}

/// The kernel's `find_good_pkt_pointers`: after `ptr <= end` (or `<`),
/// every packet pointer sharing `ptr`'s variable part may read up to
/// `ptr`'s offset (inclusive for `<`).
fn find_good_pkt_pointers(st: &mut State, ptr: &Reg, fact: PktFact) {
    if ptr.off < 0
        || ptr.var.umax > MAX_PACKET_OFF
        || ptr.var.umax + ptr.off as u64 > MAX_PACKET_OFF
    {
        return;
    }
    let range = match fact {
        PktFact::Le => ptr.off,
        PktFact::Lt => ptr.off + 1,
    };
    let (ty, id) = (ptr.ty, ptr.id);
    st.for_each_reg(|r| {
        if r.ty == ty && r.id == id && r.var == ptr.var {
            r.range = r.range.max(range);
        }
    });
}
