//! One region of executable memory, mapped twice: a memfd whose pages
//! appear once read+execute (the view that runs) and once read+write (the
//! view the JIT and the patcher write through), so that no mapping is ever
//! writable and executable at once. Packs and dedicated mappings of large
//! programs are both one such region.
//!
//! The executable view is placed within rel32 reach (+-2 GiB) of rxdp's
//! own text, since generated code calls helpers with direct rel32 calls:
//! the region is mapped at an address hint below (then above) the text
//! segment that holds this crate, with `MAP_FIXED_NOREPLACE`, and the
//! distance is checked whatever the kernel returned.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::PackError;

/// Size of a huge page (x86-64 and arm64 with 4 KiB base pages), the pack
/// size and the alignment of executable views.
pub(super) const HUGE_PAGE: usize = 2 << 20;
/// Size of a base page.
pub(super) const PAGE: usize = 4096;
/// The farthest a rel32 call or jump reaches (from the end of the
/// instruction, but a few bytes matter not here).
const REL32_REACH: u64 = i32::MAX as u64;

// From the Linux UAPI headers (linux/memfd.h, asm-generic/mman-common.h),
// defined here since libc does not export them for every target.
/// memfd_create: huge pages from the hugetlb pool.
const MFD_HUGETLB: libc::c_uint = 0x0004;
/// memfd_create: 2 MiB huge pages (21 << MFD_HUGE_SHIFT).
const MFD_HUGE_2MB: libc::c_uint = 21 << 26;
/// memfd_create (Linux 6.3+): the file may be mapped executable even when
/// `vm.memfd_noexec` defaults memfds to non-executable.
const MFD_EXEC: libc::c_uint = 0x0010;
/// mmap (Linux 4.17+): map exactly at the hint or fail with EEXIST; older
/// kernels ignore the flag and treat the address as a plain hint.
const MAP_FIXED_NOREPLACE: libc::c_int = 0x10_0000;

/// The text segment rxdp's helpers live in, which executable memory must
/// reach with rel32 displacements.
pub(super) fn text_range() -> Range<u64> {
    static TEXT: OnceLock<Range<u64>> = OnceLock::new();
    TEXT.get_or_init(|| {
        let anchor = text_anchor as *const () as u64;
        find_text_segment(anchor).unwrap_or(anchor..anchor + 1)
    })
    .clone()
}

/// A function of this crate whose address tells where rxdp's text is.
#[inline(never)]
extern "C" fn text_anchor() {}

/// The executable mapping of /proc/self/maps that contains `addr`.
fn find_text_segment(addr: u64) -> Option<Range<u64>> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let range = line.split_whitespace().next()?;
        let (lo, hi) = range.split_once('-')?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        (lo <= addr && addr < hi).then_some(lo..hi)
    })
}

/// Whether `[start, start + len)` and every byte of `text` are within
/// rel32 reach of each other.
pub(super) fn within_reach(text: &Range<u64>, start: u64, len: u64) -> bool {
    let lo = text.start.min(start);
    let hi = text.end.max(start.saturating_add(len));
    hi - lo <= REL32_REACH
}

/// Where the next executable view is first tried: the index of the last
/// hint that worked, so that the n-th pack does not retry n taken places.
static HINT_CURSOR: AtomicUsize = AtomicUsize::new(0);

/// Candidate addresses for an executable view of `len` bytes: 2 MiB
/// aligned, first below the text segment going down, then above it going
/// up (past room left for the heap), all within reach.
fn hint_candidates(text: &Range<u64>, len: u64) -> Vec<u64> {
    let huge = HUGE_PAGE as u64;
    let mut hints = Vec::new();
    let mut below = (text.start.saturating_sub(len)) & !(huge - 1);
    while below >= huge && within_reach(text, below, len) {
        hints.push(below);
        below -= huge;
    }
    // The heap (brk) grows up from the end of the program's data.
    let mut above = (text.end + (256 << 20) + huge - 1) & !(huge - 1);
    while within_reach(text, above, len) {
        hints.push(above);
        above += huge;
    }
    hints
}

