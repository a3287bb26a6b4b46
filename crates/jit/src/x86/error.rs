//! Errors of the x86-64 encoder. Each names the byte offset of the
//! instruction at fault, so that the emitter can map it back to the BPF
//! instruction it was compiling.

use super::asm::Label;
use thiserror::Error;

/// What went wrong while encoding or finishing an image.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum X86Error {
    /// An instruction was asked for with operands it has no encoding for
    /// (a byte-sized imul, rsp as an index, an immediate wider than its
    /// operand, a nop longer than 15 bytes...). Nothing was emitted for it.
    #[error("instruction at offset {offset:#x}: {what}")]
    Operand {
        /// Offset where the instruction would have started.
        offset: usize,
        /// What is wrong with its operands.
        what: &'static str,
    },
    /// A jump or call refers to a label that was never bound.
    #[error("branch at offset {site:#x}: label {label:?} was never bound")]
    UnboundLabel {
        /// Offset of the branch instruction.
        site: usize,
        /// The label.
        label: Label,
    },
    /// A label was bound a second time.
    #[error("label {label:?} bound again at offset {offset:#x}")]
    LabelRebound {
        /// The label.
        label: Label,
        /// Offset of the second bind.
        offset: usize,
    },
    /// A short (rel8) branch cannot reach its target.
    #[error("short branch at offset {site:#x}: displacement {disp} does not fit in 8 bits")]
    ShortBranchOutOfRange {
        /// Offset of the branch instruction.
        site: usize,
        /// The displacement it would need.
        disp: i64,
    },
    /// A rel32 branch to an absolute address cannot reach it from where the
    /// image is placed.
    #[error("branch at offset {site:#x} to {target:#x}: beyond +-2 GiB of base {base:#x}")]
    Rel32OutOfRange {
        /// Offset of the branch instruction.
        site: usize,
        /// The absolute target.
        target: u64,
        /// The address the image is placed at.
        base: u64,
    },
}
