//! `struct bpf_spin_lock`: the 4-byte lock word a map value may hold, and
//! the copies `BPF_F_LOCK` makes under it (kernel/bpf/helpers.c
//! `bpf_spin_lock`, `copy_map_value_locked`).
//!
//! One protocol serves programs (the `bpf_spin_lock` and
//! `bpf_spin_unlock` helpers) and the control plane (updates and lookups
//! with `BPF_F_LOCK`), so they exclude each other: the word is 0 when
//! free and 1 when held, taken by spinning on a compare-and-swap with
//! acquire ordering and released by a store with release ordering.
//!
//! The kernel treats the lock as a special field of the value: plain
//! copies in and out of the map skip it (`copy_map_value`), and a
//! control-plane lookup returns it as zero (`check_and_init_map_value`).
//! [`SpinLockField`] describes where it is and does those copies.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::def::MapDef;
use crate::error::MapError;
use crate::map_type;

/// `sizeof(struct bpf_spin_lock)`, which is also its alignment.
pub const BPF_SPIN_LOCK_SIZE: u32 = 4;

/// Takes the lock word, spinning until it is free.
pub fn lock(word: &AtomicU32) {
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
}

/// Releases the lock word.
pub fn unlock(word: &AtomicU32) {
    word.store(0, Ordering::Release);
}

/// Where a map value's `bpf_spin_lock` lies (the kernel's
/// `btf_record.spin_lock_off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpinLockField {
    off: u32,
}

impl SpinLockField {
    /// The lock at byte `off` of `def`'s values, checked as the kernel's
    /// `map_check_btf` does: only plain arrays and hash maps may hold one
    /// (`-EOPNOTSUPP`), and the lock must lie inside the value, aligned
    /// (`-EINVAL`; the kernel never finds a misaligned one in BTF).
    pub(crate) fn new(def: &MapDef, off: u32) -> Result<Self, MapError> {
        if !matches!(def.map_type, map_type::ARRAY | map_type::HASH) {
            return Err(MapError::SpinLockNotAllowed {
                name: def.name.clone(),
                map_type: def.map_type,
            });
        }
        if !off.is_multiple_of(BPF_SPIN_LOCK_SIZE)
            || off
                .checked_add(BPF_SPIN_LOCK_SIZE)
                .is_none_or(|end| end > def.value_size)
        {
            return Err(def.invalid(format!(
                "bpf_spin_lock at offset {off} is not a 4-byte aligned word of the {}-byte value",
                def.value_size
            )));
        }
        Ok(Self { off })
    }

    /// The lock's offset in the value.
    pub(crate) fn off(self) -> u32 {
        self.off
    }

    /// The bytes of the value the lock occupies.
    pub(crate) fn range(self) -> Range<usize> {
        self.off as usize..(self.off + BPF_SPIN_LOCK_SIZE) as usize
    }

    /// The lock word of the value at `value`.
    ///
    /// # Safety
    ///
    /// `value` must point at a live map value of the map this field
    /// belongs to (at least `off + 4` bytes, 8-byte aligned), valid for
    /// as long as the returned reference is used.
    pub(crate) unsafe fn word<'a>(self, value: *mut u8) -> &'a AtomicU32 {
        // SAFETY: the caller guarantees `value` points at a whole value;
        // `off + 4 <= value_size` (checked in `new`) and `off` is a
        // multiple of 4 from an 8-byte aligned value, so the word is in
        // bounds and aligned. Programs and the control plane touch it
        // only atomically (this module, the spin lock helpers).
        unsafe { AtomicU32::from_ptr(value.add(self.off as usize).cast()) }
    }

