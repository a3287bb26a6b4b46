//! Scalar values: what the verifier knows about a number in a register.
//!
//! A [`Scalar`] is the kernel's numeric register state (`struct
//! bpf_reg_state` for a `SCALAR_VALUE`): a [`Tnum`] for the bits, and
//! signed and unsigned bounds for the whole 64-bit value and for its low
//! 32 bits. Each of the nine facts constrains the same value; the set a
//! scalar stands for is the values satisfying all of them. [`Scalar::sync`]
//! lets each fact tighten the others, as the kernel's `reg_bounds_sync`.
//!
//! The transfer functions follow `kernel/bpf/verifier.c`
//! (`adjust_scalar_min_max_vals` and the `scalar*_min_max_*` family,
//! `coerce_reg_to_size*`, `is_scalar_branch_taken`,
//! `regs_refine_cond_op`), written from their semantics. Where the kernel
//! gives up on a wrapped range, rxdp keeps the range when the wrapped
//! results still form an interval; that is at least as precise and no
//! less sound. Every result over-approximates: it holds every value the
//! operation can produce from values of the operands.
//!
//! Internally one width's half of a scalar is a `View` with `i128`
//! bounds, so that sums and products of bounds are exact before they are
//! wrapped back into the width.

use crate::tnum::Tnum;
use core::fmt;
use rxdp_isa::{AluOp, Cond, Endian, Size, Width};

/// How many rounds of mutual tightening [`Scalar::sync`] runs at most.
/// Each round only narrows, so stopping early is sound; in practice two
/// rounds reach the fixed point.
const SYNC_ROUNDS: usize = 8;

/// A scalar register's possible values: a tnum and signed and unsigned
/// bounds, for the 64-bit value and for its low 32 bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scalar {
    /// The known bits.
    pub var_off: Tnum,
    /// Signed 64-bit lower bound.
    pub smin: i64,
    /// Signed 64-bit upper bound.
    pub smax: i64,
    /// Unsigned 64-bit lower bound.
    pub umin: u64,
    /// Unsigned 64-bit upper bound.
    pub umax: u64,
    /// Signed lower bound of the low 32 bits.
    pub s32_min: i32,
    /// Signed upper bound of the low 32 bits.
    pub s32_max: i32,
    /// Unsigned lower bound of the low 32 bits.
    pub u32_min: u32,
    /// Unsigned upper bound of the low 32 bits.
    pub u32_max: u32,
}

impl Scalar {
    /// Any value.
    pub fn unknown() -> Scalar {
        Scalar {
            var_off: Tnum::UNKNOWN,
            smin: i64::MIN,
            smax: i64::MAX,
            umin: 0,
            umax: u64::MAX,
            s32_min: i32::MIN,
            s32_max: i32::MAX,
            u32_min: 0,
            u32_max: u32::MAX,
        }
    }

    /// Exactly `v`.
    pub fn constant(v: u64) -> Scalar {
        Scalar {
            var_off: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32_min: v as i32,
            s32_max: v as i32,
            u32_min: v as u32,
            u32_max: v as u32,
        }
    }

    /// The values `min..=max`, unsigned. An inverted range gives
    /// [`Scalar::unknown`].
    pub fn from_urange(min: u64, max: u64) -> Scalar {
        let mut s = Scalar::unknown();
        if min <= max {
            s.umin = min;
            s.umax = max;
            s.sync();
        }
        s
    }

    /// The values `min..=max`, signed. An inverted range gives
    /// [`Scalar::unknown`].
    pub fn from_srange(min: i64, max: i64) -> Scalar {
        let mut s = Scalar::unknown();
        if min <= max {
            s.smin = min;
            s.smax = max;
            s.sync();
        }
        s
    }

    /// The values a tnum holds.
    pub fn from_tnum(t: Tnum) -> Scalar {
        let mut s = Scalar::unknown();
        s.var_off = t;
        s.sync();
        s
    }

    /// The value, if only one is possible.
    pub fn const_value(&self) -> Option<u64> {
        self.var_off.is_const().then_some(self.var_off.value)
    }

    /// Whether only one value is possible.
    pub fn is_const(&self) -> bool {
        self.var_off.is_const()
    }

    /// Whether no value satisfies the bounds: a state reached only on a
    /// path that cannot run.
    pub fn is_empty(&self) -> bool {
        self.umin > self.umax
            || self.smin > self.smax
            || self.u32_min > self.u32_max
            || self.s32_min > self.s32_max
    }

    /// Whether `v` satisfies all nine constraints.
    pub fn contains_value(&self, v: u64) -> bool {
        let (lo, s, s32) = (v as u32, v as i64, v as i32);
        self.var_off.contains_value(v)
            && (self.umin..=self.umax).contains(&v)
            && (self.smin..=self.smax).contains(&s)
            && (self.u32_min..=self.u32_max).contains(&lo)
            && (self.s32_min..=self.s32_max).contains(&s32)
    }

    /// Whether every value of `o` is a value of `self`, judged bound by
    /// bound (the kernel's `range_within` and `tnum_in`, as state pruning
    /// uses them).
    pub fn subsumes(&self, o: &Scalar) -> bool {
        self.umin <= o.umin
            && o.umax <= self.umax
            && self.smin <= o.smin
            && o.smax <= self.smax
            && self.u32_min <= o.u32_min
            && o.u32_max <= self.u32_max
            && self.s32_min <= o.s32_min
            && o.s32_max <= self.s32_max
            && self.var_off.contains(o.var_off)
    }

    /// Lets every bound tighten every other and the tnum, to a fixed point
    /// (the kernel's `reg_bounds_sync`: `__update_reg_bounds`,
    /// `__reg_deduce_bounds`, `__reg_bound_offset`). A state no value
    /// satisfies is left with [`Scalar::is_empty`] true.
    pub fn sync(&mut self) {
        let _ = self.sync_checked();
    }

