//! Context-pointer analysis: which memory accesses go through the context
//! pointer, and at which constant offset.
//!
//! The fixup layer rewrites context field accesses into accesses of the
//! native context struct (see [`mod@crate::fixup`]); to do so it must know,
//! for every load, store and atomic, whether its base register holds the
//! context. The context can be copied between registers, moved by a
//! constant (`r1 += 4`), spilled to the stack and filled back, and passed
//! to subprograms, so this is a forward dataflow analysis over the
//! control-flow graph, iterated to a fixed point:
//!
//! - Each register and each 8-byte-aligned stack slot of the current frame
//!   holds an abstract value: the context plus a constant, the context
//!   with an unknown offset, a context-derived value that is no longer a
//!   pointer, a pointer into the frame's own stack, into a caller's, some
//!   other value, or a conflict of context and non-context.
//! - States are kept per basic block and merged at join points.
//! - Subprograms are analysed once for all their call sites: a callee's
//!   entry state is the merge of the argument registers r1-r5 at every
//!   call site, and a call's result is the merge of the callee's `r0` at
//!   every exit (context-insensitive, like the kernel's
//!   "same insn cannot be used with different pointers" rule).
//!
//! Once stable, a last pass over every reachable block checks each memory
//! access and lists the context accesses ([`CtxSite`]). Whenever the
//! analysis cannot tell whether an access goes through the context, the
//! program is rejected with a message saying why: a wrong guess would
//! silently read the wrong bytes.
//!
//! The kernel tracks all of this as part of its full abstract
//! interpretation; this pass is deliberately smaller and more conservative.
//! Like the kernel, it rejects any access through a context pointer moved
//! by a constant ("dereference of modified ctx ptr"): the field offset
//! must be the instruction's own, so that one look at an instruction tells
//! which field it reads.

use crate::cfg::Structure;
use crate::error::VerifyError;
use rxdp_isa::{AluOp, AtomicOp, CallKind, Insn, Operand, Reg, Size, Width};
use std::collections::VecDeque;

/// The size of one frame's stack (the kernel's `MAX_BPF_STACK`).
const STACK_SIZE: i64 = 512;

/// One memory access whose base register holds the context pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxSite {
    /// The instruction slot.
    pub pc: usize,
    /// The constant the base register is ahead of the context start (0
    /// unless the program moved the pointer, e.g. `r1 += 4`).
    pub ptr_off: i32,
    /// The offset in the context that is accessed: `ptr_off` plus the
    /// instruction's own offset.
    pub off: i32,
    /// Access size.
    pub size: Size,
    /// Whether the access writes (store or atomic).
    pub write: bool,
}

/// The abstract value of a register or stack slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    /// Not derived from the context and not a stack pointer: a number, a
    /// packet or map pointer.
    Scalar,
    /// The current frame's stack pointer plus a constant (r10 is
    /// `Stack(0)`).
    Stack(i32),
    /// May point into a caller's frame (or elsewhere, but not into the
    /// current frame).
    OuterStack,
    /// May point anywhere, the current frame's stack included.
    AnyMem,
    /// The context pointer plus a constant.
    Ctx(i32),
    /// The context pointer plus an unknown amount.
    CtxVarOff,
    /// Computed from the context by something other than adding an
    /// offset: never dereferenceable.
    CtxModified,
    /// The context on some paths and something else on others.
    Mixed,
}

impl Val {
    fn is_ctx_family(self) -> bool {
        matches!(self, Val::Ctx(_) | Val::CtxVarOff | Val::CtxModified)
    }

    /// Whether the value may hold the context (or something made from it).
    fn may_be_ctx(self) -> bool {
        self.is_ctx_family() || self == Val::Mixed
    }

    fn is_mem_ptr(self) -> bool {
        matches!(self, Val::Stack(_) | Val::OuterStack | Val::AnyMem)
    }

