//! `BPF_MAP_TYPE_BLOOM_FILTER`: set membership with false positives but no
//! false negatives, after the kernel's kernel/bpf/bloom_filter.c.
//!
//! `bpf_map_push_elem` adds a value (flags must be `BPF_ANY`),
//! `bpf_map_peek_elem` tests one: `-ENOENT` means surely absent, 0 maybe
//! present. The control plane's update pushes. Kernel rules kept: key_size
//! 0, value_size > 0, `max_entries` > 0, only `BPF_F_NUMA_NODE`,
//! `BPF_F_ZERO_SEED` and the access flags, and `map_extra` with nothing but
//! its low 4 bits, the number of hash functions (0 means 5) (`-EINVAL`).
//!
//! The bit array is sized as the kernel sizes it (`max_entries * hashes /
//! ln 2` bits, at least 64, rounded up to a power of 2) and the hash is the
//! kernel's, Bob Jenkins' lookup3 `jhash` seeded with `seed + i` for the
//! `i`-th function, so with `BPF_F_ZERO_SEED` the same values set the same
//! bits as in the kernel. Bits are set with atomic ORs: no lock.

use std::any::Any;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{BPF_ANY, BPF_F_ACCESS_MASK, BPF_F_NUMA_NODE, BPF_F_ZERO_SEED};
use crate::map::Map;
use crate::map_type;

/// The number of hash functions when `map_extra` gives none.
const DEFAULT_HASHES: u32 = 5;

/// A bloom filter.
#[derive(Debug)]
pub struct BloomFilter {
    def: MapDef,
    hashes: u32,
    seed: u32,
    mask: u32,
    bits: Box<[AtomicU64]>,
}

