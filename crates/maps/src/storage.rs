//! Value memory: fixed-size value slots at addresses that never change while
//! the map lives.
//!
//! Programs keep pointers into maps (the result of `bpf_map_lookup_elem`, a
//! global variable's `map_value` address), so value memory is never moved:
//! it is allocated in chunks, each chunk once, and a chunk is freed only
//! when the map is dropped (which happens only after every program holding
//! the map is gone). Each slot is `round_up(value_size, 8)` bytes, 8-byte
//! aligned, zeroed when its chunk is allocated.
//!
//! Per-CPU maps have one plane per CPU (worker) in every chunk: slot `s` of
//! CPU `c` is at `chunk + c * plane_bytes + (s % slots_per_chunk) * stride`.
//! Planes start on their own 64-byte cache lines, so workers updating their
//! own counters do not share lines with each other, which is what per-CPU
//! maps are for.
//!
//! With the ring buffer's mapping (`ringbuf`), this is the only module of
//! the crate that touches raw memory.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment of a chunk and of each of its per-CPU planes: one cache line.
const PLANE_ALIGN: usize = 64;

/// One allocation of `slots_per_chunk` slots for every plane.
#[derive(Debug)]
struct Chunk {
    base: NonNull<u8>,
    layout: Layout,
}

// SAFETY: a chunk is plain bytes owned by its arena; which thread allocated
// or frees it does not matter, and concurrent access to its bytes goes
// through raw pointers whose users (programs, the control plane) accept the
// kernel's rule that values may be read while another CPU writes them.
unsafe impl Send for Chunk {}
// SAFETY: as for Send: `&Chunk` only hands out the base address.
unsafe impl Sync for Chunk {}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: `base` came from `alloc_zeroed` with exactly `layout` and
        // is freed once, here.
        unsafe { alloc::dealloc(self.base.as_ptr(), self.layout) }
    }
}

/// Memory could not be had for `bytes` more bytes of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfMemory {
    /// The size of the allocation that failed (or overflowed).
    pub(crate) bytes: u64,
}

/// Stable value slots, grown a chunk at a time.
#[derive(Debug)]
pub(crate) struct ValueArena {
    /// Bytes per slot: `round_up(value_size, 8)`.
    stride: usize,
    /// One plane per CPU for per-CPU maps, else 1.
    planes: usize,
    /// Slots in every chunk.
    slots_per_chunk: usize,
    /// Bytes of one plane of a chunk, a multiple of [`PLANE_ALIGN`].
    plane_bytes: usize,
    chunks: Vec<Chunk>,
}

impl ValueArena {
    /// An empty arena of `stride`-byte slots (`stride` a non-zero multiple
    /// of 8), `planes` copies of each, allocated `slots_per_chunk` at a time.
    pub(crate) fn new(
        stride: usize,
        planes: usize,
        slots_per_chunk: usize,
    ) -> Result<Self, OutOfMemory> {
        debug_assert!(stride > 0 && stride.is_multiple_of(8) && planes > 0 && slots_per_chunk > 0);
        let overflow = OutOfMemory { bytes: u64::MAX };
        let plane_bytes = stride
            .checked_mul(slots_per_chunk)
            .and_then(|b| b.checked_next_multiple_of(PLANE_ALIGN))
            .ok_or(overflow)?;
        // The whole chunk must be describable by a Layout (< isize::MAX).
        let chunk_bytes = plane_bytes.checked_mul(planes).ok_or(overflow)?;
        Layout::from_size_align(chunk_bytes, PLANE_ALIGN).map_err(|_| overflow)?;
        Ok(Self {
            stride,
            planes,
            slots_per_chunk,
            plane_bytes,
            chunks: Vec::new(),
        })
    }

    /// Bytes per slot.
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    /// Copies of each slot: the CPU count of a per-CPU map, else 1.
    pub(crate) fn planes(&self) -> usize {
        self.planes
    }

    /// Slots allocated so far.
    pub(crate) fn capacity(&self) -> usize {
        self.chunks.len() * self.slots_per_chunk
    }

    /// Allocates one more chunk of zeroed slots.
    pub(crate) fn grow(&mut self) -> Result<(), OutOfMemory> {
        let bytes = self.plane_bytes * self.planes;
        let oom = OutOfMemory {
            bytes: bytes as u64,
        };
        let layout = Layout::from_size_align(bytes, PLANE_ALIGN).map_err(|_| oom)?;
        self.chunks.try_reserve(1).map_err(|_| oom)?;
        // SAFETY: `layout` has a non-zero size (stride, planes and
        // slots_per_chunk are all non-zero).
        let base = unsafe { alloc::alloc_zeroed(layout) };
        let base = NonNull::new(base).ok_or(oom)?;
        self.chunks.push(Chunk { base, layout });
        Ok(())
    }

