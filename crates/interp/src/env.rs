//! The world a program runs in: helper functions and, for the checked mode,
//! the memory it may touch.
//!
//! The interpreter knows nothing of program types. The XDP layer (or a
//! test) implements [`Env`] to supply helpers and to describe the context,
//! the packet and other memory as [`Region`]s. Two helpers need the
//! interpreter's cooperation and have their own modules: tail calls
//! (`tail_call.rs`: the environment only looks up the prog array) and
//! helpers that call back into the program (`callback.rs`: `bpf_loop`,
//! `bpf_for_each_map_elem`, which run the callback through the
//! [`HelperCtx`] every helper call receives).

use thiserror::Error;

use crate::callback::HelperCtx;
use crate::fault::Fault;
use crate::tail_call::TailCallSlot;

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
    /// A callback the helper ran through [`HelperCtx::call`] faulted. The
    /// run ends with this fault itself (its `pc` is the callback's), not
    /// with a helper fault; `?` on [`HelperCtx::call`] produces it.
    #[error("callback faulted: {0}")]
    Callback(Box<Fault>),
}

impl From<Fault> for HelperError {
    fn from(f: Fault) -> Self {
        HelperError::Callback(Box::new(f))
    }
}

/// The world a program runs in: its helpers and (checked mode) its memory.
///
/// # Safety
///
/// The checked mode dereferences any address inside a region this
/// environment reports (through [`Env::regions`] or
/// [`HelperCtx::grant`]) and the legacy packet, so every such region must
/// be memory valid for reads (and for writes if `writable`) for the whole
/// run, and must not overlap Rust data the run does not own.
///
/// Every program [`Env::tail_call_target`] returns (see
/// [`crate::TailTarget`]) must stay alive, neither dropped nor moved, until
/// the run that received it ends, and, for a fast-mode run, must be proven
/// safe for this environment as the main program is.
pub unsafe trait Env: Sized {
    /// Calls helper `id` with `r1..r5`; returns `r0`.
    ///
    /// Memory the helper hands out (a map value, ...) is reported through
    /// [`HelperCtx::grant`] so that the checked mode lets the program touch
    /// it for the rest of the run. Helpers that take a callback
    /// (`bpf_loop`, ...) run it with [`HelperCtx::call`].
    ///
    /// `bpf_tail_call` (helper 12) never arrives here: the interpreter
    /// runs it, asking [`Env::tail_call_target`] for the target.
    fn call_helper(
        &mut self,
        id: u32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, Self>,
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

    /// `bpf_tail_call(ctx, prog_array, index)`: what slot `index` of the
    /// prog array at address `prog_array` (the value the program passed in
    /// `r2`) holds now. The interpreter does the rest: the limit of
    /// [`crate::MAX_TAIL_CALL_CNT`], the counting, the jump (see
    /// [`TailCallSlot`] for the kernel's order).
    ///
    /// The default, for environments without prog arrays, ends the run
    /// with [`HelperError::Unknown`]`(12)`, as a call of any helper the
    /// environment lacks does.
    fn tail_call_target(
        &mut self,
        prog_array: u64,
        index: u32,
    ) -> Result<TailCallSlot, HelperError> {
        let _ = (prog_array, index);
        Err(HelperError::Unknown(crate::tail_call::BPF_FUNC_TAIL_CALL))
    }
}
