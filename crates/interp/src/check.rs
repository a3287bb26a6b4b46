//! The checked mode's memory check: is an access inside the memory the
//! program may touch at this moment?
//!
//! Accessible memory is the live stack frames (frame 0 down to the current
//! one: a callee's frame dies when it returns), the regions the environment
//! reports now, and the regions helpers granted earlier in the run.

use crate::env::{Region, RegionKind};
use crate::fault::{Access, FaultKind};
use crate::stack::{MAX_CALL_FRAMES, STACK_FRAME_SIZE};

/// The accessible memory of one checked run, at one moment.
pub(crate) struct MemCheck<'a> {
    /// One past frame 0's top.
    pub(crate) stack_top: u64,
    /// The environment's regions, refreshed after each helper call.
    pub(crate) regions: &'a [Region],
    /// Regions helpers granted during this run.
    pub(crate) granted: &'a [Region],
}

impl MemCheck<'_> {
    /// Checks an access of `size` bytes at `addr`; `fp` is the current
    /// frame's `r10`.
    #[inline(always)]
    pub(crate) fn check(
        &self,
        addr: u64,
        size: u64,
        access: Access,
        fp: u64,
    ) -> Result<(), FaultKind> {
        let live_lo = fp - STACK_FRAME_SIZE as u64;
        if addr >= live_lo && addr < self.stack_top && self.stack_top - addr >= size {
            return Ok(());
        }
        self.check_slow(addr, size, access, fp)
    }

    #[cold]
    #[inline(never)]
    fn check_slow(&self, addr: u64, size: u64, access: Access, fp: u64) -> Result<(), FaultKind> {
        let live = self.live_stack(fp);
        let mut read_only = None;
        for r in self.regions.iter().chain(self.granted.iter()) {
            if r.contains(addr, size) {
                if access == Access::Read || r.writable {
                    return Ok(());
                }
                read_only = Some(*r);
            }
        }
        if let Some(region) = read_only {
            return Err(FaultKind::ReadOnly { addr, size, region });
        }
        let whole_stack_lo = self.stack_top - (STACK_FRAME_SIZE * MAX_CALL_FRAMES) as u64;
        if addr >= whole_stack_lo && addr < live.start {
            return Err(FaultKind::DeadStackFrame {
                access,
                addr,
                size,
                live,
            });
        }
        let near = core::iter::once(&live)
            .chain(self.regions.iter())
            .chain(self.granted.iter())
            .min_by_key(|r| (distance(r, addr, size), !r.contains(addr, 1)))
            .copied();
        Err(FaultKind::OutOfBounds {
            access,
            addr,
            size,
            near,
        })
    }

    /// The live stack frames as one region.
    pub(crate) fn live_stack(&self, fp: u64) -> Region {
        let start = fp - STACK_FRAME_SIZE as u64;
        Region {
            start,
            len: self.stack_top - start,
            writable: true,
            kind: RegionKind::Stack,
        }
    }
}

/// How far an access lies from a region (0 if they overlap). Among regions
/// at the same distance, the one the access starts in is nearest.
fn distance(r: &Region, addr: u64, size: u64) -> u64 {
    let end = addr.saturating_add(size);
    if end <= r.start {
        r.start - end
    } else if addr >= r.end() {
        addr - r.end()
    } else {
        0
    }
}
