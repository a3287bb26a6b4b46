//! A hand-written x86-64 encoder, the bottom of the x86-64 JIT.
//!
//! It knows nothing of BPF: typed registers ([`Reg`]), operand sizes
//! ([`Size`]), condition codes ([`Cond`]) and memory references ([`Mem`])
//! go in, machine code comes out of an [`Asm`] buffer, one instruction per
//! method, always in its shortest encoding so that sizes are exact and
//! known: the emitter above maps BPF onto it, records patch sites from
//! [`Asm::len`], and shrinks jumps to rel8 by iterating [`JumpPlan`]s to a
//! fixed point. Branches to absolute addresses (helpers) are rel32,
//! resolved by [`Asm::finish`] against the address the image will run at.
//!
//! Encodings are from the Intel 64 and IA-32 Architectures Software
//! Developer's Manual, Vol. 2 (each module names the tables it uses); the
//! tests decode every form with iced-x86.

mod alu;
mod asm;
mod atomic;
mod branch;
mod error;
mod misc;
mod mov;
mod operand;

pub use alu::{AluOp, ShiftOp, UnaryOp};
pub use asm::{Asm, JumpPlan, JumpSize, Label};
pub use branch::{REL32_LEN, encode_call_rel32, encode_jmp_rel32};
pub use error::X86Error;
pub use misc::MAX_INSN_LEN;
pub use operand::{Cond, Mem, Reg, Scale, Size};
