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
mod check;
pub mod ctx;
pub mod error;
pub mod fixup;
pub mod liveness;
pub mod precision;
pub mod prog_type;
pub mod proto;
pub mod scalar;
pub mod state;
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
    /// The most states saved at one instruction
    /// (`max_states_per_insn`).
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
    /// Per subprogram: its stack and the registers it must preserve.
    pub subprogs: Vec<SubprogInfo>,
    /// Tail calls whose prog array and key are the same constants on
    /// every path: the engines may jump to the target directly.
    pub direct_tail_calls: Vec<DirectTailCall>,
    /// `bpf_map_lookup_elem` calls on the same array map on every path:
    /// the engines may compute the value's address inline.
    pub inline_lookups: Vec<InlineLookup>,
    /// The log, at the level asked for.
    pub log: String,
    /// What verification cost.
    pub stats: Stats,
}

/// What the engines need to know about one subprogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubprogInfo {
    /// Bytes of stack the subprogram uses (deepest access below `r10`).
    pub stack_depth: u32,
    /// The callee-saved registers (`r6..r9`) it writes, bit `i` for `ri`:
    /// a prologue saves only these.
    pub callee_saved: u16,
    /// Whether it calls `bpf_tail_call`.
    pub tail_calls: bool,
}

/// A tail call site whose target slot is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectTailCall {
    /// The `call bpf_tail_call` instruction.
    pub pc: usize,
    /// The prog array's map index.
    pub map: u32,
    /// The key.
    pub key: u64,
}

/// A map lookup the engines may inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineLookup {
    /// The `call bpf_map_lookup_elem` instruction.
    pub pc: usize,
    /// The array's map index.
    pub map: u32,
}

/// Proves a program safe and rewrites it for execution.
pub fn verify(
    insns: &[Insn],
    prog_type: &dyn ProgramType,
    maps: &dyn MapResolver,
    opts: &Options,
) -> Result<VerifiedProgram, VerifyError> {
    let structure = check_structure(insns)?;
    let checked = check::Verifier::run(insns, &structure, prog_type, maps, opts)?;
    let ctx_accesses = check::Verifier::ctx_sites(insns, &checked.aux);
    let handoff = check::handoff(insns, &structure, &checked, maps);
    let insns = fixup::rewrite_with(insns, &ctx_accesses, prog_type, maps)?;
    Ok(VerifiedProgram {
        insns,
        structure,
        ctx_accesses,
        subprogs: handoff.subprogs,
        direct_tail_calls: handoff.direct_tail_calls,
        inline_lookups: handoff.inline_lookups,
        log: checked.log,
        stats: checked.stats,
    })
}
