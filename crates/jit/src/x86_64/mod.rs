//! The BPF to x86-64 backend: compiles a [`VerifiedProgram`] into a
//! [`JitImage`] in prog pack memory.
//!
//! - [`regs`](self): the kernel's register mapping (r0 rax, r1 rdi, r2 rsi,
//!   r3 rdx, r4 rcx, r5 r8, r6 rbx, r7 r13, r8 r14, r9 r15, r10 rbp; r9,
//!   r10 and r11 of x86 as scratch).
//! - [`frame`](self): each subprogram's prologue and epilogue, saving only
//!   the callee-saved registers it writes.
//! - [`emit`](self): one pass over the instructions.
//!
//! - [`runtime`](self): what a run passes in ([`RunCtx`], kept in r12),
//!   where helpers live and what map data the code reads
//!   ([`Runtime`], [`MapHeader`], [`ArrayLayout`]).
//!
//! Jumps are shrunk to rel8 where they fit by re-emitting with the
//! encoder's [`JumpPlan`] until it stops changing. What the backend cannot
//! compile (a helper the runtime lacks, `callx`, kfuncs, legacy packet
//! loads, `lddw` of a BTF id) is reported as [`Unsupported`] so that the
//! caller falls back to the interpreter.

mod emit;
mod frame;
mod poke;
mod regs;
mod runtime;

pub use frame::TAIL_CALL_OFFSET;
pub use poke::{PokeError, TailCallSite};
pub use runtime::{
    ArrayLayout, MAX_TAIL_CALL_CNT, MapHeader, NoRuntime, RunCtx, Runtime, call_subprogram,
};

use crate::pack::{PackAllocator, ProgMem};
use crate::x86::{Asm, JumpPlan, Label, X86Error};
use rxdp_isa::Pseudo;
use rxdp_verifier::VerifiedProgram;
use thiserror::Error;

/// Emission passes in which jump shrinking follows the layout freely;
/// after them a jump that turned near stays near, so that the plans
/// converge even where alignment padding moves targets back and forth.
const FREE_PASSES: usize = 4;

/// How many emission passes jump shrinking may take before the compiler
/// settles for the all-near plan, which always fits.
const MAX_PASSES: usize = 64;

/// Why a program was not compiled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Reason {
    /// A call of a helper (by id) the runtime has no native entry for.
    #[error("helper {0} is unknown to the runtime: no native entry")]
    HelperCall(i32),
    /// A kfunc call (by BTF id): no rxdp engine runs them.
    #[error("kfunc call {0} is not supported")]
    Kfunc(i32),
    /// `callx` (a call through a register): not compiled.
    #[error("callx is not compiled")]
    Callx,
    /// `ld_abs` / `ld_ind` (socket filters' packet loads, which XDP
    /// programs cannot use): not compiled.
    #[error("legacy packet load (ld_abs/ld_ind) is not compiled")]
    LegacyPacketLoad,
    /// A `lddw` whose pseudo form the fixup layer left in place.
    #[error("lddw of {0:?} is not compiled")]
    PseudoLddw(Pseudo),
    /// A jump or call target outside the program (the verifier rules it
    /// out; kept as a value rather than a panic).
    #[error("jump or call target {0} is not an instruction")]
    BadTarget(i64),
    /// The encoder refused an instruction (a bug in the emitter).
    #[error("encoder: {0}")]
    Encoder(X86Error),
    /// No executable memory.
    #[error("executable memory: {0}")]
    Memory(String),
}

/// The first thing the backend cannot compile, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}{reason}", match pc { Some(pc) => format!("insn {pc}: "), None => String::new() })]
pub struct Unsupported {
    /// The instruction at fault, when one is.
    pub pc: Option<usize>,
    /// Why.
    pub reason: Reason,
}

impl Unsupported {
    fn whole(reason: Reason) -> Unsupported {
        Unsupported { pc: None, reason }
    }
}

/// The function a compiled program is: r1 (the context), r2..r5 (left
/// as they are: a verified program reads only r1 on entry), the run.
type EntryFn = extern "sysv64" fn(
    *mut u8,
    std::mem::MaybeUninit<u64>,
    std::mem::MaybeUninit<u64>,
    std::mem::MaybeUninit<u64>,
    std::mem::MaybeUninit<u64>,
    *mut RunCtx,
) -> u64;

/// Where a compiled program starts, valid while its [`JitImage`] lives.
#[derive(Clone, Copy, Debug)]
pub struct Entry(EntryFn);

impl Entry {
    /// Runs the program on the context `ctx` and returns `r0`.
    ///
    /// # Safety
    ///
    /// As for [`JitImage::run`], and the image must still be alive.
    #[inline(always)]
    pub unsafe fn call(self, ctx: *mut u8, run: *mut RunCtx) -> u64 {
        let junk = std::mem::MaybeUninit::uninit();
        (self.0)(ctx, junk, junk, junk, junk, run)
    }
}

