//! Tristate numbers: which bits of a 64-bit value are known, and to what.
//!
//! A [`Tnum`] is the bit-level half of the verifier's scalar domain (the
//! other half, ranges, is in [`crate::scalar`]). It follows the kernel's
//! `kernel/bpf/tnum.c`: `value` holds the bits known to be 1, `mask` the
//! bits that are unknown, and a bit clear in both is known to be 0. The
//! set a tnum stands for is every `x` with `x & !mask == value`.
//!
//! Every operation here over-approximates: the result holds every value
//! the operation can produce from values of the operands.

use core::fmt;

/// A tristate number: `value` has the known-1 bits, `mask` the unknown
/// bits, and `value & mask == 0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Tnum {
    /// The bits known to be 1.
    pub value: u64,
    /// The bits whose value is unknown.
    pub mask: u64,
}

#[expect(
    clippy::should_implement_trait,
    reason = "add/sub/mul/neg take the kernel's tnum_* names; operator overloading would hide that they over-approximate"
)]
impl Tnum {
    /// Nothing is known: every 64-bit value.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Exactly the value `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value of `[min, max]` (kernel
    /// `tnum_range`): the bits above the highest bit where `min` and `max`
    /// differ are shared by the whole range; the rest are unknown.
    /// `min <= max` is expected; otherwise the result holds both ends.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        if chi == 0 {
            return Tnum::constant(min);
        }
        let bits = 64 - chi.leading_zeros();
        let delta = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        Tnum {
            value: min & !delta,
            mask: delta,
        }
    }

    /// Whether every bit is known.
    pub fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Whether no bit is known.
    pub fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// The smallest value held.
    pub fn min(self) -> u64 {
        self.value
    }

    /// The largest value held.
    pub fn max(self) -> u64 {
        self.value | self.mask
    }

    /// Addition modulo 2^64. A bit of the sum is unknown when an operand
    /// bit is unknown or when the carry into it can differ between the
    /// smallest and the largest sums.
    pub fn add(self, o: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(o.mask);
        let sv = self.value.wrapping_add(o.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | o.mask;
        Tnum {
            value: sv & !mu,
            mask: mu,
        }
    }

    /// Subtraction modulo 2^64; the borrows play the part of the carries.
    pub fn sub(self, o: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(o.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(o.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | o.mask;
        Tnum {
            value: dv & !mu,
            mask: mu,
        }
    }

    /// Two's complement negation.
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// Bitwise and: a bit is known 1 when known 1 in both, known 0 when
    /// known 0 in either.
    pub fn and(self, o: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = o.value | o.mask;
        let v = self.value & o.value;
        Tnum {
            value: v,
            mask: alpha & beta & !v,
        }
    }

    /// Bitwise or: a bit is known 1 when known 1 in either.
    pub fn or(self, o: Tnum) -> Tnum {
        let v = self.value | o.value;
        let mu = self.mask | o.mask;
        Tnum {
            value: v,
            mask: mu & !v,
        }
    }

    /// Bitwise exclusive or: known where both operands are known.
    pub fn xor(self, o: Tnum) -> Tnum {
        let v = self.value ^ o.value;
        let mu = self.mask | o.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Multiplication modulo 2^64, as a sum of shifted partial products:
    /// the known parts multiply exactly, and each unknown or known-1 bit
    /// of `self` adds the (shifted) uncertain part of `o`.
    pub fn mul(self, o: Tnum) -> Tnum {
        let exact = self.value.wrapping_mul(o.value);
        let mut uncertain = Tnum::constant(0);
        let (mut a, mut b) = (self, o);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                // A known 1: this partial product is b, whose known part
                // is already in `exact`.
                uncertain = uncertain.add(Tnum {
                    value: 0,
                    mask: b.mask,
                });
            } else if a.mask & 1 != 0 {
                // An unknown bit: the partial product is 0 or b.
                uncertain = uncertain.add(Tnum {
                    value: 0,
                    mask: b.value | b.mask,
                });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::constant(exact).add(uncertain)
    }

    /// Left shift by `n` (taken modulo 64); zeros come in.
    pub fn lshift(self, n: u8) -> Tnum {
        let n = u32::from(n) & 63;
        Tnum {
            value: self.value << n,
            mask: self.mask << n,
        }
    }

    /// Logical right shift by `n` (taken modulo 64); zeros come in.
    pub fn rshift(self, n: u8) -> Tnum {
        let n = u32::from(n) & 63;
        Tnum {
            value: self.value >> n,
            mask: self.mask >> n,
        }
    }

    /// Arithmetic right shift by `n` of a `bits`-wide value (32 or 64):
    /// the sign bit, known or unknown, is copied in. For 32 bits the
    /// result is the 32-bit shift, zero-extended.
    pub fn arshift(self, n: u8, bits: u8) -> Tnum {
        if bits == 32 {
            let n = u32::from(n) & 31;
            Tnum {
                value: u64::from(((self.value as u32 as i32) >> n) as u32),
                mask: u64::from(((self.mask as u32 as i32) >> n) as u32),
            }
        } else {
            let n = u32::from(n) & 63;
            Tnum {
                value: ((self.value as i64) >> n) as u64,
                mask: ((self.mask as i64) >> n) as u64,
            }
        }
    }

    /// The values held by both (kernel `tnum_intersect`). When the two
    /// disagree on a known bit no value is in both; see
    /// [`Tnum::conflicts`].
    pub fn intersect(self, o: Tnum) -> Tnum {
        let v = self.value | o.value;
        let mu = self.mask & o.mask;
        Tnum {
            value: v & !mu,
            mask: mu,
        }
    }

    /// Whether some bit is known in both and known differently, so that
    /// no value is in both.
    pub fn conflicts(self, o: Tnum) -> bool {
        (self.value ^ o.value) & !self.mask & !o.mask != 0
    }

    /// The smallest tnum holding every value of both (the join, used when
    /// a result is one of several tnums).
    pub fn union(self, o: Tnum) -> Tnum {
        let mu = self.mask | o.mask | (self.value ^ o.value);
        Tnum {
            value: self.value & !mu,
            mask: mu,
        }
    }

    /// Whether every value of `o` is a value of `self` (kernel
    /// `tnum_in(self, o)`).
    pub fn contains(self, o: Tnum) -> bool {
        if o.mask & !self.mask != 0 {
            return false;
        }
        o.value & !self.mask == self.value
    }

    /// Whether `v` is a value of `self`.
    pub fn contains_value(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Whether every value is a multiple of `size`, a power of two
    /// (kernel `tnum_is_aligned`; size 0 counts as aligned).
    pub fn is_aligned(self, size: u64) -> bool {
        if size == 0 {
            return true;
        }
        (self.value | self.mask) & (size - 1) == 0
    }

    /// The low `bytes` bytes (1, 2, 4 or 8), zero-extended.
    pub fn cast(self, bytes: u8) -> Tnum {
        let keep = match bytes {
            0 => 0,
            1..=7 => (1u64 << (u32::from(bytes) * 8)) - 1,
            _ => u64::MAX,
        };
        Tnum {
            value: self.value & keep,
            mask: self.mask & keep,
        }
    }

    /// The low 32 bits, zero-extended.
    pub fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The high 32 bits, with the low 32 known to be 0.
    pub fn clear_subreg(self) -> Tnum {
        self.rshift(32).lshift(32)
    }

    /// The high 32 bits of `self` with the low 32 bits of `sub`.
    pub fn with_subreg(self, sub: Tnum) -> Tnum {
        self.clear_subreg().or(sub.subreg())
    }

    /// The high 32 bits of `self` with the low 32 bits known to be `v`.
    pub fn with_const_subreg(self, v: u32) -> Tnum {
        self.with_subreg(Tnum::constant(u64::from(v)))
    }

    /// Byte swap of the low `bits` bits (16, 32 or 64), the rest zero.
    /// Exact: swapping moves bits, so known bits stay known.
    pub fn swap_bytes(self, bits: u8) -> Tnum {
        let swap = |x: u64| match bits {
            16 => u64::from((x as u16).swap_bytes()),
            32 => u64::from((x as u32).swap_bytes()),
            _ => x.swap_bytes(),
        };
        Tnum {
            value: swap(self.value),
            mask: swap(self.mask),
        }
    }
}

/// The kernel's log form, `(value; mask)` in hex.
impl fmt::Display for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:#x}; {:#x})", self.value, self.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every well-formed tnum over the low `bits` bits.
    fn all(bits: u32) -> Vec<Tnum> {
        let n = 1u64 << bits;
        let mut out = Vec::new();
        for mask in 0..n {
            for value in 0..n {
                if value & mask == 0 {
                    out.push(Tnum { value, mask });
                }
            }
        }
        out
    }

    /// The members of a tnum over the low `bits` bits, by brute force.
    fn members(t: Tnum, bits: u32) -> Vec<u64> {
        (0..1u64 << bits)
            .filter(|&x| x & !t.mask == t.value)
            .collect()
    }

    /// Checks `op` on every pair of 4-bit tnums against `concrete` on
    /// every pair of members: the result must hold each concrete result.
    fn check_binary(op: impl Fn(Tnum, Tnum) -> Tnum, concrete: impl Fn(u64, u64) -> u64) {
        let ts = all(4);
        for &a in &ts {
            for &b in &ts {
                let r = op(a, b);
                assert_eq!(r.value & r.mask, 0, "{a} {b} -> {r} ill-formed");
                for x in members(a, 4) {
                    for y in members(b, 4) {
                        let z = concrete(x, y);
                        assert!(
                            r.contains_value(z),
                            "{a} op {b} = {r} misses {x} op {y} = {z}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn add_sub_mul_hold_every_result() {
        check_binary(Tnum::add, u64::wrapping_add);
        check_binary(Tnum::sub, u64::wrapping_sub);
        check_binary(Tnum::mul, u64::wrapping_mul);
    }

    #[test]
    fn bitwise_ops_are_exact_on_4_bits() {
        check_binary(Tnum::and, |x, y| x & y);
        check_binary(Tnum::or, |x, y| x | y);
        check_binary(Tnum::xor, |x, y| x ^ y);
        // Bitwise ops are exact: the result has no extra member.
        for a in all(3) {
            for b in all(3) {
                let want: Vec<u64> = {
                    let mut v: Vec<u64> = members(a, 3)
                        .into_iter()
                        .flat_map(|x| members(b, 3).into_iter().map(move |y| x & y))
                        .collect();
                    v.sort();
                    v.dedup();
                    v
                };
                let got = a.and(b);
                // and is exact only per bit; check it is the smallest tnum
                // holding the set: the union of the members' tnums.
                let hull = want
                    .iter()
                    .fold(Tnum::constant(want[0]), |t, &x| t.union(Tnum::constant(x)));
                assert_eq!(got, hull, "{a} & {b}");
            }
        }
    }

    #[test]
    fn add_of_constants_is_constant() {
        assert_eq!(
            Tnum::constant(40).add(Tnum::constant(2)),
            Tnum::constant(42)
        );
        assert_eq!(
            Tnum::constant(2).sub(Tnum::constant(3)),
            Tnum::constant(u64::MAX)
        );
        assert_eq!(Tnum::constant(6).mul(Tnum::constant(7)), Tnum::constant(42));
    }

    #[test]
    fn shifts_and_neg_hold_every_result() {
        for a in all(4) {
            let r = a.neg();
            for x in members(a, 4) {
                assert!(r.contains_value(x.wrapping_neg()));
            }
            for n in 0..8u8 {
                let (l, rr) = (a.lshift(n), a.rshift(n));
                let (s64, s32) = (a.arshift(n, 64), a.arshift(n, 32));
                for x in members(a, 4) {
                    assert!(l.contains_value(x << n));
                    assert!(rr.contains_value(x >> n));
                    assert!(s64.contains_value(((x as i64) >> n) as u64));
                    assert!(s32.contains_value(u64::from(((x as u32 as i32) >> n) as u32)));
                }
            }
        }
        // Sign bits propagate when known.
        let neg = Tnum::constant(0x8000_0000);
        assert_eq!(neg.arshift(4, 32), Tnum::constant(0xf800_0000));
        let unknown_sign = Tnum {
            value: 0,
            mask: 1 << 63,
        };
        assert_eq!(unknown_sign.arshift(2, 64).mask, 0xe000_0000_0000_0000);
    }

    #[test]
    fn range_is_the_smallest_tnum_holding_the_range() {
        for min in 0..32u64 {
            for max in min..32 {
                let t = Tnum::range(min, max);
                for x in min..=max {
                    assert!(t.contains_value(x));
                }
                // It is the join of the range's members: nothing smaller.
                let hull = (min..=max).fold(Tnum::constant(min), |t, x| t.union(Tnum::constant(x)));
                assert_eq!(t, hull, "[{min}, {max}]");
            }
        }
        assert_eq!(
            Tnum::range(0, 255),
            Tnum {
                value: 0,
                mask: 0xff
            }
        );
        assert_eq!(
            Tnum::range(16, 31),
            Tnum {
                value: 16,
                mask: 0xf
            }
        );
        assert_eq!(Tnum::range(0, u64::MAX), Tnum::UNKNOWN);
        assert_eq!(Tnum::range(7, 7), Tnum::constant(7));
    }

    #[test]
    fn intersect_and_contains_agree_with_members() {
        let ts = all(3);
        for &a in &ts {
            for &b in &ts {
                let in_both: Vec<u64> = members(a, 3)
                    .into_iter()
                    .filter(|&x| b.contains_value(x))
                    .collect();
                assert_eq!(a.conflicts(b), in_both.is_empty(), "{a} {b}");
                if !in_both.is_empty() {
                    assert_eq!(members(a.intersect(b), 3), in_both);
                }
                let sub = members(b, 3).iter().all(|&x| a.contains_value(x));
                assert_eq!(a.contains(b), sub, "{a} in {b}");
                let u = a.union(b);
                assert!(u.contains(a) && u.contains(b));
            }
        }
    }

    #[test]
    fn subregisters_and_casts() {
        let t = Tnum {
            value: 0x1234_0000_0000_0010,
            mask: 0x0000_ff00_0000_ff00,
        };
        assert_eq!(
            t.subreg(),
            Tnum {
                value: 0x10,
                mask: 0xff00
            }
        );
        assert_eq!(
            t.clear_subreg(),
            Tnum {
                value: 0x1234_0000_0000_0000,
                mask: 0x0000_ff00_0000_0000
            }
        );
        assert_eq!(
            t.with_const_subreg(7),
            Tnum {
                value: 0x1234_0000_0000_0007,
                mask: 0x0000_ff00_0000_0000
            }
        );
        assert_eq!(t.cast(1), Tnum::constant(0x10));
        assert_eq!(
            t.cast(2),
            Tnum {
                value: 0x10,
                mask: 0xff00
            }
        );
        assert_eq!(t.cast(8), t);
        assert_eq!(
            Tnum::constant(0x1122).swap_bytes(16),
            Tnum::constant(0x2211)
        );
    }

    #[test]
    fn alignment_and_display() {
        assert!(Tnum::constant(8).lshift(0).is_aligned(8));
        assert!(Tnum::UNKNOWN.lshift(2).is_aligned(4));
        assert!(!Tnum::UNKNOWN.lshift(2).is_aligned(8));
        assert!(Tnum::UNKNOWN.is_aligned(0));
        assert_eq!(Tnum::range(0, 255).to_string(), "(0x0; 0xff)");
        assert_eq!(Tnum::constant(16).to_string(), "(0x10; 0x0)");
        assert!(Tnum::UNKNOWN.is_unknown() && !Tnum::UNKNOWN.is_const());
        assert_eq!((Tnum::range(3, 9).min(), Tnum::range(3, 9).max()), (0, 15));
    }
}
