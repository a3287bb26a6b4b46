//! Arithmetic (the kernel's `check_alu_op` and `adjust_*_min_max_vals`):
//! on scalars, the numeric domain computes the result's bounds; on
//! pointers, only adding or subtracting a scalar keeps a pointer (its
//! fixed offset moves by a constant, its variable offset by a range), and
//! only where the pointer type allows it.

use super::{Res, Verifier};
use crate::error::VerifyError;
use crate::scalar::Scalar;
use crate::state::{Reg, RegType, State};
use rxdp_isa::{AluOp, Insn, Operand, Width};

/// A pointer's offset may not stray further than this from its base
/// (`BPF_MAX_VAR_OFF`).
pub(super) const MAX_VAR_OFF: i64 = 1 << 29;

/// The kernel's names for ALU operations in messages (`bpf_alu_string`).
pub(super) fn op_str(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div | AluOp::Sdiv => "/=",
        AluOp::Mod | AluOp::Smod => "%=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Arsh => "s>>=",
        AluOp::Xor => "^=",
        AluOp::Mov => "=",
    }
}

/// The kernel's `check_reg_sane_offset`: an offset (or a pointer's
/// variable part) so large that no bounds check could make it safe is
/// refused where the arithmetic happens.
fn sane_offset(pc: usize, var: &Scalar, fixed: i32, ty: &str) -> Res<()> {
    if let Some(v) = var.const_value() {
        let v = v as i64;
        if !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&v) {
            return Err(VerifyError::at(
                pc,
                format!("math between {ty} pointer and {v} is not allowed"),
            ));
        }
    }
    if !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&i64::from(fixed)) {
        return Err(VerifyError::at(
            pc,
            format!("{ty} pointer offset {fixed} is not allowed"),
        ));
    }
    if var.smin == i64::MIN {
        return Err(VerifyError::at(
            pc,
            format!(
                "math between {ty} pointer and register with unbounded min value is not allowed"
            ),
        ));
    }
    if !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&var.smin) {
        return Err(VerifyError::at(
            pc,
            format!("value {} makes {ty} pointer be out of bounds", var.smin),
        ));
    }
    Ok(())
}

/// The immediates the kernel refuses outright: division by a constant
/// zero, shifts by a constant outside the width.
fn check_imm(pc: usize, op: AluOp, width: Width, src: Operand) -> Res<()> {
    let Operand::Imm(imm) = src else {
        return Ok(());
    };
    match op {
        AluOp::Div | AluOp::Sdiv | AluOp::Mod | AluOp::Smod if imm == 0 => {
            Err(VerifyError::at(pc, "div by zero"))
        }
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => {
            let bits = if width == Width::W64 { 64 } else { 32 };
            if (0..bits).contains(&imm) {
                Ok(())
            } else {
                Err(VerifyError::at(pc, format!("invalid shift {imm}")))
            }
        }
        _ => Ok(()),
    }
}

