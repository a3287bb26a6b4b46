//! The bpf stack: eight 512-byte frames, allocated once and reused.
//!
//! Frame 0 (the main program) sits at the top of the block and the stack
//! grows down: frame `k` spans `[top - (k + 1) * 512, top - k * 512)` and its
//! `r10` is `top - k * 512`. The frames that are live at a moment are thus
//! one contiguous range, which keeps the checked mode's stack check to two
//! comparisons. Runs do not zero the stack: the verifier forbids reading
//! stack bytes a run has not written.

use crate::env::Region;

/// Bytes of stack per frame (`MAX_BPF_STACK`).
pub const STACK_FRAME_SIZE: usize = 512;
/// Call frames, the main program's included (`MAX_CALL_FRAMES`).
pub const MAX_CALL_FRAMES: usize = 8;
const STACK_SIZE: usize = STACK_FRAME_SIZE * MAX_CALL_FRAMES;

#[repr(C, align(16))]
struct StackMem([u8; STACK_SIZE]);

/// What a bpf-to-bpf call saves: where to return and the caller's r6-r9.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct CallFrame {
    pub(crate) ret_pc: usize,
    pub(crate) saved: [u64; 4],
}

/// The stack of one running program, plus the scratch state of a run, kept
/// here so that a run allocates nothing. One per thread; reuse it.
pub struct Stack {
    mem: Box<StackMem>,
    pub(crate) frames: [CallFrame; MAX_CALL_FRAMES - 1],
    pub(crate) regions: Vec<Region>,
    pub(crate) granted: Vec<Region>,
}

impl Stack {
    /// A zeroed stack.
    pub fn new() -> Stack {
        Stack {
            mem: Box::new(StackMem([0; STACK_SIZE])),
            frames: [CallFrame::default(); MAX_CALL_FRAMES - 1],
            regions: Vec::new(),
            granted: Vec::new(),
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
