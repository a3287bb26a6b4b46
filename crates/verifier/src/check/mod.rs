//! The abstract interpretation of every path through a program (the
//! kernel's `do_check`): each instruction is applied to an abstract
//! [`State`]; conditional jumps whose outcome is not known fork the
//! state; memory accesses, helper calls and exits are checked against
//! what the state proves. States are checkpointed at prune points, and a
//! path reaching a checkpoint that already covers it stops there
//! ([`prune`]), which is what makes bounded loops verify and the work
//! polynomial in practice.
//!
//! One concern per module: [`alu`] (arithmetic on scalars and pointers),
//! [`mem`] (loads, stores, atomics by pointer type), [`jmp`] (branches
//! and what they teach), [`call`] (helpers, bpf-to-bpf calls, callbacks,
//! exits), [`prune`] (checkpoints and state comparison).

mod alu;
mod call;
mod jmp;
mod mem;
mod prune;

use crate::cfg::Structure;
use crate::ctx::CtxSite;
use crate::error::VerifyError;
use crate::fixup::{MapInfo, MapResolver};
use crate::liveness::Liveness;
use crate::precision::Precision;
use crate::prog_type::ProgramType;
use crate::state::{Reg, RegType, State, fmt_frame};
use crate::{COMPLEXITY_LIMIT, Options, Stats};
use prune::Explored;
use rxdp_isa::{DisasmOptions, Insn, disasm_insn};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

/// How the log prints instructions: helpers by name, as the kernel's
/// log does.
const LOG_DISASM: DisasmOptions<'static> = DisasmOptions {
    helper_names: true,
    maps: &[],
    labels: &[],
    auto_labels: false,
    slot_numbers: false,
};

/// What verification learnt about one instruction, handed on to the
/// rewrites and the engines (the kernel's `bpf_insn_aux_data`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct InsnAux {
    /// Some path reached the instruction.
    pub seen: bool,
    /// The base pointer type of a memory access, the same on every path
    /// (a context access is rewritten, so it may not share an
    /// instruction with other accesses).
    pub mem_base: Option<RegType>,
    /// For a context access: the pointer's fixed offset.
    pub ctx_ptr_off: i32,
    /// For a helper call taking a map: the map on every path, or
    /// `Poisoned` when paths disagree.
    pub map: MapUse,
    /// For `bpf_tail_call`: the key when it is the same constant on every
    /// path.
    pub tail_key: KeyUse,
}

/// The map a call site uses across paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum MapUse {
    /// No path reached the call with a map.
    #[default]
    None,
    /// The same map on every path.
    Map(u32),
    /// Different maps on different paths.
    Poisoned,
}

/// The key a tail call site uses across paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum KeyUse {
    /// No path reached the call.
    #[default]
    None,
    /// The same constant on every path.
    Const(u64),
    /// Unknown or different keys.
    Poisoned,
}

/// A path waiting to be explored: the state and where it resumes.
struct Pending {
    state: State,
    pc: usize,
    parent: Option<Rc<Explored>>,
}

/// What applying one instruction did to the path.
enum Flow {
    /// Continue at this instruction.
    Next(usize),
    /// The path ended (exit from the main program, or pruned).
    Done,
}

/// The verifier's working state for one program (the kernel's
/// `bpf_verifier_env`).
pub(crate) struct Verifier<'a> {
    insns: &'a [Insn],
    structure: &'a Structure,
    prog_type: &'a dyn ProgramType,
    opts: Options,
    resolver: &'a dyn MapResolver,
    /// Map infos: the program's maps by index, then the inner-map
    /// templates of maps of maps.
    maps: Vec<MapInfo>,
    /// For map `i`, the index in `maps` of its inner-map template.
    inner_of: Vec<Option<u32>>,
    liveness: Liveness,
    precision: Precision,
    prune_point: Vec<bool>,
    /// Finished checkpoints, by instruction.
    explored: Vec<Vec<Rc<Explored>>>,
    /// Checkpoints some path below is still exploring, by instruction and
    /// state hash (an exact repeat of one is an infinite loop).
    in_progress: HashMap<(usize, u64), Vec<Rc<Explored>>>,
    /// Checkpoints at helper calls that run callbacks.
    callback_nodes: Vec<Rc<Explored>>,
    pending: Vec<Pending>,
    /// The checkpoint the running path last passed.
    parent: Option<Rc<Explored>>,
    next_id: u32,
    pub(crate) aux: Vec<InsnAux>,
    /// Deepest stack byte used per subprogram.
    pub(crate) stack_depth: Vec<i32>,
    /// Subprograms that call `bpf_tail_call` (directly).
    pub(crate) tail_calls: Vec<bool>,
    pub(crate) log: String,
    pub(crate) stats: Stats,
    cur_states: u64,
    /// Checkpoints alive per instruction.
    states_at: Vec<u32>,
    /// Jumps processed, for the checkpoint heuristic.
    jmps_processed: u64,
    /// Instructions and jumps processed when the last checkpoint was
    /// taken.
    last_checkpoint: (u64, u64),
}

