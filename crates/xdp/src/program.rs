//! Loading an XDP program: structural checks, maps, fixup, and the
//! engines' preparation, in the order the kernel's `bpf_prog_load` does
//! them.

use crate::ctx::Xdp;
use crate::maps::MapTable;
use crate::native::XdpRuntime;
use rxdp_interp::{Interpreter, PrepareError};
use rxdp_isa::Insn;
use rxdp_isa::asm::MapDecl;
use rxdp_jit::x86_64::{JitImage, Reason, Unsupported};
use rxdp_maps::ProgRef;
use rxdp_maps::{MapDef, MapError};
use rxdp_verifier::{Options, Stats, SubprogInfo, VerifiedProgram, VerifyError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Program ids, as the kernel numbers loaded programs (what a prog array
/// lookup from the control plane returns).
static NEXT_ID: AtomicU32 = AtomicU32::new(1);
use thiserror::Error;

/// Why a program failed to load.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The verifier rejected it.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// One of its maps could not be created.
    #[error("map '{name}'")]
    Map {
        /// The map's name.
        name: String,
        /// Why.
        source: MapError,
    },
    /// The object file marks it as using what rxdp cannot run (CO-RE
    /// relocations, kfuncs).
    #[error(transparent)]
    Object(#[from] rxdp_object::ObjectError),
    /// The interpreter could not prepare it.
    #[error(transparent)]
    Prepare(#[from] PrepareError),
}

impl LoadError {
    /// The verifier's rejection, with its log and statistics, when that is
    /// why the load failed.
    pub fn verify_error(&self) -> Option<&VerifyError> {
        match self {
            LoadError::Verify(e) => Some(e),
            _ => None,
        }
    }
}

/// A loaded XDP program with its maps, ready to run.
///
/// Every `XdpProgram` passed rxdp's verifier: loading is the only way to
/// make one, and loading fails on rejection. That proof is what lets the
/// unchecked engines run it.
pub struct XdpProgram {
    insns: Vec<Insn>,
    /// What verification produced, the rewritten instructions included.
    verified: VerifiedProgram,
    maps: Arc<MapTable>,
    /// The engines' forms of the program, shared with the prog arrays
    /// that hold it.
    code: Arc<Code>,
    id: u32,
}

/// A program as the engines run it: what a prog array keeps alive while
/// the program is in it (a tail call may enter either form).
pub(crate) struct Code {
    /// The address of the prog array each direct tail call site jumps
    /// through (an identity only: holding the map would make a cycle
    /// through the array's programs).
    pub(crate) site_arrays: Vec<usize>,
    /// The interpreter's prepared instructions.
    pub(crate) interp: Interpreter,
    /// The native code, compiled at load, or what the JIT could not
    /// compile (the JIT engine then runs the fast interpreter).
    pub(crate) jit: Result<JitImage, Unsupported>,
}

impl XdpProgram {
    /// Loads a program and creates the maps it declares (index `i` of
    /// `maps` is what `map[i]` pseudo loads refer to).
    pub fn load(insns: &[Insn], maps: &[MapDecl]) -> Result<XdpProgram, LoadError> {
        Self::load_with_options(insns, maps, &Options::default())
    }

    /// [`XdpProgram::load`] with the verifier's options.
    pub fn load_with_options(
        insns: &[Insn],
        maps: &[MapDecl],
        opts: &Options,
    ) -> Result<XdpProgram, LoadError> {
        let mut table = MapTable::new();
        for d in maps {
            let def = MapDef {
                map_type: d.map_type,
                key_size: d.key_size,
                value_size: d.value_size,
                max_entries: d.max_entries,
                flags: d.flags,
                name: d.name.clone(),
            };
            let map = rxdp_maps::create(&def, 1).map_err(|source| LoadError::Map {
                name: d.name.clone(),
                source,
            })?;
            // BPF_F_RDONLY_PROG: the program may read the map, not write
            // it (what format strings of bpf_snprintf must live in).
            let writable = d.flags & rxdp_maps::flags::BPF_F_RDONLY_PROG == 0;
            table.push(&d.name, map, writable);
        }
        Self::load_with_maps(insns, Arc::new(table), Xdp::default(), opts)
    }

    /// Loads a program whose maps already exist (shared with the other
    /// programs of its object), as program type `xdp`.
    pub fn load_with_maps(
        insns: &[Insn],
        maps: Arc<MapTable>,
        xdp: Xdp,
        opts: &Options,
    ) -> Result<XdpProgram, LoadError> {
        let verified = rxdp_verifier::verify(insns, &xdp, &*maps, opts)?;
        let interp = Interpreter::new(&verified.insns)?;
        let jit = rxdp_jit::x86_64::compile(&verified, &XdpRuntime::new(&maps));
        let site_arrays = crate::native::site_arrays(&jit, &maps);
        let code = Arc::new(Code {
            site_arrays,
            interp,
            jit,
        });
        crate::native::track_tail_calls(&code, &maps).map_err(|source| LoadError::Map {
            name: "prog array".into(),
            source,
        })?;
        Ok(XdpProgram {
            insns: insns.to_vec(),
            verified,
            maps,
            code,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Everything verification produced: the rewritten instructions, the
    /// subprograms, the context rewrites, the tail calls and lookups the
    /// engines may shortcut, the log and the statistics.
    pub fn verification(&self) -> &VerifiedProgram {
        &self.verified
    }

    /// What verifying the program cost (instructions processed, states,
    /// time), as the kernel's log reports it.
    pub fn verifier_stats(&self) -> Stats {
        self.verified.stats
    }

    /// The verifier's log, at the level the load asked for (empty at
    /// level 0).
    pub fn verifier_log(&self) -> &str {
        &self.verified.log
    }

    /// Per subprogram, in instruction order (the main program first): its
    /// stack depth and the callee-saved registers it writes.
    pub fn subprog_info(&self) -> &[SubprogInfo] {
        &self.verified.subprogs
    }

    /// The instructions as loaded.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// The instructions after fixup, as the engines run them.
    pub fn xlated(&self) -> &[Insn] {
        &self.verified.insns
    }

    /// The program's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// What a prog array holds for this program: its id, its prepared
    /// and native code, which the array keeps alive until a grace period
    /// after the program leaves it, and where compiled tail calls enter it
    /// (0 without native code: compiled callers then find the slot empty).
    pub fn prog_ref(&self) -> ProgRef {
        ProgRef {
            id: self.id,
            tail_call_entry: self.jit().map_or(0, JitImage::tail_call_entry),
            prog: Arc::clone(&self.code) as Arc<dyn std::any::Any + Send + Sync>,
        }
    }

    /// The program's maps, shared with the other programs of its object.
    pub fn map_table(&self) -> &Arc<MapTable> {
        &self.maps
    }

    /// The program's maps.
    pub fn maps(&self) -> &MapTable {
        &self.maps
    }

    /// The program's native code, or why the JIT did not compile it.
    pub fn jit(&self) -> Result<&JitImage, &Unsupported> {
        self.code.jit.as_ref()
    }

    /// Bytes of native code, when the JIT compiled the program (what the
    /// kernel reports as `jited_prog_len`).
    pub fn native_size(&self) -> Option<usize> {
        self.jit().ok().map(JitImage::code_size)
    }

    /// Why the JIT engine runs this program on the fast interpreter, in
    /// words (`None` when it runs native code), e.g. "insn 12 calls helper
    /// bpf_map_lookup_elem#1, which the JIT does not compile yet".
    pub fn jit_fallback(&self) -> Option<String> {
        self.jit().err().map(describe_unsupported)
    }

    pub(crate) fn interp(&self) -> &Interpreter {
        &self.code.interp
    }
}

/// `why` in words, the instruction first.
fn describe_unsupported(why: &Unsupported) -> String {
    let at = why
        .pc
        .map_or_else(|| "the program".to_string(), |pc| format!("insn {pc}"));
    match &why.reason {
        Reason::HelperCall(id) => format!(
            "{at} calls helper {}#{id}, which has no native entry",
            rxdp_isa::helper_id::helper_name(*id).unwrap_or("unknown")
        ),
        other => format!("{at}: {other}"),
    }
}
