//! Loading clang `-target bpf` ELF objects with libbpf's conventions.
//!
//! [`parse`] reads an object into an [`Object`]: its [`Program`]s, each
//! linked with the subprograms it calls (as libbpf appends `.text`
//! functions), its [`MapDef`]s (BTF-defined `.maps`, legacy `maps`, and
//! one array map per global data section), its global variables, license
//! and kernel version. Instructions refer to maps by index into
//! [`Object::maps`] (`BPF_PSEUDO_MAP_IDX` and `BPF_PSEUDO_MAP_IDX_VALUE`),
//! so the next layer can create the maps and run the program without
//! file descriptors.
//!
//! The crate reads untrusted bytes: every malformed input is an
//! [`ObjectError`] naming what is wrong, never a panic, and allocations
//! are bounded by the input's size. It has no `unsafe` code and knows
//! nothing of execution.
//!
//! Not supported (the object parses, the program carries
//! [`Program::unsupported`]): CO-RE relocations, kfunc calls, `__ksym` and
//! `__kconfig` externs. Not parsed at all: `.struct_ops`, `.kconfig`
//! maps, arena maps' `.addr_space.1` data, static linking of several
//! objects.
#![forbid(unsafe_code)]

pub mod btf;
mod elf;
mod error;
mod link;
pub mod maps;
mod object;
pub mod program;
pub mod secdef;

pub use error::ObjectError;
pub use maps::{InitSlot, MapDef, MapOrigin, Pinning, SlotTarget};
pub use object::{GlobalVar, Object, parse};
pub use program::{FuncInfo, LineInfo, Program, Subprog};
pub use secdef::{SecDef, SecFlags, find_sec_def};