    /// The least value covering both (lattice join).
    fn join(self, other: Val) -> Val {
        if self == other {
            return self;
        }
        match (self, other) {
            (Val::Mixed, _) | (_, Val::Mixed) => Val::Mixed,
            (a, b) if a.is_ctx_family() && b.is_ctx_family() => {
                if a == Val::CtxModified || b == Val::CtxModified {
                    Val::CtxModified
                } else {
                    Val::CtxVarOff
                }
            }
            (a, b) if a.is_ctx_family() || b.is_ctx_family() => Val::Mixed,
            _ => Val::AnyMem,
        }
    }

    /// What is left of a value after an operation that is not pointer
    /// arithmetic (32-bit ALU, multiplication, byte swap...).
    fn taint(a: Val, b: Val) -> Val {
        if a == Val::Mixed || b == Val::Mixed {
            Val::Mixed
        } else if a.is_ctx_family() || b.is_ctx_family() {
            Val::CtxModified
        } else {
            Val::Scalar
        }
    }

    /// The value moved by a constant.
    fn offset(self, delta: i64) -> Val {
        match self {
            Val::Ctx(k) => i32::try_from(k as i64 + delta).map_or(Val::CtxModified, Val::Ctx),
            Val::Stack(k) => i32::try_from(k as i64 + delta).map_or(Val::AnyMem, Val::Stack),
            v => v,
        }
    }

    /// `dst += src` for two registers.
    fn add(d: Val, s: Val) -> Val {
        match (d, s) {
            (Val::Mixed, _) | (_, Val::Mixed) => Val::Mixed,
            (Val::Ctx(_) | Val::CtxVarOff, Val::Scalar)
            | (Val::Scalar, Val::Ctx(_) | Val::CtxVarOff) => Val::CtxVarOff,
            (a, b) if a.is_ctx_family() || b.is_ctx_family() => Val::CtxModified,
            (Val::OuterStack, Val::Scalar) | (Val::Scalar, Val::OuterStack) => Val::OuterStack,
            (a, b) if a.is_mem_ptr() || b.is_mem_ptr() => Val::AnyMem,
            _ => Val::Scalar,
        }
    }

    /// `dst -= src` for two registers.
    fn sub(d: Val, s: Val) -> Val {
        match (d, s) {
            (Val::Mixed, _) | (_, Val::Mixed) => Val::Mixed,
            (Val::Ctx(_) | Val::CtxVarOff, Val::Scalar) => Val::CtxVarOff,
            (a, b) if a.is_ctx_family() || b.is_ctx_family() => Val::CtxModified,
            (Val::OuterStack, Val::Scalar) => Val::OuterStack,
            (Val::Stack(_) | Val::AnyMem, Val::Scalar) => Val::AnyMem,
            _ => Val::Scalar,
        }
    }
}

/// The abstract state at one program point of one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    regs: [Val; 11],
    /// Slots of the current frame by offset from r10 (multiples of 8 in
    /// -512..0), sorted; a slot not listed holds `Scalar`.
    stack: Vec<(i32, Val)>,
    /// Whether some caller's frame may hold the context in a stack slot.
    outer_ctx: bool,
}

impl State {
    /// The state at a function's entry, with the given argument registers.
    fn entry(args: [Val; 5], outer_ctx: bool) -> State {
        let mut regs = [Val::Scalar; 11];
        regs[1..=5].copy_from_slice(&args);
        regs[Reg::FP.idx()] = Val::Stack(0);
        State {
            regs,
            stack: Vec::new(),
            outer_ctx,
        }
    }

    fn reg(&self, r: Reg) -> Val {
        self.regs[r.idx()]
    }

    fn set(&mut self, r: Reg, v: Val) {
        self.regs[r.idx()] = v;
    }

    fn clobber_caller_saved(&mut self) {
        for v in &mut self.regs[0..=5] {
            *v = Val::Scalar;
        }
    }

    fn slot(&self, off: i32) -> Val {
        match self.stack.binary_search_by_key(&off, |e| e.0) {
            Ok(i) => self.stack[i].1,
            Err(_) => Val::Scalar,
        }
    }

