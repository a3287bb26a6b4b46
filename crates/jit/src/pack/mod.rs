//! Executable memory: the prog pack allocator (seed 002, the kernel's
//! `bpf_prog_pack`), in user space.
//!
//! Many small JIT images share one 2 MiB *pack* instead of a page each, so
//! that running many programs costs few iTLB entries. A pack is one memfd
//! mapped twice (see [`mapping`](self)): a read+execute view that runs and a
//! read+write view that is written through; no mapping is ever writable
//! and executable at once. A pack is carved into 64-byte *chunks* tracked
//! by a bitmap; a program takes the first run of free chunks that fits.
//! Images larger than a pack get a dedicated two-view mapping of their own.
//!
//! # Life of a program's memory
//!
//! 1. [`PackAllocator::alloc`] reserves chunks; they hold int3 (`0xCC`),
//!    as every free byte of a pack does.
//! 2. The JIT builds the image in a scratch buffer and
//!    [`ProgMem::copy_in`] copies the finished image through the RW view.
//! 3. The program runs at [`ProgMem::exec_addr`]; live code is changed
//!    only with [`ProgMem::text_poke`] / [`PackAllocator::text_poke`].
//! 4. Dropping the [`ProgMem`] does **not** free the chunks at once: a
//!    thread may still be running the code. The free is deferred to the
//!    allocator's grace-period [`Domain`] (or the one given to
//!    [`ProgMem::free_after`]); once every reader of that domain has
//!    passed a quiescent point, the chunks are filled with int3 and
//!    returned, and a pack left empty is unmapped. The contract for
//!    callers: unpublish the program first (no thread can newly enter
//!    it), then drop; every thread that may run it must be a reader of
//!    that domain (a worker between quiescent points, or holding a read
//!    guard for the run).
//!
//! Every write into pack memory holds one process-wide lock, the kernel's
//! `text_mutex` (see [`text_poke`](self)).

mod bitmap;
mod mapping;
mod text_poke;

use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use rxdp_rcu::Domain;

use bitmap::ChunkBitmap;
use mapping::{HUGE_PAGE, Mapping, PAGE, round_up};
pub use text_poke::{SyncCore, sync_core_mode};

/// Bytes in one pack (a huge page).
pub const PACK_SIZE: usize = HUGE_PAGE;
/// Bytes in one chunk, the unit programs are carved in (and their
/// alignment).
pub const CHUNK_SIZE: usize = 64;
/// Chunks in one pack.
const PACK_CHUNKS: usize = PACK_SIZE / CHUNK_SIZE;
/// What free pack memory holds: int3, the x86 breakpoint trap, so that a
/// jump into freed or unused space traps instead of running stale code.
pub const TRAP_FILL: u8 = 0xCC;

/// Errors of executable memory, as values: nothing here panics on an OS
/// failure.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A system call failed.
    #[error("prog pack: {op} failed: {source}")]
    Os {
        /// The call that failed.
        op: &'static str,
        /// What the kernel said.
        source: io::Error,
    },
    /// No address within rel32 reach of rxdp's text could be mapped.
    #[error(
        "prog pack: no free address within +-2 GiB of rxdp's text ({text_start:#x}..{text_end:#x}) for {len} bytes of executable memory after {tries} tries"
    )]
    OutOfReach {
        /// Start of the text segment.
        text_start: u64,
        /// End of the text segment.
        text_end: u64,
        /// Bytes asked for.
        len: usize,
        /// Addresses tried.
        tries: usize,
    },
    /// An allocation of zero bytes.
    #[error("prog pack: a program image cannot be empty")]
    EmptyAlloc,
    /// An image larger than its allocation.
    #[error("prog pack: an image of {len} bytes does not fit the {capacity} bytes allocated")]
    ImageTooLarge {
        /// Bytes in the image.
        len: usize,
        /// Bytes allocated.
        capacity: usize,
    },
    /// A poke whose old and new bytes differ in length, or of a size other
    /// than 1, 2, 4 or 8.
    #[error(
        "text_poke at {addr:#x}: old ({old} bytes) and new ({new} bytes) must have one length of 1, 2, 4 or 8"
    )]
    PokeSize {
        /// The site.
        addr: u64,
        /// Length of the expected old bytes.
        old: usize,
        /// Length of the new bytes.
        new: usize,
    },
    /// A poke site not naturally aligned for its size.
    #[error("text_poke at {addr:#x}: a {size}-byte patch must be {size}-byte aligned")]
    Misaligned {
        /// The site.
        addr: u64,
        /// Bytes patched.
        size: usize,
    },
    /// The bytes at the site are not the expected old ones.
    #[error("text_poke at {addr:#x}: found {found:02x?}, expected {expected:02x?}")]
    OldMismatch {
        /// The site.
        addr: u64,
        /// The old bytes the caller expected.
        expected: Vec<u8>,
        /// The bytes found.
        found: Vec<u8>,
    },
    /// A poke site outside the program text of this allocator (or of the
    /// program poked).
    #[error("text_poke at {addr:#x}: {size} bytes there are not allocated program text")]
    NotText {
        /// The site.
        addr: u64,
        /// Bytes patched.
        size: usize,
    },
}