impl Verifier<'_> {
    /// Applies an ALU instruction.
    pub(super) fn check_alu(&mut self, st: &mut State, pc: usize, insn: &Insn) -> Res<()> {
        match *insn {
            Insn::Alu {
                op: AluOp::Mov,
                width,
                dst,
                src,
            } => self.check_mov(st, pc, width, dst.num(), src),
            Insn::Alu {
                op,
                width,
                dst,
                src,
            } => {
                let d = dst.num();
                check_imm(pc, op, width, src)?;
                self.read_reg(st, pc, d)?;
                let src_reg = match src {
                    Operand::Reg(s) => *self.read_reg(st, pc, s.num())?,
                    Operand::Imm(imm) => Reg::constant(imm as i64 as u64),
                };
                self.binary(st, pc, op, width, d, src_reg)
            }
            Insn::MovSx {
                width,
                dst,
                src,
                from,
            } => {
                let s = *self.read_reg(st, pc, src.num())?;
                let out = if s.is_scalar() {
                    Reg::scalar(s.var.movsx(from, width))
                } else {
                    self.pointer_to_scalar(pc, src.num(), "sign-extension part of pointer")?
                };
                *st.reg_mut(dst.num()) = out;
                Ok(())
            }
            Insn::Neg { width, dst } => {
                let d = *self.read_reg(st, pc, dst.num())?;
                let out = if d.is_scalar() {
                    Reg::scalar(d.var.neg(width))
                } else {
                    self.pointer_to_scalar(pc, dst.num(), "pointer arithmetic prohibited")?
                };
                *st.reg_mut(dst.num()) = out;
                Ok(())
            }
            Insn::End { kind, dst, bits } => {
                let d = *self.read_reg(st, pc, dst.num())?;
                let out = if d.is_scalar() {
                    Reg::scalar(d.var.end(kind, bits))
                } else {
                    self.pointer_to_scalar(pc, dst.num(), "pointer arithmetic prohibited")?
                };
                *st.reg_mut(dst.num()) = out;
                Ok(())
            }
            _ => Err(VerifyError::at(pc, "verifier bug: not an ALU insn")),
        }
    }

    /// Reads register `r`, which must have been written.
    pub(super) fn read_reg<'s>(&self, st: &'s State, pc: usize, r: u8) -> Res<&'s Reg> {
        let reg = st.reg(r);
        if reg.ty == RegType::NotInit {
            return Err(VerifyError::at(pc, format!("R{r} !read_ok")));
        }
        Ok(reg)
    }

    /// What a pointer becomes when an operation turns it into a number:
    /// an unknown scalar for privileged programs, an error otherwise.
    fn pointer_to_scalar(&self, pc: usize, r: u8, what: &str) -> Res<Reg> {
        if self.allow_ptr_leaks() {
            Ok(Reg::unknown())
        } else {
            Err(VerifyError::at(pc, format!("R{r} {what}")))
        }
    }

    fn check_mov(
        &mut self,
        st: &mut State,
        pc: usize,
        width: Width,
        d: u8,
        src: Operand,
    ) -> Res<()> {
        let out = match src {
            Operand::Imm(imm) => {
                let v = match width {
                    Width::W64 => imm as i64 as u64,
                    Width::W32 => imm as u32 as u64,
                };
                Reg::constant(v)
            }
            Operand::Reg(s) => {
                let s = s.num();
                let sreg = *self.read_reg(st, pc, s)?;
                match width {
                    Width::W64 => {
                        // Copies share an id so that what a branch learns
                        // about one applies to the other.
                        if sreg.is_scalar() && sreg.id == 0 && sreg.var.const_value().is_none() {
                            let id = self.new_id();
                            st.reg_mut(s).id = id;
                        }
                        *st.reg(s)
                    }
                    Width::W32 if sreg.is_scalar() => {
                        Reg::scalar(Scalar::unknown().alu(AluOp::Mov, Width::W32, sreg.var))
                    }
                    Width::W32 if self.may_leak(&sreg) => {
                        Reg::scalar(Scalar::unknown().zext(rxdp_isa::Size::W))
                    }
                    Width::W32 => {
                        return Err(VerifyError::at(pc, format!("R{s} partial copy of pointer")));
                    }
                }
            }
        };
        *st.reg_mut(d) = out;
        Ok(())
    }

    /// Whether arithmetic may turn this pointer into a number: always for
    /// privileged programs; for the others only packet pointers, whose
    /// differences are lengths (`data_end - data`, which compilers also
    /// emit as 32-bit operations on truncated copies).
    fn may_leak(&self, r: &Reg) -> bool {
        self.allow_ptr_leaks()
            || r.is_scalar()
            || matches!(
                r.ty,
                RegType::Packet | RegType::PacketMeta | RegType::PacketEnd
            )
    }

    fn binary(
        &mut self,
        st: &mut State,
        pc: usize,
        op: AluOp,
        width: Width,
        d: u8,
        src: Reg,
    ) -> Res<()> {
        let dst = *st.reg(d);
        let out = match (dst.is_scalar(), src.is_scalar()) {
            (true, true) => Reg::scalar(dst.var.alu(op, width, src.var)),
            (false, true) => self.pointer_op(pc, op, width, d, &dst, &src)?,
            (true, false) => {
                if op == AluOp::Add && width == Width::W64 {
                    // scalar += pointer: the result is the pointer moved.
                    self.pointer_op(pc, op, width, d, &src, &dst)?
                } else if op == AluOp::Sub && width == Width::W64 {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{d} tried to subtract pointer from scalar"),
                    ));
                } else {
                    self.pointer_arith_rejected(pc, op, width, d, &src)?
                }
            }
            (false, false) => {
                if op == AluOp::Sub && self.may_leak(&dst) && self.may_leak(&src) {
                    // A difference of pointers: a length.
                    Reg::scalar(Scalar::unknown().alu(AluOp::Mov, width, Scalar::unknown()))
                } else {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{d} pointer {} pointer prohibited", op_str(op)),
                    ));
                }
            }
        };
        *st.reg_mut(d) = out;
        Ok(())
    }

    /// The error (or, privileged, the scalar) for an operation that does
    /// not keep a pointer a pointer.
    fn pointer_arith_rejected(
        &self,
        pc: usize,
        op: AluOp,
        width: Width,
        d: u8,
        ptr: &Reg,
    ) -> Res<Reg> {
        let msg = if width == Width::W32 {
            if op == AluOp::Sub && self.may_leak(ptr) {
                return Ok(Reg::scalar(Scalar::unknown().zext(rxdp_isa::Size::W)));
            }
            format!("R{d} 32-bit pointer arithmetic prohibited")
        } else if matches!(op, AluOp::And | AluOp::Or | AluOp::Xor) {
            format!("R{d} bitwise operator {} on pointer prohibited", op_str(op))
        } else {
            format!(
                "R{d} pointer arithmetic with {} operator prohibited",
                op_str(op)
            )
        };
        Err(VerifyError::at(pc, msg))
    }

    /// `ptr op scalar` (the kernel's `adjust_ptr_min_max_vals`).
    fn pointer_op(
        &mut self,
        pc: usize,
        op: AluOp,
        width: Width,
        d: u8,
        ptr: &Reg,
        off: &Reg,
    ) -> Res<Reg> {
        if width == Width::W32 || !matches!(op, AluOp::Add | AluOp::Sub) {
            return self.pointer_arith_rejected(pc, op, width, d, ptr);
        }
        let forbidden = match ptr.ty {
            t if t.is_or_null() => Some(format!("{} prohibited, null-check it first", t.name())),
            RegType::PacketEnd | RegType::MapPtr | RegType::Func => {
                Some(format!("{} prohibited", ptr.ty.name()))
            }
            _ => None,
        };
        if let Some(what) = forbidden {
            return Err(VerifyError::at(
                pc,
                format!("R{d} pointer arithmetic on {what}"),
            ));
        }
        let ty = ptr.ty.name();
        sane_offset(pc, &off.var, 0, ty)?;
        sane_offset(pc, &ptr.var, ptr.off, ty)?;
        let mut out = *ptr;
        match off.var.const_value() {
            Some(c) => {
                let c = c as i64;
                let moved = match op {
                    AluOp::Add => i64::from(ptr.off) + c,
                    _ => i64::from(ptr.off) - c,
                };
                if !(-MAX_VAR_OFF..MAX_VAR_OFF).contains(&moved) {
                    return Err(VerifyError::at(
                        pc,
                        format!("{ty} pointer offset {moved} is not allowed"),
                    ));
                }
                out.off = moved as i32;
            }
            None => {
                out.var = ptr.var.alu(op, Width::W64, off.var);
                if ptr.ty.is_packet() {
                    // A new variable part: copies made before no longer
                    // share it, and what was learnt of the old one does
                    // not hold.
                    out.id = self.new_id();
                    out.range = 0;
                }
            }
        }
        sane_offset(pc, &out.var, out.off, ty)?;
        Ok(out)
    }
}