    fn set_slot(&mut self, off: i32, v: Val) {
        match (self.stack.binary_search_by_key(&off, |e| e.0), v) {
            (Ok(i), Val::Scalar) => {
                self.stack.remove(i);
            }
            (Ok(i), v) => self.stack[i].1 = v,
            (Err(_), Val::Scalar) => {}
            (Err(i), v) => self.stack.insert(i, (off, v)),
        }
    }

    /// Forgets slots overlapping bytes `[lo, hi)` of the frame: a partial
    /// overwrite leaves no pointer behind.
    fn scalarize(&mut self, lo: i64, hi: i64) {
        self.stack
            .retain(|&(off, _)| (off as i64 + 8) <= lo || off as i64 >= hi);
    }

    fn has_ctx_slot(&self) -> bool {
        self.stack.iter().any(|e| e.1.may_be_ctx())
    }

    /// After a store to an unknown place that may be this frame: any slot
    /// may have been overwritten.
    fn clobber_slots(&mut self) {
        for e in &mut self.stack {
            e.1 = if e.1.may_be_ctx() {
                Val::Mixed
            } else {
                Val::AnyMem
            };
        }
    }

    /// Merges `other` into `self`; returns whether `self` changed.
    fn join_from(&mut self, other: &State) -> bool {
        let mut changed = false;
        for (a, &b) in self.regs.iter_mut().zip(&other.regs) {
            let j = a.join(b);
            changed |= j != *a;
            *a = j;
        }
        let stack = join_stacks(&self.stack, &other.stack);
        changed |= stack != self.stack;
        self.stack = stack;
        changed |= other.outer_ctx && !self.outer_ctx;
        self.outer_ctx |= other.outer_ctx;
        changed
    }
}

fn join_stacks(a: &[(i32, Val)], b: &[(i32, Val)]) -> Vec<(i32, Val)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let (off, v) = match (a.get(i), b.get(j)) {
            (Some(&(oa, va)), Some(&(ob, vb))) if oa == ob => {
                i += 1;
                j += 1;
                (oa, va.join(vb))
            }
            (Some(&(oa, va)), Some(&(ob, _))) if oa < ob => {
                i += 1;
                (oa, va.join(Val::Scalar))
            }
            (Some(&(oa, va)), None) => {
                i += 1;
                (oa, va.join(Val::Scalar))
            }
            (_, Some(&(ob, vb))) => {
                j += 1;
                (ob, vb.join(Val::Scalar))
            }
            (None, None) => break,
        };
        if v != Val::Scalar {
            out.push((off, v));
        }
    }
    out
}

/// The slot offset of an 8-byte access at `off` bytes from r10, if it is
/// an aligned access inside the frame.
fn slot_of(off: i64, size: Size) -> Option<i32> {
    let aligned = size == Size::DW && off % 8 == 0;
    (aligned && (-STACK_SIZE..0).contains(&off)).then_some(off as i32)
}

/// The effect of one instruction on the state (calls to subprograms and
/// control flow are handled by the caller). Returns whether the
/// instruction may write into a caller's frame.
fn transfer(st: &mut State, insn: &Insn) -> bool {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let s = match src {
                Operand::Reg(r) => Some(st.reg(r)),
                Operand::Imm(_) => None,
            };
            let v = alu(width, op, st.reg(dst), s, src);
            st.set(dst, v);
        }
        Insn::MovSx { dst, src, .. } => st.set(dst, Val::taint(st.reg(src), Val::Scalar)),
        Insn::Neg { dst, .. } | Insn::End { dst, .. } => {
            st.set(dst, Val::taint(st.reg(dst), Val::Scalar));
        }
        Insn::Ldx {
            size,
            dst,
            src,
            off,
            ..
        } => {
            let v = load(st, st.reg(src), off, size);
            st.set(dst, v);
        }
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => return store(st, st.reg(dst), off, size, st.reg(src)),
        Insn::St { size, dst, off, .. } => return store(st, st.reg(dst), off, size, Val::Scalar),
        Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            off,
        } => {
            // The memory ends up holding a number either way; an atomic
            // whose operand is the context is rejected by the check pass.
            let outer = store(st, st.reg(dst), off, size, Val::Scalar);
            match op {
                AtomicOp::Cmpxchg => st.set(Reg::R0, Val::Scalar),
                AtomicOp::Xchg => st.set(src, Val::Scalar),
                _ if fetch => st.set(src, Val::Scalar),
                _ => {}
            }
            return outer;
        }
        Insn::LdImm64 { dst, .. } => st.set(dst, Val::Scalar),
        // Helpers, legacy packet loads and (from the caller's point of
        // view) subprograms clobber r0-r5.
        Insn::Call(_) | Insn::Callx { .. } | Insn::LdAbs { .. } | Insn::LdInd { .. } => {
            st.clobber_caller_saved();
        }
        Insn::Ja { .. } | Insn::Jmp { .. } | Insn::Exit | Insn::LdImm64Hi => {}
    }
    false
}

