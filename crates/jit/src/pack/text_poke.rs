//! text_poke: replacing one instruction of code that other threads may be
//! running, the way the kernel patches direct tail calls and dispatchers.
//!
//! The patched instruction is naturally aligned for its size (1, 2, 4 or 8
//! bytes), so it lies in one 8-byte word and one aligned store replaces it
//! whole: a thread fetching it sees either the old or the new bytes, never
//! a mix. The store goes through the read+write view of the pack. After
//! it, every thread of the process is made to execute a serialising
//! instruction (membarrier `PRIVATE_EXPEDITED_SYNC_CORE`), as the Intel SDM
//! asks of cross-modifying code, so that no core keeps running a stale
//! prefetched copy once `text_poke` returns.
//!
//! Every write into pack memory from Rust (image copies, pokes, int3 fills
//! of freed chunks) holds [`TEXT_MUTEX`], the kernel's `text_mutex`: pokes
//! compare-then-store without racing each other or a copy.

use std::io;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use super::PackError;

// From the Linux UAPI header linux/membarrier.h.
const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
const MEMBARRIER_CMD_GLOBAL: libc::c_int = 1 << 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 6;

/// Serialises every write into pack memory (the kernel's `text_mutex`).
static TEXT_MUTEX: Mutex<()> = Mutex::new(());

/// Takes [`TEXT_MUTEX`]; a poisoned lock guards no data, so it is taken
/// anyway.
pub(super) fn text_lock() -> MutexGuard<'static, ()> {
    TEXT_MUTEX.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How [`text_poke`](super::PackAllocator::text_poke) makes other threads
/// see patched code, chosen once per process from what the kernel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncCore {
    /// `MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE` (Linux 4.16+): every
    /// running thread of the process executes a core-serialising
    /// instruction before the call returns. The intended mode.
    SyncCore,
    /// `MEMBARRIER_CMD_PRIVATE_EXPEDITED`: every running thread is
    /// interrupted (an IPI, and on x86-64 the return from it through
    /// `iret` serialises) but the kernel does not promise a core sync.
    Expedited,
    /// `MEMBARRIER_CMD_GLOBAL`: waits until every CPU has scheduled, which
    /// passes through the kernel (slow: milliseconds).
    Global,
    /// No membarrier at all (a kernel without it, or a sandbox refusing
    /// it): patched code is only guaranteed to be seen by a thread after
    /// its next serialising event (system call, interrupt, context
    /// switch). x86-64 keeps instruction fetch coherent with stores, so a
    /// thread sees either the old or the new instruction.
    None,
}

/// The serialisation mode of this process, registering with membarrier on
/// the first call.
pub fn sync_core_mode() -> SyncCore {
    static MODE: OnceLock<SyncCore> = OnceLock::new();
    *MODE.get_or_init(register_membarrier)
}

fn membarrier(cmd: libc::c_int) -> io::Result<libc::c_long> {
    // SAFETY: membarrier(2) takes a command and flags, touches no memory
    // of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_uint,
            0 as libc::c_int,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Picks the strongest membarrier command the kernel supports and
/// registers the process for it.
fn register_membarrier() -> SyncCore {
    let Ok(supported) = membarrier(MEMBARRIER_CMD_QUERY) else {
        return SyncCore::None;
    };
    let has = |cmd: libc::c_int| supported & libc::c_long::from(cmd) != 0;
    if has(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)
        && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE).is_ok()
    {
        return SyncCore::SyncCore;
    }
    if has(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
        && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED).is_ok()
    {
        return SyncCore::Expedited;
    }
    if has(MEMBARRIER_CMD_GLOBAL) {
        return SyncCore::Global;
    }
    SyncCore::None
}

/// Makes every thread of the process serialise (see [`SyncCore`]).
pub(super) fn sync_all_cores() -> Result<(), PackError> {
    let cmd = match sync_core_mode() {
        SyncCore::SyncCore => MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE,
        SyncCore::Expedited => MEMBARRIER_CMD_PRIVATE_EXPEDITED,
        SyncCore::Global => MEMBARRIER_CMD_GLOBAL,
        SyncCore::None => return Ok(()),
    };
    membarrier(cmd)
        .map(drop)
        .map_err(|e| PackError::os("membarrier", e))
}

/// Checks the shape of a patch: same length, 1, 2, 4 or 8 bytes, naturally
/// aligned at `addr`.
pub(super) fn check_site(addr: u64, old: &[u8], new: &[u8]) -> Result<(), PackError> {
    let size = new.len();
    if old.len() != size || !matches!(size, 1 | 2 | 4 | 8) {
        return Err(PackError::PokeSize {
            addr,
            old: old.len(),
            new: size,
        });
    }
    if !addr.is_multiple_of(size as u64) {
        return Err(PackError::Misaligned { addr, size });
    }
    Ok(())
}

/// Compares the `old.len()` bytes at `rw` with `old` and, when equal,
/// stores `new` there with one atomic store. The caller holds the text
/// lock and has checked the site with [`check_site`].
///
/// # Safety
///
/// `rw` must be the writable alias of `addr`, valid for `new.len()` bytes
/// and aligned to it, inside a mapping that stays mapped for the call.
pub(super) unsafe fn compare_and_store(
    addr: u64,
    rw: *mut u8,
    old: &[u8],
    new: &[u8],
) -> Result<(), PackError> {
    // Little-endian words of the bytes, so memory order is kept.
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let (expected, value) = (word(old), word(new));
    // Every Rust write to pack memory holds the text lock (held here), and
    // the CPU executing the code is not a Rust access; atomics make the
    // loads and the store single accesses regardless.
    let found = match new.len() {
        // SAFETY: the caller guarantees `rw` valid for one byte.
        1 => u64::from(unsafe { AtomicU8::from_ptr(rw) }.load(Ordering::Acquire)),
        // SAFETY: the caller guarantees `rw` valid and aligned for 2 bytes.
        2 => u64::from(unsafe { AtomicU16::from_ptr(rw.cast()) }.load(Ordering::Acquire)),
        // SAFETY: the caller guarantees `rw` valid and aligned for 4 bytes.
        4 => u64::from(unsafe { AtomicU32::from_ptr(rw.cast()) }.load(Ordering::Acquire)),
        // SAFETY: the caller guarantees `rw` valid and aligned for 8 bytes.
        _ => unsafe { AtomicU64::from_ptr(rw.cast()) }.load(Ordering::Acquire),
    };
    if found != expected {
        return Err(PackError::OldMismatch {
            addr,
            expected: old.to_vec(),
            found: found.to_le_bytes()[..old.len()].to_vec(),
        });
    }
    // The truncating casts keep exactly the `new.len()` low bytes.
    match new.len() {
        // SAFETY: as for the load above.
        1 => unsafe { AtomicU8::from_ptr(rw) }.store(value as u8, Ordering::Release),
        // SAFETY: as for the load above.
        2 => unsafe { AtomicU16::from_ptr(rw.cast()) }.store(value as u16, Ordering::Release),
        // SAFETY: as for the load above.
        4 => unsafe { AtomicU32::from_ptr(rw.cast()) }.store(value as u32, Ordering::Release),
        // SAFETY: as for the load above.
        _ => unsafe { AtomicU64::from_ptr(rw.cast()) }.store(value, Ordering::Release),
    }
    Ok(())
}
