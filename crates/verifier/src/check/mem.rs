//! Loads, stores and atomics (the kernel's `check_mem_access` and
//! `check_atomic`): each access is checked against what its base
//! register points to — the stack (slot by slot, with spills), the
//! context (through the program type's rules), the packet (within the
//! range a comparison with `data_end` proved), a map value or helper
//! memory (within its size, whatever the variable offset).

use super::alu::MAX_VAR_OFF;
use super::{Res, Verifier};
use crate::ctx::CtxSite;
use crate::error::VerifyError;
use crate::prog_type::CtxField;
use crate::scalar::Scalar;
use crate::state::{ByteKind, Frame, Reg, RegType, STACK_SIZE, State};
use rxdp_isa::{AtomicOp, Insn, Size};

/// What an access does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// A load.
    Read,
    /// A store of this value, from this register (`None`: an
    /// immediate).
    Write(Reg, Option<u8>),
    /// An atomic read-modify-write.
    Atomic,
}

impl Access {
    fn writes(self) -> bool {
        !matches!(self, Access::Read)
    }

    fn verb(self) -> &'static str {
        match self {
            Access::Read => "read from",
            _ => "write to",
        }
    }
}

/// The context access an instruction makes, for the rewrites.
pub(super) fn ctx_site(pc: usize, insn: &Insn, ptr_off: i32) -> Option<CtxSite> {
    let (off, size, write) = match *insn {
        Insn::Ldx { off, size, .. } => (off, size, false),
        Insn::Stx { off, size, .. } | Insn::St { off, size, .. } => (off, size, true),
        Insn::Atomic { off, size, .. } => (off, size, true),
        _ => return None,
    };
    Some(CtxSite {
        pc,
        ptr_off,
        off: ptr_off + i32::from(off),
        size,
        write,
    })
}

fn bytes(size: Size) -> i32 {
    size.bytes() as i32
}