    /// [`Scalar::sync`], reporting `false` when it finds that no value
    /// satisfies every constraint.
    fn sync_checked(&mut self) -> bool {
        for _ in 0..SYNC_ROUNDS {
            let before = *self;
            if self.is_empty() {
                return false;
            }
            self.bounds_from_tnum();
            if self.is_empty() {
                return false;
            }
            self.deduce_32_from_64();
            if self.is_empty() || !self.deduce_64_from_32() || self.is_empty() {
                return false;
            }
            self.deduce_signs();
            if self.is_empty() || !self.tnum_from_bounds() {
                return false;
            }
            if *self == before {
                break;
            }
        }
        !self.is_empty()
    }

    /// The bounds the known bits imply (kernel `__update_reg_bounds`).
    fn bounds_from_tnum(&mut self) {
        let t = self.var_off;
        self.umin = self.umin.max(t.min());
        self.umax = self.umax.min(t.max());
        // The smallest signed value sets an unknown sign bit and clears
        // the other unknown bits; the largest does the opposite.
        let sign = 1u64 << 63;
        self.smin = self.smin.max((t.value | (t.mask & sign)) as i64);
        self.smax = self.smax.min((t.value | (t.mask & !sign)) as i64);
        let (v, m) = (t.value as u32, t.mask as u32);
        let sign = 1u32 << 31;
        self.u32_min = self.u32_min.max(v);
        self.u32_max = self.u32_max.min(v | m);
        self.s32_min = self.s32_min.max((v | (m & sign)) as i32);
        self.s32_max = self.s32_max.min((v | (m & !sign)) as i32);
    }

    /// The low-32-bit bounds the 64-bit ranges imply. A 64-bit range
    /// spanning fewer than 2^32 values has low halves that run
    /// consecutively (mod 2^32) from its start's to its end's; when that
    /// run does not wrap in unsigned (or signed) order it is a u32 (or
    /// s32) range.
    fn deduce_32_from_64(&mut self) {
        for (lo, hi) in [(self.umin, self.umax), (self.smin as u64, self.smax as u64)] {
            if hi.wrapping_sub(lo) > u64::from(u32::MAX) {
                continue;
            }
            let (l, h) = (lo as u32, hi as u32);
            if l <= h {
                self.u32_min = self.u32_min.max(l);
                self.u32_max = self.u32_max.min(h);
            }
            if l as i32 <= h as i32 {
                self.s32_min = self.s32_min.max(l as i32);
                self.s32_max = self.s32_max.min(h as i32);
            }
        }
    }

    /// The 64-bit bounds the low-32-bit bounds imply: each 64-bit bound
    /// moves to the nearest value whose low half is allowed. Returns
    /// `false` when no value is left.
    fn deduce_64_from_32(&mut self) -> bool {
        // Both 32-bit ranges as runs of low halves, mod 2^32.
        let runs = [
            (self.u32_min, self.u32_max),
            (self.s32_min as u32, self.s32_max as u32),
        ];
        for (lo, hi) in runs {
            let (Some(umin), Some(umax)) = (raise(self.umin, lo, hi), lower(self.umax, lo, hi))
            else {
                return false;
            };
            // Signed order is unsigned order with the sign bit flipped,
            // which leaves the low half alone.
            let (smin, smax) = (bias(self.smin), bias(self.smax));
            let (Some(smin), Some(smax)) = (raise(smin, lo, hi), lower(smax, lo, hi)) else {
                return false;
            };
            self.umin = umin;
            self.umax = umax;
            self.smin = unbias(smin);
            self.smax = unbias(smax);
        }
        // A value within s32 range is the sign extension of its low half.
        if self.smin >= i64::from(i32::MIN) && self.smax <= i64::from(i32::MAX) {
            self.smin = self.smin.max(i64::from(self.s32_min));
            self.smax = self.smax.min(i64::from(self.s32_max));
        }
        true
    }

    /// Signed and unsigned bounds of each width tighten each other
    /// (kernel `__reg32_deduce_bounds` / `__reg64_deduce_bounds`).
    fn deduce_signs(&mut self) {
        let (u, s) = deduce_sign(
            (i128::from(self.umin), i128::from(self.umax)),
            (i128::from(self.smin), i128::from(self.smax)),
            64,
        );
        (self.umin, self.umax, self.smin, self.smax) =
            (u.0 as u64, u.1 as u64, s.0 as i64, s.1 as i64);
        let (u, s) = deduce_sign(
            (i128::from(self.u32_min), i128::from(self.u32_max)),
            (i128::from(self.s32_min), i128::from(self.s32_max)),
            32,
        );
        (self.u32_min, self.u32_max, self.s32_min, self.s32_max) =
            (u.0 as u32, u.1 as u32, s.0 as i32, s.1 as i32);
    }

    /// The known bits the unsigned ranges imply (kernel
    /// `__reg_bound_offset`). Returns `false` when they contradict the
    /// tnum.
    fn tnum_from_bounds(&mut self) -> bool {
        let r = Tnum::range(self.umin, self.umax);
        if self.var_off.conflicts(r) {
            return false;
        }
        self.var_off = self.var_off.intersect(r);
        let r = Tnum::range(u64::from(self.u32_min), u64::from(self.u32_max));
        let sub = self.var_off.subreg();
        if sub.conflicts(r) {
            return false;
        }
        self.var_off = self.var_off.with_subreg(sub.intersect(r));
        true
    }

    /// One width's half of the scalar.
    fn view(&self, width: Width) -> View {
        match width {
            Width::W64 => View {
                bits: 64,
                t: self.var_off,
                umin: i128::from(self.umin),
                umax: i128::from(self.umax),
                smin: i128::from(self.smin),
                smax: i128::from(self.smax),
            },
            Width::W32 => View {
                bits: 32,
                t: self.var_off.subreg(),
                umin: i128::from(self.u32_min),
                umax: i128::from(self.u32_max),
                smin: i128::from(self.s32_min),
                smax: i128::from(self.s32_max),
            },
        }
    }

