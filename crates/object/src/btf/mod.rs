//! BTF, the BPF Type Format: the `.BTF` section's types and strings and
//! the `.BTF.ext` section's per-instruction records (func_info,
//! line_info, CO-RE relocations), and the `.BTF` section fixed up as the
//! kernel loads it.
//!
//! The layouts are the kernel's (include/uapi/linux/btf.h and
//! Documentation/bpf/btf.rst). Every read is bounds-checked and every
//! count is checked against the bytes that hold it before anything is
//! allocated, so a hostile section gives a [`BtfError`], never a panic or
//! a huge allocation. Type chains (typedef of const of ...) are followed
//! with a depth limit, so loops end in an error too.

mod ext;
mod fixup;
mod reader;
mod types;

pub use ext::{BtfExt, CoreRelo, ExtFuncInfo, ExtLineInfo, ExtSection, core_relo_kind_name};
pub use fixup::{ElfLayout, fixup_datasecs};
pub use types::{Btf, BtfKind, BtfType, EnumValue, Member, Param, VarSecinfo, linkage};

use thiserror::Error;

/// What is wrong with a `.BTF` or `.BTF.ext` section.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BtfError {
    /// The header is short, has a bad magic or version, or places its
    /// parts outside the section.
    #[error("{section}: bad header: {msg}")]
    Header {
        /// `.BTF` or `.BTF.ext`.
        section: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// The type at `id` is truncated or malformed.
    #[error(".BTF: type [{id}]: {msg}")]
    Type {
        /// The type id.
        id: u32,
        /// What is wrong.
        msg: String,
    },
    /// A type id refers past the last type.
    #[error(".BTF: type id {id} does not exist ({count} types)")]
    BadTypeId {
        /// The id asked for.
        id: u32,
        /// The number of types, including void.
        count: usize,
    },
    /// A string offset is past the string section or its string has no
    /// terminating NUL.
    #[error(".BTF: string offset {0} is outside the string section")]
    BadString(u32),
    /// A chain of modifiers, typedefs or arrays is too long (a loop).
    #[error(".BTF: type [{0}]: reference chain too long (a loop?)")]
    Loop(u32),
    /// A type has no size (void, function, forward declaration).
    #[error(".BTF: type [{id}] ({kind}) has no size")]
    NoSize {
        /// The type id.
        id: u32,
        /// Its kind.
        kind: &'static str,
    },
    /// A `.BTF.ext` record table is malformed.
    #[error(".BTF.ext: {part}: {msg}")]
    Ext {
        /// `func_info`, `line_info` or `core_relo`.
        part: &'static str,
        /// What is wrong.
        msg: String,
    },
}