/// A memfd mapped twice. Unmapped and closed on drop.
#[derive(Debug)]
pub(super) struct Mapping {
    /// Keeps the memory alive (the views would, but the fd names it).
    _fd: OwnedFd,
    /// Start of the read+execute view.
    rx: usize,
    /// Start of the read+write view.
    rw: usize,
    /// Bytes in each view.
    len: usize,
    /// Whether the pages come from the hugetlb pool.
    hugetlb: bool,
}

impl Mapping {
    /// Maps `len` bytes (a multiple of the page size; of [`HUGE_PAGE`] when
    /// `try_hugetlb`) twice, the executable view within reach of rxdp's
    /// text, both filled with `fill`. Uses hugetlb pages when asked and
    /// the system has some reserved, else ordinary ones, advised to be
    /// transparent huge pages.
    pub(super) fn new(len: usize, try_hugetlb: bool, fill: u8) -> Result<Mapping, PackError> {
        let mapping = if try_hugetlb && hugetlb_reserved() {
            Mapping::with_pages(len, true).or_else(|_| Mapping::with_pages(len, false))?
        } else {
            Mapping::with_pages(len, false)?
        };
        // SAFETY: the RW view is `len` bytes, mapped writable, and owned by
        // this new mapping alone.
        unsafe { std::ptr::write_bytes(mapping.rw as *mut u8, fill, len) };
        Ok(mapping)
    }

    fn with_pages(len: usize, hugetlb: bool) -> Result<Mapping, PackError> {
        let fd = create_memfd(hugetlb)?;
        let file = File::from(fd);
        file.set_len(len as u64)
            .map_err(|e| PackError::os("ftruncate", e))?;
        let fd = OwnedFd::from(file);
        let rx = map_rx_near_text(&fd, len)?;
        let rw = match mmap(&fd, 0, len, libc::PROT_READ | libc::PROT_WRITE, 0) {
            Ok(rw) => rw,
            Err(e) => {
                unmap(rx, len);
                return Err(PackError::os("mmap (read+write view)", e));
            }
        };
        if !hugetlb {
            advise_huge(rx, len);
            advise_huge(rw, len);
        }
        Ok(Mapping {
            _fd: fd,
            rx,
            rw,
            len,
            hugetlb,
        })
    }

    /// Address of the first byte of the executable view.
    pub(super) fn rx(&self) -> usize {
        self.rx
    }

    /// Address of the first byte of the writable view.
    pub(super) fn rw(&self) -> usize {
        self.rw
    }

    /// Bytes in each view.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether the pages come from the hugetlb pool.
    pub(super) fn is_hugetlb(&self) -> bool {
        self.hugetlb
    }

    /// Whether the executable view holds `addr`.
    pub(super) fn contains_rx(&self, addr: usize) -> bool {
        self.rx <= addr && addr < self.rx + self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        unmap(self.rx, self.len);
        unmap(self.rw, self.len);
    }
}

/// Whether /proc/sys/vm/nr_hugepages says huge pages are reserved.
fn hugetlb_reserved() -> bool {
    std::fs::read_to_string("/proc/sys/vm/nr_hugepages")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
}