/// A compiled program: its machine code in prog pack memory.
#[derive(Debug)]
pub struct JitImage {
    mem: ProgMem,
    code: Vec<u8>,
    /// Native offset of each BPF slot's code.
    insn_offsets: Vec<u32>,
    /// Addresses of the subprograms the program names as callbacks.
    callbacks: Vec<u64>,
    /// The direct tail calls and their patch state.
    sites: poke::Sites,
    /// Where runs start and where tail calls enter, from the start.
    entry_offset: usize,
    tail_offset: usize,
    /// Whether the code reads its [`RunCtx`] (calls helpers or tail-calls).
    uses_run: bool,
}

impl JitImage {
    /// Runs the program on the context `ctx` and returns `r0`.
    ///
    /// # Safety
    ///
    /// `ctx` must point to a valid native context of the program type the
    /// program was verified for (for XDP an `rxdp_xdp::XdpContext`) whose
    /// frame, and any other memory the verifier assumed, the program may
    /// access as verified, for the whole run. `run` must point to a
    /// [`RunCtx`] whose `env` is what the helpers of the [`Runtime`] the
    /// program was compiled with expect, and every map and prog array the
    /// program reaches (and every program in them) must stay alive for the
    /// run.
    #[inline]
    pub unsafe fn run(&self, ctx: *mut u8, run: *mut RunCtx) -> u64 {
        // SAFETY: the caller's contract.
        unsafe { self.entry().call(ctx, run) }
    }

    /// The program's entry point, to keep where runs start (a runner), so
    /// that a run is one indirect call.
    #[inline]
    pub fn entry(&self) -> Entry {
        // SAFETY: the image is a complete System V function taking r1..r5
        // in the first five argument registers and the run in the sixth,
        // returning r0 in rax (see `frame`), mapped read+execute while
        // `self` lives.
        Entry(unsafe {
            std::mem::transmute::<usize, EntryFn>(self.mem.exec_addr() as usize + self.entry_offset)
        })
    }

    /// Runs the program with `r1..r5 = args` (programs of no program
    /// type, such as the conformance suite's, take more than a context).
    ///
    /// # Safety
    ///
    /// As for [`JitImage::run`], for the memory the arguments point to.
    pub unsafe fn run_with_args(&self, args: [u64; 5], run: *mut RunCtx) -> u64 {
        type WithArgs = extern "sysv64" fn(u64, u64, u64, u64, u64, *mut RunCtx) -> u64;
        // SAFETY: as in `entry`, with every argument register set.
        let f: WithArgs =
            unsafe { std::mem::transmute(self.mem.exec_addr() as usize + self.entry_offset) };
        f(args[0], args[1], args[2], args[3], args[4], run)
    }

    /// Whether the code reads its [`RunCtx`]: it calls a helper (other
    /// than lookups compiled inline) or tail-calls. A run of code that
    /// does not may pass a null run.
    pub fn uses_run(&self) -> bool {
        self.uses_run
    }

    /// Where tail calls enter this program: what a prog array's entry
    /// table holds for it (see [`MapHeader`]).
    pub fn tail_call_entry(&self) -> u64 {
        self.exec_addr() + self.tail_offset as u64
    }

    /// The addresses a `lddw rX, <subprogram>` of this program loads: the
    /// only values its helpers may call back.
    pub fn callbacks(&self) -> &[u64] {
        &self.callbacks
    }

    /// Bytes of machine code.
    pub fn code_size(&self) -> usize {
        self.code.len()
    }

    /// The machine code, as it runs at [`JitImage::exec_addr`].
    pub fn bytes(&self) -> &[u8] {
        &self.code
    }

    /// The address the code runs at.
    pub fn exec_addr(&self) -> u64 {
        self.mem.exec_addr()
    }

    /// Where each BPF instruction's code starts: entry `pc` is the offset
    /// in [`JitImage::bytes`] of slot `pc` (what the kernel reports as
    /// `jited_line_info`, per instruction). Code between two slots'
    /// offsets came from the first; a subprogram's prologue lies before its
    /// first slot, its epilogue after its last. The second slot of a
    /// `lddw` has no code: its offset is the next slot's.
    pub fn insn_offsets(&self) -> &[u32] {
        &self.insn_offsets
    }
}

/// How to compile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitOptions {
    /// Indirect tail calls jump through a retpoline (a `call`/`ret` pair
    /// whose speculation is captured in a `pause; lfence` loop) rather
    /// than `jmp reg`: the kernel's defence against Spectre v2 branch
    /// target injection on CPUs without enhanced IBRS.
    pub retpoline: bool,
    /// The targets of backward jumps (loop heads) start on 16-byte
    /// boundaries, padded with nops. Off by default: on this project's
    /// machine it made no measurable difference (`examples/align_loops.rs`:
    /// aligned/unaligned 0.999 over sixteen loop-head offsets), and the
    /// padding costs code size.
    pub align_loops: bool,
}