impl PackError {
    fn os(op: &'static str, source: io::Error) -> PackError {
        PackError::Os { op, source }
    }
}

/// The text segment executable memory is kept within rel32 reach of (the
/// one holding rxdp's code, helpers included).
pub fn text_range() -> Range<u64> {
    mapping::text_range()
}

/// Whether `len` bytes at `addr` and all of rxdp's text reach each other
/// with rel32 displacements.
pub fn within_rel32_reach(addr: u64, len: u64) -> bool {
    mapping::within_reach(&mapping::text_range(), addr, len)
}

/// What an allocator holds, for `rxdp` and the benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PackUsage {
    /// Packs mapped (each [`PACK_SIZE`] bytes).
    pub packs: usize,
    /// Bytes of packs in chunks that belong to programs.
    pub bytes_used: usize,
    /// Bytes of packs in free chunks.
    pub bytes_free: usize,
    /// Programs too large for a pack, each in a mapping of its own.
    pub dedicated: usize,
    /// Bytes of those dedicated mappings (rounded to pages).
    pub dedicated_bytes: usize,
    /// Packs backed by hugetlb pages (the rest are ordinary pages advised
    /// as transparent huge pages).
    pub hugetlb_packs: usize,
}

/// Choices of a [`PackAllocator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackOptions {
    /// Keep the last pack mapped when it empties, to avoid unmapping and
    /// remapping 2 MiB when one program replaces another.
    pub keep_spare: bool,
    /// Back packs with hugetlb pages when /proc/sys/vm/nr_hugepages shows
    /// some reserved (falling back to ordinary pages on failure).
    pub hugetlb: bool,
}

impl Default for PackOptions {
    fn default() -> PackOptions {
        PackOptions {
            keep_spare: true,
            hugetlb: true,
        }
    }
}

/// One pack: a two-view mapping and its chunk bitmap.
#[derive(Debug)]
struct Pack {
    id: u64,
    mapping: Mapping,
    bitmap: ChunkBitmap,
}

/// The allocator's packs and dedicated mappings.
#[derive(Debug, Default)]
struct State {
    packs: Vec<Pack>,
    dedicated: Vec<Mapping>,
    next_id: u64,
}

/// What allocator and programs share; lives until the last program's
/// memory is returned.
#[derive(Debug)]
struct Shared {
    domain: Arc<Domain>,
    options: PackOptions,
    state: Mutex<State>,
}

/// Where a program's memory came from, in plain addresses so that a
/// deferred free can carry it to another thread.
#[derive(Debug, Clone, Copy)]
enum Region {
    /// Chunks `first..first + chunks` of pack `id`.
    Pack {
        id: u64,
        first: usize,
        chunks: usize,
    },
    /// The dedicated mapping whose RX view starts at `rx`.
    Dedicated { rx: usize },
}

