//! rxdp's JIT layer: machine code for verified programs.
//!
//! - [`x86`]: a hand-written x86-64 encoder (typed registers, conditions,
//!   operand sizes; it knows nothing of BPF).
//! - [`pack`]: executable memory, the prog pack allocator: 2 MiB packs, each
//!   one memfd mapped twice (read+execute to run, read+write to write),
//!   carved into 64-byte chunks, and the text-poke API that patches one
//!   instruction of running code.

pub mod pack;
pub mod x86;
/// The BPF to x86-64 backend: compiles verified programs onto [`x86`] into [`pack`] memory.
pub mod x86_64;