fn alu(width: Width, op: AluOp, d: Val, s: Option<Val>, src: Operand) -> Val {
    if width == Width::W32 {
        // A 32-bit result is never a pointer; whatever came from the
        // context is no longer dereferenceable.
        return match op {
            AluOp::Mov => Val::taint(s.unwrap_or(Val::Scalar), Val::Scalar),
            _ => Val::taint(d, s.unwrap_or(Val::Scalar)),
        };
    }
    match (op, src, s) {
        (AluOp::Mov, Operand::Imm(_), _) => Val::Scalar,
        (AluOp::Mov, _, Some(s)) => s,
        (AluOp::Add, Operand::Imm(i), _) => d.offset(i as i64),
        (AluOp::Sub, Operand::Imm(i), _) => d.offset(-(i as i64)),
        (AluOp::Add, _, Some(s)) => Val::add(d, s),
        (AluOp::Sub, _, Some(s)) => Val::sub(d, s),
        (_, _, s) => Val::taint(d, s.unwrap_or(Val::Scalar)),
    }
}

/// The value an `off(base)` load of `size` bytes yields.
fn load(st: &State, base: Val, off: i16, size: Size) -> Val {
    match base {
        Val::Stack(k) => match slot_of(k as i64 + off as i64, size) {
            Some(slot) => st.slot(slot),
            None => Val::Scalar,
        },
        Val::OuterStack | Val::AnyMem if size == Size::DW => {
            let own = base == Val::AnyMem && st.has_ctx_slot();
            if st.outer_ctx || own {
                // It may be a spilled context we cannot see.
                Val::Mixed
            } else {
                // It may be a spilled stack pointer we cannot see.
                Val::AnyMem
            }
        }
        _ => Val::Scalar,
    }
}

/// Records a store of `val` at `off(base)`; returns whether it may write
/// into a caller's frame.
fn store(st: &mut State, base: Val, off: i16, size: Size, val: Val) -> bool {
    match base {
        Val::Stack(k) => {
            let at = k as i64 + off as i64;
            match slot_of(at, size) {
                Some(slot) => st.set_slot(slot, val),
                None => st.scalarize(at, at + size.bytes() as i64),
            }
            false
        }
        Val::OuterStack => true,
        Val::AnyMem => {
            st.clobber_slots();
            true
        }
        _ => false,
    }
}

/// Checks one instruction against the state before it; returns the context
/// access it makes, if any.
fn check(st: &State, pc: usize, insn: &Insn) -> Result<Option<CtxSite>, VerifyError> {
    match *insn {
        Insn::Ldx { size, src, off, .. } => access(st, pc, src, off, size, false),
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => {
            if st.reg(dst).may_be_ctx() {
                return access(st, pc, dst, off, size, true);
            }
            check_ctx_store(st, pc, dst, src).map(|()| None)
        }
        Insn::St { size, dst, off, .. } => access(st, pc, dst, off, size, true),
        Insn::Atomic {
            size,
            dst,
            src,
            off,
            ..
        } => {
            if st.reg(src).may_be_ctx() {
                return Err(VerifyError::at(
                    pc,
                    format!(
                        "atomic operation with the context pointer R{} as operand is not supported",
                        src.num()
                    ),
                ));
            }
            access(st, pc, dst, off, size, true)
        }
        _ => Ok(None),
    }
}

