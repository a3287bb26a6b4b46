//! The rxdp verifier: proves BPF programs safe before they run, and
//! rewrites them after, as the kernel's `kernel/bpf/verifier.c` does.
//!
//! Today it runs the structural checks ([`mod@cfg`]), the context-pointer
//! analysis ([`ctx`]) and the post-verification rewrites ([`mod@fixup`]). The
//! full abstract interpretation over register and stack states (bounds of
//! packet, stack, map and context accesses; helper argument types) is not
//! written yet: [`verify`] does **not** prove memory safety.
//!
//! Program types plug in through [`ProgramType`]; the verifier hard-codes
//! none.

pub mod cfg;
pub mod ctx;
pub mod error;
pub mod fixup;
pub mod prog_type;

pub use cfg::{MAX_INSNS, Structure, Subprog, check_structure};
pub use ctx::CtxSite;
pub use error::VerifyError;
pub use fixup::{MapResolver, NoMaps, fixup};
pub use prog_type::{CtxAccess, ProgramType, RawMemory};

use rxdp_isa::Insn;

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
}

/// Checks a program and rewrites it for execution: structure, context
/// accesses, map references. Not yet a proof of memory safety (see the
/// crate documentation).
pub fn verify(
    insns: &[Insn],
    prog_type: &dyn ProgramType,
    maps: &dyn MapResolver,
) -> Result<VerifiedProgram, VerifyError> {
    let structure = check_structure(insns)?;
    let (insns, ctx_accesses) = fixup::rewrite(insns, &structure, prog_type, maps)?;
    Ok(VerifiedProgram {
        insns,
        structure,
        ctx_accesses,
    })
}