    /// The address of slot `slot`'s value for CPU `cpu`, or `None` when the
    /// slot or plane does not exist.
    pub(crate) fn slot_ptr(&self, slot: usize, cpu: usize) -> Option<*mut u8> {
        if cpu >= self.planes {
            return None;
        }
        let chunk = self.chunks.get(slot / self.slots_per_chunk)?;
        let offset = cpu * self.plane_bytes + (slot % self.slots_per_chunk) * self.stride;
        // SAFETY: `offset + stride <= plane_bytes * planes`, the chunk's
        // size, since `cpu < planes` and the slot index within the chunk is
        // below `slots_per_chunk`; the result stays inside the allocation.
        Some(unsafe { chunk.base.as_ptr().add(offset) })
    }

    /// Copies `src` (at most `stride` bytes) into the start of the slot.
    /// Returns false when the slot or plane does not exist.
    pub(crate) fn write(&self, slot: usize, cpu: usize, src: &[u8]) -> bool {
        let Some(dst) = self.slot_ptr(slot, cpu) else {
            return false;
        };
        let len = src.len().min(self.stride);
        // SAFETY: `dst` points at `stride >= len` bytes of the slot (see
        // `slot_ptr`); `src` is a distinct Rust slice, so they do not
        // overlap. A program may write the slot concurrently: as in the
        // kernel, such a race tears the value but stays within its bytes.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, len) };
        true
    }

    /// Copies the start of the slot into `dst` (at most `stride` bytes).
    /// Returns false when the slot or plane does not exist.
    pub(crate) fn read(&self, slot: usize, cpu: usize, dst: &mut [u8]) -> bool {
        let Some(src) = self.slot_ptr(slot, cpu) else {
            return false;
        };
        let len = dst.len().min(self.stride);
        // SAFETY: as in `write`, with the roles of the two sides swapped.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), len) };
        true
    }

    /// Zeroes the slot in every plane.
    pub(crate) fn zero(&self, slot: usize) {
        for cpu in 0..self.planes {
            if let Some(dst) = self.slot_ptr(slot, cpu) {
                // SAFETY: `dst` points at `stride` bytes of the slot.
                unsafe { std::ptr::write_bytes(dst, 0, self.stride) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_distinct_and_zeroed() {
        let mut a = ValueArena::new(16, 3, 4).unwrap();
        assert_eq!(a.capacity(), 0);
        assert_eq!(a.slot_ptr(0, 0), None);
        a.grow().unwrap();
        a.grow().unwrap();
        assert_eq!(a.capacity(), 8);
        let mut seen = std::collections::HashSet::new();
        for slot in 0..8 {
            for cpu in 0..3 {
                let p = a.slot_ptr(slot, cpu).unwrap();
                assert_eq!(p as usize % 8, 0);
                assert!(seen.insert(p as usize));
                let mut buf = [0xffu8; 16];
                assert!(a.read(slot, cpu, &mut buf));
                assert_eq!(buf, [0; 16]);
            }
        }
        assert_eq!(a.slot_ptr(8, 0), None);
        assert_eq!(a.slot_ptr(0, 3), None);
    }

    #[test]
    fn planes_start_on_separate_cache_lines() {
        let mut a = ValueArena::new(8, 2, 1).unwrap();
        a.grow().unwrap();
        let p0 = a.slot_ptr(0, 0).unwrap() as usize;
        let p1 = a.slot_ptr(0, 1).unwrap() as usize;
        assert_eq!(p0 % 64, 0);
        assert_eq!(p1 - p0, 64);
    }

    #[test]
    fn write_read_and_zero_round_trip() {
        let mut a = ValueArena::new(8, 2, 2).unwrap();
        a.grow().unwrap();
        assert!(a.write(1, 1, &[1, 2, 3]));
        let mut buf = [0u8; 8];
        a.read(1, 1, &mut buf);
        assert_eq!(buf, [1, 2, 3, 0, 0, 0, 0, 0]);
        a.read(1, 0, &mut buf);
        assert_eq!(buf, [0; 8]);
        a.zero(1);
        a.read(1, 1, &mut buf);
        assert_eq!(buf, [0; 8]);
    }

    #[test]
    fn absurd_sizes_are_refused_not_panicked() {
        assert!(ValueArena::new(8, usize::MAX / 4, 1 << 20).is_err());
        assert!(ValueArena::new(1 << 40, 1, 1 << 40).is_err());
    }
}
