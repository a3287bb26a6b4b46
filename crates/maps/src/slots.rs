//! Value slots that are reused only after a grace period.
//!
//! Maps whose elements come and go (hash maps, the LPM trie, devmap_hash,
//! hash of maps) keep values in a [`SlotPool`]: a `ValueArena` plus the
//! bookkeeping of which slots are free. A slot whose element was deleted or
//! replaced is *retired* with a grace-period cookie of the map's
//! [`Domain`]; it becomes free again only once [`Domain::poll`] says every
//! worker online at the retirement has passed a quiescent point. So a
//! value pointer a program got from a lookup keeps pointing at that
//! element's (old) value until the program's worker passes its next
//! quiescent point, as an RCU-freed element does in the kernel.
//!
//! Nothing here blocks or allocates per operation once the arena has grown
//! (retiring pushes onto a queue whose capacity is reused): deletes and
//! updates may come from programs on workers. When retired slots are not
//! yet reusable, fresh slots are handed out, up to a limit of about twice
//! the map's capacity; past it an update fails with `-ENOMEM`, as the
//! kernel's non-preallocated maps fail when memory cannot be had.

use std::collections::VecDeque;
use std::sync::Arc;

use rxdp_rcu::{Cookie, Domain};

use crate::storage::{OutOfMemory, ValueArena};

/// Bytes of values allocated at a time, per CPU.
const CHUNK_BYTES: usize = 64 << 10;
/// Slots handed out beyond twice the capacity before updates fail.
const SLACK: usize = 64;

/// Why no slot could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoSlot {
    /// The size of the allocation that failed, or of one element when the
    /// limit was reached.
    pub(crate) bytes: u64,
}

/// Stable value slots with deferred reuse.
#[derive(Debug)]
pub(crate) struct SlotPool {
    values: ValueArena,
    domain: Arc<Domain>,
    /// Slots handed out so far (free, live or retired).
    handed_out: usize,
    /// The most slots ever handed out.
    limit: usize,
    /// Slots ready for reuse, the longest retired first (so a value keeps
    /// its last contents as long as memory allows).
    free: VecDeque<u32>,
    /// Slots waiting for their grace period, oldest first.
    retired: VecDeque<(Cookie, u32)>,
}

impl SlotPool {
    /// A pool for a map of `capacity` live elements, each `stride` bytes
    /// (a non-zero multiple of 8) in each of `planes` per-CPU planes.
    pub(crate) fn new(
        stride: usize,
        planes: usize,
        capacity: u32,
        domain: &Arc<Domain>,
    ) -> Result<Self, OutOfMemory> {
        let limit = (capacity as usize)
            .saturating_mul(2)
            .saturating_add(SLACK)
            .min(u32::MAX as usize);
        let per_chunk = (CHUNK_BYTES / stride).clamp(1, limit);
        Ok(Self {
            values: ValueArena::new(stride, planes, per_chunk)?,
            domain: Arc::clone(domain),
            handed_out: 0,
            limit,
            free: VecDeque::new(),
            retired: VecDeque::new(),
        })
    }

    /// The value memory.
    pub(crate) fn values(&self) -> &ValueArena {
        &self.values
    }

    /// A slot for a new element: a free one, a retired one whose grace
    /// period has passed, or a fresh one. A fresh slot's number is the
    /// number of slots handed out before it, so maps may keep per-slot
    /// metadata in a `Vec` pushed in step. The value is not cleared.
    pub(crate) fn alloc(&mut self) -> Result<u32, NoSlot> {
        if let Some(slot) = self.free.pop_front() {
            return Ok(slot);
        }
        self.reclaim();
        if let Some(slot) = self.free.pop_front() {
            return Ok(slot);
        }
        let one = (self.values.stride() * self.values.planes()) as u64;
        if self.handed_out >= self.limit {
            return Err(NoSlot { bytes: one });
        }
        if self.handed_out == self.values.capacity() {
            self.values.grow().map_err(|e| NoSlot { bytes: e.bytes })?;
        }
        let slot = self.handed_out as u32;
        self.handed_out += 1;
        Ok(slot)
    }

    /// Moves retired slots whose grace period has passed to the free list.
    fn reclaim(&mut self) {
        while let Some(&(cookie, slot)) = self.retired.front() {
            if !self.domain.poll(cookie) {
                break;
            }
            self.retired.pop_front();
            self.free.push_back(slot);
        }
    }

    /// Retires `slot`, whose element was just unlinked: it is reused after
    /// a grace period.
    pub(crate) fn retire(&mut self, slot: u32) {
        let cookie = self.domain.start_poll();
        self.retired.push_back((cookie, slot));
    }

    /// Slots waiting for a grace period.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.retired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_slots_wait_for_every_online_worker() {
        let domain = Domain::new();
        let mut pool = SlotPool::new(8, 1, 4, &domain).unwrap();
        let a = pool.alloc().unwrap();
        assert_eq!(a, 0);
        let worker = domain.register();
        pool.retire(a);
        // The worker may still hold a pointer to slot 0: a fresh slot.
        assert_eq!(pool.alloc().unwrap(), 1);
        assert_eq!(pool.waiting(), 1);
        worker.quiescent();
        assert_eq!(pool.alloc().unwrap(), a);
        assert_eq!(pool.waiting(), 0);
    }

    #[test]
    fn the_limit_bounds_slots_waiting_for_a_stuck_worker() {
        let domain = Domain::new();
        let _worker = domain.register();
        let mut pool = SlotPool::new(8, 1, 1, &domain).unwrap();
        let mut n = 0;
        while let Ok(slot) = pool.alloc() {
            pool.retire(slot);
            n += 1;
            assert!(n <= 2 + SLACK, "no limit");
        }
        assert_eq!(n, 2 + SLACK);
    }
}