    /// Narrows one width's half to `v` (already within it) and syncs.
    /// Returns `false` when no value is left.
    fn narrow(&mut self, width: Width, v: View) -> bool {
        if v.is_empty() {
            return false;
        }
        match width {
            Width::W64 => {
                if self.var_off.conflicts(v.t) {
                    return false;
                }
                self.var_off = self.var_off.intersect(v.t);
                self.umin = self.umin.max(v.umin as u64);
                self.umax = self.umax.min(v.umax as u64);
                self.smin = self.smin.max(v.smin as i64);
                self.smax = self.smax.min(v.smax as i64);
            }
            Width::W32 => {
                let sub = self.var_off.subreg();
                if sub.conflicts(v.t) {
                    return false;
                }
                self.var_off = self.var_off.with_subreg(sub.intersect(v.t));
                self.u32_min = self.u32_min.max(v.umin as u32);
                self.u32_max = self.u32_max.min(v.umax as u32);
                self.s32_min = self.s32_min.max(v.smin as i32);
                self.s32_max = self.s32_max.min(v.smax as i32);
            }
        }
        self.sync_checked()
    }

    /// A 64-bit result, with the low half's result when the operation's
    /// low 32 result bits depend only on the operands' low 32 bits.
    fn from_views(r: View, low: Option<View>) -> Scalar {
        let mut s = Scalar::unknown();
        s.var_off = r.t;
        (s.umin, s.umax) = (r.umin as u64, r.umax as u64);
        (s.smin, s.smax) = (r.smin as i64, r.smax as i64);
        if let Some(l) = low {
            let sub = s.var_off.subreg();
            if !sub.conflicts(l.t) {
                s.var_off = s.var_off.with_subreg(sub.intersect(l.t));
            }
            (s.u32_min, s.u32_max) = (l.umin as u32, l.umax as u32);
            (s.s32_min, s.s32_max) = (l.smin as i32, l.smax as i32);
        }
        s.sync();
        s
    }

    /// A 32-bit result, zero-extended to 64 bits as every ALU32
    /// instruction does (kernel `zext_32_to_64`).
    fn from_view32(r: View) -> Scalar {
        let mut s = Scalar::unknown();
        s.var_off = r.t.subreg();
        (s.umin, s.umax) = (r.umin as u64, r.umax as u64);
        (s.smin, s.smax) = (r.umin as i64, r.umax as i64);
        (s.u32_min, s.u32_max) = (r.umin as u32, r.umax as u32);
        (s.s32_min, s.s32_max) = (r.smin as i32, r.smax as i32);
        s.sync();
        s
    }

    /// `dst = dst op src` with BPF semantics. `W32` operations work on the
    /// low 32 bits and zero-extend the result. Shifts by an amount that
    /// may reach the width give an unknown result, as in the kernel.
    /// Division by zero gives 0 and modulo by zero leaves `dst`.
    pub fn alu(self, op: AluOp, width: Width, src: Scalar) -> Scalar {
        if op == AluOp::Mov {
            return match width {
                Width::W64 => src,
                Width::W32 => src.zext(Size::W),
            };
        }
        let (a, b) = (self.view(width), src.view(width));
        if a.is_const() && b.is_const() {
            return Scalar::constant(eval(op, width, a.umin as u64, b.umin as u64));
        }
        match width {
            Width::W32 => Scalar::from_view32(view_alu(op, a, b)),
            Width::W64 => {
                let low = low_half_closed(op)
                    .then(|| view_alu(op, self.view(Width::W32), src.view(Width::W32)));
                let mut r = Scalar::from_views(view_alu(op, a, b), low);
                if op == AluOp::Lsh && b.is_const() && b.umin == 32 {
                    r.narrow_lsh32(&self);
                }
                r
            }
        }
    }

    /// `r <<= 32` moves the low half to the high half, so its 32-bit
    /// bounds become 64-bit bounds: the kernel keeps this because
    /// compilers sign-extend with `<<= 32; s>>= 32`.
    fn narrow_lsh32(&mut self, shifted: &Scalar) {
        self.umin = self.umin.max(u64::from(shifted.u32_min) << 32);
        self.umax = self.umax.min(u64::from(shifted.u32_max) << 32);
        self.smin = self.smin.max(i64::from(shifted.s32_min) << 32);
        self.smax = self.smax.min(i64::from(shifted.s32_max) << 32);
        self.sync();
    }

    /// `dst = -dst`.
    pub fn neg(self, width: Width) -> Scalar {
        Scalar::constant(0).alu(AluOp::Sub, width, self)
    }

    /// Byte-order conversion of the low `bits` bits (16, 32 or 64), the
    /// upper bits cleared. The host is little-endian: `Le` truncates,
    /// `Be` and `Swap` swap the bytes.
    pub fn end(self, kind: Endian, bits: u8) -> Scalar {
        match (kind, bits) {
            (Endian::Le, 16) => self.zext(Size::H),
            (Endian::Le, 32) => self.zext(Size::W),
            (Endian::Le, _) => self,
            _ => Scalar::from_tnum(self.var_off.swap_bytes(bits)),
        }
    }

    /// `dst = (sN)src`: sign-extends the low `from` bytes; for `W32` the
    /// 32-bit result is zero-extended.
    pub fn movsx(self, from: Size, width: Width) -> Scalar {
        match width {
            Width::W64 => self.sext(from),
            Width::W32 => self.sext(from).zext(Size::W),
        }
    }

    /// The low `size` bytes, zero-extended (a load of that size; kernel
    /// `coerce_reg_to_size`).
    pub fn zext(self, size: Size) -> Scalar {
        match size {
            Size::DW => self,
            Size::W => Scalar::from_view32(self.view(Width::W32)),
            Size::B | Size::H => {
                let bits = size.bytes() as u32 * 8;
                let mut r = Scalar::from_tnum(self.var_off.cast(size.bytes() as u8));
                for (lo, hi) in self.low_runs(bits) {
                    if lo <= hi {
                        r.umin = r.umin.max(lo);
                        r.umax = r.umax.min(hi);
                    }
                }
                r.sync();
                r
            }
        }
    }