impl JitOptions {
    /// What the host's kernel does: retpolines when
    /// `/sys/devices/system/cpu/vulnerabilities/spectre_v2` says the kernel
    /// mitigates Spectre v2 with them.
    pub fn host() -> JitOptions {
        static HOST: std::sync::OnceLock<JitOptions> = std::sync::OnceLock::new();
        *HOST.get_or_init(|| {
            let v2 = std::fs::read_to_string("/sys/devices/system/cpu/vulnerabilities/spectre_v2")
                .unwrap_or_default();
            JitOptions {
                retpoline: v2.contains("Retpolines"),
                ..JitOptions::default()
            }
        })
    }
}

/// Compiles `prog` to x86-64 machine code in the global prog pack
/// allocator, with the helpers and maps of `runtime` and the host's
/// [`JitOptions`], or says what it cannot compile.
pub fn compile(prog: &VerifiedProgram, runtime: &dyn Runtime) -> Result<JitImage, Unsupported> {
    compile_with(prog, runtime, JitOptions::host())
}

/// [`compile`] with explicit options.
pub fn compile_with(
    prog: &VerifiedProgram,
    runtime: &dyn Runtime,
    options: JitOptions,
) -> Result<JitImage, Unsupported> {
    let out = layout(prog, runtime, options)?;
    let asm = out.asm;
    let offset = |l: Label| asm.label_offset(l).unwrap_or_default();
    let insn_offsets = out.slots.iter().map(|&l| offset(l) as u32).collect();
    let (entry_offset, tail_offset) = (offset(out.main_entry), offset(out.tail_entry));
    let out_uses_run = out.uses_run;
    let callback_offsets: Vec<usize> = out.callbacks.iter().map(|&l| offset(l)).collect();
    let site_offsets: Vec<poke::SiteOffsets> = out
        .sites
        .iter()
        .map(|l| poke::SiteOffsets {
            map: l.map,
            key: l.key,
            bypass: offset(l.bypass),
            target: offset(l.target),
        })
        .collect();
    let mut mem = PackAllocator::global()
        .alloc(asm.len())
        .map_err(|e| Unsupported::whole(Reason::Memory(e.to_string())))?;
    let code = asm
        .finish(mem.exec_addr())
        .map_err(|e| Unsupported::whole(Reason::Encoder(e)))?;
    mem.copy_in(&code)
        .map_err(|e| Unsupported::whole(Reason::Memory(e.to_string())))?;
    let base = mem.exec_addr();
    let sites = poke::Sites::new(&site_offsets, base, &code)?;
    let mut callbacks: Vec<u64> = callback_offsets.iter().map(|&o| base + o as u64).collect();
    callbacks.sort_unstable();
    callbacks.dedup();
    Ok(JitImage {
        mem,
        code,
        insn_offsets,
        callbacks,
        sites,
        entry_offset,
        tail_offset,
        uses_run: out_uses_run,
    })
}

/// The code of one emission pass and the labels of interest in it.
struct Layout {
    asm: Asm,
    /// Each slot's start.
    slots: Vec<Label>,
    /// Where runs start.
    main_entry: Label,
    /// Whether the code reads the run.
    uses_run: bool,
    /// Where tail calls enter.
    tail_entry: Label,
    /// The subprograms `lddw`s name as callbacks.
    callbacks: Vec<Label>,
    /// The direct tail calls' patch sites.
    sites: Vec<poke::SiteLabels>,
}

/// Emits `prog` until the jump plan reaches a fixed point (each pass
/// shrinks the jumps whose rel8 form reaches in the previous layout; after
/// [`FREE_PASSES`], only jumps short in the previous plan may stay short).
/// The all-near layout of the first pass always fits, so that is the
/// fallback should the plans not settle.
fn layout(
    prog: &VerifiedProgram,
    runtime: &dyn Runtime,
    options: JitOptions,
) -> Result<Layout, Unsupported> {
    let encoder = |e| Unsupported::whole(Reason::Encoder(e));
    let pass = |plan: JumpPlan| -> Result<Layout, Unsupported> {
        let mut e = emit::Emitter::new(prog, runtime, options, plan);
        e.emit()?;
        if let Some(err) = e.asm.error() {
            return Err(encoder(err.clone()));
        }
        let callbacks = e.callbacks();
        Ok(Layout {
            asm: e.asm,
            slots: e.slot,
            main_entry: e.entry[0],
            uses_run: e.uses_run,
            tail_entry: e.tail_entry,
            callbacks,
            sites: e.sites,
        })
    };
    let mut plan = JumpPlan::default();
    for n in 0..MAX_PASSES {
        let out = pass(plan.clone())?;
        let mut next = out.asm.relax().map_err(encoder)?;
        if n >= FREE_PASSES {
            next = next.and(&plan);
        }
        if next == plan {
            return Ok(out);
        }
        plan = next;
    }
    pass(JumpPlan::default())
}
