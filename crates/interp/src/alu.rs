//! The arithmetic of eBPF, as small pure functions the execution loop
//! inlines: the places where RFC 9669 and Linux pin down what C leaves
//! undefined.
//!
//! - Division by zero gives 0; modulo by zero leaves the dividend (for the
//!   32-bit forms the dividend's low half, zero-extended, as Linux does).
//! - Signed `INT_MIN / -1` is `INT_MIN` and `INT_MIN s% -1` is 0; signed
//!   division truncates toward zero, the remainder takes the dividend's
//!   sign.
//! - Shift counts are masked to 31 or 63 (what Linux's interpreter and JITs
//!   do).
//! - Every 32-bit result is zero-extended into the 64-bit register.

/// Unsigned 64-bit division.
#[inline(always)]
pub(crate) fn div64(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(0)
}

/// Unsigned 32-bit division, zero-extended.
#[inline(always)]
pub(crate) fn div32(a: u64, b: u64) -> u64 {
    u64::from((a as u32).checked_div(b as u32).unwrap_or(0))
}

/// Signed 64-bit division.
#[inline(always)]
pub(crate) fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

/// Signed 32-bit division, zero-extended.
#[inline(always)]
pub(crate) fn sdiv32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        0
    } else {
        u64::from((a as i32).wrapping_div(b as i32) as u32)
    }
}

/// Unsigned 64-bit modulo.
#[inline(always)]
pub(crate) fn mod64(a: u64, b: u64) -> u64 {
    a.checked_rem(b).unwrap_or(a)
}

/// Unsigned 32-bit modulo, zero-extended.
#[inline(always)]
pub(crate) fn mod32(a: u64, b: u64) -> u64 {
    u64::from((a as u32).checked_rem(b as u32).unwrap_or(a as u32))
}

/// Signed 64-bit modulo.
#[inline(always)]
pub(crate) fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

/// Signed 32-bit modulo, zero-extended.
#[inline(always)]
pub(crate) fn smod32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        u64::from(a as u32)
    } else {
        u64::from((a as i32).wrapping_rem(b as i32) as u32)
    }
}

/// 64-bit left shift, count masked to 63.
#[inline(always)]
pub(crate) fn lsh64(a: u64, b: u64) -> u64 {
    a.wrapping_shl(b as u32)
}

/// 32-bit left shift, count masked to 31, zero-extended.
#[inline(always)]
pub(crate) fn lsh32(a: u64, b: u64) -> u64 {
    u64::from((a as u32).wrapping_shl(b as u32))
}

/// 64-bit logical right shift.
#[inline(always)]
pub(crate) fn rsh64(a: u64, b: u64) -> u64 {
    a.wrapping_shr(b as u32)
}

/// 32-bit logical right shift, zero-extended.
#[inline(always)]
pub(crate) fn rsh32(a: u64, b: u64) -> u64 {
    u64::from((a as u32).wrapping_shr(b as u32))
}

/// 64-bit arithmetic right shift.
#[inline(always)]
pub(crate) fn arsh64(a: u64, b: u64) -> u64 {
    (a as i64).wrapping_shr(b as u32) as u64
}

/// 32-bit arithmetic right shift of the low half, zero-extended.
#[inline(always)]
pub(crate) fn arsh32(a: u64, b: u64) -> u64 {
    u64::from((a as i32).wrapping_shr(b as u32) as u32)
}

/// Zero-extends the low 32 bits.
#[inline(always)]
pub(crate) fn zext32(a: u64) -> u64 {
    u64::from(a as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN64: u64 = i64::MIN as u64;
    const MIN32: u64 = 0x8000_0000;
    const NEG1: u64 = u64::MAX;

    #[test]
    fn division_by_zero_is_zero() {
        assert_eq!(div64(7, 0), 0);
        assert_eq!(div32(7, 0x1_0000_0000), 0, "only the low half divides");
        assert_eq!(sdiv64(7, 0), 0);
        assert_eq!(sdiv32(7, 0), 0);
    }

    #[test]
    fn modulo_by_zero_keeps_the_dividend() {
        assert_eq!(mod64(0xdead_beef_0000_0007, 0), 0xdead_beef_0000_0007);
        assert_eq!(mod32(0xdead_beef_0000_0007, 0), 7);
        assert_eq!(smod64(NEG1, 0), NEG1);
        assert_eq!(smod32(NEG1, 0), 0xffff_ffff);
    }

    #[test]
    fn signed_overflow_does_not_trap() {
        assert_eq!(sdiv64(MIN64, NEG1), MIN64);
        assert_eq!(smod64(MIN64, NEG1), 0);
        assert_eq!(sdiv32(MIN32, NEG1), MIN32);
        assert_eq!(smod32(MIN32, NEG1), 0);
    }

    #[test]
    fn signed_division_truncates_toward_zero() {
        assert_eq!(sdiv64(-7i64 as u64, 2), -3i64 as u64);
        assert_eq!(smod64(-7i64 as u64, 2), -1i64 as u64);
        assert_eq!(smod64(7, -2i64 as u64), 1);
        assert_eq!(sdiv32(-7i64 as u64, 2), 0xffff_fffd);
        assert_eq!(smod32(-7i64 as u64, 2), 0xffff_ffff);
    }

    #[test]
    fn shifts_mask_their_count() {
        assert_eq!(lsh64(1, 65), 2);
        assert_eq!(lsh32(1, 33), 2);
        assert_eq!(rsh64(4, 66), 1);
        assert_eq!(rsh32(0xffff_ffff_0000_0004, 34), 1);
        assert_eq!(arsh64(MIN64, 63), NEG1);
        assert_eq!(arsh32(0x0000_0000_8000_0000, 31), 0xffff_ffff);
        assert_eq!(
            arsh32(0xffff_ffff_0000_0000, 4),
            0,
            "only the low half shifts"
        );
    }
}
