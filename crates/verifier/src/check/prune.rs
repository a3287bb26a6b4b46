//! State pruning (the kernel's `is_state_visited` and `states_equal`).
//!
//! At prune points the verifier checkpoints the state. A later path that
//! reaches the same instruction in a state *covered* by a finished
//! checkpoint is safe without going further: every value it can hold the
//! checkpoint's exploration already allowed for. Covered means, for every
//! live register and every stack slot: the same kind of value, scalars
//! within the checkpoint's ranges, pointers at the same offsets with at
//! least the same proven packet range, and the ids that link copies
//! mapping one to one.
//!
//! A checkpoint some path below is still exploring (an ancestor of the
//! running path) cannot cover anything yet; meeting it again in exactly
//! the same state means the program loops forever. The one exception is
//! the helper call that runs a callback: there the helper bounds the
//! iterations, so reaching a covered state again means the callback's
//! effect has converged.

use super::{Res, Verifier};
use crate::error::VerifyError;
use crate::liveness::RegSet;
use crate::precision::Need;
use crate::scalar::Scalar;
use crate::state::{ByteKind, Frame, Reg, RegType, Slot, State};
use rxdp_isa::{CallKind, Insn};
use std::cell::Cell;
use std::rc::Rc;

/// A checkpoint: a state saved at a prune point.
pub(super) struct Explored {
    pub state: State,
    /// A hash of `state`, so that looking for an exact repeat among many
    /// loop iterations compares numbers first.
    hash: u64,
    /// Where it was taken.
    pc: usize,
    /// Paths below this checkpoint still being explored.
    pub branches: Cell<u32>,
    /// The checkpoint above.
    pub parent: Option<Rc<Explored>>,
    hits: Cell<u32>,
    misses: Cell<u32>,
}

/// Where checkpoints are taken: jump targets, the instruction after a
/// conditional jump, and after every call (the kernel's
/// `mark_prune_point`), and helper calls that run callbacks.
pub(super) fn prune_points(insns: &[Insn]) -> Vec<bool> {
    let mut p = vec![false; insns.len()];
    for (pc, insn) in insns.iter().enumerate() {
        if let Some(t) = insn.jump_target(pc) {
            p[t as usize] = true;
            if matches!(insn, Insn::Jmp { .. }) && pc + 1 < insns.len() {
                p[pc + 1] = true;
            }
        }
        if let Insn::Call(kind) = insn {
            if pc + 1 < insns.len() {
                p[pc + 1] = true;
            }
            if matches!(kind, CallKind::Helper(id) if is_callback_helper(*id)) {
                p[pc] = true;
            }
        }
    }
    p
}

fn is_callback_helper(id: i32) -> bool {
    id == rxdp_isa::helper_id::LOOP || id == rxdp_isa::helper_id::FOR_EACH_MAP_ELEM
}

/// How a checkpoint compares with the running state.
#[derive(PartialEq, Eq)]
enum Cover {
    /// It covers the running state.
    Covers,
    /// It does not.
    No,
}

