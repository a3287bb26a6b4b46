//! The world a program runs in: helper functions and, for the checked mode,
//! the memory it may touch.
//!
//! The interpreter knows nothing of program types. The XDP layer (or a
//! test) implements [`Env`] to supply helpers and to describe the context,
//! the packet and other memory as [`Region`]s.

use thiserror::Error;

/// A range of memory a program may access, for the checked mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First address (an exposed-provenance address, see
    /// [`core::ptr::with_exposed_provenance`]).
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Whether stores and atomics may touch it.
    pub writable: bool,
    /// What the memory is, for fault messages.
    pub kind: RegionKind,
}

impl Region {
    /// Whether `[addr, addr + size)` lies entirely inside the region.
    pub fn contains(&self, addr: u64, size: u64) -> bool {
        addr >= self.start
            && addr
                .checked_add(size)
                .is_some_and(|end| end - self.start <= self.len)
    }

    /// One past the last address.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// What a [`Region`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// The program's context (`struct xdp_md`, ...).
    Context,
    /// The live bpf stack frames.
    Stack,
    /// Packet data.
    Packet,
    /// A map value handed out by a helper (or a global-data map).
    MapValue,
    /// Other memory a helper handed out.
    HelperMemory,
    /// Plain memory, e.g. the conformance suite's memory block.
    Memory,
}

impl RegionKind {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            RegionKind::Context => "context",
            RegionKind::Stack => "stack",
            RegionKind::Packet => "packet",
            RegionKind::MapValue => "map value",
            RegionKind::HelperMemory => "helper memory",
            RegionKind::Memory => "memory",
        }
    }
}

/// Why a helper call failed; ends the run with [`crate::FaultKind::Helper`].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HelperError {
    /// No helper has this id in this environment.
    #[error("unknown helper {0}")]
    Unknown(u32),
    /// The helper could not complete (a bad argument the verifier should
    /// have caught, an environment limit, ...).
    #[error("helper {id} failed: {reason}")]
    Failed {
        /// The helper id.
        id: u32,
        /// What went wrong.
        reason: String,
    },
}

/// The world a program runs in: its helpers and (checked mode) its memory.
///
/// # Safety
///
/// The checked mode dereferences any address inside a region this
/// environment reports (through [`Env::regions`] or the `grant` callback
/// of [`Env::call_helper`]) and the legacy packet, so every such region
/// must be memory valid for reads (and for writes if `writable`) for the
/// whole run, and must not overlap Rust data the run does not own.
pub unsafe trait Env {
    /// Calls helper `id` with `r1..r5`; returns `r0`. Memory the helper hands
    /// out (a map value, ...) is reported through `grant` so the checked
    /// mode lets the program touch it for the rest of the run.
    fn call_helper(
        &mut self,
        id: u32,
        args: [u64; 5],
        grant: &mut dyn FnMut(Region),
    ) -> Result<u64, HelperError>;

    /// Checked mode: pushes onto `out` (which the caller has cleared) the
    /// regions besides the stack the program may touch now. Asked at the
    /// start of a run and again after every helper call (helpers may move
    /// the packet).
    fn regions(&self, out: &mut Vec<Region>);

    /// Legacy `LD_ABS`/`LD_IND` source: (address, length), if this program
    /// type has one.
    fn legacy_packet(&self) -> Option<(u64, u64)> {
        None
    }
}
