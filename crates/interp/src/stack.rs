//! The bpf stack: eight 512-byte frames, allocated once and reused.
//!
//! Frame 0 (the main program) sits at the top of the block and the stack
//! grows down: frame `k` spans `[top - (k + 1) * 512, top - k * 512)` and its
//! `r10` is `top - k * 512`. The frames that are live at a moment are thus
//! one contiguous range, which keeps the checked mode's stack check to two
//! comparisons. Runs do not zero the stack: the verifier forbids reading
//! stack bytes a run has not written.
//!
//! A bpf-to-bpf call and a helper's callback (see [`crate::HelperCtx`])
//! both take the next frame; a tail call reuses the frame it is made from.

use crate::env::Region;
use crate::prepare::{Interpreter, Op};

/// Bytes of stack per frame (`MAX_BPF_STACK`).
pub const STACK_FRAME_SIZE: usize = 512;
/// Call frames, the main program's included (`MAX_CALL_FRAMES`).
pub const MAX_CALL_FRAMES: usize = 8;
const STACK_SIZE: usize = STACK_FRAME_SIZE * MAX_CALL_FRAMES;

#[repr(C, align(16))]
struct StackMem([u8; STACK_SIZE]);

/// What a bpf-to-bpf call saves: where to return (the program, since a
/// tail call in the callee replaces the callee's program, and the slot)
/// and the caller's r6-r9.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallFrame {
    pub(crate) ret_pc: usize,
    pub(crate) saved: [u64; 4],
    pub(crate) prog: *const Interpreter,
    pub(crate) ops: *const Op,
}

impl Default for CallFrame {
    fn default() -> Self {
        CallFrame {
            ret_pc: 0,
            saved: [0; 4],
            prog: core::ptr::null(),
            ops: core::ptr::null(),
        }
    }
}

/// Counters of one run, shared by the main program, the programs it tail
/// calls and the callbacks helpers run.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RunCounters {
    /// Checked mode: instructions the run may still execute. The loop keeps
    /// it in a local and stores it here around helper calls and returns.
    pub(crate) budget: u64,
    /// Checked mode: the budget the run started with, for the fault.
    pub(crate) max_insns: u64,
    /// Tail calls counted so far (see `tail_call.rs`).
    pub(crate) tail_calls: u32,
}

/// The stack of one running program, plus the scratch state of a run, kept
/// here so that a run allocates nothing. One per thread; reuse it.
pub struct Stack {
    mem: Box<StackMem>,
    pub(crate) frames: [CallFrame; MAX_CALL_FRAMES - 1],
    pub(crate) regions: Vec<Region>,
    pub(crate) granted: Vec<Region>,
    pub(crate) counters: RunCounters,
}

// SAFETY: the raw program pointers in `frames` are written and read only
// within one run, which holds `&mut Stack` for its whole length; a frame
// is always written (by a call) before it is read (by the matching exit),
// so pointers left over from an earlier run, possibly on another thread,
// are never dereferenced.
unsafe impl Send for Stack {}
// SAFETY: as for `Send`; through `&Stack` only the stack bytes can be
// read, never the pointers.
unsafe impl Sync for Stack {}

impl Stack {
    /// A zeroed stack.
    pub fn new() -> Stack {
        Stack {
            mem: Box::new(StackMem([0; STACK_SIZE])),
            frames: [CallFrame::default(); MAX_CALL_FRAMES - 1],
            regions: Vec::new(),
            granted: Vec::new(),
            counters: RunCounters::default(),
        }
    }

    /// The (exposed) address one past the top of the stack: frame 0's `r10`.
    pub(crate) fn top(&mut self) -> u64 {
        let base = self.mem.0.as_mut_ptr().expose_provenance() as u64;
        base + STACK_SIZE as u64
    }

    /// The stack's whole memory, for tests and debugging.
    pub fn bytes(&self) -> &[u8] {
        &self.mem.0
    }
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new()
    }
}

impl core::fmt::Debug for Stack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stack").finish_non_exhaustive()
    }
}