    /// The low `size` bytes, sign-extended to 64 bits (`BPF_MEMSX` loads;
    /// kernel `coerce_reg_to_size_sx`).
    pub fn sext(self, size: Size) -> Scalar {
        if size == Size::DW {
            return self;
        }
        let bits = size.bytes() as u32 * 8;
        let mut r = Scalar::from_tnum(sext_tnum(self.var_off, bits));
        // The tnum cannot say that the upper bits all copy the sign bit.
        let half = 1i64 << (bits - 1);
        r.smin = r.smin.max(-half);
        r.smax = r.smax.min(half - 1);
        for (lo, hi) in self.low_runs(bits) {
            let (l, h) = (sext_bits(lo, bits), sext_bits(hi, bits));
            if l <= h {
                r.smin = r.smin.max(l);
                r.smax = r.smax.min(h);
            }
        }
        if size == Size::W {
            // The low half is unchanged.
            r.u32_min = r.u32_min.max(self.u32_min);
            r.u32_max = r.u32_max.min(self.u32_max);
            r.s32_min = r.s32_min.max(self.s32_min);
            r.s32_max = r.s32_max.min(self.s32_max);
        } else {
            (r.s32_min, r.s32_max) = (r.smin as i32, r.smax as i32);
        }
        r.sync();
        r
    }

    /// The runs (mod 2^bits, from the first to the second) that the low
    /// `bits` bits of the value lie in, one per range of the scalar that
    /// is short enough to say something.
    fn low_runs(&self, bits: u32) -> impl Iterator<Item = (u64, u64)> {
        let m = (1u64 << bits) - 1;
        let runs = [
            (self.umin, self.umax, u64::MAX),
            (self.smin as u64, self.smax as u64, u64::MAX),
            (self.u32_min.into(), self.u32_max.into(), u32::MAX.into()),
            (
                u64::from(self.s32_min as u32),
                u64::from(self.s32_max as u32),
                u32::MAX.into(),
            ),
        ];
        runs.into_iter()
            .filter(move |&(lo, hi, space)| hi.wrapping_sub(lo) & space <= m)
            .map(move |(lo, hi, _)| (lo & m, hi & m))
    }

    /// Whether `dst cond src` holds for every pair of possible values
    /// (`Some(true)`), for none (`Some(false)`), or neither is known
    /// (kernel `is_scalar_branch_taken`). `W32` compares the low 32 bits.
    pub fn branch_taken(cond: Cond, width: Width, dst: &Scalar, src: &Scalar) -> Option<bool> {
        let (a, b) = (dst.view(width), src.view(width));
        let r = rel_taken(Rel::of(cond), &a, &b);
        if r.is_none() && width == Width::W64 && matches!(cond, Cond::Eq | Cond::Ne) {
            // Values whose low halves differ differ.
            let low = (dst.view(Width::W32), src.view(Width::W32));
            if eq_taken(&low.0, &low.1) == Some(false) {
                return Some(cond == Cond::Ne);
            }
        }
        r
    }

    /// Narrows `dst` and `src` to the values for which `dst cond src` is
    /// `taken` (kernel `regs_refine_cond_op` and `reg_set_min_max`).
    /// Returns `false` when no pair of values remains: that branch cannot
    /// be taken. `W32` conditions refine the 32-bit bounds, which sync
    /// then carries into the 64-bit ones.
    pub fn refine(
        cond: Cond,
        width: Width,
        taken: bool,
        dst: &mut Scalar,
        src: &mut Scalar,
    ) -> bool {
        let rel = if taken {
            Rel::of(cond)
        } else {
            Rel::of(cond).negate()
        };
        let (mut a, mut b) = (dst.view(width), src.view(width));
        if !refine_views(rel, &mut a, &mut b) || !dst.narrow(width, a) || !src.narrow(width, b) {
            return false;
        }
        if rel == Rel::Eq && width == Width::W64 {
            // Equal values have equal low halves.
            return Scalar::refine(Cond::Eq, Width::W32, true, dst, src);
        }
        true
    }
}

/// `x` with its sign bit flipped: signed order becomes unsigned order.
fn bias(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}

/// The inverse of [`bias`].
fn unbias(x: u64) -> i64 {
    (x ^ (1 << 63)) as i64
}

/// Whether `x` lies on the run `lo, lo + 1, ..., hi` (mod 2^32).
fn on_run(x: u32, lo: u32, hi: u32) -> bool {
    if lo <= hi {
        lo <= x && x <= hi
    } else {
        x >= lo || x <= hi
    }
}

/// The smallest value at least `min` whose low half lies on the run
/// `lo..hi` (mod 2^32), if any.
fn raise(min: u64, lo: u32, hi: u32) -> Option<u64> {
    let (low, high) = (min as u32, min & !u64::from(u32::MAX));
    if on_run(low, lo, hi) {
        Some(min)
    } else if lo > low {
        Some(high | u64::from(lo))
    } else {
        high.checked_add(1 << 32).map(|h| h | u64::from(lo))
    }
}

/// The largest value at most `max` whose low half lies on the run
/// `lo..hi` (mod 2^32), if any.
fn lower(max: u64, lo: u32, hi: u32) -> Option<u64> {
    let (low, high) = (max as u32, max & !u64::from(u32::MAX));
    if on_run(low, lo, hi) {
        Some(max)
    } else if hi < low {
        Some(high | u64::from(hi))
    } else {
        high.checked_sub(1 << 32).map(|h| h | u64::from(hi))
    }
}

/// The low `bits` bits of `x`, sign-extended.
fn sext_bits(x: u64, bits: u32) -> i64 {
    ((x << (64 - bits)) as i64) >> (64 - bits)
}

/// The tnum of the low `bits` bits sign-extended: the upper bits copy the
/// sign bit, known or not.
fn sext_tnum(t: Tnum, bits: u32) -> Tnum {
    Tnum {
        value: sext_bits(t.value, bits) as u64,
        mask: sext_bits(t.mask, bits) as u64,
    }
}