impl BloomFilter {
    /// Creates a bloom filter; `map_extra` is `BPF_MAP_CREATE`'s field of
    /// that name.
    pub fn new(def: &MapDef, map_extra: u64) -> Result<Self, MapError> {
        if def.map_type != map_type::BLOOM_FILTER {
            return Err(def.invalid("not a bloom filter"));
        }
        if def.key_size != 0 || def.value_size == 0 || def.max_entries == 0 {
            return Err(def.invalid(format!(
                "bloom filter needs key_size 0, value_size > 0, max_entries > 0 (got {}, {}, {})",
                def.key_size, def.value_size, def.max_entries
            )));
        }
        def.check_flags(BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_ACCESS_MASK)?;
        if map_extra & !0xf != 0 {
            return Err(def.invalid(format!(
                "map_extra {map_extra:#x}: only the low 4 bits (hash count) are allowed"
            )));
        }
        let hashes = match map_extra as u32 {
            0 => DEFAULT_HASHES,
            n => n,
        };
        let mask = bit_mask(def.max_entries, hashes);
        let words = (u64::from(mask) + 1).div_ceil(64) as usize;
        let seed = match def.flags & BPF_F_ZERO_SEED {
            0 => random_seed(),
            _ => 0,
        };
        Ok(Self {
            def: def.clone(),
            hashes,
            seed,
            mask,
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// The number of hash functions.
    pub fn hashes(&self) -> u32 {
        self.hashes
    }

    /// The number of bits in the array.
    pub fn nr_bits(&self) -> u64 {
        u64::from(self.mask) + 1
    }

    /// The bit the `i`-th hash function picks for `value`.
    fn bit(&self, value: &[u8], i: u32) -> u32 {
        jhash(value, self.seed.wrapping_add(i)) & self.mask
    }
}

/// The kernel's bit array size: `max_entries * hashes * 10 / 7` bits
/// (1 / ln 2 ~ 1.44), at least 64, rounded up to a power of 2, at most
/// 2^32; returned as a mask.
fn bit_mask(max_entries: u32, hashes: u32) -> u32 {
    let nr_bits = (u64::from(max_entries) * u64::from(hashes) * 10).div_ceil(7);
    if nr_bits > 1 << 31 {
        return u32::MAX;
    }
    let nr_bits = nr_bits.max(64).next_power_of_two();
    (nr_bits - 1) as u32
}

/// A random hash seed, as the kernel's `get_random_u32`.
fn random_seed() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish() as u32
}

/// lookup3's final mix of three words.
fn final_mix(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// lookup3's mix of three words.
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// Bob Jenkins' lookup3 hash of `key` as the kernel's `jhash`
/// (include/linux/jhash.h) computes it on a little-endian machine: 12
/// bytes at a time, the last 1 to 12 bytes zero-padded into the final mix;
/// an empty key hashes to the initial value.
pub fn jhash(key: &[u8], initval: u32) -> u32 {
    const JHASH_INITVAL: u32 = 0xdead_beef;
    let init = JHASH_INITVAL
        .wrapping_add(key.len() as u32)
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let word = |bytes: &[u8]| {
        let mut w = [0u8; 4];
        w[..bytes.len()].copy_from_slice(bytes);
        u32::from_le_bytes(w)
    };
    let mut rest = key;
    while rest.len() > 12 {
        a = a.wrapping_add(word(&rest[..4]));
        b = b.wrapping_add(word(&rest[4..8]));
        c = c.wrapping_add(word(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    if rest.is_empty() {
        return c;
    }
    let part = |from: usize| word(rest.get(from..(from + 4).min(rest.len())).unwrap_or(&[]));
    a = a.wrapping_add(part(0));
    b = b.wrapping_add(part(4));
    c = c.wrapping_add(part(8));
    final_mix(a, b, c)
}

impl Map for BloomFilter {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, _key: &[u8], _cpu: u32) -> Option<*mut u8> {
        None
    }

    fn update_percpu(&self, _: &[u8], _: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        Err(MapError::Invalid("bloom filters have no keys: use push"))
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::OpNotSupported)
    }

    fn get_next_key(&self, _key: Option<&[u8]>, _next: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::OpNotSupported)
    }

    fn lookup_copy(&self, _key: &[u8]) -> Result<Vec<u8>, MapError> {
        // bpf(2) peeks with the value as input: use `peek`.
        Err(self
            .def
            .invalid("bloom filters are tested with peek(value)"))
    }

    fn update_copy(&self, _key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        self.push(value, flags)
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags != BPF_ANY {
            return Err(MapError::BadFlags { flags });
        }
        MapDef::check_value(value, self.def.value_size as usize)?;
        for i in 0..self.hashes {
            let bit = self.bit(value, i);
            self.bits[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
        Ok(())
    }

    fn peek(&self, value: &mut [u8]) -> Result<(), MapError> {
        MapDef::check_value(value, self.def.value_size as usize)?;
        for i in 0..self.hashes {
            let bit = self.bit(value, i);
            let word = self.bits[(bit / 64) as usize].load(Ordering::Relaxed);
            if word & (1 << (bit % 64)) == 0 {
                return Err(MapError::NoEntry);
            }
        }
        Ok(())
    }

    fn pop(&self, _out: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::OpNotSupported)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jhash_matches_lookup3_reference_values() {
        // From Bob Jenkins' lookup3.c driver: hashlittle("", 0) is
        // 0xdeadbeef, and "Four score and seven years ago" hashes to
        // 0x17770551 with initval 0 and 0xcd628161 with initval 1.
        assert_eq!(jhash(b"", 0), 0xdead_beef);
        let s = b"Four score and seven years ago";
        assert_eq!(jhash(s, 0), 0x1777_0551);
        assert_eq!(jhash(s, 1), 0xcd62_8161);
    }

    #[test]
    fn bit_array_sizes_follow_the_kernel() {
        assert_eq!(bit_mask(1, 5), 63);
        assert_eq!(bit_mask(100, 5), 1023); // 715 bits -> 1024
        assert_eq!(bit_mask(u32::MAX, 15), u32::MAX);
    }
}
