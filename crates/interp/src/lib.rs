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
//!
//! Two helpers need the interpreter itself, with the kernel's semantics:
//!
//! - Tail calls (`bpf_tail_call`, helper 12): the interpreter runs them;
//!   the environment only says what a prog array slot holds
//!   ([`Env::tail_call_target`] returning a [`TailCallSlot`]). At most
//!   [`MAX_TAIL_CALL_CNT`] per run, counted across bpf-to-bpf frames; a
//!   failed one falls through with the registers untouched; the target's
//!   `exit` returns to the caller of the frame that tail-called.
//! - Callbacks (`bpf_loop`, `bpf_for_each_map_elem`, ...): `lddw rX,
//!   <subprogram>` loads [`callback_value`]`(slot)`, and the helper runs the
//!   subprogram with [`HelperCtx::call`] in the next frame of the same
//!   stack, in the same mode. The helpers themselves (their loops, flags
//!   and errors) belong to the environment.

mod alu;
mod callback;
mod check;
mod env;
mod exec;
mod fault;
mod prepare;
mod stack;
mod tail_call;

pub use callback::{CALLBACK_TAG, HelperCtx, NativeCaller, callback_value};
pub use env::{Env, HelperError, Region, RegionKind};
pub use fault::{Access, Fault, FaultKind};
pub use prepare::{Interpreter, PrepareError};
pub use stack::{MAX_CALL_FRAMES, STACK_FRAME_SIZE, Stack};
pub use tail_call::{BPF_FUNC_TAIL_CALL, MAX_TAIL_CALL_CNT, TailCallSlot, TailTarget};

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