/// Unsigned and signed bounds of one width narrow each other. The signed
/// range is a run of unsigned values that may wrap past the top; when
/// the unsigned range meets only one side of the wrap it narrows to that
/// side, and the same the other way round.
fn deduce_sign(u: (i128, i128), s: (i128, i128), bits: u32) -> ((i128, i128), (i128, i128)) {
    let (mut u, mut s) = (u, s);
    let (slo, shi) = (to_unsigned(s.0, bits), to_unsigned(s.1, bits));
    if slo <= shi {
        u = (u.0.max(slo), u.1.min(shi));
    } else {
        // s covers [slo, top] and [0, shi].
        if u.1 < slo {
            u.1 = u.1.min(shi);
        }
        if u.0 > shi {
            u.0 = u.0.max(slo);
        }
    }
    let (ulo, uhi) = (to_signed(u.0, bits), to_signed(u.1, bits));
    if ulo <= uhi {
        s = (s.0.max(ulo), s.1.min(uhi));
    } else {
        // u covers [ulo, smax] and [smin, uhi].
        if s.1 < ulo {
            s.1 = s.1.min(uhi);
        }
        if s.0 > uhi {
            s.0 = s.0.max(ulo);
        }
    }
    (u, s)
}

/// A `bits`-wide unsigned value read as signed.
fn to_signed(u: i128, bits: u32) -> i128 {
    if u > smax_of(bits) {
        u - (1 << bits)
    } else {
        u
    }
}

/// A `bits`-wide signed value read as unsigned.
fn to_unsigned(s: i128, bits: u32) -> i128 {
    s.rem_euclid(1 << bits)
}

fn smin_of(bits: u32) -> i128 {
    -(1i128 << (bits - 1))
}

fn smax_of(bits: u32) -> i128 {
    (1i128 << (bits - 1)) - 1
}

fn umax_of(bits: u32) -> i128 {
    (1i128 << bits) - 1
}

/// The exact results `lo..=hi` taken modulo 2^bits as unsigned values:
/// an interval when they do not wrap, else the full range.
fn fit_u(lo: i128, hi: i128, bits: u32) -> (i128, i128) {
    let m = 1i128 << bits;
    let (l, h) = (lo.rem_euclid(m), hi.rem_euclid(m));
    if hi - lo >= m || l > h {
        (0, m - 1)
    } else {
        (l, h)
    }
}

/// [`fit_u`] for signed values.
fn fit_s(lo: i128, hi: i128, bits: u32) -> (i128, i128) {
    let m = 1i128 << bits;
    let base = smin_of(bits);
    let (l, h) = (
        (lo - base).rem_euclid(m) + base,
        (hi - base).rem_euclid(m) + base,
    );
    if hi - lo >= m || l > h {
        (base, smax_of(bits))
    } else {
        (l, h)
    }
}

/// One width's half of a scalar: bounds as exact integers in `i128`, the
/// tnum limited to the width.
#[derive(Clone, Copy, Debug)]
struct View {
    bits: u32,
    t: Tnum,
    umin: i128,
    umax: i128,
    smin: i128,
    smax: i128,
}

impl View {
    /// Any `bits`-wide value.
    fn full(bits: u32) -> View {
        View {
            bits,
            t: Tnum {
                value: 0,
                mask: umax_of(bits) as u64,
            },
            umin: 0,
            umax: umax_of(bits),
            smin: smin_of(bits),
            smax: smax_of(bits),
        }
    }

    /// A tnum result limited to the width, with unknown bounds (sync
    /// derives them).
    fn of_tnum(t: Tnum, bits: u32) -> View {
        View {
            t: t.cast((bits / 8) as u8),
            ..View::full(bits)
        }
    }

    fn is_const(&self) -> bool {
        self.umin == self.umax
    }

    fn is_empty(&self) -> bool {
        self.umin > self.umax || self.smin > self.smax
    }

    /// The smallest view holding both.
    fn join(self, o: View) -> View {
        View {
            bits: self.bits,
            t: self.t.union(o.t),
            umin: self.umin.min(o.umin),
            umax: self.umax.max(o.umax),
            smin: self.smin.min(o.smin),
            smax: self.smax.max(o.smax),
        }
    }
}

/// Whether the low 32 bits of the 64-bit result depend only on the low 32
/// bits of the operands, so that the 32-bit transfer function bounds them.
fn low_half_closed(op: AluOp) -> bool {
    matches!(
        op,
        AluOp::Add | AluOp::Sub | AluOp::Mul | AluOp::And | AluOp::Or | AluOp::Xor
    )
}

/// The transfer function of `op` on one width.
fn view_alu(op: AluOp, a: View, b: View) -> View {
    match op {
        AluOp::Add => add(a, b),
        AluOp::Sub => sub(a, b),
        AluOp::Mul => mul(a, b),
        AluOp::And => and(a, b),
        AluOp::Or => or(a, b),
        AluOp::Xor => View::of_tnum(a.t.xor(b.t), a.bits),
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => shift(op, a, b),
        AluOp::Div => div(a, b),
        AluOp::Mod => rem(a, b),
        AluOp::Sdiv | AluOp::Smod => View::full(a.bits),
        AluOp::Mov => b,
    }
}

fn add(a: View, b: View) -> View {
    let (umin, umax) = fit_u(a.umin + b.umin, a.umax + b.umax, a.bits);
    let (smin, smax) = fit_s(a.smin + b.smin, a.smax + b.smax, a.bits);
    View {
        umin,
        umax,
        smin,
        smax,
        ..View::of_tnum(a.t.add(b.t), a.bits)
    }
}

fn sub(a: View, b: View) -> View {
    let (umin, umax) = fit_u(a.umin - b.umax, a.umax - b.umin, a.bits);
    let (smin, smax) = fit_s(a.smin - b.smax, a.smax - b.smin, a.bits);
    View {
        umin,
        umax,
        smin,
        smax,
        ..View::of_tnum(a.t.sub(b.t), a.bits)
    }
}