/// The prog pack allocator. Thread-safe; [`PackAllocator::global`] serves
/// the process, and tests or runtimes may construct their own.
#[derive(Debug, Clone)]
pub struct PackAllocator {
    shared: Arc<Shared>,
}

impl PackAllocator {
    /// An allocator whose frees wait for grace periods of `domain`, with
    /// the default [`PackOptions`].
    pub fn new(domain: Arc<Domain>) -> PackAllocator {
        PackAllocator::with_options(domain, PackOptions::default())
    }

    /// An allocator with explicit options.
    pub fn with_options(domain: Arc<Domain>, options: PackOptions) -> PackAllocator {
        PackAllocator {
            shared: Arc::new(Shared {
                domain,
                options,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The process-wide allocator; its frees wait for grace periods of
    /// [`Domain::global`].
    pub fn global() -> &'static PackAllocator {
        static GLOBAL: OnceLock<PackAllocator> = OnceLock::new();
        GLOBAL.get_or_init(|| PackAllocator::new(Arc::clone(Domain::global())))
    }

    /// The domain whose grace periods frees wait for.
    pub fn domain(&self) -> &Arc<Domain> {
        &self.shared.domain
    }

    /// Reserves room for an image of `len` bytes: the first run of free
    /// 64-byte chunks that fits in the packs (in the order they were
    /// mapped), else a new pack; above [`PACK_SIZE`], a dedicated mapping
    /// rounded to pages. The memory holds int3 until
    /// [`ProgMem::copy_in`]. Frees whose grace period has passed are
    /// collected first.
    pub fn alloc(&self, len: usize) -> Result<ProgMem, PackError> {
        if len == 0 {
            return Err(PackError::EmptyAlloc);
        }
        // Outside our locks: the callbacks run may be our own frees.
        self.shared.domain.collect();
        if len > PACK_SIZE {
            return self.alloc_dedicated(len);
        }
        let chunks = len.div_ceil(CHUNK_SIZE);
        let mut state = self.shared.lock();
        let found = state.packs.iter_mut().find_map(|pack| {
            let first = pack.bitmap.first_fit(chunks)?;
            pack.bitmap.set_range(first, chunks, true);
            Some((pack.id, pack.mapping.rx(), pack.mapping.rw(), first))
        });
        let (id, rx, rw, first) = match found {
            Some(found) => found,
            None => {
                let pack = state.new_pack(self.shared.options.hugetlb)?;
                pack.bitmap.set_range(0, chunks, true);
                (pack.id, pack.mapping.rx(), pack.mapping.rw(), 0)
            }
        };
        let offset = first * CHUNK_SIZE;
        Ok(ProgMem {
            shared: Arc::clone(&self.shared),
            region: Some(Region::Pack { id, first, chunks }),
            rx: rx + offset,
            rw: rw + offset,
            len,
            capacity: chunks * CHUNK_SIZE,
        })
    }

    fn alloc_dedicated(&self, len: usize) -> Result<ProgMem, PackError> {
        let mapping = Mapping::new(round_up(len, PAGE), false, TRAP_FILL)?;
        let (rx, rw, capacity) = (mapping.rx(), mapping.rw(), mapping.len());
        self.shared.lock().dedicated.push(mapping);
        Ok(ProgMem {
            shared: Arc::clone(&self.shared),
            region: Some(Region::Dedicated { rx }),
            rx,
            rw,
            len,
            capacity,
        })
    }

    /// Replaces the instruction at `addr` (in the executable view of any
    /// program of this allocator) whose bytes are `old` by `new`, then
    /// makes every thread serialise (see [`SyncCore`]). The patch must be
    /// 1, 2, 4 or 8 bytes, naturally aligned; the current bytes must equal
    /// `old`. Threads running the code see the old or the new instruction,
    /// never a mix.
    pub fn text_poke(&self, addr: u64, old: &[u8], new: &[u8]) -> Result<(), PackError> {
        text_poke::check_site(addr, old, new)?;
        let _text = text_poke::text_lock();
        {
            let state = self.shared.lock();
            let rw = state
                .rw_alias(addr as usize, new.len())
                .ok_or(PackError::NotText {
                    addr,
                    size: new.len(),
                })?;
            // SAFETY: `rw` is the writable alias of `addr`, allocated text
            // of a mapping the state lock keeps mapped; its alignment is
            // that of `addr` (views are page aligned), checked above.
            unsafe { text_poke::compare_and_store(addr, rw as *mut u8, old, new) }?;
        }
        text_poke::sync_all_cores()
    }

    /// What this allocator holds now.
    pub fn usage(&self) -> PackUsage {
        let state = self.shared.lock();
        let mut usage = PackUsage {
            packs: state.packs.len(),
            dedicated: state.dedicated.len(),
            ..PackUsage::default()
        };
        for pack in &state.packs {
            usage.bytes_used += pack.bitmap.used() * CHUNK_SIZE;
            usage.bytes_free += (pack.bitmap.chunks() - pack.bitmap.used()) * CHUNK_SIZE;
            usage.hugetlb_packs += usize::from(pack.mapping.is_hugetlb());
        }
        usage.dedicated_bytes = state.dedicated.iter().map(Mapping::len).sum();
        usage
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; the state stays whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns a program's memory: int3 over its chunks, then the chunks
    /// to the bitmap; a pack left empty is unmapped (unless it is the
    /// last and a spare is kept). Runs after the grace period.
    fn release(&self, region: Region) {
        let _text = text_poke::text_lock();
        let mut state = self.lock();
        match region {
            Region::Dedicated { rx } => state.dedicated.retain(|m| m.rx() != rx),
            Region::Pack { id, first, chunks } => {
                let Some(index) = state.packs.iter().position(|p| p.id == id) else {
                    return;
                };
                let pack = &mut state.packs[index];
                let offset = first * CHUNK_SIZE;
                // SAFETY: the chunks lie inside the pack's RW view (they
                // were carved from its bitmap), the pack is mapped while
                // the state lock is held, and the text lock excludes every
                // other Rust write to pack memory.
                unsafe {
                    std::ptr::write_bytes(
                        (pack.mapping.rw() + offset) as *mut u8,
                        TRAP_FILL,
                        chunks * CHUNK_SIZE,
                    )
                };
                pack.bitmap.set_range(first, chunks, false);
                let keep = self.options.keep_spare && state.packs.len() == 1;
                if state.packs[index].bitmap.used() == 0 && !keep {
                    state.packs.remove(index);
                }
            }
        }
    }
}

impl State {
    /// Maps a new pack, all int3, and appends it.
    fn new_pack(&mut self, hugetlb: bool) -> Result<&mut Pack, PackError> {
        let mapping = Mapping::new(PACK_SIZE, hugetlb, TRAP_FILL)?;
        self.next_id += 1;
        self.packs.push(Pack {
            id: self.next_id,
            mapping,
            bitmap: ChunkBitmap::new(PACK_CHUNKS),
        });
        let last = self.packs.len() - 1;
        Ok(&mut self.packs[last])
    }

    /// The RW alias of `size` bytes at RX address `addr`, if they lie in
    /// allocated program text.
    fn rw_alias(&self, addr: usize, size: usize) -> Option<usize> {
        let end = addr.checked_add(size)?;
        for pack in &self.packs {
            let m = &pack.mapping;
            if m.contains_rx(addr) && end <= m.rx() + m.len() {
                let first = (addr - m.rx()) / CHUNK_SIZE;
                let last = (end - 1 - m.rx()) / CHUNK_SIZE;
                return pack
                    .bitmap
                    .all_used(first, last - first + 1)
                    .then(|| m.rw() + (addr - m.rx()));
            }
        }
        self.dedicated
            .iter()
            .find(|m| m.contains_rx(addr) && end <= m.rx() + m.len())
            .map(|m| m.rw() + (addr - m.rx()))
    }
}

/// The executable memory of one program: chunks of a pack or a dedicated
/// mapping. Dropping it frees the memory after a grace period of the
/// allocator's domain (see the module documentation).
#[derive(Debug)]
pub struct ProgMem {
    shared: Arc<Shared>,
    /// `None` once handed to a deferred free.
    region: Option<Region>,
    /// Start in the executable view.
    rx: usize,
    /// Start in the writable view.
    rw: usize,
    /// Bytes asked for.
    len: usize,
    /// Bytes reserved (whole chunks or pages).
    capacity: usize,
}

impl ProgMem {
    /// Address of the first byte in the executable view: where the
    /// program is called. Aligned to [`CHUNK_SIZE`].
    #[inline]
    pub fn exec_addr(&self) -> u64 {
        self.rx as u64
    }

    /// Bytes asked for at allocation.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: allocations are never empty. (For the `len` idiom.)
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes reserved: the length rounded up to whole chunks (or pages for
    /// a dedicated mapping).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the program has a mapping of its own (larger than a pack).
    pub fn is_dedicated(&self) -> bool {
        matches!(self.region, Some(Region::Dedicated { .. }))
    }

    /// Copies a finished image through the RW view to the start of the
    /// allocation; the rest of it is set to int3. Call it before the
    /// program is published: code being run is changed only with
    /// [`ProgMem::text_poke`].
    pub fn copy_in(&mut self, image: &[u8]) -> Result<(), PackError> {
        if image.len() > self.capacity {
            return Err(PackError::ImageTooLarge {
                len: image.len(),
                capacity: self.capacity,
            });
        }
        let _text = text_poke::text_lock();
        let rw = self.rw as *mut u8;
        // SAFETY: `rw..rw + capacity` is this program's part of a mapped
        // RW view (kept mapped while `self` lives, since its chunks are
        // allocated); the image fits; the text lock excludes other Rust
        // writes to pack memory, and `image` cannot alias it (the RW view
        // is never handed out as a slice).
        unsafe {
            std::ptr::copy_nonoverlapping(image.as_ptr(), rw, image.len());
            std::ptr::write_bytes(rw.add(image.len()), TRAP_FILL, self.capacity - image.len());
        }
        Ok(())
    }

    /// The allocation's current bytes (all `capacity` of them), read back
    /// through the executable view, e.g. to disassemble the JIT's output.
    pub fn read_back(&self) -> Vec<u8> {
        let _text = text_poke::text_lock();
        let mut bytes = vec![0; self.capacity];
        // SAFETY: `rx..rx + capacity` is mapped readable while `self`
        // lives; the text lock excludes concurrent Rust writes.
        unsafe {
            std::ptr::copy_nonoverlapping(self.rx as *const u8, bytes.as_mut_ptr(), self.capacity)
        };
        bytes
    }

    /// [`PackAllocator::text_poke`] restricted to this program's memory:
    /// `addr` is an address of the executable view within the allocation.
    pub fn text_poke(&self, addr: u64, old: &[u8], new: &[u8]) -> Result<(), PackError> {
        text_poke::check_site(addr, old, new)?;
        let start = self.rx as u64;
        if addr < start || addr + new.len() as u64 > start + self.capacity as u64 {
            return Err(PackError::NotText {
                addr,
                size: new.len(),
            });
        }
        let _text = text_poke::text_lock();
        let rw = self.rw + (addr - start) as usize;
        // SAFETY: `rw` aliases `addr` inside this program's allocation,
        // mapped while `self` lives; views are page aligned, so `rw` has
        // the alignment of `addr`, checked above.
        unsafe { text_poke::compare_and_store(addr, rw as *mut u8, old, new) }?;
        text_poke::sync_all_cores()
    }

    /// Frees the memory after a grace period of `domain` rather than the
    /// allocator's: for programs run by workers of another domain. Every
    /// thread that may run the program must be a reader of `domain`.
    pub fn free_after(mut self, domain: &Domain) {
        if let Some(region) = self.region.take() {
            let shared = Arc::clone(&self.shared);
            domain.defer(Box::new(move || shared.release(region)));
        }
    }
}

impl Drop for ProgMem {
    fn drop(&mut self) {
        if let Some(region) = self.region.take() {
            let shared = Arc::clone(&self.shared);
            self.shared
                .domain
                .defer(Box::new(move || shared.release(region)));
        }
    }
}
