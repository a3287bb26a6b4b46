//! The eBPF instruction set as RFC 9669 defines it, with the Linux
//! extensions clang emits: typed instructions ([`Insn`]), strict decoding
//! and encoding ([`codec`]), an assembler ([`asm`]) and a disassembler
//! ([`disasm`](mod@disasm)) speaking the C-like syntax of llvm-objdump and the kernel
//! verifier log.
//!
//! This crate knows nothing of maps, helpers or execution; it has no
//! `unsafe` code.
#![forbid(unsafe_code)]

pub mod asm;
pub mod codec;
pub mod disasm;
pub mod helper_id;
pub mod insn;
pub mod maptype;
pub mod opcode;

pub use asm::{AsmError, Assembled, MapDecl, assemble};
pub use codec::{DecodeError, DecodeErrorKind, RawInsn, decode, decode_raw, encode, encode_raw};
pub use disasm::{DisasmOptions, disasm, disasm_insn};
pub use insn::{AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width};