fn mul(a: View, b: View) -> View {
    let mut r = View::of_tnum(a.t.mul(b.t), a.bits);
    // Unsigned products of 64-bit bounds may not fit in i128.
    if let (Some(lo), Some(hi)) = (a.umin.checked_mul(b.umin), a.umax.checked_mul(b.umax)) {
        (r.umin, r.umax) = fit_u(lo, hi, a.bits);
    }
    let corners = [
        a.smin * b.smin,
        a.smin * b.smax,
        a.smax * b.smin,
        a.smax * b.smax,
    ];
    let lo = corners.iter().copied().min().unwrap_or(0);
    let hi = corners.iter().copied().max().unwrap_or(0);
    (r.smin, r.smax) = fit_s(lo, hi, a.bits);
    r
}

fn and(a: View, b: View) -> View {
    let mut r = View::of_tnum(a.t.and(b.t), a.bits);
    r.umin = i128::from(r.t.min());
    r.umax = a.umax.min(b.umax);
    // x & y lies between 0 and x for a non-negative x; for two negative
    // operands it is negative and at most the smaller.
    (r.smin, r.smax) = match (a.smin >= 0, b.smin >= 0) {
        (true, true) => (0, a.smax.min(b.smax)),
        (true, false) => (0, a.smax),
        (false, true) => (0, b.smax),
        _ if a.smax < 0 && b.smax < 0 => (smin_of(a.bits), a.smax.min(b.smax)),
        _ => (smin_of(a.bits), smax_of(a.bits)),
    };
    r
}

fn or(a: View, b: View) -> View {
    let mut r = View::of_tnum(a.t.or(b.t), a.bits);
    r.umin = a.umin.max(b.umin);
    r.umax = i128::from(r.t.max());
    // x | y is at least the larger of two non-negative operands; with a
    // negative operand x it is negative and at least x.
    (r.smin, r.smax) = match (a.smax < 0, b.smax < 0) {
        (true, true) => (a.smin.max(b.smin), -1),
        (true, false) => (a.smin, -1),
        (false, true) => (b.smin, -1),
        _ if a.smin >= 0 && b.smin >= 0 => (a.smin.max(b.smin), smax_of(a.bits)),
        _ => (smin_of(a.bits), smax_of(a.bits)),
    };
    r
}

/// Shifts by a range of amounts: the join of the shifts by each possible
/// amount. An amount that may reach the width makes the result unknown
/// (the kernel's rule; the ISA masks the amount).
fn shift(op: AluOp, a: View, b: View) -> View {
    if b.umax >= i128::from(a.bits) {
        return View::full(a.bits);
    }
    let mut out: Option<View> = None;
    for k in b.umin..=b.umax {
        if !b.t.contains_value(k as u64) {
            continue;
        }
        let r = match op {
            AluOp::Lsh => lsh(a, k as u32),
            AluOp::Rsh => rsh(a, k as u32),
            _ => arsh(a, k as u32),
        };
        out = Some(out.map_or(r, |o| o.join(r)));
    }
    out.unwrap_or(View::full(a.bits))
}

fn lsh(a: View, k: u32) -> View {
    let mut r = View::of_tnum(a.t.lshift(k as u8), a.bits);
    if a.umax <= umax_of(a.bits) >> k {
        (r.umin, r.umax) = (a.umin << k, a.umax << k);
    }
    // Values that fit in bits - k signed bits keep their sign.
    let room = 1i128 << (a.bits - 1 - k.min(a.bits - 1));
    if k < a.bits && a.smin >= -room && a.smax < room {
        (r.smin, r.smax) = (a.smin << k, a.smax << k);
    }
    r
}

fn rsh(a: View, k: u32) -> View {
    View {
        umin: a.umin >> k,
        umax: a.umax >> k,
        ..View::of_tnum(a.t.rshift(k as u8), a.bits)
    }
}

fn arsh(a: View, k: u32) -> View {
    View {
        smin: a.smin >> k,
        smax: a.smax >> k,
        ..View::of_tnum(a.t.arshift(k as u8, a.bits as u8), a.bits)
    }
}

/// Unsigned division; by zero gives 0, and a quotient is at most the
/// dividend.
fn div(a: View, b: View) -> View {
    let mut r = View::full(a.bits);
    if b.umin > 0 {
        (r.umin, r.umax) = (a.umin / b.umax, a.umax / b.umin);
    } else {
        r.umax = a.umax;
    }
    r
}

/// Unsigned modulo; by zero leaves the dividend, and a remainder is less
/// than the divisor and at most the dividend.
fn rem(a: View, b: View) -> View {
    if a.umax < b.umin {
        return a;
    }
    let mut r = View::full(a.bits);
    r.umax = if b.umin > 0 {
        a.umax.min(b.umax - 1)
    } else {
        a.umax
    };
    r
}

/// The concrete operation, for constant operands.
fn eval(op: AluOp, width: Width, x: u64, y: u64) -> u64 {
    match width {
        Width::W64 => eval64(op, x, y),
        Width::W32 => u64::from(eval32(op, x as u32, y as u32)),
    }
}

fn eval64(op: AluOp, x: u64, y: u64) -> u64 {
    let (sx, sy) = (x as i64, y as i64);
    match op {
        AluOp::Add => x.wrapping_add(y),
        AluOp::Sub => x.wrapping_sub(y),
        AluOp::Mul => x.wrapping_mul(y),
        AluOp::Div => x.checked_div(y).unwrap_or(0),
        AluOp::Sdiv if y == 0 => 0,
        AluOp::Sdiv => sx.wrapping_div(sy) as u64,
        AluOp::Mod => x.checked_rem(y).unwrap_or(x),
        AluOp::Smod if y == 0 => x,
        AluOp::Smod => sx.wrapping_rem(sy) as u64,
        AluOp::Or => x | y,
        AluOp::And => x & y,
        AluOp::Lsh => x << (y & 63),
        AluOp::Rsh => x >> (y & 63),
        AluOp::Arsh => (sx >> (y & 63)) as u64,
        AluOp::Xor => x ^ y,
        AluOp::Mov => y,
    }
}

