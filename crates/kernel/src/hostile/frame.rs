//! Frames to run hostile programs on: random lengths (often the lengths
//! at which the program's checks flip), random bytes, and half the time
//! a valid Ethernet/IPv4/UDP header at the front.

use crate::progen::rng::Rng;

/// The shortest frame XDP test runs accept (an Ethernet header).
pub const MIN_FRAME: usize = 14;
/// The longest frame drawn.
pub const MAX_FRAME: usize = 1500;

/// Frame number `n` for the program of `seed`; `lengths` are the
/// program's [`super::Hostile::lengths`], favoured a third of the time.
pub fn frame(seed: u64, n: u64, lengths: &[usize]) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0xd605_bbb5_8c8a_bd55) ^ 0x5eed_f4a3e);
    let len = match rng.below(3) {
        0 if !lengths.is_empty() => rng.pick(lengths),
        0 | 1 => rng.range(MIN_FRAME as i64, 128) as usize,
        _ => rng.range(MIN_FRAME as i64, MAX_FRAME as i64) as usize,
    };
    let mut f: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    if rng.chance(1, 2) {
        udp4_header(&mut f);
    }
    f
}

/// `count` frames for the program of `seed` (frame 0 is
/// [`super::Hostile::packet`]).
pub fn frames(seed: u64, count: usize, lengths: &[usize]) -> Vec<Vec<u8>> {
    (0..count as u64).map(|n| frame(seed, n, lengths)).collect()
}

/// Writes Ethernet (IPv4 ethertype), IPv4 (20 bytes, checksum right,
/// protocol UDP) and UDP headers over the front of `f`, as much as fits;
/// lengths in the headers say what follows.
fn udp4_header(f: &mut [u8]) {
    let total = f.len().saturating_sub(14).min(0xffff) as u16;
    let udp_len = total.saturating_sub(20);
    let mut h = [0u8; 42];
    h[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    h[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    h[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut h[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let sum = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    h[34..36].copy_from_slice(&1234u16.to_be_bytes());
    h[36..38].copy_from_slice(&53u16.to_be_bytes());
    h[38..40].copy_from_slice(&udp_len.to_be_bytes());
    let n = f.len().min(h.len());
    f[..n].copy_from_slice(&h[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_stay_in_range_and_headers_hold() {
        let mut with_header = 0;
        for n in 0..400 {
            let f = frame(9, n, &[14, 15, 90]);
            assert!((MIN_FRAME..=MAX_FRAME).contains(&f.len()));
            if f.len() >= 34 && f[12..14] == [8, 0] && f[14] == 0x45 && f[23] == 17 {
                with_header += 1;
                // An IPv4 header sums to 0xffff with its checksum.
                let s: u32 = f[14..34]
                    .chunks(2)
                    .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                    .sum();
                assert_eq!((s & 0xffff) + (s >> 16), 0xffff);
            }
        }
        assert!(with_header > 100, "{with_header}");
        assert_eq!(frame(1, 2, &[]), frame(1, 2, &[]));
    }
}