/// The result of a successful check.
pub(crate) struct Checked {
    pub aux: Vec<InsnAux>,
    pub stack_depth: Vec<i32>,
    pub tail_calls: Vec<bool>,
    pub log: String,
    pub stats: Stats,
}

type Res<T> = Result<T, VerifyError>;

impl<'a> Verifier<'a> {
    /// Checks every path of a structurally valid program.
    pub(crate) fn run(
        insns: &'a [Insn],
        structure: &'a Structure,
        prog_type: &'a dyn ProgramType,
        resolver: &'a dyn MapResolver,
        opts: &Options,
    ) -> Result<Checked, VerifyError> {
        let start = Instant::now();
        let mut v = Verifier::new(insns, structure, prog_type, resolver, opts);
        let result = v.check_all().and_then(|()| v.check_stack_depth());
        v.stats.time = start.elapsed();
        let stats = v.stats;
        if v.opts.log_level > 0 {
            v.log_stats();
        }
        match result {
            Ok(()) => Ok(Checked {
                aux: v.aux,
                stack_depth: v.stack_depth,
                tail_calls: v.tail_calls,
                log: v.log,
                stats,
            }),
            Err(mut e) => {
                e.log = v.log;
                e.stats = stats;
                Err(e)
            }
        }
    }

    fn new(
        insns: &'a [Insn],
        structure: &'a Structure,
        prog_type: &'a dyn ProgramType,
        resolver: &'a dyn MapResolver,
        opts: &Options,
    ) -> Verifier<'a> {
        let (maps, inner_of) = collect_maps(insns, resolver);
        let liveness = Liveness::compute(insns, prog_type);
        let precision = Precision::compute(insns, structure, prog_type);
        Verifier {
            insns,
            structure,
            prog_type,
            opts: *opts,
            resolver,
            maps,
            inner_of,
            prune_point: prune::prune_points(insns),
            liveness,
            precision,
            explored: vec![Vec::new(); insns.len()],
            in_progress: HashMap::new(),
            callback_nodes: Vec::new(),
            pending: Vec::new(),
            parent: None,
            next_id: 0,
            aux: vec![InsnAux::default(); insns.len()],
            stack_depth: vec![0; structure.subprogs.len()],
            tail_calls: vec![false; structure.subprogs.len()],
            log: String::new(),
            stats: Stats::default(),
            cur_states: 0,
            jmps_processed: 0,
            states_at: vec![0; insns.len()],
            last_checkpoint: (0, 0),
        }
    }

    /// A fresh id for a value whose copies must be refined together.
    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn entry_state(&self) -> State {
        let r1 = if self.prog_type.has_context() {
            Reg::pointer(RegType::Ctx, 0)
        } else {
            Reg::unknown()
        };
        State::entry(r1)
    }

    /// Explores every path from the entry, depth first.
    fn check_all(&mut self) -> Res<()> {
        self.check_unreachable()?;
        let mut path = Some(Pending {
            state: self.entry_state(),
            pc: 0,
            parent: None,
        });
        while let Some(Pending { state, pc, parent }) = path.take().or_else(|| self.pending.pop()) {
            self.parent = parent;
            self.check_path(state, pc)?;
            self.path_done();
        }
        Ok(())
    }

    /// Follows one path until it exits or is pruned.
    fn check_path(&mut self, mut st: State, mut pc: usize) -> Res<()> {
        loop {
            self.stats.insns_processed += 1;
            if self.stats.insns_processed > COMPLEXITY_LIMIT {
                return Err(VerifyError::program(format!(
                    "BPF program is too large. Processed {} insn",
                    self.stats.insns_processed
                )));
            }
            if self.prune_point[pc] && self.visit_state(&mut st, pc)? {
                if self.opts.log_level > 1 {
                    self.log(format!("{pc}: safe\n"));
                }
                return Ok(());
            }
            self.aux[pc].seen = true;
            if self.opts.log_level > 1 {
                self.log_insn(&st, pc);
            }
            match self.step(&mut st, pc) {
                Ok(Flow::Next(next)) => pc = next,
                Ok(Flow::Done) => return Ok(()),
                Err(e) => return Err(self.reject(&st, pc, e)),
            }
        }
    }

    /// Applies the instruction at `pc` to `st`.
    fn step(&mut self, st: &mut State, pc: usize) -> Res<Flow> {
        let insn = self.insns[pc];
        match insn {
            Insn::Alu { .. } | Insn::MovSx { .. } | Insn::Neg { .. } | Insn::End { .. } => {
                self.check_alu(st, pc, &insn)?;
                Ok(Flow::Next(pc + 1))
            }
            Insn::Ldx { .. } | Insn::Stx { .. } | Insn::St { .. } | Insn::Atomic { .. } => {
                self.check_mem_insn(st, pc, &insn)?;
                Ok(Flow::Next(pc + 1))
            }
            Insn::LdImm64 { dst, pseudo, imm } => {
                let reg = self.ld_imm64(pc, pseudo, imm)?;
                *st.reg_mut(dst.num()) = reg;
                Ok(Flow::Next(pc + 2))
            }
            Insn::LdImm64Hi => Err(VerifyError::at(
                pc,
                "verifier bug: ran into lddw's second half",
            )),
            Insn::Ja { off, .. } => {
                self.jmps_processed += 1;
                Ok(Flow::Next((pc as i64 + 1 + off as i64) as usize))
            }
            Insn::Jmp { .. } => {
                self.jmps_processed += 1;
                self.check_cond_jmp(st, pc, &insn)
            }
            Insn::Call(kind) => self.check_call(st, pc, kind),
            Insn::Exit => self.check_exit(st, pc),
            Insn::Callx { .. } => Err(VerifyError::at(
                pc,
                "indirect calls (callx) are not supported by the verifier",
            )),
            Insn::LdAbs { .. } | Insn::LdInd { .. } => Err(VerifyError::at(
                pc,
                "BPF_LD_[ABS|IND] instructions not allowed for this program type",
            )),
        }
    }

    /// Starts another path from `st` at `pc`, explored after the current
    /// one (the kernel's `push_stack`).
    fn push_branch(&mut self, st: State, pc: usize) {
        if let Some(p) = &self.parent {
            p.branches.set(p.branches.get() + 1);
        }
        self.pending.push(Pending {
            state: st,
            pc,
            parent: self.parent.clone(),
        });
    }

    /// Records that the running path ended: its checkpoints lose a live
    /// branch.
    fn path_done(&mut self) {
        let mut p = self.parent.take();
        while let Some(node) = p {
            let left = node.branches.get() - 1;
            node.branches.set(left);
            if left > 0 {
                break;
            }
            self.checkpoint_done(&node);
            p = node.parent.clone();
        }
    }

    /// Rejects programs with instructions no path reaches, as the kernel
    /// does (after its own dead-code analysis, `unreachable insn`).
    fn check_unreachable(&self) -> Res<()> {
        let mut pc = 0;
        while pc < self.insns.len() {
            if !self.liveness.reachable(pc) {
                return Err(VerifyError::at(pc, format!("unreachable insn {pc}")));
            }
            pc += self.insns[pc].slots();
        }
        Ok(())
    }

    /// The map behind map index `index`.
    fn map(&self, index: u32) -> &MapInfo {
        &self.maps[index as usize]
    }

    /// Whether pointers may leak (privileged mode).
    fn allow_ptr_leaks(&self) -> bool {
        self.opts.privileged
    }

    /// Appends to the log.
    fn log(&mut self, s: String) {
        self.log.push_str(&s);
    }

    fn log_insn(&mut self, st: &State, pc: usize) {
        let text = disasm_insn(&self.insns[pc], pc, &LOG_DISASM);
        let n = st.frames.len();
        let regs = fmt_frame(st.cur(), n - 1);
        self.log(format!("{pc}: ({regs}) {text}\n"));
    }

    /// Adds the state at the rejection to the error's log.
    fn reject(&mut self, st: &State, pc: usize, e: VerifyError) -> VerifyError {
        if self.opts.log_level > 0 {
            let text = disasm_insn(&self.insns[pc], pc, &LOG_DISASM);
            let n = st.frames.len();
            let regs = fmt_frame(st.cur(), n - 1);
            self.log(format!("{pc}: {regs}\n{pc}: {text}\n{}\n", e.msg));
        }
        e
    }

    fn log_stats(&mut self) {
        let s = self.stats;
        let depths: Vec<String> = self.stack_depth.iter().map(|d| d.to_string()).collect();
        self.log(format!(
            "processed {} insns (limit {COMPLEXITY_LIMIT}) max_states_per_insn {} total_states {} peak_states {} mark_read 0\nverification time {} usec\nstack depth {}\n",
            s.insns_processed,
            s.max_states_per_insn,
            s.states,
            s.peak_states,
            s.time.as_micros(),
            depths.join("+"),
        ));
    }

    /// The context accesses found, for the rewrites.
    pub(crate) fn ctx_sites(insns: &[Insn], aux: &[InsnAux]) -> Vec<CtxSite> {
        insns
            .iter()
            .zip(aux)
            .enumerate()
            .filter(|(_, (_, a))| a.mem_base == Some(RegType::Ctx))
            .filter_map(|(pc, (insn, a))| mem::ctx_site(pc, insn, a.ctx_ptr_off))
            .collect()
    }
}