/// An anonymous memory file for one region.
fn create_memfd(hugetlb: bool) -> Result<OwnedFd, PackError> {
    const NAME: &CStr = c"rxdp-prog-pack";
    let base = libc::MFD_CLOEXEC
        | if hugetlb {
            MFD_HUGETLB | MFD_HUGE_2MB
        } else {
            0
        };
    // MFD_EXEC is refused by kernels older than 6.3 (EINVAL), which map
    // memfds executable anyway, and under vm.memfd_noexec=2 (EACCES),
    // whose no-exec seal forbids execve, not an executable mapping.
    for flags in [base | MFD_EXEC, base] {
        // SAFETY: NAME is a NUL-terminated string; the call has no other
        // memory effects.
        let fd = unsafe { libc::memfd_create(NAME.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: `fd` was just returned by memfd_create and is owned
            // by nobody else.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINVAL | libc::EACCES)) {
            return Err(PackError::os("memfd_create", err));
        }
    }
    Err(PackError::os(
        "memfd_create",
        io::Error::from_raw_os_error(libc::EINVAL),
    ))
}

/// Maps the read+execute view of `fd` within reach of rxdp's text.
fn map_rx_near_text(fd: &OwnedFd, len: usize) -> Result<usize, PackError> {
    let text = text_range();
    let hints = hint_candidates(&text, len as u64);
    let first = HINT_CURSOR.load(Ordering::Relaxed) % hints.len().max(1);
    let prot = libc::PROT_READ | libc::PROT_EXEC;
    for i in (first..hints.len()).chain(0..first) {
        let hint = hints[i] as usize;
        match mmap(fd, hint, len, prot, MAP_FIXED_NOREPLACE) {
            Ok(addr) if within_reach(&text, addr as u64, len as u64) => {
                HINT_CURSOR.store(i, Ordering::Relaxed);
                return Ok(addr);
            }
            // An old kernel took the hint as a mere hint and went far.
            Ok(addr) => unmap(addr, len),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(PackError::os("mmap (read+execute view)", e)),
        }
    }
    Err(PackError::OutOfReach {
        text_start: text.start,
        text_end: text.end,
        len,
        tries: hints.len(),
    })
}

/// mmap(2) of `len` bytes of `fd`, shared, at `hint` (0: anywhere).
fn mmap(
    fd: &OwnedFd,
    hint: usize,
    len: usize,
    prot: libc::c_int,
    extra: libc::c_int,
) -> io::Result<usize> {
    // SAFETY: a new shared mapping of our own memfd; MAP_FIXED_NOREPLACE
    // never replaces an existing mapping, and without MAP_FIXED the hint
    // is only a hint, so no memory Rust knows about is affected.
    let addr = unsafe {
        libc::mmap(
            hint as *mut libc::c_void,
            len,
            prot,
            libc::MAP_SHARED | extra,
            fd.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(addr as usize)
    }
}

/// munmap(2); failure would mean the range was not ours, so it is ignored.
fn unmap(addr: usize, len: usize) {
    // SAFETY: `addr..addr + len` is a mapping this module created and that
    // no reference outlives (its owner is being dropped or never escaped).
    unsafe { libc::munmap(addr as *mut libc::c_void, len) };
}

/// Asks for transparent huge pages (fewer iTLB entries for many programs,
/// the point of packs); a hint only, so errors (no THP for shmem) are
/// ignored.
fn advise_huge(addr: usize, len: usize) {
    // SAFETY: madvise with MADV_HUGEPAGE changes no contents, only how the
    // kernel backs our own mapping.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
}

/// Rounds `len` up to a multiple of `align` (a power of two).
pub(super) fn round_up(len: usize, align: usize) -> usize {
    len.div_ceil(align) * align
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_covers_the_whole_text_and_the_whole_region() {
        let text = 0x5000_0000_0000..0x5000_0100_0000;
        let two_gib = 1u64 << 31;
        // A region ending right below the text, as far down as reach allows.
        assert!(within_reach(&text, text.end - (two_gib - 1), 4096));
        assert!(!within_reach(&text, text.end - two_gib, 4096));
        // Above: the region's end counts.
        assert!(within_reach(&text, text.start + two_gib - 1 - 4096, 4096));
        assert!(!within_reach(&text, text.start + two_gib - 4096, 4096));
    }

    #[test]
    fn hints_are_aligned_in_reach_and_below_the_text_first() {
        let text = 0x5555_0000_0000..0x5555_0200_0000;
        let hints = hint_candidates(&text, HUGE_PAGE as u64);
        assert!(hints.len() > 1000);
        assert!(hints[0] < text.start);
        for &h in &hints {
            assert_eq!(h % HUGE_PAGE as u64, 0);
            assert!(within_reach(&text, h, HUGE_PAGE as u64));
            assert!(h + HUGE_PAGE as u64 <= text.start || h >= text.end);
        }
    }

    #[test]
    fn the_text_segment_holds_this_crate() {
        let text = text_range();
        assert!(text.contains(&(text_anchor as *const () as u64)));
        assert!(text.end - text.start > 1, "found in /proc/self/maps");
    }
}