impl Verifier<'_> {
    /// Applies a load, store or atomic.
    pub(super) fn check_mem_insn(&mut self, st: &mut State, pc: usize, insn: &Insn) -> Res<()> {
        match *insn {
            Insn::Ldx {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                self.read_reg(st, pc, src.num())?;
                let v = self.check_mem_access(st, pc, src.num(), off, size, Access::Read)?;
                let v = if v.is_scalar() && size != Size::DW {
                    let var = if signed {
                        v.var.sext(size)
                    } else {
                        v.var.zext(size)
                    };
                    Reg { var, id: 0, ..v }
                } else {
                    v
                };
                *st.reg_mut(dst.num()) = v;
                Ok(())
            }
            Insn::Stx {
                size,
                dst,
                src,
                off,
            } => {
                self.read_reg(st, pc, dst.num())?;
                let v = *self.read_reg(st, pc, src.num())?;
                self.check_mem_access(
                    st,
                    pc,
                    dst.num(),
                    off,
                    size,
                    Access::Write(v, Some(src.num())),
                )?;
                Ok(())
            }
            Insn::St {
                size,
                dst,
                off,
                imm,
            } => {
                self.read_reg(st, pc, dst.num())?;
                let v = Reg::constant(imm as i64 as u64);
                self.check_mem_access(st, pc, dst.num(), off, size, Access::Write(v, None))?;
                Ok(())
            }
            Insn::Atomic {
                size,
                op,
                fetch,
                dst,
                src,
                off,
            } => self.check_atomic(st, pc, size, op, fetch, dst.num(), src.num(), off),
            _ => Err(VerifyError::at(pc, "verifier bug: not a memory insn")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_atomic(
        &mut self,
        st: &mut State,
        pc: usize,
        size: Size,
        op: AtomicOp,
        fetch: bool,
        dst: u8,
        src: u8,
        off: i16,
    ) -> Res<()> {
        let s = *self.read_reg(st, pc, src)?;
        let base = *self.read_reg(st, pc, dst)?;
        if op == AtomicOp::Cmpxchg {
            self.read_reg(st, pc, 0)?;
        }
        if !s.is_scalar() && !self.allow_ptr_leaks() {
            return Err(VerifyError::at(pc, format!("R{src} leaks addr into mem")));
        }
        if !matches!(base.ty, RegType::Stack | RegType::MapValue | RegType::Mem)
            && base.ty.is_pointer()
        {
            return Err(VerifyError::at(
                pc,
                format!(
                    "BPF_ATOMIC stores into R{dst} {} is not allowed",
                    base.ty.name()
                ),
            ));
        }
        let total = i64::from(base.off) + i64::from(off);
        if base.var.const_value().is_some() && total.rem_euclid(i64::from(bytes(size))) != 0 {
            return Err(VerifyError::at(
                pc,
                format!(
                    "misaligned access off {}+{}+{off} size {}",
                    base.var.var_off,
                    base.off,
                    bytes(size)
                ),
            ));
        }
        self.check_mem_access(st, pc, dst, off, size, Access::Atomic)?;
        let fetched = Reg::scalar(Scalar::unknown().zext(size));
        if op == AtomicOp::Cmpxchg {
            *st.reg_mut(0) = fetched;
        } else if fetch || op == AtomicOp::Xchg {
            *st.reg_mut(src) = fetched;
        }
        Ok(())
    }

    /// Checks an access of `size` bytes at `off` from register `r` and
    /// returns what a load yields.
    pub(super) fn check_mem_access(
        &mut self,
        st: &mut State,
        pc: usize,
        r: u8,
        off: i16,
        size: Size,
        access: Access,
    ) -> Res<Reg> {
        let base = *st.reg(r);
        self.record_base(pc, &base)?;
        if let Access::Write(v, value_reg) = access
            && v.ty.is_pointer()
            && base.ty != RegType::Stack
            && !self.allow_ptr_leaks()
        {
            let into = match base.ty {
                RegType::MapValue => "map",
                RegType::Packet | RegType::PacketMeta => "packet",
                RegType::Ctx => "ctx",
                _ => "mem",
            };
            let r = value_reg.unwrap_or(r);
            return Err(VerifyError::at(pc, format!("R{r} leaks addr into {into}")));
        }
        let off = i32::from(off);
        match base.ty {
            RegType::Stack => self.stack_access(st, pc, r, &base, off, size, access),
            RegType::Ctx => self.ctx_access(pc, r, &base, off, size, access),
            RegType::Packet | RegType::PacketMeta => {
                self.packet_access(pc, r, &base, off, size, access)
            }
            RegType::MapValue => self.map_value_access(pc, r, &base, off, size, access),
            RegType::Mem => {
                let region = Region {
                    what: "memory",
                    size_name: "mem_size",
                    size: base.aux as i64,
                };
                self.region_access(pc, r, &base, off, size, &region)?;
                Ok(Reg::unknown())
            }
            RegType::MapKey => {
                if access.writes() {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} cannot write into map_key"),
                    ));
                }
                let region = Region {
                    what: "map key",
                    size_name: "key_size",
                    size: i64::from(self.map(base.aux).key_size),
                };
                self.region_access(pc, r, &base, off, size, &region)?;
                Ok(Reg::unknown())
            }
            RegType::MapPtr if !self.allow_ptr_leaks() => Err(VerifyError::at(
                pc,
                "'struct bpf_array' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN",
            )),
            t => Err(VerifyError::at(
                pc,
                format!("R{r} invalid mem access '{}'", t.name()),
            )),
        }
    }

    /// Remembers the base type an instruction accesses memory through:
    /// a context access is rewritten, so the instruction may not access
    /// anything else on another path.
    fn record_base(&mut self, pc: usize, base: &Reg) -> Res<()> {
        let aux = &mut self.aux[pc];
        match aux.mem_base {
            None => {
                aux.mem_base = Some(base.ty);
                aux.ctx_ptr_off = base.off;
            }
            Some(prev) if (prev == RegType::Ctx) != (base.ty == RegType::Ctx) => {
                return Err(VerifyError::at(
                    pc,
                    "same insn cannot be used with different pointers",
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn ctx_access(
        &mut self,
        pc: usize,
        r: u8,
        base: &Reg,
        off: i32,
        size: Size,
        access: Access,
    ) -> Res<Reg> {
        ctx_unmoved(pc, r, base)?;
        let field = self
            .prog_type
            .context_access(off, size, access.writes())
            .map_err(|m| VerifyError::at(pc, m))?;
        Ok(match field.field {
            CtxField::Scalar => Reg::scalar(Scalar::unknown().zext(size)),
            CtxField::Packet => Reg::pointer(RegType::Packet, 0),
            CtxField::PacketEnd => Reg::pointer(RegType::PacketEnd, 0),
            CtxField::PacketMeta => Reg::pointer(RegType::PacketMeta, 0),
        })
    }

    fn packet_access(
        &mut self,
        pc: usize,
        r: u8,
        base: &Reg,
        off: i32,
        size: Size,
        access: Access,
    ) -> Res<Reg> {
        if !self.prog_type.packet_access() {
            return Err(VerifyError::at(
                pc,
                format!(
                    "cannot {} packet",
                    if access.writes() {
                        "write into"
                    } else {
                        "read from"
                    }
                ),
            ));
        }
        non_negative(pc, r, base)?;
        let start = base.off + off;
        if start < 0 || start + bytes(size) > base.range {
            return Err(VerifyError::at(
                pc,
                format!(
                    "invalid access to packet, off={start} size={}, R{r}(id={},off={start},r={})\nR{r} offset is outside of the packet",
                    bytes(size),
                    base.id,
                    base.range
                ),
            ));
        }
        Ok(Reg::unknown())
    }

    fn map_value_access(
        &mut self,
        pc: usize,
        r: u8,
        base: &Reg,
        off: i32,
        size: Size,
        access: Access,
    ) -> Res<Reg> {
        let map = self.map(base.aux).clone();
        let region = Region {
            what: "map value",
            size_name: "value_size",
            size: i64::from(map.value_size),
        };
        let (lo, hi) = self.region_access(pc, r, base, off, size, &region)?;
        if access.writes() && map.readonly {
            return Err(VerifyError::at(
                pc,
                format!(
                    "write into map forbidden, value_size={} off={lo} size={}",
                    map.value_size,
                    bytes(size)
                ),
            ));
        }
        if let Some(lock) = map.spin_lock_off {
            let lock = i64::from(lock);
            if lo < lock + 4 && hi > lock {
                return Err(VerifyError::at(
                    pc,
                    "bpf_spin_lock cannot be accessed directly by load/store",
                ));
            }
        }
        Ok(Reg::unknown())
    }

    /// Checks an access within a sized region (map value, helper memory)
    /// for every offset the base may have; returns the lowest and one
    /// past the highest byte touched.
    fn region_access(
        &self,
        pc: usize,
        r: u8,
        base: &Reg,
        off: i32,
        size: Size,
        region: &Region,
    ) -> Res<(i64, i64)> {
        let var = &base.var;
        non_negative(pc, r, base)?;
        if var.umax >= MAX_VAR_OFF as u64 {
            return Err(VerifyError::at(
                pc,
                format!("R{r} unbounded memory access, make sure to bounds check any such access"),
            ));
        }
        let fixed = i64::from(base.off) + i64::from(off);
        let lo = var.smin + fixed;
        let hi = var.umax as i64 + fixed + i64::from(bytes(size));
        if lo < 0 || hi > region.size {
            let bad = if lo < 0 {
                lo
            } else {
                hi - i64::from(bytes(size))
            };
            let prefix = if var.const_value().is_some() {
                String::new()
            } else if lo < 0 {
                format!("R{r} min value is outside of the allowed memory range\n")
            } else {
                format!("R{r} max value is outside of the allowed memory range\n")
            };
            return Err(VerifyError::at(
                pc,
                format!(
                    "{prefix}invalid access to {}, {}={} off={bad} size={}",
                    region.what,
                    region.size_name,
                    region.size,
                    bytes(size)
                ),
            ));
        }
        Ok((lo, hi))
    }

    #[allow(clippy::too_many_arguments)]
    fn stack_access(
        &mut self,
        st: &mut State,
        pc: usize,
        r: u8,
        base: &Reg,
        off: i32,
        size: Size,
        access: Access,
    ) -> Res<Reg> {
        let frameno = base.aux as usize;
        let n = bytes(size);
        let fixed = i64::from(base.off) + i64::from(off);
        let lo = base.var.smin + fixed;
        let hi = base
            .var
            .smax
            .saturating_add(fixed)
            .saturating_add(i64::from(n));
        let const_off = base.var.const_value().map(|v| v as i64 + fixed);
        if let Some(o) = const_off
            && o.rem_euclid(i64::from(n)) != 0
        {
            return Err(VerifyError::at(
                pc,
                format!(
                    "misaligned stack access off {}+{}+{off} size {n}",
                    base.var.var_off.value as i64, base.off
                ),
            ));
        }
        if lo < -i64::from(STACK_SIZE) || hi > 0 {
            let msg = match const_off {
                Some(o) => format!("invalid {} stack R{r} off={o} size={n}", access.verb()),
                None => format!(
                    "invalid variable-offset {} stack R{r} var_off={} off={fixed} size={n}",
                    access.verb(),
                    base.var.var_off
                ),
            };
            return Err(VerifyError::at(pc, msg));
        }
        let allocated = -8 * st.frames[frameno].stack.len() as i64;
        if !self.opts.privileged && !matches!(access, Access::Write(..)) && lo < allocated {
            return Err(VerifyError::at(
                pc,
                format!("invalid read from stack R{r} off={lo} size={n}"),
            ));
        }
        let subprog = st.frames[frameno].subprog;
        self.stack_depth[subprog] = self.stack_depth[subprog].max(-lo as i32);
        let unpriv = !self.opts.privileged;
        let frame = &mut st.frames[frameno];
        match (access, const_off) {
            (Access::Write(v, _), Some(o)) => write_fixed(frame, o as i32, size, &v, unpriv, pc),
            (Access::Write(v, _), None) => {
                if v.ty.is_pointer() && unpriv {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} variable-offset spill of a pointer prohibited"),
                    ));
                }
                write_range(frame, lo as i32, hi as i32, unpriv, pc)?;
                Ok(Reg::unknown())
            }
            (Access::Read, Some(o)) => read_fixed(frame, o as i32, size, unpriv, pc),
            (Access::Atomic, Some(o)) => {
                let v = read_fixed(frame, o as i32, size, unpriv, pc)?;
                if !v.is_scalar() {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} atomic operation on a spilled pointer"),
                    ));
                }
                write_fixed(frame, o as i32, size, &Reg::unknown(), unpriv, pc)
            }
            (Access::Read | Access::Atomic, None) => {
                read_range(frame, lo as i32, hi as i32, unpriv, pc)?;
                if access == Access::Atomic {
                    write_range(frame, lo as i32, hi as i32, unpriv, pc)?;
                }
                Ok(Reg::unknown())
            }
        }
    }
}

