//! The verifier's error: what is wrong with a program, and where.
//!
//! Messages follow the kernel verifier's wording where the kernel has one
//! (`jump out of range from insn 7 to 12`), so that a developer who knows
//! the kernel's log recognises them.

use crate::Stats;
use core::fmt;

/// Why a program was rejected, naming the instruction at fault when there
/// is one.
///
/// Displays as `insn 7: jump out of range from insn 7 to 12`, or just the
/// message when the fault is the program as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// Index of the faulty instruction slot, if the fault has one.
    pub pc: Option<usize>,
    /// What is wrong, in the kernel's words where it has them.
    pub msg: String,
    /// The verifier's log up to the rejection, at the level asked for
    /// (empty at level 0).
    pub log: String,
    /// What the verifier did before it gave up.
    pub stats: Stats,
}

impl VerifyError {
    /// An error at instruction slot `pc`.
    pub fn at(pc: usize, msg: impl Into<String>) -> VerifyError {
        VerifyError {
            pc: Some(pc),
            msg: msg.into(),
            log: String::new(),
            stats: Stats::default(),
        }
    }

    /// An error about the program as a whole.
    pub fn program(msg: impl Into<String>) -> VerifyError {
        VerifyError {
            pc: None,
            msg: msg.into(),
            log: String::new(),
            stats: Stats::default(),
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(f, "insn {pc}: {}", self.msg),
            None => f.write_str(&self.msg),
        }
    }
}

impl std::error::Error for VerifyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_instruction() {
        let e = VerifyError::at(7, "jump out of range from insn 7 to 12");
        assert_eq!(e.to_string(), "insn 7: jump out of range from insn 7 to 12");
        assert_eq!(VerifyError::program("empty").to_string(), "empty");
    }
}
