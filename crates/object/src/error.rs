//! The object layer's error type: everything that can be wrong with an
//! ELF object, named by section, symbol, instruction or BTF type.

use crate::btf::BtfError;
use rxdp_isa::DecodeError;
use thiserror::Error;

/// Why an object could not be parsed.
///
/// Every variant names the place at fault (section, symbol, relocation,
/// instruction index, BTF type) so that a user can find it with
/// `llvm-readelf` or `llvm-objdump`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ObjectError {
    /// The ELF container itself is unreadable (the `object` crate's
    /// message: truncated header, section table out of bounds, ...).
    #[error("malformed ELF: {0}")]
    Elf(String),
    /// An ELF file, but not a little-endian BPF relocatable object.
    #[error("not a BPF object: {0}")]
    NotBpf(String),
    /// A section is malformed (size, alignment, contents).
    #[error("section {section}: {msg}")]
    Section {
        /// The section's name.
        section: String,
        /// What is wrong.
        msg: String,
    },
    /// A symbol is malformed or refers to something that does not exist.
    #[error("symbol {symbol}: {msg}")]
    Symbol {
        /// The symbol's name (or `#index` when it has none).
        symbol: String,
        /// What is wrong.
        msg: String,
    },
    /// A relocation is malformed: past its section, against a bad symbol,
    /// or on an instruction that cannot be relocated.
    #[error("section {section}: relocation #{index} at offset {offset:#x}: {msg}")]
    Relocation {
        /// The section the relocation applies to.
        section: String,
        /// The relocation's index in its relocation section.
        index: usize,
        /// Its `r_offset`.
        offset: u64,
        /// What is wrong.
        msg: String,
    },
    /// An executable section whose name matches no entry of libbpf's
    /// section table, so the program type is unknown.
    #[error("section {0}: unknown program type (not one of libbpf's SEC() names)")]
    UnknownSection(String),
    /// A program's code is malformed (bad call target, undecodable
    /// instruction, too large after linking).
    #[error("program {program}: {msg}")]
    Program {
        /// The program's name.
        program: String,
        /// What is wrong.
        msg: String,
    },
    /// A linked program contains an instruction that does not decode.
    #[error("program {program}: {source}")]
    Decode {
        /// The program's name.
        program: String,
        /// The decoder's error, with the slot index in the linked program.
        source: DecodeError,
    },
    /// A map definition is malformed.
    #[error("map {map}: {msg}")]
    Map {
        /// The map's name.
        map: String,
        /// What is wrong.
        msg: String,
    },
    /// `.BTF` or `.BTF.ext` is malformed.
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// A program needs something rxdp does not provide (CO-RE
    /// relocations, kfunc calls, extern variables).
    #[error("program {program} is not supported by rxdp: {what}")]
    Unsupported {
        /// The program's name.
        program: String,
        /// What it needs.
        what: String,
    },
    /// A global variable lookup or update failed.
    #[error("global variable {section}/{name}: {msg}")]
    GlobalVar {
        /// The data section (`.rodata`, `.data`, `.bss`, ...).
        section: String,
        /// The variable's name.
        name: String,
        /// What is wrong.
        msg: String,
    },
}

impl ObjectError {
    pub(crate) fn section(section: &str, msg: impl Into<String>) -> ObjectError {
        ObjectError::Section {
            section: section.to_owned(),
            msg: msg.into(),
        }
    }

    pub(crate) fn map(map: &str, msg: impl Into<String>) -> ObjectError {
        ObjectError::Map {
            map: map.to_owned(),
            msg: msg.into(),
        }
    }

    pub(crate) fn program(program: &str, msg: impl Into<String>) -> ObjectError {
        ObjectError::Program {
            program: program.to_owned(),
            msg: msg.into(),
        }
    }
}
