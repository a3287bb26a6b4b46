//! The rxdp interpreter: executes verified, rewritten eBPF programs.
//!
//! [`Interpreter::new`] translates a program (one [`rxdp_isa::Insn`] per
//! 8-byte slot, after the fixup layer bound map references to addresses)
//! into a compact internal form built for dispatch speed. The prepared
//! program then runs in two modes that share one execution loop:
//!
//! - [`Interpreter::run`], the fast mode: no run-time checks at all. It is
//!   `unsafe`: the verifier must have proven the program safe for its
//!   [`Env`].
//! - [`Interpreter::run_checked`], the checked mode: every load, store and
//!   atomic is checked against the memory the program may touch at that
//!   moment (see [`Region`]), and an instruction budget ends runaway loops.
//!   It is the reference engine the other engines are compared with and
//!   the verifier's oracle.
//!
//! Semantics are those of RFC 9669 with Linux's choices where the RFC leaves
//! room (shift counts masked, division by zero, signed overflow); see
//! `alu.rs`.

mod alu;
mod check;
mod env;
mod exec;
mod fault;
mod prepare;
mod stack;

pub use env::{Env, HelperError, Region, RegionKind};
pub use fault::{Access, Fault, FaultKind};
pub use prepare::{Interpreter, PrepareError};
pub use stack::{MAX_CALL_FRAMES, STACK_FRAME_SIZE, Stack};

/// Limits of a checked run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Instructions a run may execute before it ends with
    /// [`FaultKind::InsnLimit`].
    pub max_insns: u64,
}

impl Default for RunLimits {
    /// 2^32 instructions: far beyond any real XDP program's run, yet a
    /// runaway loop ends within seconds.
    fn default() -> Self {
        RunLimits { max_insns: 1 << 32 }
    }
}