/// Classifies an access through `base`: a context access at a constant
/// offset, no context access at all, or one that cannot be rewritten.
fn access(
    st: &State,
    pc: usize,
    base: Reg,
    off: i16,
    size: Size,
    write: bool,
) -> Result<Option<CtxSite>, VerifyError> {
    let r = base.num();
    match st.reg(base) {
        Val::Ctx(k) if k != 0 => Err(VerifyError::at(
            pc,
            format!("dereference of modified ctx ptr R{r} off={k} disallowed"),
        )),
        Val::Ctx(k) => Ok(Some(CtxSite {
            pc,
            ptr_off: k,
            off: k + off as i32,
            size,
            write,
        })),
        Val::CtxVarOff => Err(VerifyError::at(
            pc,
            format!(
                "variable ctx access var_off=R{r} disallowed: the offset of the context pointer is not a constant here"
            ),
        )),
        Val::CtxModified => Err(VerifyError::at(
            pc,
            format!("dereference of modified ctx ptr R{r} off={off} disallowed"),
        )),
        Val::Mixed => Err(VerifyError::at(
            pc,
            format!(
                "same insn cannot be used with different pointers: R{r} holds the context pointer on some paths and another value on others (or a spilled context pointer that may have been overwritten)"
            ),
        )),
        _ => Ok(None),
    }
}

/// A context pointer may be spilled to the current frame's stack only:
/// anywhere else this analysis would lose track of it.
fn check_ctx_store(st: &State, pc: usize, base: Reg, val: Reg) -> Result<(), VerifyError> {
    if !st.reg(val).may_be_ctx() {
        return Ok(());
    }
    let (v, b) = (val.num(), base.num());
    let msg = match st.reg(base) {
        Val::Stack(_) => return Ok(()),
        Val::OuterStack => format!(
            "storing the context pointer R{v} through R{b}, which may point into a caller's stack, is not supported"
        ),
        Val::AnyMem => format!(
            "storing the context pointer R{v} through R{b}, whose target is not known, is not supported"
        ),
        _ => format!("storing the context pointer R{v} to non-stack memory is not supported"),
    };
    Err(VerifyError::at(pc, msg))
}

/// Per-subprogram facts the callers see.
#[derive(Clone, Debug, Default)]
struct Summary {
    /// Merge of `r0` at every exit reached so far.
    ret: Option<Val>,
    /// Whether the subprogram (or one it calls) may store into a caller's
    /// frame.
    writes_outer: bool,
    /// Blocks ending in a call to this subprogram.
    call_blocks: Vec<usize>,
}

/// A basic block: slots `[start, end)`.
#[derive(Clone, Copy, Debug)]
struct Block {
    start: usize,
    end: usize,
}

struct Analysis<'a> {
    insns: &'a [Insn],
    structure: &'a Structure,
    blocks: Vec<Block>,
    /// Block index of every block-leading slot.
    block_at: Vec<u32>,
    in_states: Vec<Option<State>>,
    summaries: Vec<Summary>,
    worklist: VecDeque<usize>,
    queued: Vec<bool>,
}

/// Finds every memory access through the context pointer of a program
/// whose structure has been checked, with `r1` holding the context at the
/// entry of the main program.
pub(crate) fn find_ctx_accesses(
    insns: &[Insn],
    structure: &Structure,
) -> Result<Vec<CtxSite>, VerifyError> {
    let mut a = Analysis::new(insns, structure);
    let entry = State::entry(
        [
            Val::Ctx(0),
            Val::Scalar,
            Val::Scalar,
            Val::Scalar,
            Val::Scalar,
        ],
        false,
    );
    a.propagate(0, &entry);
    while let Some(b) = a.worklist.pop_front() {
        a.queued[b] = false;
        a.run_block(b);
    }
    a.collect()
}