/// The context is accessed only through the pointer the program was
/// given, unmoved (the kernel's `check_ptr_off_reg`): its rewrites know
/// the field by the instruction's own offset.
pub(super) fn ctx_unmoved(pc: usize, r: u8, base: &Reg) -> Res<()> {
    if base.off != 0 {
        return Err(VerifyError::at(
            pc,
            format!(
                "dereference of modified ctx ptr R{r} off={} disallowed",
                base.off
            ),
        ));
    }
    if base.var.const_value() != Some(0) {
        return Err(VerifyError::at(
            pc,
            format!(
                "variable ctx access var_off={} disallowed",
                base.var.var_off
            ),
        ));
    }
    Ok(())
}

/// A pointer's variable offset must not be negative: no bounds check
/// covers memory below the object.
fn non_negative(pc: usize, r: u8, base: &Reg) -> Res<()> {
    if base.var.smin < 0 {
        return Err(VerifyError::at(
            pc,
            format!(
                "R{r} min value is negative, either use unsigned index or do a if (index >=0) check."
            ),
        ));
    }
    Ok(())
}

/// A sized region for [`Verifier::region_access`] messages.
struct Region {
    what: &'static str,
    size_name: &'static str,
    size: i64,
}

/// Stores `v` at constant offset `off` of a frame's stack: a register
/// spill when it is a whole aligned slot (or a scalar in the low bytes of
/// one), plain data otherwise.
fn write_fixed(
    frame: &mut Frame,
    off: i32,
    size: Size,
    v: &Reg,
    unpriv: bool,
    pc: usize,
) -> Res<Reg> {
    let n = bytes(size);
    if v.ty.is_pointer() && n != 8 {
        return Err(VerifyError::at(pc, "invalid size of register spill"));
    }
    let (slot, byte) = Frame::slot_of(off);
    let old = frame.slot(slot);
    if unpriv && n != 8 && old.has_spill() && !old.spill.is_scalar() {
        return Err(VerifyError::at(
            pc,
            "attempt to corrupt spilled pointer on stack",
        ));
    }
    let s = frame.slot_mut(slot);
    if byte == 0 && (n == 8 || v.is_scalar()) {
        s.scrub();
        for b in &mut s.bytes[..n as usize] {
            *b = ByteKind::Spill;
        }
        s.spill = if n == 8 {
            *v
        } else {
            Reg::scalar(v.var.zext(size))
        };
        return Ok(Reg::unknown());
    }
    let kind = if v.is_zero() {
        ByteKind::Zero
    } else {
        ByteKind::Misc
    };
    for a in off..off + n {
        let (slot, byte) = Frame::slot_of(a);
        let s = frame.slot_mut(slot);
        if s.has_spill() {
            s.scrub();
        }
        s.bytes[byte] = kind;
    }
    Ok(Reg::unknown())
}