impl Verifier<'_> {
    /// Visits prune point `pc` with `st`: true if a checkpoint covers
    /// it (the path ends here); otherwise checkpoints it.
    pub(super) fn visit_state(&mut self, st: &mut State, pc: usize) -> Res<bool> {
        let callback_loop =
            matches!(self.insns[pc], Insn::Call(CallKind::Helper(id)) if is_callback_helper(id));
        let hash = state_hash(st);
        if !callback_loop && let Some(nodes) = self.in_progress.get(&(pc, hash)) {
            let repeat = nodes
                .iter()
                .any(|old| old.state == *st && same_callsites(&old.state, st));
            if repeat {
                return Err(VerifyError::at(pc, "infinite loop detected"));
            }
        }
        if self.covered(st, pc, callback_loop) {
            return Ok(true);
        }
        if callback_loop
            && let Some(prev) = self
                .callback_nodes
                .iter()
                .rev()
                .find(|n| n.pc == pc && n.branches.get() > 0 && same_callsites(&n.state, st))
        {
            let prev = Rc::clone(prev);
            widen(&prev.state, st);
        }
        // Like the kernel, checkpoint only every so often along a path
        // (but always where callbacks iterate): a checkpoint costs memory
        // and comparisons, and short paths gain little from one.
        let since = self.stats.insns_processed - self.last_checkpoint.0;
        let jmps = self.jmps_processed - self.last_checkpoint.1;
        if !callback_loop && since < 100 && jmps < 20 {
            return Ok(false);
        }
        self.last_checkpoint = (self.stats.insns_processed, self.jmps_processed);
        let hash = state_hash(st);
        let node = Rc::new(Explored {
            hash,
            pc,
            state: st.clone(),
            branches: Cell::new(1),
            parent: self.parent.take(),
            hits: Cell::new(0),
            misses: Cell::new(0),
        });
        self.in_progress
            .entry((pc, hash))
            .or_default()
            .push(Rc::clone(&node));
        if callback_loop {
            self.callback_nodes.push(Rc::clone(&node));
        }
        self.parent = Some(node);
        self.stats.states += 1;
        self.cur_states += 1;
        self.states_at[pc] += 1;
        let here = u64::from(self.states_at[pc]);
        self.stats.max_states_per_insn = self.stats.max_states_per_insn.max(here);
        self.stats.peak_states = self.stats.peak_states.max(self.cur_states);
        Ok(false)
    }

    /// Whether a finished checkpoint at `pc` covers `st` (at a helper
    /// running a callback, also an earlier iteration still in progress).
    fn covered(&self, st: &State, pc: usize, callback_loop: bool) -> bool {
        for old in &self.explored[pc] {
            if self.covers(&old.state, st, pc) == Cover::Covers {
                old.hits.set(old.hits.get() + 1);
                return true;
            }
            old.misses.set(old.misses.get() + 1);
        }
        callback_loop
            && self.callback_nodes.iter().any(|n| {
                n.pc == pc && n.branches.get() > 0 && self.covers(&n.state, st, pc) == Cover::Covers
            })
    }

    /// A checkpoint whose paths are all explored may cover later ones:
    /// it moves from the in-progress index to its instruction's list.
    pub(super) fn checkpoint_done(&mut self, node: &Rc<Explored>) {
        if let Some(nodes) = self.in_progress.get_mut(&(node.pc, node.hash)) {
            nodes.retain(|n| !Rc::ptr_eq(n, node));
            if nodes.is_empty() {
                self.in_progress.remove(&(node.pc, node.hash));
            }
        }
        self.evict(node.pc);
        self.explored[node.pc].push(Rc::clone(node));
    }

    /// Drops finished checkpoints at `pc` that keep failing to cover
    /// anything (the kernel's miss/hit heuristic), so that long loops do
    /// not hoard memory.
    fn evict(&mut self, pc: usize) {
        let before = self.explored[pc].len();
        self.explored[pc]
            .retain(|e| e.branches.get() > 0 || e.misses.get() <= e.hits.get() * 3 + 3);
        let evicted = before - self.explored[pc].len();
        self.cur_states -= evicted as u64;
        self.states_at[pc] -= evicted as u32;
    }

    /// Whether checkpoint `old` covers `cur` at `pc`.
    fn covers(&self, old: &State, cur: &State, pc: usize) -> Cover {
        if old.frames.len() != cur.frames.len()
            || !same_callsites(old, cur)
            || old.lock.is_some() != cur.lock.is_some()
            || old.refs.len() != cur.refs.len()
        {
            return Cover::No;
        }
        let mut ids = IdMap::default();
        let n = cur.frames.len();
        // What each frame will still look at: the running frame from
        // `pc`, a caller from where it resumes (and, under a callback,
        // from the helper call too, which may run the callback again).
        let needs: Vec<(RegSet, Need)> = (0..n)
            .map(|i| {
                if i + 1 == n {
                    return (self.liveness.live_in(pc), self.precision.at(pc));
                }
                let above = &cur.frames[i + 1];
                let resume = above.callsite + 1;
                let mut live = self.liveness.live_in(resume) & !0b11_1111;
                let mut need = self.precision.at(resume);
                if above.callback.is_some() {
                    live |= self.liveness.live_in(above.callsite);
                    let again = self.precision.at(above.callsite);
                    need.regs |= again.regs;
                    need.slots |= again.slots;
                    need.any_stack |= again.any_stack;
                }
                (live, need)
            })
            .collect();
        let any_stack = needs.iter().any(|(_, need)| need.any_stack);
        for (i, (live, mut need)) in needs.into_iter().enumerate() {
            need.any_stack = any_stack;
            let live = live | 1 << 10;
            if !self.frame_covers(&old.frames[i], &cur.frames[i], live, &need, &mut ids) {
                return Cover::No;
            }
        }
        for (o, c) in old.refs.iter().zip(&cur.refs) {
            if !ids.check(o.id, c.id) {
                return Cover::No;
            }
        }
        if let (Some(o), Some(c)) = (old.lock, cur.lock)
            && (o.0 != c.0 || !ids.check(o.1, c.1))
        {
            return Cover::No;
        }
        Cover::Covers
    }

    fn frame_covers(
        &self,
        old: &Frame,
        cur: &Frame,
        live: RegSet,
        need: &Need,
        ids: &mut IdMap,
    ) -> bool {
        if old.callback != cur.callback {
            return false;
        }
        for r in 0..11 {
            if live & (1 << r) != 0
                && !self.reg_covers(&old.regs[r], &cur.regs[r], need.reg(r), ids)
            {
                return false;
            }
        }
        let slots = old.stack.len().max(cur.stack.len());
        (0..slots).all(|i| self.slot_covers(&old.slot(i), &cur.slot(i), need.slot(i), ids))
    }

    /// The kernel's `regsafe`. A scalar whose exact value nothing
    /// downstream depends on (not `precise`) is covered by any scalar.
    fn reg_covers(&self, old: &Reg, cur: &Reg, precise: bool, ids: &mut IdMap) -> bool {
        match (old.ty, cur.ty) {
            // The checkpoint's paths never read it.
            (RegType::NotInit, _) => true,
            (_, RegType::NotInit) => false,
            (RegType::Scalar, RegType::Scalar) if !precise => true,
            (RegType::Scalar, RegType::Scalar) => {
                old.var.subsumes(&cur.var) && (old.id == 0 || ids.check(old.id, cur.id))
            }
            (o, c) if o != c => false,
            _ => {
                old.aux == cur.aux
                    && old.off == cur.off
                    && old.var.subsumes(&cur.var)
                    && ids.check(old.id, cur.id)
                    && ids.check(old.ref_id, cur.ref_id)
                    && (!old.ty.is_packet() || old.range <= cur.range)
            }
        }
    }

    /// The kernel's `stacksafe`, slot by slot. A slot whose exact
    /// contents nothing downstream depends on (not `precise`) only has to
    /// hold numbers where the checkpoint held numbers.
    fn slot_covers(&self, old: &Slot, cur: &Slot, precise: bool, ids: &mut IdMap) -> bool {
        let old_numbers = !old.has_spill() || old.spill.is_scalar();
        if !precise && old_numbers {
            return self.numbers_cover(old, cur);
        }
        if old.has_spill() {
            return old.bytes == cur.bytes && self.reg_covers(&old.spill, &cur.spill, true, ids);
        }
        let cur_scalar_spill = cur.has_spill() && cur.spill.is_scalar();
        old.bytes.iter().zip(&cur.bytes).all(|(&o, &c)| match o {
            // Unprivileged: the checkpoint's paths never read it before
            // writing (reading it is an error), so anything is covered.
            // Privileged: reading it yields an unknown scalar.
            ByteKind::Invalid if !self.opts.privileged => true,
            ByteKind::Invalid | ByteKind::Misc => {
                o == c
                    || matches!(c, ByteKind::Misc | ByteKind::Zero)
                    || (c == ByteKind::Spill && cur_scalar_spill)
            }
            ByteKind::Zero => c == ByteKind::Zero,
            ByteKind::Spill => unreachable!("handled above"),
        })
    }
}

