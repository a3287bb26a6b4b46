//! The contract between compiled code and the program type that runs it:
//! what a run passes in, where helpers live, and the layout of the map
//! data generated code reads without a call.
//!
//! # A run
//!
//! A compiled program is a System V function `(r1, r2, r3, r4, r5, run)
//! -> r0`, the context in r1. `run` points to the run's [`RunCtx`]; the
//! prologue of the main program keeps it in r12, which no BPF register maps to and which every System V
//! function preserves, so it survives helper calls, bpf-to-bpf calls and
//! tail calls without being passed. From r12 the code reaches the tail
//! call count (one per run, shared by every frame: a subprogram cannot
//! reset it, the kernel's 2024 "tailcall hierarchy" rule), and helpers
//! reach the program type's environment through it.
//!
//! # Helpers
//!
//! [`Runtime::helper`] gives the address of each helper's native entry,
//! which the code calls with a rel32 `call` (prog packs lie within 2 GiB
//! of the process's text, where the helpers are) with r1..r5 in the
//! System V argument registers and the run still in r12: an entry that
//! needs the run takes it from there (the XDP helpers' entries move it to
//! the sixth argument and jump to Rust), and call sites spend nothing on
//! it.
//!
//! # Maps the code reads
//!
//! A map pointer in a program register points to a [`MapHeader`]: the
//! tail-call sequence reads a prog array's `max_entries` and its table of
//! tail-call entry addresses from it, as the kernel's JIT reads `struct
//! bpf_array`. Array lookups the verifier proved to always name one array
//! are inlined from that array's [`ArrayLayout`].

use std::ffi::c_void;
use std::sync::atomic::AtomicU64;

/// What a run of compiled code reads and writes besides its context.
#[repr(C)]
#[derive(Debug)]
pub struct RunCtx {
    /// The program type's environment, for helpers (opaque here).
    pub env: *mut c_void,
    /// Tail calls made so far in this run (at most
    /// [`MAX_TAIL_CALL_CNT`]).
    pub tail_call_cnt: u32,
}

impl RunCtx {
    /// A run with environment `env` and no tail call made yet.
    pub fn new(env: *mut c_void) -> RunCtx {
        RunCtx {
            env,
            tail_call_cnt: 0,
        }
    }
}

/// Offset of [`RunCtx::tail_call_cnt`].
pub(super) const RUN_TAIL_CALL_CNT: i32 = std::mem::offset_of!(RunCtx, tail_call_cnt) as i32;

/// Tail calls one run may make (the kernel's `MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALL_CNT: u32 = 33;

/// The start of whatever a map pointer in a program register points to.
///
/// For a prog array, `table` is `max_entries` tail-call entry addresses
/// ([`super::JitImage::tail_call_entry`] of the program in each slot, 0 for
/// an empty slot), stored with release ordering by the control plane and
/// read by generated code with a plain load. Other maps leave `table`
/// null: generated code reads it only for prog arrays.
#[repr(C)]
#[derive(Debug)]
pub struct MapHeader {
    /// The map's `max_entries`.
    pub max_entries: u32,
    /// Padding, zero.
    pub reserved: u32,
    /// A prog array's entry table.
    pub table: *const AtomicU64,
}

/// Offset of [`MapHeader::max_entries`].
pub(super) const MAP_MAX_ENTRIES: i32 = std::mem::offset_of!(MapHeader, max_entries) as i32;
/// Offset of [`MapHeader::table`].
pub(super) const MAP_TABLE: i32 = std::mem::offset_of!(MapHeader, table) as i32;

/// Where an array map's values are, for lookups compiled inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayLayout {
    /// Address of element 0's value; element `i` is at `values + i *
    /// stride`. It must not move while code using it lives.
    pub values: u64,
    /// Bytes from one value to the next.
    pub stride: u32,
    /// The array's `max_entries`.
    pub max_entries: u32,
}

/// What the program type supplies to the compiler.
pub trait Runtime {
    /// The native entry of helper `id`, if the program type has one.
    fn helper(&self, id: u32) -> Option<u64>;

    /// The layout of map `index` of the program when it is an array whose
    /// lookups may be compiled inline (a plain, not per-CPU, array).
    fn array(&self, index: u32) -> Option<ArrayLayout>;

    /// The `max_entries` of map `index` when it is a prog array whose
    /// slots the program type patches direct tail calls for (see
    /// [`super::JitImage::poke_tail_call`]); `None` compiles every tail
    /// call through it as an indirect one.
    fn prog_array(&self, index: u32) -> Option<u32> {
        let _ = index;
        None
    }
}

/// A runtime without helpers or maps: programs that call nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRuntime;

impl Runtime for NoRuntime {
    fn helper(&self, _id: u32) -> Option<u64> {
        None
    }

    fn array(&self, _index: u32) -> Option<ArrayLayout> {
        None
    }
}

/// Calls compiled subprogram code at `func` (a callback address of a
/// [`super::JitImage`]) with `r1..r5 = args` and the run in r12, as a
/// helper running a callback does; returns its r0.
///
/// # Safety
///
/// `func` must be a callback address of a live image compiled with the
/// runtime whose environment `run` holds, and `args` the arguments the
/// verifier assumed for the callback, so that running it is as safe as
/// the program itself.
pub unsafe fn call_subprogram(func: u64, run: *mut RunCtx, args: [u64; 5]) -> u64 {
    let r0: u64;
    // SAFETY: the code at `func` is a subprogram frame (see `frame`): a
    // System V function of five arguments that preserves rbx, rbp and
    // r12..r15 and reads the run from r12; the caller vouches for the
    // rest. The stack is 16-byte aligned here (no `nostack`).
    unsafe {
        std::arch::asm!(
            "call {func}",
            func = in(reg) func,
            in("r12") run,
            inout("rdi") args[0] => _,
            inout("rsi") args[1] => _,
            inout("rdx") args[2] => _,
            inout("rcx") args[3] => _,
            inout("r8") args[4] => _,
            lateout("rax") r0,
            clobber_abi("sysv64"),
        );
    }
    r0
}