/// Loads `size` bytes at constant offset `off`: a spilled register comes
/// back as it was; known zeros as zero; anything else as an unknown
/// number.
fn read_fixed(frame: &Frame, off: i32, size: Size, unpriv: bool, pc: usize) -> Res<Reg> {
    let n = bytes(size);
    let (slot, byte) = Frame::slot_of(off);
    let s = frame.slot(slot);
    if s.has_spill() && byte == 0 {
        if n as usize == s.spill_size() {
            return Ok(s.spill);
        }
        if !s.spill.is_scalar() {
            return Err(VerifyError::at(pc, "invalid size of register fill"));
        }
        if n as usize <= s.spill_size() {
            // A narrow fill of a spilled scalar reads its low bytes (the
            // host is little-endian); the load truncates the value.
            return Ok(Reg { id: 0, ..s.spill });
        }
    }
    let mut all_zero = true;
    for a in off..off + n {
        let (slot, byte) = Frame::slot_of(a);
        let s = frame.slot(slot);
        match s.bytes[byte] {
            ByteKind::Invalid if unpriv => {
                return Err(VerifyError::at(
                    pc,
                    format!("invalid read from stack off {off}+{} size {n}", a - off),
                ));
            }
            ByteKind::Spill if !s.spill.is_scalar() => {
                return Err(VerifyError::at(pc, "invalid size of register fill"));
            }
            ByteKind::Zero => {}
            _ => all_zero = false,
        }
    }
    Ok(if all_zero {
        Reg::constant(0)
    } else {
        Reg::unknown()
    })
}

