//! Program memory handed to helpers: key and value pointers, buffers to
//! copy from and into.
//!
//! The kernel's verifier proves every such argument (`check_helper_mem_access`)
//! and helpers then trust it. rxdp's checked engine proves nothing ahead of
//! time, so in a checked run a helper checks each pointer and size it is
//! given against the memory the program may touch at that moment: the bpf
//! stack, the context (read-only), the packet, direct-access map values and
//! the memory earlier helper calls of the run handed out. A bad argument
//! ends the run with a helper fault naming the helper and the argument. In
//! a fast run the verifier's proof stands and nothing is checked.

use rxdp_interp::{HelperError, Region};

/// What a checked run lets helpers read and write, besides the regions the
/// environment reports (see [`super::XdpEnv`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ArgCheck {
    /// Whether arguments are checked at all (the checked engine).
    pub(crate) checked: bool,
    /// The bpf stack's memory, all frames: a helper may be handed a
    /// pointer into any live frame of its caller's chain.
    pub(crate) stack: Option<Region>,
}

/// Direction of a helper's access to program memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// The helper reads the memory (a key, a source buffer).
    Read,
    /// The helper writes the memory (an output buffer).
    Write,
}

/// The error of an argument outside the program's memory.
pub(crate) fn bad_arg(id: u32, what: &str, addr: u64, len: u64, why: &str) -> HelperError {
    HelperError::Failed {
        id,
        reason: format!(
            "{} ({what}): {len} bytes at {addr:#x} {why}",
            rxdp_isa::helper_id::helper_name(id as i32).unwrap_or("helper")
        ),
    }
}

/// Whether `[addr, addr + len)` lies in one of `regions` that allows `dir`;
/// `Err` says why not.
pub(crate) fn check(
    regions: impl Iterator<Item = Region>,
    addr: u64,
    len: u64,
    dir: Dir,
) -> Result<(), &'static str> {
    let mut read_only = false;
    for r in regions {
        if r.contains(addr, len) {
            if dir == Dir::Read || r.writable {
                return Ok(());
            }
            read_only = true;
        }
    }
    Err(if read_only {
        "is read-only memory"
    } else {
        "is outside every region the program may access"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxdp_interp::RegionKind;

    fn r(start: u64, len: u64, writable: bool) -> Region {
        Region {
            start,
            len,
            writable,
            kind: RegionKind::Memory,
        }
    }

    #[test]
    fn accesses_must_fit_one_region_that_allows_them() {
        let regions = [r(100, 10, true), r(200, 10, false)];
        let it = || regions.iter().copied();
        assert_eq!(check(it(), 100, 10, Dir::Write), Ok(()));
        assert_eq!(check(it(), 205, 5, Dir::Read), Ok(()));
        assert!(
            check(it(), 205, 5, Dir::Write)
                .unwrap_err()
                .contains("read-only")
        );
        assert!(
            check(it(), 105, 6, Dir::Read)
                .unwrap_err()
                .contains("outside")
        );
        assert!(check(it(), u64::MAX, 2, Dir::Read).is_err());
    }
}