/// What verification hands on to the engines.
pub(crate) struct Handoff {
    pub subprogs: Vec<crate::SubprogInfo>,
    pub direct_tail_calls: Vec<crate::DirectTailCall>,
    pub inline_lookups: Vec<crate::InlineLookup>,
}

/// Gathers the per-subprogram and per-call-site facts for the engines.
pub(crate) fn handoff(
    insns: &[Insn],
    structure: &Structure,
    checked: &Checked,
    maps: &dyn MapResolver,
) -> Handoff {
    let subprogs = structure
        .subprogs
        .iter()
        .enumerate()
        .map(|(i, sub)| crate::SubprogInfo {
            stack_depth: checked.stack_depth[i] as u32,
            callee_saved: callee_saved(&insns[sub.start..sub.end]),
            tail_calls: checked.tail_calls[i],
        })
        .collect();
    let mut direct_tail_calls = Vec::new();
    let mut inline_lookups = Vec::new();
    for (pc, a) in checked.aux.iter().enumerate() {
        let MapUse::Map(map) = a.map else { continue };
        match insns[pc] {
            Insn::Call(rxdp_isa::CallKind::Helper(rxdp_isa::helper_id::TAIL_CALL)) => {
                if let KeyUse::Const(key) = a.tail_key {
                    direct_tail_calls.push(crate::DirectTailCall { pc, map, key });
                }
            }
            Insn::Call(rxdp_isa::CallKind::Helper(rxdp_isa::helper_id::MAP_LOOKUP_ELEM)) => {
                let is_array = maps
                    .map_info(map)
                    .is_some_and(|m| m.map_type == rxdp_isa::maptype::ARRAY);
                if is_array {
                    inline_lookups.push(crate::InlineLookup { pc, map });
                }
            }
            _ => {}
        }
    }
    Handoff {
        subprogs,
        direct_tail_calls,
        inline_lookups,
    }
}

/// The callee-saved registers a function writes.
fn callee_saved(insns: &[Insn]) -> u16 {
    insns
        .iter()
        .filter_map(crate::cfg::written_register)
        .filter(|r| (6..=9).contains(&r.num()))
        .fold(0, |acc, r| acc | 1 << r.num())
}

/// Collects what the verifier needs of every map the program names,
/// followed by the inner-map templates.
fn collect_maps(insns: &[Insn], resolver: &dyn MapResolver) -> (Vec<MapInfo>, Vec<Option<u32>>) {
    let count = insns
        .iter()
        .filter_map(|i| match *i {
            Insn::LdImm64 { pseudo, imm, .. } if pseudo.is_map() => Some(imm as u32 + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let mut maps: Vec<MapInfo> = (0..count)
        .map(|i| resolver.map_info(i).unwrap_or_default())
        .collect();
    let mut inner_of = vec![None; maps.len()];
    for i in 0..count as usize {
        if let Some(inner) = maps[i].inner.clone() {
            inner_of[i] = Some(maps.len() as u32);
            maps.push(*inner);
            inner_of.push(None);
        }
    }
    (maps, inner_of)
}