fn eval32(op: AluOp, x: u32, y: u32) -> u32 {
    let (sx, sy) = (x as i32, y as i32);
    match op {
        AluOp::Add => x.wrapping_add(y),
        AluOp::Sub => x.wrapping_sub(y),
        AluOp::Mul => x.wrapping_mul(y),
        AluOp::Div => x.checked_div(y).unwrap_or(0),
        AluOp::Sdiv if y == 0 => 0,
        AluOp::Sdiv => sx.wrapping_div(sy) as u32,
        AluOp::Mod => x.checked_rem(y).unwrap_or(x),
        AluOp::Smod if y == 0 => x,
        AluOp::Smod => sx.wrapping_rem(sy) as u32,
        AluOp::Or => x | y,
        AluOp::And => x & y,
        AluOp::Lsh => x << (y & 31),
        AluOp::Rsh => x >> (y & 31),
        AluOp::Arsh => (sx >> (y & 31)) as u32,
        AluOp::Xor => x ^ y,
        AluOp::Mov => y,
    }
}

/// A condition in the form refinement works with: the ordered ones with
/// `dst` on the left of `<` or `<=` after swapping, plus the negation of
/// `Set`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rel {
    Eq,
    Ne,
    /// `dst < src` (signed if true) or, swapped, `src < dst`.
    Lt {
        signed: bool,
        swap: bool,
    },
    /// `dst <= src` (signed if true) or, swapped, `src <= dst`.
    Le {
        signed: bool,
        swap: bool,
    },
    Set,
    NotSet,
}

impl Rel {
    fn of(cond: Cond) -> Rel {
        let signed = matches!(cond, Cond::Slt | Cond::Sle | Cond::Sgt | Cond::Sge);
        // `a > b` is `b < a`.
        let swap = matches!(cond, Cond::Gt | Cond::Ge | Cond::Sgt | Cond::Sge);
        match cond {
            Cond::Eq => Rel::Eq,
            Cond::Ne => Rel::Ne,
            Cond::Set => Rel::Set,
            Cond::Lt | Cond::Gt | Cond::Slt | Cond::Sgt => Rel::Lt { signed, swap },
            Cond::Le | Cond::Ge | Cond::Sle | Cond::Sge => Rel::Le { signed, swap },
        }
    }

    /// The relation that holds exactly when `self` does not:
    /// `!(a < b)` is `b <= a`.
    fn negate(self) -> Rel {
        match self {
            Rel::Eq => Rel::Ne,
            Rel::Ne => Rel::Eq,
            Rel::Set => Rel::NotSet,
            Rel::NotSet => Rel::Set,
            Rel::Lt { signed, swap } => Rel::Le {
                signed,
                swap: !swap,
            },
            Rel::Le { signed, swap } => Rel::Lt {
                signed,
                swap: !swap,
            },
        }
    }
}

/// The bounds of one signedness.
fn bounds(v: &View, signed: bool) -> (i128, i128) {
    if signed {
        (v.smin, v.smax)
    } else {
        (v.umin, v.umax)
    }
}

fn set_bounds(v: &mut View, signed: bool, (lo, hi): (i128, i128)) {
    if signed {
        (v.smin, v.smax) = (lo, hi);
    } else {
        (v.umin, v.umax) = (lo, hi);
    }
}

fn eq_taken(a: &View, b: &View) -> Option<bool> {
    let disjoint = a.umax < b.umin
        || b.umax < a.umin
        || a.smax < b.smin
        || b.smax < a.smin
        || a.t.conflicts(b.t);
    if disjoint {
        Some(false)
    } else if a.is_const() && b.is_const() {
        Some(true)
    } else {
        None
    }
}

fn rel_taken(rel: Rel, a: &View, b: &View) -> Option<bool> {
    match rel {
        Rel::Eq => eq_taken(a, b),
        Rel::Ne => eq_taken(a, b).map(|t| !t),
        Rel::Set | Rel::NotSet => {
            let set = if a.t.value & b.t.value != 0 {
                Some(true)
            } else if a.t.max() & b.t.max() == 0 {
                Some(false)
            } else {
                None
            };
            if rel == Rel::Set {
                set
            } else {
                set.map(|t| !t)
            }
        }
        Rel::Lt { signed, swap } | Rel::Le { signed, swap } => {
            let (l, r) = if swap { (b, a) } else { (a, b) };
            let ((llo, lhi), (rlo, rhi)) = (bounds(l, signed), bounds(r, signed));
            let strict = matches!(rel, Rel::Lt { .. });
            if (strict && lhi < rlo) || (!strict && lhi <= rlo) {
                Some(true)
            } else if (strict && llo >= rhi) || (!strict && llo > rhi) {
                Some(false)
            } else {
                None
            }
        }
    }
}

/// Narrows both views to the pairs satisfying `rel`. Returns `false` when
/// none can.
fn refine_views(rel: Rel, a: &mut View, b: &mut View) -> bool {
    match rel {
        Rel::Eq => {
            if a.t.conflicts(b.t) {
                return false;
            }
            let both = View {
                bits: a.bits,
                t: a.t.intersect(b.t),
                umin: a.umin.max(b.umin),
                umax: a.umax.min(b.umax),
                smin: a.smin.max(b.smin),
                smax: a.smax.min(b.smax),
            };
            (*a, *b) = (both, both);
        }
        Rel::Ne => {
            if a.is_const() && b.is_const() && a.umin == b.umin {
                return false;
            }
            shave(a, b);
            shave(b, a);
        }
        Rel::Lt { signed, swap } | Rel::Le { signed, swap } => {
            let (l, r) = if swap {
                (&mut *b, &mut *a)
            } else {
                (&mut *a, &mut *b)
            };
            // l < r: l is below r's maximum, r above l's minimum.
            let gap = i128::from(matches!(rel, Rel::Lt { .. }));
            let ((llo, lhi), (rlo, rhi)) = (bounds(l, signed), bounds(r, signed));
            set_bounds(l, signed, (llo, lhi.min(rhi - gap)));
            set_bounds(r, signed, (rlo.max(llo + gap), rhi));
        }
        Rel::Set => {
            if a.t.max() & b.t.max() == 0 {
                return false;
            }
            // Neither can be zero; a single possible common bit is set.
            a.umin = a.umin.max(1);
            b.umin = b.umin.max(1);
            force_single_bit(a, b);
            force_single_bit(b, a);
        }
        Rel::NotSet => {
            // A bit known set in one is clear in the other.
            if a.t.value & b.t.value != 0 {
                return false;
            }
            a.t.mask &= !b.t.value;
            b.t.mask &= !a.t.value;
        }
    }
    !a.is_empty() && !b.is_empty()
}