/// Checks that bytes `[lo, hi)` may be read through a variable offset.
fn read_range(frame: &Frame, lo: i32, hi: i32, unpriv: bool, pc: usize) -> Res<()> {
    for a in lo..hi {
        let (slot, byte) = Frame::slot_of(a);
        if frame.slot(slot).bytes[byte] == ByteKind::Invalid && unpriv {
            return Err(VerifyError::at(
                pc,
                format!("invalid variable-offset read from stack off {a}"),
            ));
        }
    }
    Ok(())
}

/// Marks bytes `[lo, hi)` as written through a variable offset: each may
/// now hold anything, and spills there are gone.
fn write_range(frame: &mut Frame, lo: i32, hi: i32, unpriv: bool, pc: usize) -> Res<()> {
    for a in lo..hi {
        let (slot, byte) = Frame::slot_of(a);
        let s = frame.slot_mut(slot);
        if s.bytes[byte] == ByteKind::Invalid && unpriv {
            return Err(VerifyError::at(
                pc,
                format!(
                    "uninit stack in range of var-offset write prohibited for !root; insn {pc}, off: {a}"
                ),
            ));
        }
        if s.has_spill() {
            s.scrub();
        }
        s.bytes[byte] = ByteKind::Misc;
    }
    Ok(())
}