fn state_hash(st: &State) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    st.hash(&mut h);
    h.finish()
}

impl Verifier<'_> {
    /// Whether `cur` holds numbers (or, where reading is refused anyway,
    /// anything) wherever a slot of numbers `old` can be read.
    fn numbers_cover(&self, old: &Slot, cur: &Slot) -> bool {
        let cur_numbers = !cur.has_spill() || cur.spill.is_scalar();
        old.bytes.iter().zip(&cur.bytes).all(|(&o, &c)| match o {
            ByteKind::Invalid if !self.opts.privileged => true,
            _ if c == ByteKind::Invalid => o == ByteKind::Invalid,
            _ => cur_numbers || c != ByteKind::Spill,
        })
    }
}

fn same_callsites(a: &State, b: &State) -> bool {
    a.frames
        .iter()
        .zip(&b.frames)
        .all(|(x, y)| x.callsite == y.callsite && x.subprog == y.subprog)
}

/// A one-to-one map from a checkpoint's ids to the running state's (the
/// kernel's `check_ids`).
#[derive(Default)]
struct IdMap {
    pairs: Vec<(u32, u32)>,
}

impl IdMap {
    fn check(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 || cur == 0 {
            return old == cur;
        }
        for &(o, c) in &self.pairs {
            if o == old || c == cur {
                return o == old && c == cur;
            }
        }
        self.pairs.push((old, cur));
        true
    }
}

/// Widens `cur` against an earlier state of the same callback loop:
/// scalars that changed become unknown, so that the loop's abstract
/// state converges in a few iterations.
fn widen(old: &State, cur: &mut State) {
    for (of, cf) in old.frames.iter().zip(cur.frames.iter_mut()) {
        for (o, c) in of.regs.iter().zip(cf.regs.iter_mut()) {
            widen_reg(o, c);
        }
        for (i, c) in cf.stack.iter_mut().enumerate() {
            let o = of.slot(i);
            if c.has_spill() && o.has_spill() && o.bytes == c.bytes {
                widen_reg(&o.spill, &mut c.spill);
            } else if c.has_spill() && c.spill.is_scalar() && !o.has_spill() {
                c.scrub();
            }
            for (ob, cb) in o.bytes.iter().zip(c.bytes.iter_mut()) {
                if *cb == ByteKind::Zero && *ob != ByteKind::Zero {
                    *cb = ByteKind::Misc;
                }
            }
        }
    }
}

fn widen_reg(old: &Reg, cur: &mut Reg) {
    if old.is_scalar() && cur.is_scalar() && !old.var.subsumes(&cur.var) {
        cur.var = Scalar::unknown();
        cur.id = 0;
    }
}