/// `a != b` with `b` constant: an end of `a`'s ranges equal to `b` goes.
fn shave(a: &mut View, b: &View) {
    if !b.is_const() {
        return;
    }
    let (u, s) = (b.umin, b.smin);
    if a.umin == u {
        a.umin += 1;
    }
    if a.umax == u {
        a.umax -= 1;
    }
    if a.smin == s {
        a.smin += 1;
    }
    if a.smax == s {
        a.smax -= 1;
    }
}

/// `a & b != 0` where only one bit can be common: that bit is set in both.
fn force_single_bit(a: &mut View, b: &View) {
    let common = a.t.max() & b.t.max();
    if common.is_power_of_two() {
        a.t.value |= common;
        a.t.mask &= !common;
    }
}

/// The kernel prints numbers of up to 16 bits in decimal, others in hex.
fn fmt_unum(f: &mut fmt::Formatter<'_>, v: u64) -> fmt::Result {
    if v <= u64::from(u16::MAX) {
        write!(f, "{v}")
    } else {
        write!(f, "{v:#x}")
    }
}

fn fmt_snum(f: &mut fmt::Formatter<'_>, v: i64) -> fmt::Result {
    if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v) {
        write!(f, "{v}")
    } else {
        write!(f, "{:#x}", v as u64)
    }
}

/// The kernel's log form: a constant as its number, otherwise
/// `scalar(...)` listing the bounds that say something (equal ones
/// merged, as in `smax=umax=255`) and the tnum if any bit is known.
impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.const_value() {
            return fmt_snum(f, c as i64);
        }
        // (name, value as the kernel holds it in a u64, omitted)
        let mut items = [
            ("smin", self.smin as u64, self.smin == i64::MIN),
            ("smax", self.smax as u64, self.smax == i64::MAX),
            ("umin", self.umin, self.umin == 0),
            ("umax", self.umax, self.umax == u64::MAX),
            (
                "smin32",
                i64::from(self.s32_min) as u64,
                self.s32_min == i32::MIN,
            ),
            (
                "smax32",
                i64::from(self.s32_max) as u64,
                self.s32_max == i32::MAX,
            ),
            ("umin32", u64::from(self.u32_min), self.u32_min == 0),
            ("umax32", u64::from(self.u32_max), self.u32_max == u32::MAX),
        ];
        let negative = |(name, v, _): (&str, u64, bool)| name.starts_with('s') && (v as i64) < 0;
        f.write_str("scalar(")?;
        let mut sep = "";
        for i in 0..items.len() {
            let (name, v, omit) = items[i];
            if omit {
                continue;
            }
            write!(f, "{sep}{name}=")?;
            sep = ",";
            // Later bounds of the same kind (min or max) with the same
            // value print as one.
            for j in (i + 2..items.len()).step_by(2) {
                if !items[j].2 && negative(items[j]) == negative(items[i]) && items[j].1 == v {
                    write!(f, "{}=", items[j].0)?;
                    items[j].2 = true;
                }
            }
            if name.starts_with('s') {
                fmt_snum(f, v as i64)?;
            } else {
                fmt_unum(f, v)?;
            }
        }
        if !self.var_off.is_unknown() {
            write!(f, "{sep}var_off={}", self.var_off)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_and_lower_find_the_nearest_allowed_low_half() {
        // Low half must be in [0x10, 0x20].
        assert_eq!(raise(0x5_0000_0005, 0x10, 0x20), Some(0x5_0000_0010));
        assert_eq!(raise(0x5_0000_0015, 0x10, 0x20), Some(0x5_0000_0015));
        assert_eq!(raise(0x5_0000_0025, 0x10, 0x20), Some(0x6_0000_0010));
        assert_eq!(raise(u64::MAX, 0x10, 0x20), None);
        assert_eq!(lower(0x5_0000_0025, 0x10, 0x20), Some(0x5_0000_0020));
        assert_eq!(lower(0x5_0000_0005, 0x10, 0x20), Some(0x4_0000_0020));
        assert_eq!(lower(5, 0x10, 0x20), None);
        // A wrapping run: low half in [0xffff_fff0, 0xf].
        assert_eq!(raise(0x20, 0xffff_fff0, 0xf), Some(0xffff_fff0));
        assert_eq!(lower(0x1_0000_0020, 0xffff_fff0, 0xf), Some(0x1_0000_000f));
    }

    #[test]
    fn fit_keeps_intervals_that_do_not_wrap() {
        assert_eq!(fit_u(250, 260, 8), (0, 255));
        assert_eq!(fit_u(256, 260, 8), (0, 4));
        assert_eq!(fit_u(-3, -1, 8), (253, 255));
        assert_eq!(fit_s(120, 130, 8), (-128, 127));
        assert_eq!(fit_s(128, 130, 8), (-128, -126));
        assert_eq!(fit_u(0, 256, 8), (0, 255));
    }

    #[test]
    fn deduce_sign_splits_a_wrapping_range() {
        // s in [-2, 5] as u8 is {254, 255, 0..=5}; u in [0, 100] meets
        // only the low side.
        assert_eq!(deduce_sign((0, 100), (-2, 5), 8), ((0, 5), (0, 5)));
        assert_eq!(deduce_sign((200, 255), (-2, 5), 8), ((254, 255), (-2, -1)));
    }
}