impl<'a> Analysis<'a> {
    fn new(insns: &'a [Insn], structure: &'a Structure) -> Analysis<'a> {
        let blocks = split_blocks(insns, structure);
        let mut block_at = vec![u32::MAX; insns.len()];
        for (i, b) in blocks.iter().enumerate() {
            block_at[b.start] = i as u32;
        }
        let n = blocks.len();
        Analysis {
            insns,
            structure,
            blocks,
            block_at,
            in_states: vec![None; n],
            summaries: vec![Summary::default(); structure.subprogs.len()],
            worklist: VecDeque::new(),
            queued: vec![false; n],
        }
    }

    /// Merges `st` into the entry state of the block starting at `pc`.
    fn propagate(&mut self, pc: usize, st: &State) {
        let b = self.block_at[pc] as usize;
        let changed = match &mut self.in_states[b] {
            Some(old) => old.join_from(st),
            slot @ None => {
                *slot = Some(st.clone());
                true
            }
        };
        if changed {
            self.enqueue(b);
        }
    }

    fn enqueue(&mut self, b: usize) {
        if !self.queued[b] {
            self.queued[b] = true;
            self.worklist.push_back(b);
        }
    }

    /// Re-runs the callers of subprogram `sub` after its summary changed.
    fn requeue_callers(&mut self, sub: usize) {
        for i in 0..self.summaries[sub].call_blocks.len() {
            let b = self.summaries[sub].call_blocks[i];
            self.enqueue(b);
        }
    }

    fn mark_writes_outer(&mut self, sub: usize) {
        if !self.summaries[sub].writes_outer {
            self.summaries[sub].writes_outer = true;
            self.requeue_callers(sub);
        }
    }

    fn run_block(&mut self, b: usize) {
        let Block { start, end } = self.blocks[b];
        let Some(mut st) = self.in_states[b].clone() else {
            return;
        };
        let sub = self.structure.subprog_of(start);
        let mut pc = start;
        while pc < end {
            let insn = self.insns[pc];
            match insn {
                Insn::Exit => return self.exit(sub, &st),
                Insn::Ja { .. } => return self.jump(&insn, pc, &st),
                Insn::Jmp { .. } => {
                    self.jump(&insn, pc, &st);
                    return self.propagate(pc + 1, &st);
                }
                Insn::Call(CallKind::Local(_)) => return self.call(b, sub, pc, st),
                _ => {
                    if transfer(&mut st, &insn) {
                        self.mark_writes_outer(sub);
                    }
                }
            }
            pc += insn.slots();
        }
        if end < self.insns.len() {
            self.propagate(end, &st);
        }
    }

    fn jump(&mut self, insn: &Insn, pc: usize, st: &State) {
        if let Some(t) = insn.jump_target(pc) {
            self.propagate(t as usize, st);
        }
    }

    fn exit(&mut self, sub: usize, st: &State) {
        let r0 = st.reg(Reg::R0);
        let summary = &mut self.summaries[sub];
        let ret = summary.ret.map_or(r0, |old| old.join(r0));
        if summary.ret != Some(ret) {
            summary.ret = Some(ret);
            self.requeue_callers(sub);
        }
    }

    /// A bpf-to-bpf call at `pc`, ending block `b` of subprogram `sub`.
    fn call(&mut self, b: usize, sub: usize, pc: usize, mut st: State) {
        let Some(target) = self.insns[pc].call_target(pc) else {
            return;
        };
        let Some(callee) = self.structure.subprog_at(target as usize) else {
            return;
        };
        if !self.summaries[callee].call_blocks.contains(&b) {
            self.summaries[callee].call_blocks.push(b);
        }
        // Pointers into this frame are pointers into a caller's frame for
        // the callee.
        let arg = |v: Val| if v.is_mem_ptr() { Val::OuterStack } else { v };
        let args = [1, 2, 3, 4, 5].map(|r| arg(st.regs[r]));
        let entry = State::entry(args, st.outer_ctx || st.has_ctx_slot());
        self.propagate(target as usize, &entry);

        let summary = &self.summaries[callee];
        let Some(ret) = summary.ret else {
            return; // the callee has not returned yet
        };
        let writes_outer = summary.writes_outer;
        st.clobber_caller_saved();
        // A pointer the callee returns may point into this frame.
        st.set(Reg::R0, if ret.is_mem_ptr() { Val::AnyMem } else { ret });
        if writes_outer {
            st.clobber_slots();
            self.mark_writes_outer(sub);
        }
        self.propagate(pc + 1, &st);
    }

    /// The last pass: checks every access of every reachable block against
    /// the stable states and lists the context accesses.
    fn collect(&self) -> Result<Vec<CtxSite>, VerifyError> {
        let mut sites = Vec::new();
        for (b, block) in self.blocks.iter().enumerate() {
            let Some(mut st) = self.in_states[b].clone() else {
                continue;
            };
            let mut pc = block.start;
            while pc < block.end {
                let insn = &self.insns[pc];
                if let Some(site) = check(&st, pc, insn)? {
                    sites.push(site);
                }
                transfer(&mut st, insn);
                pc += insn.slots();
            }
        }
        Ok(sites)
    }
}

