//! `BPF_MAP_TYPE_RINGBUF`: a multi-producer, single-consumer ring of
//! variable-length records, after the kernel's kernel/bpf/ringbuf.c.
//!
//! Layout, as the kernel's: three pages of positions, then the data area
//! of `max_entries` bytes (a power-of-2 multiple of the page size) mapped
//! twice in a row, so a record that wraps past the end is still contiguous
//! in memory. Page 0 points back at the [`Ring`] (the kernel keeps its
//! `struct bpf_ringbuf` there), page 1 holds `consumer_pos`, page 2
//! `producer_pos` and `pending_pos`. Positions only grow; a position's
//! place in the data area is `pos & (size - 1)`.
//!
//! A record is an 8-byte header and its data, rounded up to 8 bytes. The
//! header is `u32 len` (the data length, with [`BPF_RINGBUF_BUSY_BIT`]
//! while reserved and [`BPF_RINGBUF_DISCARD_BIT`] once discarded) and `u32
//! pg_off`, the header's distance in pages from the start of the mapping,
//! which is how `bpf_ringbuf_submit`, given only the sample, finds its ring
//! ([`Ring::of_sample`]).
//!
//! Producers (`bpf_ringbuf_reserve`, `bpf_ringbuf_output`) take a lock to
//! claim space, as the kernel's spinlock; a reservation fails (NULL) when
//! the producer would get more than `size - 1` bytes ahead of the consumer
//! or of the oldest record still reserved. Submit and discard clear the
//! busy bit with one atomic exchange, in any order. The consumer (user
//! space, [`Ring::consume`]) walks committed records from `consumer_pos`,
//! stops at the first busy one, skips discarded ones, and advances
//! `consumer_pos`.

use std::any::Any;
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::BPF_F_NUMA_NODE;
use crate::map::Map;
use crate::map_type;

