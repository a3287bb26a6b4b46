//! Calls and exits (the kernel's `check_helper_call`, `check_func_call`,
//! `prepare_func_exit`): helper arguments against the helper's prototype,
//! what the helper returns and invalidates, bpf-to-bpf frames, callbacks
//! run by helpers, references that must be released and spin locks that
//! must be unlocked before a program exits.

use super::{Flow, KeyUse, MapUse, Res, Verifier};
use crate::error::VerifyError;
use crate::proto::{Arg, Callback, HelperProto, Ret, map_compatible};
use crate::scalar::Scalar;
use crate::state::{ByteKind, Frame, MAX_FRAMES, RefState, Reg, RegType, STACK_SIZE, State};
use rxdp_isa::helper_id as hid;
use rxdp_isa::maptype;
use rxdp_isa::{CallKind, Pseudo};

/// Sizes beyond this cannot bound an access (`BPF_MAX_VAR_SIZ`).
const MAX_VAR_SIZ: u64 = 1 << 29;

/// What checking the arguments of one helper call found (the kernel's
/// `bpf_call_arg_meta`).
#[derive(Default)]
struct CallMeta {
    /// The map argument.
    map: Option<u32>,
    /// A memory argument waiting for its size: (register, pointer,
    /// read, write).
    mem: Option<(u8, Reg, bool, bool)>,
    /// The callback subprogram.
    callback: Option<u32>,
    /// The reference a release function releases.
    release: Option<u32>,
    /// The size `bpf_ringbuf_reserve` allocates.
    alloc_size: u32,
    /// The lock a spin lock helper takes or releases.
    lock: Option<(u32, u32)>,
    /// For an array lookup: the key, when it is a known constant.
    const_key: Option<u64>,
    /// The helper called.
    helper: u32,
}

