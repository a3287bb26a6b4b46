//! `bpf_csum_diff` (net/core/filter.c): the one's-complement checksum
//! difference between two buffers, for incremental checksum updates.
//!
//! Since Linux 6.13 the helper returns its result folded to 16 bits (not
//! complemented) on every architecture, and accepts any sizes. The sum
//! underneath is the x86-64 `csum_partial` (arch/x86/lib/csum-partial_64.c):
//! little-endian 64-bit words added with end-around carry, in the same
//! grouping, so that even the corner cases (which of the two zeros of
//! one's complement comes out) match the kernel's.

use super::Ctx;
use super::XdpEnv;
use rxdp_interp::HelperError;
use rxdp_isa::helper_id as hid;

/// `s64 bpf_csum_diff(__be32 *from, u32 from_size, __be32 *to, u32
/// to_size, __wsum seed)` (28):
///
/// - `to` only: `csum_partial(to, seed)` (pushing data);
/// - `from` only: `~csum_partial(from, ~seed)` (pulling data);
/// - both: `csum_partial(to, seed) - csum_partial(from, 0)` (diffing);
/// - neither: `seed`;
///
/// then folded to 16 bits.
pub fn csum_diff(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::CSUM_DIFF as u32;
    let from = env.read_arg(id, "from", a[0], a[1] as u32 as usize)?;
    let to = env.read_arg(id, "to", a[2], a[3] as u32 as usize)?;
    Ok(u64::from(diff(from, to, a[4] as u32)))
}

/// The helper's arithmetic, on buffers already read.
pub fn diff(from: &[u8], to: &[u8], seed: u32) -> u16 {
    let sum = match (from.is_empty(), to.is_empty()) {
        (false, false) => csum_sub(csum_partial(to, seed), csum_partial(from, 0)),
        (true, false) => csum_partial(to, seed),
        (false, true) => !csum_partial(from, !seed),
        (true, true) => seed,
    };
    from32to16(sum)
}

/// `csum_add`: 32-bit addition with end-around carry.
pub fn csum_add(a: u32, b: u32) -> u32 {
    let (s, c) = a.overflowing_add(b);
    s + u32::from(c)
}

/// `csum_sub`: `a + ~b`.
pub fn csum_sub(a: u32, b: u32) -> u32 {
    csum_add(a, !b)
}

/// `csum_from32to16`: folds a 32-bit sum into 16 bits with end-around
/// carry.
pub fn from32to16(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    ((s & 0xffff) + (s >> 16)) as u16
}

/// Adds little-endian 64-bit words to `acc` as one `add; adc; ...; adc $0`
/// chain: the carry out of the final `adc $0` is lost, as on the CPU.
fn adc_chain(acc: u64, words: &[u8]) -> u64 {
    let mut acc = acc;
    let mut carry = false;
    for w in words.chunks_exact(8) {
        let w = u64::from_le_bytes(w.try_into().unwrap_or_default());
        let (s1, c1) = acc.overflowing_add(w);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        acc = s2;
        carry = c1 || c2;
    }
    acc.wrapping_add(u64::from(carry))
}

/// `csum_finalize_sum`: folds 64 bits into 32 with end-around carry.
fn finalize(t: u64) -> u32 {
    (t.wrapping_add(t.rotate_right(32)) >> 32) as u32
}

/// x86-64 `csum_partial(buf, len, sum)`: the unfolded 32-bit sum.
pub fn csum_partial(buf: &[u8], seed: u32) -> u32 {
    let mut t = u64::from(seed);
    let mut b = buf;
    if b.len() >= 80 {
        let mut t2 = 0;
        while b.len() >= 80 {
            t = adc_chain(t, &b[..40]);
            t2 = adc_chain(t2, &b[40..80]);
            b = &b[80..];
        }
        t = adc_chain(t, &t2.to_le_bytes());
    }
    if b.len() >= 40 {
        t = adc_chain(t, &b[..40]);
        b = &b[40..];
        if b.is_empty() {
            return finalize(t);
        }
    }
    for chunk in [32, 16, 8] {
        if b.len() & chunk != 0 {
            t = adc_chain(t, &b[..chunk]);
            b = &b[chunk..];
        }
    }
    if !b.is_empty() {
        let mut trail = [0u8; 8];
        trail[..b.len()].copy_from_slice(b);
        t = adc_chain(t, &trail);
    }
    finalize(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one's-complement sum of 16-bit little-endian words, the
    /// textbook way (RFC 1071), folded to 16 bits.
    fn rfc1071(buf: &[u8], seed: u32) -> u16 {
        let mut s = u64::from(seed);
        for c in buf.chunks(2) {
            s += u64::from(u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn csum_partial_agrees_with_rfc1071_modulo_0xffff() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in 0..300 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let seed = x as u32;
            let ours = u32::from(from32to16(csum_partial(&buf, seed))) % 0xffff;
            assert_eq!(ours, u32::from(rfc1071(&buf, seed)) % 0xffff, "len {len}");
        }
    }

    #[test]
    fn the_selftest_vectors() {
        // tools/testing/selftests/bpf/prog_tests/test_csum_diff.c, push:
        // 0xdeadbeefdeadbeef with seed 0 gives 0x3b3b.
        let to = 0xdeadbeefdeadbeefu64.to_le_bytes();
        assert_eq!(diff(&[], &to, 0), 0x3b3b);
        // The same words pulled back out of that checksum leave a zero
        // (one of its two representations).
        assert_eq!(diff(&to, &[], 0x3b3b) % 0xffff, 0);
    }

    #[test]
    fn measured_kernel_results() {
        // Linux 6.18, BPF_PROG_TEST_RUN (see crates/rxdp/tests/helpers_kernel.rs).
        let to = [4u8, 3, 2, 1, 0xff, 0xff, 0xff, 0xff];
        let from = [4u8, 3, 2, 1, 4, 3, 2, 1];
        assert_eq!(diff(&[], &to[..6], 0), 1030);
        assert_eq!(diff(&[], &to[..3], 0), 774);
        assert_eq!(diff(&from, &to, 0), 64505);
        assert_eq!(diff(&from, &[], 0x1234_5678), 24736);
        assert_eq!(diff(&from[..4], &to, 0xffff_ffff), 0xffff);
        assert_eq!(diff(&[], &[], 0x5678_9abc), 61748);
    }
}