/// The page size the layout is counted in.
const PAGE_SIZE: usize = 4096;
/// Pages before the data area: back pointer, consumer, producer.
const META_PAGES: usize = 3;
/// `BPF_RINGBUF_HDR_SZ`: bytes of a record header.
pub const BPF_RINGBUF_HDR_SZ: u32 = 8;
/// `BPF_RINGBUF_BUSY_BIT`: the record is reserved, not yet committed.
pub const BPF_RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT`: the record was discarded.
pub const BPF_RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// `BPF_RB_NO_WAKEUP`: commit without notifying the consumer.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// `BPF_RB_FORCE_WAKEUP`: commit and notify the consumer.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// `bpf_ringbuf_query` flag: bytes not yet consumed.
pub const BPF_RB_AVAIL_DATA: u64 = 0;
/// `bpf_ringbuf_query` flag: the data area's size.
pub const BPF_RB_RING_SIZE: u64 = 1;
/// `bpf_ringbuf_query` flag: the consumer position.
pub const BPF_RB_CONS_POS: u64 = 2;
/// `bpf_ringbuf_query` flag: the producer position.
pub const BPF_RB_PROD_POS: u64 = 3;
/// The kernel's `RINGBUF_MAX_RECORD_SZ`.
const MAX_RECORD_SZ: u64 = (u32::MAX / 4) as u64;

/// A ring buffer map.
#[derive(Debug)]
pub struct RingBuf {
    def: MapDef,
    ring: Box<Ring>,
}

/// The ring itself, at a fixed address that page 0 of its mapping names.
#[derive(Debug)]
pub struct Ring {
    mapping: Mapping,
    size: u64,
    /// Serialises producers claiming space.
    producer_lock: Mutex<()>,
    /// Serialises consumers.
    consumer_lock: Mutex<()>,
    /// Commits that asked to wake the consumer.
    wakeups: AtomicU64,
}

/// The mapping: meta pages, then the data area twice.
#[derive(Debug)]
struct Mapping {
    base: ptr::NonNull<u8>,
    total: usize,
}

// SAFETY: the mapping is plain shared memory; all concurrent access to its
// positions and headers is atomic, and record data is handed from one
// producer to the consumer through release/acquire on the header.
unsafe impl Send for Mapping {}
// SAFETY: as for Send.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `META_PAGES` anonymous pages followed by `size` bytes of a
    /// memfd mapped twice.
    fn new(size: usize) -> io::Result<Self> {
        let meta = META_PAGES * PAGE_SIZE;
        let total = meta + 2 * size;
        // SAFETY: plain syscalls; every pointer passed to mmap with
        // MAP_FIXED lies inside the reservation made by the first mmap,
        // which this function owns, and on failure the reservation is
        // unmapped before returning.
        unsafe {
            let fd = libc::memfd_create(c"rxdp-ringbuf".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fail = |base: *mut libc::c_void| {
                let err = io::Error::last_os_error();
                if !base.is_null() && base != libc::MAP_FAILED {
                    libc::munmap(base, total);
                }
                libc::close(fd);
                err
            };
            if libc::ftruncate(fd, size as libc::off_t) != 0 {
                return Err(fail(ptr::null_mut()));
            }
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
            let base = libc::mmap(ptr::null_mut(), total, libc::PROT_NONE, flags, -1, 0);
            if base == libc::MAP_FAILED {
                return Err(fail(ptr::null_mut()));
            }
            let rw = libc::PROT_READ | libc::PROT_WRITE;
            let meta_map = libc::mmap(base, meta, rw, flags | libc::MAP_FIXED, -1, 0);
            if meta_map == libc::MAP_FAILED {
                return Err(fail(base));
            }
            for copy in 0..2 {
                let at = base.cast::<u8>().add(meta + copy * size).cast();
                let shared = libc::MAP_SHARED | libc::MAP_FIXED;
                if libc::mmap(at, size, rw, shared, fd, 0) == libc::MAP_FAILED {
                    return Err(fail(base));
                }
            }
            libc::close(fd);
            Ok(Self {
                base: ptr::NonNull::new_unchecked(base.cast()),
                total,
            })
        }
    }

    fn at(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset < self.total);
        // SAFETY: callers pass offsets inside the mapping.
        unsafe { self.base.as_ptr().add(offset) }
    }

    /// The 8-byte word at `offset` of the meta pages, as an atomic.
    fn word(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: offsets used are 8-aligned and inside the meta pages,
        // which live as long as `self` and are only accessed atomically.
        unsafe { AtomicU64::from_ptr(self.at(offset).cast()) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the whole reservation was mapped by `new` and is unmapped
        // once, here; no reference into it outlives the ring.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.total) };
    }
}

/// `n` rounded up to 8.
fn round8(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

impl RingBuf {
    /// Creates a ring buffer with the kernel's `ringbuf_map_alloc` checks:
    /// key and value size 0, `max_entries` a power of 2 and a multiple of
    /// the page size, only `BPF_F_NUMA_NODE` (`-EINVAL`).
    pub fn new(def: &MapDef) -> Result<Self, MapError> {
        if def.map_type != map_type::RINGBUF {
            return Err(def.invalid("not a ring buffer"));
        }
        def.check_flags(BPF_F_NUMA_NODE)?;
        if def.key_size != 0 || def.value_size != 0 {
            return Err(def.invalid("ring buffers have key_size and value_size 0"));
        }
        let size = def.max_entries;
        if !size.is_power_of_two() || !(size as usize).is_multiple_of(PAGE_SIZE) {
            return Err(def.invalid(format!(
                "max_entries {size} is not a power-of-2 multiple of the page size"
            )));
        }
        let mapping = Mapping::new(size as usize).map_err(|e| MapError::NoMemory {
            name: format!("{} ({e})", def.name),
            bytes: 2 * u64::from(size),
        })?;
        let ring = Box::new(Ring {
            mapping,
            size: u64::from(size),
            producer_lock: Mutex::new(()),
            consumer_lock: Mutex::new(()),
            wakeups: AtomicU64::new(0),
        });
        let back = ptr::from_ref::<Ring>(&ring) as u64;
        ring.mapping.word(0).store(back, Ordering::Release);
        Ok(Self {
            def: def.clone(),
            ring,
        })
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }
}

impl Ring {
    fn consumer_pos(&self) -> &AtomicU64 {
        self.mapping.word(PAGE_SIZE)
    }

    fn producer_pos(&self) -> &AtomicU64 {
        self.mapping.word(2 * PAGE_SIZE)
    }

    fn pending_pos(&self) -> &AtomicU64 {
        self.mapping.word(2 * PAGE_SIZE + 8)
    }

    /// The offset in the mapping of position `pos`.
    fn offset(&self, pos: u64) -> usize {
        META_PAGES * PAGE_SIZE + (pos & (self.size - 1)) as usize
    }

    /// The `len` word of the header at position `pos`.
    fn header_len(&self, pos: u64) -> &AtomicU32 {
        // SAFETY: positions of records are 8-aligned, so a header lies
        // within the first copy of the data area; headers are accessed
        // atomically only.
        unsafe { AtomicU32::from_ptr(self.mapping.at(self.offset(pos)).cast()) }
    }

    /// The size of the data area in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Commits that asked for the consumer to be woken.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// `bpf_ringbuf_reserve`: space for a `size`-byte record, or `None`
    /// when `flags` is not 0, the record can never fit, or there is no room
    /// now. The sample stays valid until [`Ring::submit`] or
    /// [`Ring::discard`], and is contiguous even when it wraps.
    pub fn reserve(&self, size: u64, flags: u64) -> Option<*mut u8> {
        if flags != 0 || size > MAX_RECORD_SZ {
            return None;
        }
        let len = round8(size + u64::from(BPF_RINGBUF_HDR_SZ));
        if len > self.size {
            return None;
        }
        let cons = self.consumer_pos().load(Ordering::Acquire);
        let _guard = self
            .producer_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let prod = self.producer_pos().load(Ordering::Relaxed);
        let pend = self.advance_pending(prod);
        let new_prod = prod + len;
        let mask = self.size - 1;
        if new_prod - cons > mask || new_prod - pend > mask {
            return None;
        }
        let hdr = self.mapping.at(self.offset(prod));
        let pg_off = (self.offset(prod) / PAGE_SIZE) as u32;
        self.header_len(prod)
            .store(size as u32 | BPF_RINGBUF_BUSY_BIT, Ordering::Relaxed);
        // SAFETY: the header's second word is inside the data area (see
        // `header_len`); no one else touches a record being reserved.
        unsafe { AtomicU32::from_ptr(hdr.add(4).cast()) }.store(pg_off, Ordering::Relaxed);
        // Pairs with the consumer's acquire load of the producer position.
        self.producer_pos().store(new_prod, Ordering::Release);
        // SAFETY: the sample follows the header; `len <= size`, and the data
        // area is mapped twice, so all of it is inside the mapping.
        Some(unsafe { hdr.add(BPF_RINGBUF_HDR_SZ as usize) })
    }

    /// Moves `pending_pos` past committed records, up to `prod`; returns
    /// it. Called under the producer lock.
    fn advance_pending(&self, prod: u64) -> u64 {
        let mut pend = self.pending_pos().load(Ordering::Relaxed);
        while pend < prod {
            let len = self.header_len(pend).load(Ordering::Acquire);
            if len & BPF_RINGBUF_BUSY_BIT != 0 {
                break;
            }
            pend += round8(u64::from(len & !BPF_RINGBUF_DISCARD_BIT) + 8);
        }
        self.pending_pos().store(pend, Ordering::Relaxed);
        pend
    }

    /// The position of the record whose sample is at `sample`, if it is a
    /// reserved (busy) record of this ring.
    fn record_pos(&self, sample: *const u8) -> Option<u64> {
        let data = self.mapping.at(META_PAGES * PAGE_SIZE) as usize;
        let hdr = (sample as usize).checked_sub(BPF_RINGBUF_HDR_SZ as usize)?;
        let off = hdr.checked_sub(data)? as u64;
        if off >= self.size || !off.is_multiple_of(8) {
            return None;
        }
        let busy = self.header_len(off).load(Ordering::Acquire) & BPF_RINGBUF_BUSY_BIT != 0;
        busy.then_some(off)
    }

    /// Commits the record of `sample`, discarded or not (the kernel's
    /// `bpf_ringbuf_commit`). `-EINVAL` when `sample` is not a reserved
    /// record of this ring.
    fn commit(&self, sample: *mut u8, flags: u64, discard: bool) -> Result<(), MapError> {
        let off = self.record_pos(sample).ok_or(MapError::Invalid(
            "not a reserved record of this ring buffer",
        ))?;
        let hdr = self.header_len(off);
        let len = hdr.load(Ordering::Relaxed);
        let mut new_len = len ^ BPF_RINGBUF_BUSY_BIT;
        if discard {
            new_len |= BPF_RINGBUF_DISCARD_BIT;
        }
        // Release: the record's bytes are visible to the consumer that
        // sees the busy bit clear.
        hdr.swap(new_len, Ordering::AcqRel);
        let cons = self.consumer_pos().load(Ordering::Acquire) & (self.size - 1);
        if flags & BPF_RB_FORCE_WAKEUP != 0 || (cons == off && flags & BPF_RB_NO_WAKEUP == 0) {
            self.wakeups.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// `bpf_ringbuf_submit`: hands the record to the consumer.
    pub fn submit(&self, sample: *mut u8, flags: u64) -> Result<(), MapError> {
        self.commit(sample, flags, false)
    }

    /// `bpf_ringbuf_discard`: the consumer will skip the record.
    pub fn discard(&self, sample: *mut u8, flags: u64) -> Result<(), MapError> {
        self.commit(sample, flags, true)
    }

    /// `bpf_ringbuf_output`: reserve, copy `data`, submit. `-EINVAL` for
    /// flags other than the wakeup ones, `-EAGAIN` without room.
    pub fn output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::BadFlags { flags });
        }
        let sample = self
            .reserve(data.len() as u64, 0)
            .ok_or(MapError::RingFull)?;
        // SAFETY: `sample` has room for `data.len()` bytes (just reserved,
        // contiguous thanks to the double mapping).
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), sample, data.len()) };
        self.submit(sample, flags)
    }

    /// `bpf_ringbuf_query`: see the `BPF_RB_*` query flags; 0 for others.
    pub fn query(&self, flags: u64) -> u64 {
        let cons = self.consumer_pos().load(Ordering::Acquire);
        let prod = self.producer_pos().load(Ordering::Acquire);
        match flags {
            BPF_RB_AVAIL_DATA => prod - cons,
            BPF_RB_RING_SIZE => self.size,
            BPF_RB_CONS_POS => cons,
            BPF_RB_PROD_POS => prod,
            _ => 0,
        }
    }

    /// The consumer: calls `f` with each committed record's data, in order,
    /// up to the first record still reserved, skipping discarded ones, and
    /// frees their space. Returns the number of records `f` saw.
    pub fn consume(&self, mut f: impl FnMut(&[u8])) -> usize {
        let _guard = self
            .consumer_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut cons = self.consumer_pos().load(Ordering::Acquire);
        let mut seen = 0;
        loop {
            let prod = self.producer_pos().load(Ordering::Acquire);
            if cons >= prod {
                return seen;
            }
            let len = self.header_len(cons).load(Ordering::Acquire);
            if len & BPF_RINGBUF_BUSY_BIT != 0 {
                return seen;
            }
            let data_len = len & !BPF_RINGBUF_DISCARD_BIT;
            if len & BPF_RINGBUF_DISCARD_BIT == 0 {
                let at = self
                    .mapping
                    .at(self.offset(cons) + BPF_RINGBUF_HDR_SZ as usize);
                // SAFETY: a committed record's data is `data_len` bytes
                // after its header, contiguous in the double mapping, and
                // no producer writes it until `consumer_pos` passes it.
                f(unsafe { std::slice::from_raw_parts(at, data_len as usize) });
                seen += 1;
            }
            cons += round8(u64::from(data_len) + u64::from(BPF_RINGBUF_HDR_SZ));
            // Pairs with the producers' acquire load: the space is free.
            self.consumer_pos().store(cons, Ordering::Release);
        }
    }

    /// The ring a sample belongs to, through the header's page offset and
    /// the back pointer in page 0, as `bpf_ringbuf_submit` finds it.
    ///
    /// # Safety
    ///
    /// `sample` must have been returned by [`Ring::reserve`] of a ring that
    /// is still alive, and not yet submitted or discarded.
    pub unsafe fn of_sample<'a>(sample: *const u8) -> &'a Ring {
        // SAFETY: per the contract, the header precedes the sample, its
        // `pg_off` counts pages back to the mapping's start, and page 0
        // holds the address of the live `Ring`.
        unsafe {
            let hdr = sample.sub(BPF_RINGBUF_HDR_SZ as usize);
            let pg_off = hdr.add(4).cast::<u32>().read();
            let page = (hdr as usize) & !(PAGE_SIZE - 1);
            let base = page - pg_off as usize * PAGE_SIZE;
            let ring = (*AtomicU64::from_ptr(base as *mut u64)).load(Ordering::Acquire);
            &*(ring as *const Ring)
        }
    }

    /// The record header at data offset `off` (for tests of the layout):
    /// (`len` word, `pg_off` word).
    pub fn header_at(&self, off: u64) -> (u32, u32) {
        let off = off & (self.size - 1) & !7;
        let len = self.header_len(off).load(Ordering::Acquire);
        let hdr = self.mapping.at(self.offset(off));
        // SAFETY: the second word of an 8-aligned header inside the data
        // area; read atomically.
        let pg = unsafe { AtomicU32::from_ptr(hdr.add(4).cast()) }.load(Ordering::Relaxed);
        (len, pg)
    }
}

impl Map for RingBuf {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, _key: &[u8], _cpu: u32) -> Option<*mut u8> {
        None
    }

    fn update_percpu(&self, _: &[u8], _: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        Err(MapError::NotSupp)
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::NotSupp)
    }

    fn get_next_key(&self, _key: Option<&[u8]>, _next: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::NotSupp)
    }

    fn lookup_copy(&self, _key: &[u8]) -> Result<Vec<u8>, MapError> {
        Err(MapError::NotSupp)
    }

    fn update_copy(&self, _: &[u8], _: &[u8], _: u64) -> Result<(), MapError> {
        Err(MapError::NotSupp)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