    /// `copy_map_value` into the map: copies `src` into the value at
    /// `dst`, all but the lock word.
    ///
    /// # Safety
    ///
    /// As for [`SpinLockField::word`]; `src` is at most the value's size.
    pub(crate) unsafe fn copy_in(self, dst: *mut u8, src: &[u8]) {
        let hole = self.range();
        for part in [
            0..hole.start.min(src.len()),
            hole.end.min(src.len())..src.len(),
        ] {
            // SAFETY: `part` lies within `src`, and within the value at
            // `dst`, which is at least as long as `src`; a Rust slice and
            // map memory do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    src.as_ptr().add(part.start),
                    dst.add(part.start),
                    part.len(),
                )
            };
        }
    }

    /// `copy_map_value_locked` into the map (`BPF_F_LOCK` updates): the
    /// value's own lock is held while all but the lock word is copied.
    ///
    /// # Safety
    ///
    /// As for [`SpinLockField::copy_in`].
    pub(crate) unsafe fn copy_in_locked(self, dst: *mut u8, src: &[u8]) {
        // SAFETY: forwarded from the caller.
        let word = unsafe { self.word(dst) };
        lock(word);
        // SAFETY: forwarded from the caller.
        unsafe { self.copy_in(dst, src) };
        unlock(word);
    }

    /// A control-plane copy of the value at `src` into `dst`, under the
    /// value's lock when `locked` (`BPF_F_LOCK` lookups), with the lock
    /// word reading as zero either way.
    ///
    /// # Safety
    ///
    /// As for [`SpinLockField::word`]; `dst` is at most the value's size.
    pub(crate) unsafe fn copy_out(self, src: *mut u8, dst: &mut [u8], locked: bool) {
        // SAFETY: forwarded from the caller.
        let word = unsafe { self.word(src) };
        if locked {
            lock(word);
        }
        // SAFETY: `src` holds at least `dst.len()` bytes (the caller's
        // contract); map memory and a Rust slice do not overlap. Bytes a
        // program writes meanwhile without the lock may tear, as in the
        // kernel.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
        if locked {
            unlock(word);
        }
        let hole = self.range();
        if let Some(bytes) = dst.get_mut(hole) {
            bytes.fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn def(map_type: u32, value_size: u32) -> MapDef {
        MapDef {
            map_type,
            key_size: 4,
            value_size,
            max_entries: 1,
            flags: 0,
            name: "v".into(),
        }
    }

    #[test]
    fn only_plain_arrays_and_hashes_hold_locks() {
        assert!(SpinLockField::new(&def(map_type::ARRAY, 8), 0).is_ok());
        assert!(SpinLockField::new(&def(map_type::HASH, 8), 4).is_ok());
        for t in [
            map_type::PERCPU_ARRAY,
            map_type::PERCPU_HASH,
            map_type::LRU_HASH,
        ] {
            let e = SpinLockField::new(&def(t, 8), 0).unwrap_err();
            assert_eq!(e.errno(), -95, "{t}: {e}");
        }
        let e = SpinLockField::new(&def(map_type::ARRAY, 8), 6).unwrap_err();
        assert!(e.to_string().contains("offset 6"), "{e}");
        assert!(SpinLockField::new(&def(map_type::ARRAY, 8), 8).is_err());
        assert!(SpinLockField::new(&def(map_type::ARRAY, 8), u32::MAX - 3).is_err());
    }

    #[test]
    fn copies_skip_the_lock_word_and_lookups_zero_it() {
        let field = SpinLockField::new(&def(map_type::ARRAY, 12), 4).unwrap();
        let mut value = [0u64; 2];
        let p = value.as_mut_ptr().cast::<u8>();
        // SAFETY: `value` is 16 bytes, 8-aligned, and outlives the calls.
        unsafe {
            field.word(p).store(1, Ordering::Relaxed);
            field.copy_in(p, &[9; 12]);
        }
        let bytes: Vec<u8> = value.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(&bytes[..12], &[9, 9, 9, 9, 1, 0, 0, 0, 9, 9, 9, 9]);
        // SAFETY: as above.
        unsafe { field.word(p).store(0, Ordering::Relaxed) };
        let mut out = [0xffu8; 12];
        // SAFETY: as above.
        unsafe { field.copy_out(p, &mut out, true) };
        assert_eq!(out, [9, 9, 9, 9, 0, 0, 0, 0, 9, 9, 9, 9]);
    }

    #[test]
    fn the_lock_excludes_other_threads() {
        let word = Arc::new(AtomicU32::new(0));
        let counter = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (word, counter) = (Arc::clone(&word), Arc::clone(&counter));
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        lock(&word);
                        // A non-atomic read-modify-write, made safe by the lock.
                        let v = counter.load(Ordering::Relaxed);
                        counter.store(v + 1, Ordering::Relaxed);
                        unlock(&word);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 4000);
        assert_eq!(word.load(Ordering::Relaxed), 0);
    }
}
