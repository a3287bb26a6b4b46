//! Sample packets: what `rxdp test-run` runs on when given no packet, and
//! what tests and benchmarks share.

/// Builds an Ethernet/IPv4/UDP frame of exactly `len` bytes (at least 42)
/// from 10.0.0.1:1234 to 10.0.0.2:5678, with a correct IPv4 header
/// checksum and a zero (absent) UDP checksum; the payload counts up from 0.
pub fn udp4(len: usize) -> Vec<u8> {
    assert!(len >= 42, "an Ethernet/IPv4/UDP frame needs 42 bytes");
    let mut p = Vec::with_capacity(len);
    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // destination MAC
    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC
    p.extend_from_slice(&0x0800u16.to_be_bytes()); // EtherType IPv4
    let ip_len = (len - 14) as u16;
    let mut ip = [
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    let csum = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    p.extend_from_slice(&ip);
    p.extend_from_slice(&1234u16.to_be_bytes());
    p.extend_from_slice(&5678u16.to_be_bytes());
    p.extend_from_slice(&(ip_len - 20).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    let mut b = 0u8;
    while p.len() < len {
        p.push(b);
        b = b.wrapping_add(1);
    }
    p
}

/// The Internet checksum (RFC 1071) of an IPv4 header whose checksum
/// field is zero.
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp4_is_well_formed() {
        let p = udp4(64);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[12..14], &[0x08, 0x00]);
        assert_eq!(u16::from_be_bytes([p[16], p[17]]), 50);
        // A header with its checksum in place sums to 0xffff.
        assert_eq!(ipv4_checksum(&p[14..34]), 0);
        assert_eq!(p[23], 17);
        assert_eq!(u16::from_be_bytes([p[36], p[37]]), 5678);
        assert_eq!(u16::from_be_bytes([p[38], p[39]]), 30);
    }
}