/// Splits the program into basic blocks: a block starts at every
/// subprogram start, jump target, and slot after a jump, exit or
/// bpf-to-bpf call.
fn split_blocks(insns: &[Insn], structure: &Structure) -> Vec<Block> {
    let mut leader = vec![false; insns.len()];
    for s in &structure.subprogs {
        leader[s.start] = true;
    }
    for (pc, insn) in insns.iter().enumerate() {
        let ends_block = matches!(
            insn,
            Insn::Ja { .. } | Insn::Jmp { .. } | Insn::Exit | Insn::Call(CallKind::Local(_))
        );
        if let Some(t) = insn.jump_target(pc) {
            leader[t as usize] = true;
        }
        if ends_block && pc + 1 < insns.len() {
            leader[pc + 1] = true;
        }
    }
    let starts: Vec<usize> = (0..insns.len()).filter(|&pc| leader[pc]).collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| Block {
            start,
            end: starts.get(i + 1).copied().unwrap_or(insns.len()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_is_commutative_and_idempotent() {
        let vals = [
            Val::Scalar,
            Val::Stack(-8),
            Val::Stack(-16),
            Val::OuterStack,
            Val::AnyMem,
            Val::Ctx(0),
            Val::Ctx(4),
            Val::CtxVarOff,
            Val::CtxModified,
            Val::Mixed,
        ];
        for a in vals {
            assert_eq!(a.join(a), a);
            for b in vals {
                assert_eq!(a.join(b), b.join(a), "{a:?} {b:?}");
                for c in vals {
                    assert_eq!(a.join(b).join(c), a.join(b.join(c)), "{a:?} {b:?} {c:?}");
                }
            }
        }
    }

    #[test]
    fn ctx_joined_with_non_ctx_is_mixed() {
        assert_eq!(Val::Ctx(0).join(Val::Stack(-8)), Val::Mixed);
        assert_eq!(Val::Ctx(0).join(Val::Ctx(4)), Val::CtxVarOff);
        assert_eq!(Val::Stack(-8).join(Val::Scalar), Val::AnyMem);
    }

    #[test]
    fn stack_join_keeps_unlisted_slots_scalar() {
        let a = [(-16, Val::Ctx(0)), (-8, Val::Ctx(0))];
        let b = [(-8, Val::Ctx(0))];
        assert_eq!(
            join_stacks(&a, &b),
            vec![(-16, Val::Mixed), (-8, Val::Ctx(0))]
        );
    }

    #[test]
    fn partial_overwrite_forgets_the_slot() {
        let mut st = State::entry([Val::Ctx(0); 5], false);
        st.set_slot(-8, Val::Ctx(0));
        st.set_slot(-16, Val::Ctx(0));
        st.scalarize(-12, -8);
        assert_eq!(st.stack, vec![(-8, Val::Ctx(0))]);
    }
}