impl Verifier<'_> {
    /// Applies a call.
    pub(super) fn check_call(&mut self, st: &mut State, pc: usize, kind: CallKind) -> Res<Flow> {
        if st.lock.is_some() && kind != CallKind::Helper(hid::SPIN_UNLOCK) {
            return Err(VerifyError::at(
                pc,
                "function calls are not allowed while holding a lock",
            ));
        }
        match kind {
            CallKind::Helper(id) => self.check_helper_call(st, pc, id),
            CallKind::Local(off) => {
                let target = (pc as i64 + 1 + i64::from(off)) as usize;
                self.enter_subprog(st, pc, target, None)?;
                Ok(Flow::Next(target))
            }
            CallKind::Kfunc(_) => Err(VerifyError::at(pc, "kfunc calls are not supported")),
        }
    }

    /// Pushes a frame for the subprogram at `target`, called from `pc`.
    fn enter_subprog(
        &mut self,
        st: &mut State,
        pc: usize,
        target: usize,
        callback: Option<Callback>,
    ) -> Res<()> {
        let frames = st.frames.len();
        if frames >= MAX_FRAMES {
            return Err(VerifyError::at(
                pc,
                format!("the call stack of {} frames is too deep !", frames + 1),
            ));
        }
        let subprog = self
            .structure
            .subprog_at(target)
            .ok_or_else(|| VerifyError::at(pc, format!("call to invalid destination {target}")))?;
        let mut f = Frame::new(frames, pc, subprog);
        f.callback = callback;
        if callback.is_none() {
            f.regs[1..=5].copy_from_slice(&st.cur().regs[1..=5]);
        }
        st.frames.push(f);
        Ok(())
    }

    /// Applies `exit`: returns to the caller, or ends the path.
    pub(super) fn check_exit(&mut self, st: &mut State, pc: usize) -> Res<Flow> {
        if st.lock.is_some() {
            return Err(VerifyError::at(pc, "bpf_spin_unlock is missing"));
        }
        // A subprogram may return nothing (a void function): its caller
        // then cannot read r0. The main program and callbacks must.
        let returns_value = st.frames.len() == 1;
        let r0 = if returns_value {
            *self.read_reg(st, pc, 0)?
        } else {
            *st.reg(0)
        };
        if st.frames.len() == 1 {
            if r0.ty.is_pointer() && !self.allow_ptr_leaks() {
                return Err(VerifyError::at(pc, "R0 leaks addr as return value"));
            }
            if let Some(r) = st.refs.first() {
                return Err(VerifyError::at(
                    pc,
                    format!("Unreleased reference id={} alloc_insn={}", r.id, r.insn),
                ));
            }
            return Ok(Flow::Done);
        }
        let callee = st.frames.pop().expect("more than one frame");
        let frameno = st.frames.len() as u32;
        if r0.ty == RegType::Stack && r0.aux == frameno {
            return Err(VerifyError::at(
                pc,
                "cannot return stack pointer to the caller",
            ));
        }
        // Nothing may keep pointing into the frame that is gone.
        let leaks = self.allow_ptr_leaks();
        st.for_each_reg(|r| {
            if r.ty == RegType::Stack && r.aux == frameno {
                invalidate(r, leaks);
            }
        });
        let callsite = callee.callsite;
        if callee.callback.is_some() {
            return self.callback_exit(st, pc, callsite, &r0);
        }
        let caller = st.cur_mut();
        caller.regs[0] = r0;
        for r in &mut caller.regs[1..=5] {
            *r = Reg::not_init();
        }
        Ok(Flow::Next(callsite + 1))
    }

    /// A callback returned to the helper running it: the helper may run
    /// it again (explored from the call, which pruning makes converge)
    /// or return.
    fn callback_exit(&mut self, st: &mut State, pc: usize, callsite: usize, r0: &Reg) -> Res<Flow> {
        if !r0.is_scalar() {
            return Err(VerifyError::at(
                pc,
                "At callback return the register R0 not a scalar value",
            ));
        }
        if r0.var.umax > 1 || r0.var.smin < 0 {
            return Err(VerifyError::at(
                pc,
                format!(
                    "At callback return the register R0 has smin={} smax={} should have been in [0, 1]",
                    r0.var.smin, r0.var.smax
                ),
            ));
        }
        let mut again = st.clone();
        again.callback_iterations += 1;
        self.push_branch(again, callsite);
        self.helper_returns(st, Reg::unknown());
        Ok(Flow::Next(callsite + 1))
    }

    /// Clobbers the argument registers and sets `r0`, as every call does.
    fn helper_returns(&self, st: &mut State, r0: Reg) {
        let f = st.cur_mut();
        f.regs[0] = r0;
        for r in &mut f.regs[1..=5] {
            *r = Reg::not_init();
        }
    }

    fn check_helper_call(&mut self, st: &mut State, pc: usize, id: i32) -> Res<Flow> {
        let proto = u32::try_from(id)
            .ok()
            .and_then(|id| self.prog_type.helper_proto(id))
            .ok_or_else(|| {
                let msg = match hid::helper_name(id) {
                    Some(n) => format!("program of this type cannot use helper {n}#{id}"),
                    None => format!("invalid func unknown#{id}"),
                };
                VerifyError::at(pc, msg)
            })?;
        let mut meta = CallMeta {
            helper: proto.id,
            ..CallMeta::default()
        };
        for (i, &arg) in proto.args.iter().enumerate() {
            if arg != Arg::None {
                self.check_arg(st, pc, i as u8 + 1, arg, &mut meta)?;
            }
        }
        if let Some(m) = meta.map {
            self.check_map_compat(pc, proto, m)?;
            self.record_map(pc, m);
        }
        if proto.tail_call {
            self.check_tail_call(st, pc)?;
        }
        self.check_lock_helpers(st, pc, proto, &meta)?;
        if let Some(ref_id) = meta.release {
            self.release(st, pc, ref_id)?;
        }
        if let Some(sub) = meta.callback {
            return self.enter_callback(st, pc, proto, sub, &meta);
        }
        let r0 = self.return_value(st, pc, proto, &meta);
        self.helper_returns(st, r0);
        if proto.changes_pkt_data {
            let leaks = self.allow_ptr_leaks();
            st.for_each_reg(|r| {
                if r.ty.is_packet() || r.ty == RegType::PacketEnd {
                    invalidate(r, leaks);
                }
            });
        }
        Ok(Flow::Next(pc + 1))
    }

    /// What a helper leaves in `r0`.
    fn return_value(
        &mut self,
        st: &mut State,
        pc: usize,
        proto: &HelperProto,
        meta: &CallMeta,
    ) -> Reg {
        match proto.ret {
            Ret::Integer => Reg::unknown(),
            Ret::Void => Reg::not_init(),
            Ret::MapValueOrNull => {
                let m = meta.map.unwrap_or(0);
                let mut r = match self.inner_of.get(m as usize).copied().flatten() {
                    Some(inner) => Reg::pointer(RegType::MapPtrOrNull, inner),
                    None => Reg::pointer(RegType::MapValueOrNull, m),
                };
                // Copies share an id: a null check refines them all, and
                // a spin lock is known by the value it sits in.
                r.id = self.new_id();
                if self.lookup_cannot_fail(m, meta) {
                    r.ty = RegType::MapValue;
                    if self.map(m).spin_lock_off.is_none() {
                        r.id = 0;
                    }
                }
                r
            }
            Ret::RingbufOrNull => {
                let mut r = Reg::pointer(RegType::MemOrNull, meta.alloc_size);
                r.id = self.new_id();
                r.ref_id = self.new_id();
                st.refs.push(RefState {
                    id: r.ref_id,
                    insn: pc,
                });
                r
            }
        }
    }

    /// Whether a lookup always finds its element: an array map looked up
    /// with a constant key below `max_entries` (as the kernel elides the
    /// null check since Linux 6.14).
    fn lookup_cannot_fail(&self, m: u32, meta: &CallMeta) -> bool {
        let map = self.map(m);
        meta.helper == hid::MAP_LOOKUP_ELEM as u32
            && matches!(map.map_type, maptype::ARRAY | maptype::PERCPU_ARRAY)
            && meta
                .const_key
                .is_some_and(|k| k < u64::from(map.max_entries))
    }

    #[allow(clippy::too_many_arguments)]
    fn check_arg(
        &mut self,
        st: &mut State,
        pc: usize,
        r: u8,
        arg: Arg,
        meta: &mut CallMeta,
    ) -> Res<()> {
        let reg = *self.read_reg(st, pc, r)?;
        let expected = |what: &str| {
            VerifyError::at(pc, format!("R{r} type={} expected={what}", reg.ty.name()))
        };
        match arg {
            Arg::None => {}
            Arg::Anything => {
                if reg.ty.is_pointer() && !self.allow_ptr_leaks() {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} leaks addr into helper function"),
                    ));
                }
            }
            Arg::MapPtr => {
                if reg.ty != RegType::MapPtr {
                    return Err(expected("map_ptr"));
                }
                meta.map = Some(reg.aux);
            }
            Arg::MapKey | Arg::MapValue | Arg::MapValueUninit => {
                let Some(m) = meta.map else {
                    return Err(VerifyError::at(pc, "invalid map_ptr to access map->key"));
                };
                let map = self.map(m);
                let (size, read, write) = match arg {
                    Arg::MapKey => (map.key_size, true, false),
                    Arg::MapValue => (map.value_size, true, false),
                    _ => (map.value_size, false, true),
                };
                if arg == Arg::MapKey && reg.ty == RegType::Stack {
                    meta.const_key = stack_const(st, &reg, size);
                }
                self.check_helper_mem(st, pc, r, &reg, u64::from(size), read, write)?;
            }
            Arg::Ctx => {
                if reg.ty != RegType::Ctx {
                    return Err(expected("ctx"));
                }
                super::mem::ctx_unmoved(pc, r, &reg)?;
            }
            Arg::Mem {
                read,
                write,
                nullable,
            } => {
                if !(is_mem_pointer(reg.ty) || (nullable && reg.is_zero())) {
                    return Err(expected("fp, pkt, pkt_meta, map_value, mem"));
                }
                meta.mem = Some((r, reg, read, write));
            }
            Arg::Size { zero_ok } => self.check_size_arg(st, pc, r, &reg, zero_ok, meta)?,
            Arg::FixedMem(size) => {
                if !is_mem_pointer(reg.ty) {
                    return Err(expected("fp, pkt, pkt_meta, map_value, mem"));
                }
                self.check_helper_mem(st, pc, r, &reg, u64::from(size), true, true)?;
            }
            Arg::AllocSize => {
                let Some(size) = reg.const_value() else {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} is not a known constant'"),
                    ));
                };
                meta.alloc_size = u32::try_from(size).unwrap_or(u32::MAX);
            }
            Arg::RingbufRelease => {
                if reg.ty != RegType::Mem {
                    return Err(expected("ringbuf_mem"));
                }
                if reg.ref_id == 0 {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} must be referenced when passed to release function"),
                    ));
                }
                if reg.off != 0 || reg.var.const_value() != Some(0) {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} must have zero offset when passed to release func"),
                    ));
                }
                meta.release = Some(reg.ref_id);
            }
            Arg::Func => {
                if reg.ty != RegType::Func {
                    return Err(expected("func"));
                }
                meta.callback = Some(reg.aux);
            }
            Arg::StackOrNull => {
                if !(reg.is_zero() || reg.ty == RegType::Stack) {
                    return Err(expected("fp"));
                }
            }
            Arg::SpinLock => meta.lock = Some(self.check_spin_lock_arg(pc, r, &reg)?),
            Arg::ConstStr => self.check_const_str(pc, r, &reg)?,
        }
        Ok(())
    }

    fn check_size_arg(
        &mut self,
        st: &mut State,
        pc: usize,
        r: u8,
        reg: &Reg,
        zero_ok: bool,
        meta: &mut CallMeta,
    ) -> Res<()> {
        let (mr, mreg, read, write) = meta
            .mem
            .take()
            .ok_or_else(|| VerifyError::at(pc, "verifier bug: size without memory"))?;
        if !reg.is_scalar() {
            return Err(VerifyError::at(
                pc,
                format!("R{r} type={} expected=scalar", reg.ty.name()),
            ));
        }
        let v = &reg.var;
        if v.smin < 0 {
            return Err(VerifyError::at(
                pc,
                format!("R{r} min value is negative, either use unsigned or 'var &= const'"),
            ));
        }
        if v.umin == 0 && !zero_ok {
            return Err(VerifyError::at(
                pc,
                format!("R{r} invalid zero-sized read: u64=[{},{}]", v.umin, v.umax),
            ));
        }
        if v.umax >= MAX_VAR_SIZ {
            return Err(VerifyError::at(
                pc,
                format!("R{r} unbounded memory access, use 'var &= const' or 'if (var < const)'"),
            ));
        }
        if mreg.is_zero() {
            if v.umax != 0 {
                return Err(VerifyError::at(
                    pc,
                    format!("R{mr} type=scalar expected=fp, pkt, pkt_meta, map_value, mem"),
                ));
            }
            return Ok(());
        }
        self.check_helper_mem(st, pc, mr, &mreg, v.umax, read, write)
    }

    /// Checks that a helper may read (and/or write) `size` bytes from the
    /// pointer in register `r` (the kernel's `check_helper_mem_access`).
    #[allow(clippy::too_many_arguments)]
    fn check_helper_mem(
        &mut self,
        st: &mut State,
        pc: usize,
        r: u8,
        reg: &Reg,
        size: u64,
        read: bool,
        write: bool,
    ) -> Res<()> {
        if size == 0 {
            return Ok(());
        }
        let size = size as i64;
        match reg.ty {
            RegType::Stack => self.helper_stack_access(st, pc, r, reg, size, read, write),
            RegType::Packet | RegType::PacketMeta => {
                let start = reg.off;
                if reg.var.smin < 0 || start < 0 || i64::from(start) + size > i64::from(reg.range) {
                    return Err(VerifyError::at(
                        pc,
                        format!(
                            "invalid access to packet, off={start} size={size}, R{r}(id={},off={},r={})\nR{r} offset is outside of the packet",
                            reg.id, reg.off, reg.range
                        ),
                    ));
                }
                Ok(())
            }
            RegType::MapValue | RegType::Mem | RegType::MapKey => {
                let (what, limit) = match reg.ty {
                    RegType::MapValue => ("map value", i64::from(self.map(reg.aux).value_size)),
                    RegType::MapKey => ("map key", i64::from(self.map(reg.aux).key_size)),
                    _ => ("memory", i64::from(reg.aux)),
                };
                if write && reg.ty == RegType::MapValue && self.map(reg.aux).readonly {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} points to a read-only map value, the helper writes it"),
                    ));
                }
                if write && reg.ty == RegType::MapKey {
                    return Err(VerifyError::at(
                        pc,
                        format!("R{r} cannot write into map_key"),
                    ));
                }
                let lo = reg.var.smin + i64::from(reg.off);
                let hi = (reg.var.umax.min(MAX_VAR_SIZ) as i64) + i64::from(reg.off) + size;
                if reg.var.smin < 0 || lo < 0 || hi > limit {
                    return Err(VerifyError::at(
                        pc,
                        format!("invalid access to {what}, size={limit} off={lo} size={size}"),
                    ));
                }
                Ok(())
            }
            t => Err(VerifyError::at(
                pc,
                format!(
                    "R{r} type={} expected=fp, pkt, pkt_meta, map_value, mem",
                    t.name()
                ),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn helper_stack_access(
        &mut self,
        st: &mut State,
        pc: usize,
        r: u8,
        reg: &Reg,
        size: i64,
        read: bool,
        write: bool,
    ) -> Res<()> {
        let lo = reg.var.smin + i64::from(reg.off);
        let hi = reg
            .var
            .smax
            .saturating_add(i64::from(reg.off))
            .saturating_add(size);
        let verb = if read { "read from" } else { "write to" };
        if lo < -i64::from(STACK_SIZE) || hi > 0 {
            return Err(VerifyError::at(
                pc,
                format!("invalid {verb} stack R{r} off={lo} size={size}"),
            ));
        }
        let unpriv = !self.opts.privileged;
        let frame = &mut st.frames[reg.aux as usize];
        if read && unpriv && lo < -8 * frame.stack.len() as i64 {
            return Err(VerifyError::at(
                pc,
                format!("invalid read from stack R{r} off={lo} size={size}"),
            ));
        }
        self.stack_depth[frame.subprog] = self.stack_depth[frame.subprog].max(-lo as i32);
        let var_off = reg.var.const_value().is_none();
        for a in lo as i32..hi as i32 {
            let (slot, byte) = Frame::slot_of(a);
            let s = frame.slot(slot);
            let kind = s.bytes[byte];
            if read {
                let bad = match kind {
                    ByteKind::Invalid => unpriv,
                    ByteKind::Spill => !s.spill.is_scalar() && unpriv,
                    _ => false,
                };
                if bad {
                    return Err(VerifyError::at(
                        pc,
                        format!(
                            "invalid read from stack R{r} off {lo}+{} size {size}",
                            a as i64 - lo
                        ),
                    ));
                }
            }
            if write {
                if kind == ByteKind::Invalid && var_off && unpriv {
                    return Err(VerifyError::at(
                        pc,
                        format!(
                            "uninit stack in range of var-offset write prohibited for !root; insn {pc}, off: {a}"
                        ),
                    ));
                }
                let s = frame.slot_mut(slot);
                if s.has_spill() {
                    s.scrub();
                }
                s.bytes[byte] = ByteKind::Misc;
            }
        }
        Ok(())
    }

    fn check_map_compat(&self, pc: usize, proto: &HelperProto, m: u32) -> Res<()> {
        let map_type = self.map(m).map_type;
        if map_compatible(proto.id, map_type) {
            return Ok(());
        }
        if proto.tail_call {
            return Err(VerifyError::at(pc, "expected prog array map for tail call"));
        }
        Err(VerifyError::at(
            pc,
            format!(
                "cannot pass map_type {map_type} into func {}#{}",
                proto.name, proto.id
            ),
        ))
    }

    /// Remembers which map a call site uses, for the engines (an array
    /// lookup they may inline, a tail call they may patch).
    fn record_map(&mut self, pc: usize, m: u32) {
        let aux = &mut self.aux[pc];
        aux.map = match aux.map {
            MapUse::None => MapUse::Map(m),
            MapUse::Map(prev) if prev == m => MapUse::Map(m),
            _ => MapUse::Poisoned,
        };
    }

    fn check_tail_call(&mut self, st: &State, pc: usize) -> Res<()> {
        if !st.refs.is_empty() {
            return Err(VerifyError::at(
                pc,
                "tail_call would lead to reference leak",
            ));
        }
        let key = st.reg(3).const_value();
        let aux = &mut self.aux[pc];
        aux.tail_key = match (aux.tail_key, key) {
            (KeyUse::None, Some(k)) => KeyUse::Const(k),
            (KeyUse::Const(prev), Some(k)) if prev == k => KeyUse::Const(k),
            _ => KeyUse::Poisoned,
        };
        let subprog = st.cur().subprog;
        self.tail_calls[subprog] = true;
        Ok(())
    }

    fn check_spin_lock_arg(&self, pc: usize, r: u8, reg: &Reg) -> Res<(u32, u32)> {
        if reg.ty != RegType::MapValue {
            return Err(VerifyError::at(
                pc,
                format!("R{r} type={} expected=map_value", reg.ty.name()),
            ));
        }
        let Some(v) = reg.var.const_value() else {
            return Err(VerifyError::at(
                pc,
                format!(
                    "R{r} doesn't have constant offset. bpf_spin_lock has to be at the constant offset"
                ),
            ));
        };
        let map = self.map(reg.aux);
        let Some(lock) = map.spin_lock_off else {
            return Err(VerifyError::at(
                pc,
                format!(
                    "map '{}' has to have BTF in order to use bpf_spin_lock",
                    map.name
                ),
            ));
        };
        let off = v as i64 + i64::from(reg.off);
        if off != i64::from(lock) {
            return Err(VerifyError::at(
                pc,
                format!("off {off} doesn't point to 'struct bpf_spin_lock' that is at {lock}"),
            ));
        }
        Ok((reg.aux, reg.id))
    }

    fn check_lock_helpers(
        &self,
        st: &mut State,
        pc: usize,
        proto: &HelperProto,
        meta: &CallMeta,
    ) -> Res<()> {
        match proto.id as i32 {
            hid::SPIN_LOCK => {
                if st.lock.is_some() {
                    return Err(VerifyError::at(
                        pc,
                        "Locking two bpf_spin_locks are not allowed",
                    ));
                }
                st.lock = meta.lock;
            }
            hid::SPIN_UNLOCK => {
                let Some(held) = st.lock else {
                    return Err(VerifyError::at(pc, "bpf_spin_unlock without taking a lock"));
                };
                if Some(held) != meta.lock {
                    return Err(VerifyError::at(pc, "bpf_spin_unlock of different lock"));
                }
                st.lock = None;
            }
            _ => {}
        }
        Ok(())
    }

    fn check_const_str(&self, pc: usize, r: u8, reg: &Reg) -> Res<()> {
        if reg.ty != RegType::MapValue {
            return Err(VerifyError::at(
                pc,
                format!("R{r} type={} expected=map_value", reg.ty.name()),
            ));
        }
        if !self.map(reg.aux).readonly {
            return Err(VerifyError::at(pc, "R3 does not point to a readonly map'"));
        }
        let Some(v) = reg.var.const_value() else {
            return Err(VerifyError::at(
                pc,
                format!("R{r} is not a constant address'"),
            ));
        };
        let off = v as i64 + i64::from(reg.off);
        if off < 0 || off >= i64::from(self.map(reg.aux).value_size) {
            return Err(VerifyError::at(
                pc,
                format!("R{r} points outside of the map value"),
            ));
        }
        Ok(())
    }

    /// Releases reference `id`: every pointer holding it becomes unusable.
    fn release(&self, st: &mut State, pc: usize, id: u32) -> Res<()> {
        let before = st.refs.len();
        st.refs.retain(|r| r.id != id);
        if st.refs.len() == before {
            return Err(VerifyError::at(
                pc,
                format!("reference has not been acquired before (id={id})"),
            ));
        }
        let leaks = self.allow_ptr_leaks();
        st.for_each_reg(|r| {
            if r.ref_id == id {
                invalidate(r, leaks);
            }
        });
        Ok(())
    }

    /// A helper that runs a callback: the path where it runs it zero
    /// times continues after the call; this one enters the callback.
    fn enter_callback(
        &mut self,
        st: &mut State,
        pc: usize,
        proto: &HelperProto,
        sub: u32,
        meta: &CallMeta,
    ) -> Res<Flow> {
        let kind = proto
            .callback
            .expect("callback helpers have a callback kind");
        let mut after = st.clone();
        self.helper_returns(&mut after, Reg::unknown());
        self.push_branch(after, pc + 1);
        let ctx = *st.reg(3);
        let start = self.structure.subprogs[sub as usize].start;
        self.enter_subprog(st, pc, start, Some(kind))?;
        let f = st.cur_mut();
        match kind {
            Callback::Loop => {
                f.regs[1] = Reg::scalar(Scalar::unknown());
                f.regs[2] = ctx;
            }
            Callback::ForEachMapElem => {
                let m = meta.map.unwrap_or(0);
                f.regs[1] = Reg::pointer(RegType::MapPtr, m);
                f.regs[2] = Reg::pointer(RegType::MapKey, m);
                f.regs[3] = Reg::pointer(RegType::MapValue, m);
                f.regs[4] = ctx;
            }
        }
        Ok(Flow::Next(start))
    }

    /// The register a `lddw` fills.
    pub(super) fn ld_imm64(&mut self, pc: usize, pseudo: Pseudo, imm: u64) -> Res<Reg> {
        let (index, hi) = (imm as u32, (imm >> 32) as u32);
        let bad = |m: String| VerifyError::at(pc, m);
        match pseudo {
            Pseudo::Imm64 => Ok(Reg::constant(imm)),
            Pseudo::MapFd | Pseudo::MapIdx => {
                self.resolver.resolve(index, None).map_err(bad)?;
                Ok(Reg::pointer(RegType::MapPtr, index))
            }
            Pseudo::MapValue | Pseudo::MapIdxValue => {
                self.resolver.resolve(index, Some(hi)).map_err(bad)?;
                let mut r = Reg::pointer(RegType::MapValue, index);
                r.off = hi as i32;
                Ok(r)
            }
            Pseudo::Func => {
                let target = (pc as i64 + 1 + i64::from(imm as i32)) as usize;
                let sub = self
                    .structure
                    .subprog_at(target)
                    .ok_or_else(|| bad(format!("invalid subprogram address {target}")))?;
                Ok(Reg::pointer(RegType::Func, sub as u32))
            }
            Pseudo::BtfId => Err(bad(
                "lddw of a kernel variable (BTF id) is not supported".to_string()
            )),
        }
    }

    /// Checks the stack of every call chain against the kernel's limits
    /// (the kernel's `check_max_stack_depth`): 512 bytes combined, each
    /// frame rounded up to 16 as for JIT-compiled programs; 256 for the frames below a subprogram that
    /// tail-calls.
    pub(super) fn check_stack_depth(&self) -> Res<()> {
        let n = self.structure.subprogs.len();
        let mut callees = vec![Vec::new(); n];
        for (pc, insn) in self.insns.iter().enumerate() {
            if let Some(t) = insn.call_target(pc)
                && let Some(callee) = self.structure.subprog_at(t as usize)
            {
                callees[self.structure.subprog_of(pc)].push(callee);
            }
        }
        let frame = |i: usize| round_up(self.stack_depth[i], 16);
        // Depth-first over call chains (at most MAX_FRAMES deep).
        let mut chain = vec![(0usize, 0usize)];
        let mut depth = vec![frame(0)];
        while let Some(&(sub, next)) = chain.last() {
            if next < callees[sub].len() {
                if chain.len() >= MAX_FRAMES {
                    return Err(VerifyError::program(format!(
                        "the call stack of {} frames is too deep !",
                        chain.len()
                    )));
                }
                chain.last_mut().expect("non-empty").1 += 1;
                let callee = callees[sub][next];
                let below = *depth.last().expect("non-empty");
                if self.tail_calls[callee] && below > 256 {
                    return Err(VerifyError::program(format!(
                        "tail_calls are not allowed when call stack of previous frames is {below} bytes. Too large"
                    )));
                }
                let total = below + frame(callee);
                if total > STACK_SIZE {
                    return Err(VerifyError::program(format!(
                        "combined stack size of {} calls is {total}. Too large",
                        chain.len() + 1
                    )));
                }
                chain.push((callee, 0));
                depth.push(total);
            } else {
                chain.pop();
                depth.pop();
            }
        }
        Ok(())
    }
}

fn round_up(v: i32, to: i32) -> i32 {
    (v + to - 1) / to * to
}

/// Whether a helper may take memory through a pointer of this type.
fn is_mem_pointer(ty: RegType) -> bool {
    matches!(
        ty,
        RegType::Stack
            | RegType::Packet
            | RegType::PacketMeta
            | RegType::MapValue
            | RegType::Mem
            | RegType::MapKey
    )
}

/// What a pointer becomes when what it points to is gone: unusable (or,
/// for privileged programs, a number).
fn invalidate(r: &mut Reg, leaks: bool) {
    *r = if leaks {
        Reg::unknown()
    } else {
        Reg::not_init()
    };
}

/// The constant a stack key holds, when its bytes are known zeros or a
/// spilled constant.
fn stack_const(st: &State, reg: &Reg, size: u32) -> Option<u64> {
    let off = (reg.var.const_value()? as i64).checked_add(i64::from(reg.off))?;
    let end = off.checked_add(i64::from(size))?;
    if off < -i64::from(STACK_SIZE) || end > 0 || size == 0 {
        return None;
    }
    let frame = &st.frames[reg.aux as usize];
    let zeros = (off as i32..end as i32).all(|a| {
        let (slot, byte) = Frame::slot_of(a);
        frame.slot(slot).bytes[byte] == ByteKind::Zero
    });
    if zeros {
        return Some(0);
    }
    let (slot, byte) = Frame::slot_of(off as i32);
    let s = frame.slot(slot);
    if byte == 0 && size <= 8 && s.spill_size() >= size as usize {
        let v = s.spill.const_value()?;
        let mask = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (size * 8)) - 1
        };
        return Some(v & mask);
    }
    None
}
