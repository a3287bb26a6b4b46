//! One emission pass: every BPF instruction onto the x86-64 encoder.
//!
//! The pass is deterministic: given the same [`JumpPlan`] it emits the
//! same instruction sequence, which is what lets [`super::compile`] shrink
//! jumps to rel8 by iterating passes to a fixed point.
//!
//! Semantics follow RFC 9669 with Linux's choices (those of
//! `rxdp_interp`'s `alu.rs`): division by zero gives 0, modulo by zero
//! leaves the dividend, `MIN / -1` is `MIN` and `MIN % -1` is 0, shift
//! counts are masked to the width, and every 32-bit result is
//! zero-extended (x86 does that itself for 32-bit destinations).

use super::frame::{Frame, Kind};
use super::poke::{NOP5, SiteLabels};
use super::regs::{SCRATCH_A, SCRATCH_B, SCRATCH_C, x86};
use super::runtime::{
    ArrayLayout, MAP_MAX_ENTRIES, MAP_TABLE, MAX_TAIL_CALL_CNT, RUN_TAIL_CALL_CNT, Runtime,
};
use super::{JitOptions, Reason, Unsupported};
use crate::x86::{
    AluOp as X86Alu, Asm, Cond as X86Cond, JumpPlan, JumpSize, Label, Mem, Reg, Scale, ShiftOp,
    Size,
};
use rxdp_isa::helper_id::{MAP_LOOKUP_ELEM, TAIL_CALL};
use rxdp_isa::{
    AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg as BpfReg, Size as BpfSize,
    Width,
};
use rxdp_verifier::VerifiedProgram;
use std::collections::HashMap;

/// The operand size of a BPF width.
fn op_size(width: Width) -> Size {
    match width {
        Width::W32 => Size::D,
        Width::W64 => Size::Q,
    }
}

/// The operand size of a BPF memory access.
fn mem_size(size: BpfSize) -> Size {
    match size {
        BpfSize::B => Size::B,
        BpfSize::H => Size::W,
        BpfSize::W => Size::D,
        BpfSize::DW => Size::Q,
    }
}

/// The x86 condition that jumps when BPF's `cond` holds after
/// `cmp dst, src` (or `test dst, src` for [`Cond::Set`]).
fn jcc(cond: Cond) -> X86Cond {
    match cond {
        Cond::Eq => X86Cond::E,
        Cond::Ne | Cond::Set => X86Cond::Ne,
        Cond::Gt => X86Cond::A,
        Cond::Ge => X86Cond::Ae,
        Cond::Lt => X86Cond::B,
        Cond::Le => X86Cond::Be,
        Cond::Sgt => X86Cond::G,
        Cond::Sge => X86Cond::Ge,
        Cond::Slt => X86Cond::L,
        Cond::Sle => X86Cond::Le,
    }
}

/// The registers r6..r9 that `insn` writes, bit `i` for `ri`: a check on
/// the verifier's `callee_saved`, since a register the prologue does not
/// save but the body writes would corrupt the caller.
fn written_callee_saved(insn: &Insn) -> u16 {
    let dst = match *insn {
        Insn::Alu { dst, .. }
        | Insn::MovSx { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::End { dst, .. }
        | Insn::Ldx { dst, .. }
        | Insn::LdImm64 { dst, .. } => Some(dst),
        Insn::Atomic { op, fetch, src, .. } if fetch || op == AtomicOp::Xchg => Some(src),
        _ => None,
    };
    match dst {
        Some(r) if (6..=9).contains(&r.num()) => 1 << r.num(),
        _ => 0,
    }
}

/// Whether `insn` is `call bpf_tail_call`.
fn is_tail_call(insn: &Insn) -> bool {
    *insn == Insn::Call(CallKind::Helper(TAIL_CALL))
}

/// Whether `insn` reads or writes r10.
fn uses_r10(insn: &Insn) -> bool {
    let r10 = |r: BpfReg| r.num() == 10;
    let op = |o: Operand| matches!(o, Operand::Reg(r) if r10(r));
    match *insn {
        Insn::Alu { dst, src, .. } | Insn::Jmp { dst, src, .. } => r10(dst) || op(src),
        Insn::MovSx { dst, src, .. }
        | Insn::Ldx { dst, src, .. }
        | Insn::Stx { dst, src, .. }
        | Insn::Atomic { dst, src, .. } => r10(dst) || r10(src),
        Insn::Neg { dst, .. }
        | Insn::End { dst, .. }
        | Insn::St { dst, .. }
        | Insn::LdImm64 { dst, .. }
        | Insn::Callx { dst } => r10(dst),
        Insn::LdInd { src, .. } => r10(src),
        Insn::Ja { .. } | Insn::Call(_) | Insn::Exit | Insn::LdImm64Hi | Insn::LdAbs { .. } => {
            false
        }
    }
}

/// The state of one emission pass.
pub(super) struct Emitter<'p> {
    prog: &'p VerifiedProgram,
    runtime: &'p dyn Runtime,
    pub(super) asm: Asm,
    /// One label per instruction slot: where its code starts.
    pub(super) slot: Vec<Label>,
    /// Each subprogram's entry (where calls land; for the main program,
    /// where runs start).
    pub(super) entry: Vec<Label>,
    /// Where tail calls enter the main program.
    pub(super) tail_entry: Label,
    /// The frame of the subprogram being emitted.
    frame: Frame,
    /// The array each inlinable lookup reads, by the slot of its call.
    lookups: HashMap<usize, ArrayLayout>,
    /// The prog array and slot of each direct tail call, by the slot of
    /// its call.
    direct: HashMap<usize, (u32, u32)>,
    /// The patch sites of the direct tail calls emitted.
    pub(super) sites: Vec<SiteLabels>,
    /// The retpoline indirect tail calls jump through, when asked for.
    retpoline: Option<Label>,
    /// Whether an indirect tail call used it.
    retpoline_used: bool,
    /// Slots that start on a 16-byte boundary (loop heads, when asked).
    aligned: Vec<bool>,
    /// Whether the program calls any helper (or tail-calls): then its
    /// frames keep rsp aligned for calls into Rust.
    calls_helpers: bool,
    /// Whether the code emitted reads the run: calls a helper (one not
    /// compiled inline) or tail-calls.
    pub(super) uses_run: bool,
}

impl<'p> Emitter<'p> {
    /// A pass over `prog` whose relaxed jumps take their sizes from `plan`,
    /// calling helpers and reading maps as `runtime` says.
    pub(super) fn new(
        prog: &'p VerifiedProgram,
        runtime: &'p dyn Runtime,
        options: JitOptions,
        plan: JumpPlan,
    ) -> Emitter<'p> {
        let mut asm = Asm::with_plan(plan);
        let slot = (0..prog.insns.len()).map(|_| asm.new_label()).collect();
        let entry = (0..prog.structure.subprogs.len())
            .map(|_| asm.new_label())
            .collect();
        let tail_entry = asm.new_label();
        let retpoline = options.retpoline.then(|| asm.new_label());
        let mut aligned = vec![false; prog.insns.len()];
        if options.align_loops {
            for (pc, insn) in prog.insns.iter().enumerate() {
                if let Some(t) = insn.jump_target(pc).and_then(|t| usize::try_from(t).ok())
                    && t <= pc
                    && t < aligned.len()
                {
                    aligned[t] = true;
                }
            }
        }
        let lookups = prog
            .inline_lookups
            .iter()
            .filter_map(|l| Some((l.pc, runtime.array(l.map)?)))
            .collect();
        let direct = prog
            .direct_tail_calls
            .iter()
            .filter(|t| {
                runtime
                    .prog_array(t.map)
                    .is_some_and(|n| t.key < u64::from(n))
            })
            .map(|t| (t.pc, (t.map, t.key as u32)))
            .collect();
        Emitter {
            prog,
            runtime,
            asm,
            slot,
            entry,
            tail_entry,
            frame: Frame::new(Kind::Plain, 0, 0, true),
            lookups,
            direct,
            sites: Vec::new(),
            retpoline,
            retpoline_used: false,
            aligned,
            calls_helpers: prog
                .insns
                .iter()
                .any(|i| matches!(i, Insn::Call(CallKind::Helper(_)))),
            uses_run: false,
        }
    }

    /// Whether the main program of `stack_depth` bytes needs no frame:
    /// it is the only subprogram, calls nothing and never uses r10.
    fn is_leaf(&self, stack_depth: u32) -> bool {
        stack_depth == 0
            && self.prog.structure.subprogs.len() == 1
            && !self.prog.insns.iter().any(|i| {
                matches!(
                    i,
                    Insn::Call(_) | Insn::Callx { .. } | Insn::LdAbs { .. } | Insn::LdInd { .. }
                ) || uses_r10(i)
            })
    }

    /// The entries of the subprograms the program's `lddw`s name as
    /// callbacks.
    pub(super) fn callbacks(&self) -> Vec<Label> {
        self.prog
            .insns
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                matches!(
                    i,
                    Insn::LdImm64 {
                        pseudo: Pseudo::Func,
                        ..
                    }
                )
            })
            .filter_map(|(pc, i)| {
                let t = usize::try_from(i.call_target(pc)?).ok()?;
                Some(self.entry[self.prog.structure.subprog_at(t)?])
            })
            .collect()
    }

    /// Emits every subprogram, main first.
    pub(super) fn emit(&mut self) -> Result<(), Unsupported> {
        for (i, sub) in self.prog.structure.subprogs.iter().enumerate() {
            let info = self.prog.subprogs.get(i).copied().unwrap_or_default();
            let insns = &self.prog.insns[sub.start..sub.end];
            let written = insns
                .iter()
                .fold(0, |m, insn| m | written_callee_saved(insn));
            let kind = if i == 0 && self.is_leaf(info.stack_depth) {
                Kind::Leaf
            } else if i == 0 {
                Kind::Main
            } else if info.tail_calls || insns.iter().any(is_tail_call) {
                Kind::TailCalling
            } else {
                Kind::Plain
            };
            self.frame = Frame::new(
                kind,
                info.stack_depth,
                info.callee_saved | written,
                self.calls_helpers,
            );
            let exit = self.asm.new_label();
            self.frame
                .prologue(&mut self.asm, self.entry[i], self.tail_entry);
            for pc in sub.start..sub.end {
                if self.aligned[pc] {
                    self.asm.align(16);
                }
                self.asm.bind(self.slot[pc]);
                let last = pc + 1 == sub.end;
                self.insn(pc, exit, last)?;
            }
            self.asm.bind(exit);
            self.frame.epilogue(&mut self.asm);
        }
        if let Some(thunk) = self.retpoline
            && self.retpoline_used
        {
            self.retpoline_thunk(thunk);
        }
        Ok(())
    }

    /// The retpoline `jmp r10` goes through: the `ret` jumps to r10 while
    /// any speculation of it is caught in the loop (the kernel's
    /// `__x86_indirect_thunk_*`).
    ///
    /// ```text
    /// thunk:   call set
    /// capture: pause; lfence; jmp capture
    /// set:     mov [rsp], r10; ret
    /// ```
    fn retpoline_thunk(&mut self, thunk: Label) {
        let (capture, set) = (self.asm.new_label(), self.asm.new_label());
        let a = &mut self.asm;
        a.bind(thunk);
        a.call(set);
        a.bind(capture);
        a.pause();
        a.lfence();
        a.jmp_relaxed(capture);
        a.bind(set);
        a.store(Size::Q, Mem::new(Reg::Rsp, 0), SCRATCH_B);
        a.ret();
    }

    fn unsupported(pc: usize, reason: Reason) -> Result<(), Unsupported> {
        Err(Unsupported {
            pc: Some(pc),
            reason,
        })
    }

    /// The label of slot `target` (the verifier proved it in range).
    fn target(&self, pc: usize, target: i64) -> Result<Label, Unsupported> {
        usize::try_from(target)
            .ok()
            .and_then(|t| self.slot.get(t).copied())
            .ok_or(Unsupported {
                pc: Some(pc),
                reason: Reason::BadTarget(target),
            })
    }

    fn insn(&mut self, pc: usize, exit: Label, last: bool) -> Result<(), Unsupported> {
        let insn = self.prog.insns[pc];
        match insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(width, op, x86(dst), src),
            Insn::MovSx {
                width,
                dst,
                src,
                from,
            } => self
                .asm
                .movsx(op_size(width), mem_size(from), x86(dst), x86(src)),
            Insn::Neg { width, dst } => self.asm.neg(op_size(width), x86(dst)),
            Insn::End { kind, dst, bits } => self.end(kind, x86(dst), bits),
            Insn::Ja { .. } => {
                let t = self.target(pc, insn.jump_target(pc).unwrap_or(-1))?;
                self.asm.jmp_relaxed(t);
            }
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                ..
            } => {
                let t = self.target(pc, insn.jump_target(pc).unwrap_or(-1))?;
                self.compare(width, cond, x86(dst), src);
                self.asm.jcc_relaxed(jcc(cond), t);
            }
            Insn::Call(CallKind::Local(_)) => {
                let target = insn.call_target(pc).unwrap_or(-1);
                let callee = usize::try_from(target)
                    .ok()
                    .and_then(|t| self.prog.structure.subprog_at(t));
                match callee {
                    Some(c) => self.asm.call(self.entry[c]),
                    None => return Self::unsupported(pc, Reason::BadTarget(target)),
                }
            }
            Insn::Call(CallKind::Helper(TAIL_CALL)) => match self.direct.get(&pc) {
                Some(&(map, key)) => self.direct_tail_call(map, key),
                None => self.tail_call(),
            },
            Insn::Call(CallKind::Helper(id)) => match self.lookups.get(&pc) {
                Some(&array) if id == MAP_LOOKUP_ELEM => self.inline_lookup(array),
                _ => {
                    let Some(addr) = u32::try_from(id)
                        .ok()
                        .and_then(|id| self.runtime.helper(id))
                    else {
                        return Self::unsupported(pc, Reason::HelperCall(id));
                    };
                    self.uses_run = true;
                    self.asm.call_abs(addr);
                }
            },
            Insn::Call(CallKind::Kfunc(id)) => return Self::unsupported(pc, Reason::Kfunc(id)),
            Insn::Callx { .. } => return Self::unsupported(pc, Reason::Callx),
            Insn::Exit => {
                // The last slot falls through into the epilogue.
                if !last {
                    self.asm.jmp_relaxed(exit);
                }
            }
            Insn::Ldx {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let mem = Mem::new(x86(src), off.into());
                if signed {
                    self.asm.load_sx(mem_size(size), x86(dst), mem);
                } else {
                    self.asm.load(mem_size(size), x86(dst), mem);
                }
            }
            Insn::Stx {
                size,
                dst,
                src,
                off,
            } => self
                .asm
                .store(mem_size(size), Mem::new(x86(dst), off.into()), x86(src)),
            Insn::St {
                size,
                dst,
                off,
                imm,
            } => {
                // The store keeps the immediate's low bytes.
                let imm = match size {
                    BpfSize::B => imm as i8 as i32,
                    BpfSize::H => imm as i16 as i32,
                    BpfSize::W | BpfSize::DW => imm,
                };
                self.asm
                    .store_imm(mem_size(size), Mem::new(x86(dst), off.into()), imm);
            }
            Insn::Atomic {
                size,
                op,
                fetch,
                dst,
                src,
                off,
            } => self.atomic(mem_size(size), op, fetch, dst, src, off.into()),
            Insn::LdImm64 { dst, pseudo, imm } => match pseudo {
                Pseudo::Imm64 if imm == 0 => {
                    self.asm.alu_rr(X86Alu::Xor, Size::D, x86(dst), x86(dst))
                }
                Pseudo::Imm64 => self.asm.mov_imm64(x86(dst), imm),
                // A callback: the address of the subprogram's code, which
                // helpers call back (see `callback` in the program type).
                Pseudo::Func if imm >> 32 == 0 => {
                    let target = insn.call_target(pc).unwrap_or(-1);
                    let callee = usize::try_from(target)
                        .ok()
                        .filter(|&t| t < self.prog.insns.len())
                        .and_then(|t| self.prog.structure.subprog_at(t));
                    match callee {
                        Some(c) => self.asm.lea_label(x86(dst), self.entry[c]),
                        None => return Self::unsupported(pc, Reason::BadTarget(target)),
                    }
                }
                other => return Self::unsupported(pc, Reason::PseudoLddw(other)),
            },
            Insn::LdImm64Hi => {}
            Insn::LdAbs { .. } | Insn::LdInd { .. } => {
                return Self::unsupported(pc, Reason::LegacyPacketLoad);
            }
        }
        Ok(())
    }

    /// `bpf_tail_call(ctx, prog_array, index)`, with r2 (rsi) the prog
    /// array's [`MapHeader`](super::MapHeader) and r3 (rdx) the index, in
    /// the kernel's order (see `rxdp_interp`'s `tail_call.rs`):
    ///
    /// ```text
    ///   mov r9d, [rsi + max_entries]; cmp edx, r9d; jae out
    ///   mov r9d, [r12 + tail_call_cnt]; cmp r9d, 33; jae out
    ///   add r9d, 1; mov [r12 + tail_call_cnt], r9d
    ///   mov r10, [rsi + table]; mov r11d, edx; mov r10, [r10 + r11 * 8]
    ///   test r10, r10; jz out
    ///   <unwind the frame>; jmp r10
    /// out:
    /// ```
    ///
    /// A failed tail call leaves r0..r5 as they were (the verifier makes
    /// them unreadable anyway) and goes on with the next instruction.
    fn tail_call(&mut self) {
        self.uses_run = true;
        let out = self.asm.new_label();
        let a = &mut self.asm;
        a.load(Size::D, SCRATCH_A, Mem::new(Reg::Rsi, MAP_MAX_ENTRIES));
        a.alu_rr(X86Alu::Cmp, Size::D, Reg::Rdx, SCRATCH_A);
        a.jcc_relaxed(X86Cond::Ae, out);
        Self::count_tail_call(a, out);
        a.load(Size::Q, SCRATCH_B, Mem::new(Reg::Rsi, MAP_TABLE));
        a.mov_rr(Size::D, SCRATCH_C, Reg::Rdx);
        a.load(
            Size::Q,
            SCRATCH_B,
            Mem::indexed(SCRATCH_B, SCRATCH_C, Scale::X8, 0),
        );
        a.test_rr(Size::Q, SCRATCH_B, SCRATCH_B);
        a.jcc_relaxed(X86Cond::E, out);
        self.frame.unwind(&mut self.asm);
        match self.retpoline {
            Some(thunk) => {
                self.retpoline_used = true;
                self.asm.jmp_relaxed(thunk);
            }
            None => self.asm.jmp_reg(SCRATCH_B),
        }
        self.asm.bind(out);
    }

    /// `if (run->tail_call_cnt++ >= 33) goto out`, in r9: the count of the
    /// run, which every frame shares.
    fn count_tail_call(a: &mut Asm, out: Label) {
        let count = Mem::new(Reg::R12, RUN_TAIL_CALL_CNT);
        a.load(Size::D, SCRATCH_A, count);
        a.alu_ri(X86Alu::Cmp, Size::D, SCRATCH_A, MAX_TAIL_CALL_CNT as i32);
        a.jcc_relaxed(X86Cond::Ae, out);
        a.alu_ri(X86Alu::Add, Size::D, SCRATCH_A, 1);
        a.store(Size::D, count, SCRATCH_A);
    }

    /// A tail call through slot `key` of prog array `map`, both proved
    /// constant: a counted jump through the two patch sites of
    /// [`super::poke`], emitted in state C (the slot empty); the program
    /// type patches them to follow the slot.
    fn direct_tail_call(&mut self, map: u32, key: u32) {
        self.uses_run = true;
        let (out, bypass, target) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        let a = &mut self.asm;
        Self::count_tail_call(a, out);
        // Each site alone in its aligned 8-byte word (see `poke`).
        a.align(8);
        a.bind(bypass);
        a.jmp(out, JumpSize::Near);
        self.frame.unwind(&mut self.asm);
        self.asm.align(8);
        self.asm.bind(target);
        self.asm.nop(NOP5.len());
        self.asm.bind(out);
        self.sites.push(SiteLabels {
            map,
            key,
            bypass,
            target,
        });
    }

    /// `bpf_map_lookup_elem(array, key)` on an array the verifier proved
    /// the same on every path, without a call (the kernel's
    /// `array_map_gen_lookup`): r0 = the value's address, or 0 when the
    /// `u32` key at r2 is out of range.
    ///
    /// ```text
    ///   mov eax, [rsi]; cmp eax, max_entries; jae null
    ///   imul rax, rax, stride; mov r9, values; add rax, r9; jmp done
    /// null: xor eax, eax
    /// done:
    /// ```
    fn inline_lookup(&mut self, array: ArrayLayout) {
        let (null, done) = (self.asm.new_label(), self.asm.new_label());
        let a = &mut self.asm;
        a.load(Size::D, Reg::Rax, Mem::new(Reg::Rsi, 0));
        a.alu_ri(X86Alu::Cmp, Size::D, Reg::Rax, array.max_entries as i32);
        a.jcc_relaxed(X86Cond::Ae, null);
        if array.stride.is_power_of_two() {
            let shift = array.stride.trailing_zeros() as u8;
            if shift > 0 {
                a.shift_ri(ShiftOp::Shl, Size::Q, Reg::Rax, shift);
            }
        } else {
            a.imul_rri(Size::Q, Reg::Rax, Reg::Rax, array.stride as i32);
        }
        a.mov_imm64(SCRATCH_A, array.values);
        a.alu_rr(X86Alu::Add, Size::Q, Reg::Rax, SCRATCH_A);
        a.jmp_relaxed(done);
        a.bind(null);
        a.alu_rr(X86Alu::Xor, Size::D, Reg::Rax, Reg::Rax);
        a.bind(done);
    }

    /// `cmp dst, src` or, for [`Cond::Set`], `test dst, src`.
    fn compare(&mut self, width: Width, cond: Cond, dst: Reg, src: Operand) {
        let size = op_size(width);
        match (cond, src) {
            (Cond::Set, Operand::Reg(s)) => self.asm.test_rr(size, dst, x86(s)),
            (Cond::Set, Operand::Imm(i)) => self.asm.test_ri(size, dst, i),
            // `test r, r` sets the flags `cmp r, 0` does (CF and OF clear,
            // ZF and SF from r) in fewer bytes.
            (_, Operand::Imm(0)) => self.asm.test_rr(size, dst, dst),
            (_, Operand::Reg(s)) => self.asm.alu_rr(X86Alu::Cmp, size, dst, x86(s)),
            (_, Operand::Imm(i)) => self.asm.alu_ri(X86Alu::Cmp, size, dst, i),
        }
    }

    fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Operand) {
        let size = op_size(width);
        let simple = match op {
            AluOp::Add => Some(X86Alu::Add),
            AluOp::Sub => Some(X86Alu::Sub),
            AluOp::Or => Some(X86Alu::Or),
            AluOp::And => Some(X86Alu::And),
            AluOp::Xor => Some(X86Alu::Xor),
            _ => None,
        };
        if let Some(x) = simple {
            match src {
                Operand::Reg(s) => self.asm.alu_rr(x, size, dst, x86(s)),
                Operand::Imm(i) => self.asm.alu_ri(x, size, dst, i),
            }
            return;
        }
        match op {
            AluOp::Mov => match (src, width) {
                (Operand::Reg(s), _) => self.asm.mov_rr(size, dst, x86(s)),
                // No flags live across BPF instructions: zero by xor, in
                // fewer bytes (the 32-bit form clears all 64).
                (Operand::Imm(0), _) => self.asm.alu_rr(X86Alu::Xor, Size::D, dst, dst),
                (Operand::Imm(i), Width::W32) => self.asm.mov_r32_imm(dst, i as u32),
                (Operand::Imm(i), Width::W64) => self.asm.mov_imm64(dst, i as i64 as u64),
            },
            AluOp::Mul => match src {
                Operand::Reg(s) => self.asm.imul_rr(size, dst, x86(s)),
                Operand::Imm(i) => self.asm.imul_rri(size, dst, dst, i),
            },
            AluOp::Lsh => self.shift(ShiftOp::Shl, size, dst, src),
            AluOp::Rsh => self.shift(ShiftOp::Shr, size, dst, src),
            AluOp::Arsh => self.shift(ShiftOp::Sar, size, dst, src),
            AluOp::Div | AluOp::Mod | AluOp::Sdiv | AluOp::Smod => self.div(op, size, dst, src),
            AluOp::Add | AluOp::Sub | AluOp::Or | AluOp::And | AluOp::Xor => {}
        }
    }

    /// Shifts. By an immediate: the count masked to the width. By a
    /// register: x86 takes the count in cl, and rcx is r4, so r4 is saved
    /// in a scratch register around the shift unless it is the count or
    /// the destination.
    fn shift(&mut self, op: ShiftOp, size: Size, dst: Reg, src: Operand) {
        let s = match src {
            Operand::Imm(i) => {
                let count = (i as u32 & (size.bits() - 1)) as u8;
                if count == 0 {
                    // A 32-bit shift by 0 must still zero-extend.
                    if size == Size::D {
                        self.asm.mov_rr(Size::D, dst, dst);
                    }
                } else {
                    self.asm.shift_ri(op, size, dst, count);
                }
                return;
            }
            Operand::Reg(s) => x86(s),
        };
        if s == Reg::Rcx {
            self.asm.shift_cl(op, size, dst);
        } else if dst == Reg::Rcx {
            // Shift a copy of r4, then put the result into r4.
            self.asm.mov_rr(Size::Q, SCRATCH_C, Reg::Rcx);
            self.asm.mov_rr(Size::Q, Reg::Rcx, s);
            self.asm.shift_cl(op, size, SCRATCH_C);
            self.asm.mov_rr(Size::Q, Reg::Rcx, SCRATCH_C);
        } else {
            self.asm.mov_rr(Size::Q, SCRATCH_C, Reg::Rcx);
            self.asm.mov_rr(Size::Q, Reg::Rcx, s);
            self.asm.shift_cl(op, size, dst);
            self.asm.mov_rr(Size::Q, Reg::Rcx, SCRATCH_C);
        }
    }

    /// Division and modulo. x86 divides rdx:rax, and those are r0 and r3,
    /// so whichever of them is not the destination is pushed (1 byte, as
    /// the kernel's JIT does; no call happens in between, so rsp's
    /// alignment does not matter); the divisor goes to a scratch register. A zero divisor and the
    /// signed `MIN / -1` (which faults on x86) take their own paths, when
    /// the divisor can be zero or -1 (a register, or such an immediate):
    ///
    /// ```text
    ///   [push rax] [push rdx] mov r11, divisor; [mov rax, dst]
    ///   [test r11, r11; jz zero]
    ///   [signed: cmp r11, -1; jne do; neg rax / xor r11d, r11d; jmp done]
    /// do: xor edx, edx | cdq | cqo; div | idiv r11; mov r11, rax | rdx; [jmp done]
    /// [zero: xor r11d, r11d | mov r11, rax]
    /// done: [pop rdx] [pop rax] mov dst, r11
    /// ```
    fn div(&mut self, op: AluOp, size: Size, dst: Reg, src: Operand) {
        let signed = matches!(op, AluOp::Sdiv | AluOp::Smod);
        let modulo = matches!(op, AluOp::Mod | AluOp::Smod);
        let (may_be_zero, may_be_minus_one) = match src {
            Operand::Reg(_) => (true, signed),
            Operand::Imm(i) => (i == 0, signed && i == -1),
        };
        let (zero, done) = (self.asm.new_label(), self.asm.new_label());
        let a = &mut self.asm;
        let (save_rax, save_rdx) = (dst != Reg::Rax, dst != Reg::Rdx);
        if save_rax {
            a.push(Reg::Rax);
        }
        if save_rdx {
            a.push(Reg::Rdx);
        }
        match src {
            Operand::Reg(s) => a.mov_rr(Size::Q, SCRATCH_C, x86(s)),
            Operand::Imm(i) => a.mov_imm64(SCRATCH_C, i as i64 as u64),
        }
        if dst != Reg::Rax {
            a.mov_rr(Size::Q, Reg::Rax, dst);
        }
        if may_be_zero {
            a.test_rr(size, SCRATCH_C, SCRATCH_C);
            a.jcc_relaxed(X86Cond::E, zero);
        }
        let divide = a.new_label();
        if may_be_minus_one {
            a.alu_ri(X86Alu::Cmp, size, SCRATCH_C, -1);
            a.jcc_relaxed(X86Cond::Ne, divide);
            if modulo {
                a.alu_rr(X86Alu::Xor, Size::D, SCRATCH_C, SCRATCH_C);
            } else {
                // x / -1 = -x, and -MIN wraps to MIN as BPF wants.
                a.neg(size, Reg::Rax);
                a.mov_rr(size, SCRATCH_C, Reg::Rax);
            }
            a.jmp_relaxed(done);
        }
        a.bind(divide);
        if signed {
            if size == Size::Q {
                a.cqo()
            } else {
                a.cdq()
            }
            a.idiv(size, SCRATCH_C);
        } else {
            a.alu_rr(X86Alu::Xor, Size::D, Reg::Rdx, Reg::Rdx);
            a.div(size, SCRATCH_C);
        }
        let result = if modulo { Reg::Rdx } else { Reg::Rax };
        a.mov_rr(size, SCRATCH_C, result);
        if may_be_zero {
            a.jmp_relaxed(done);
            a.bind(zero);
            if modulo {
                // x % 0 = x (the low half, zero-extended, at 32 bits).
                a.mov_rr(size, SCRATCH_C, Reg::Rax);
            } else {
                a.alu_rr(X86Alu::Xor, Size::D, SCRATCH_C, SCRATCH_C);
            }
        }
        a.bind(done);
        if save_rdx {
            a.pop(Reg::Rdx);
        }
        if save_rax {
            a.pop(Reg::Rax);
        }
        a.mov_rr(Size::Q, dst, SCRATCH_C);
    }

    /// Byte-order conversions on a little-endian host: `le` truncates,
    /// `be` and `bswap` swap (and truncate).
    fn end(&mut self, kind: Endian, dst: Reg, bits: u8) {
        let a = &mut self.asm;
        match (kind, bits) {
            (Endian::Le, 16) => a.movzx(Size::W, dst, dst),
            (Endian::Le, 32) => a.mov_rr(Size::D, dst, dst),
            (Endian::Le, _) => {}
            (_, 16) => {
                a.shift_ri(ShiftOp::Rol, Size::W, dst, 8);
                a.movzx(Size::W, dst, dst);
            }
            (_, 32) => a.bswap(Size::D, dst),
            (_, _) => a.bswap(Size::Q, dst),
        }
    }

    /// Atomic read-modify-writes on `[dst + off]`.
    fn atomic(
        &mut self,
        size: Size,
        op: AtomicOp,
        fetch: bool,
        dst: BpfReg,
        src: BpfReg,
        off: i32,
    ) {
        let (base, val) = (x86(dst), x86(src));
        let mem = Mem::new(base, off);
        let a = &mut self.asm;
        let alu = match op {
            AtomicOp::Add => X86Alu::Add,
            AtomicOp::Or => X86Alu::Or,
            AtomicOp::And => X86Alu::And,
            AtomicOp::Xor => X86Alu::Xor,
            AtomicOp::Xchg => return a.xchg(size, mem, val),
            AtomicOp::Cmpxchg => {
                a.lock_cmpxchg(size, mem, val);
                if size == Size::D {
                    // On success cmpxchg leaves eax unwritten; BPF wants
                    // r0 = the old value, zero-extended.
                    a.mov_rr(Size::D, Reg::Rax, Reg::Rax);
                }
                return;
            }
        };
        match (fetch, op) {
            (false, _) => a.lock_alu(alu, size, mem, val),
            (true, AtomicOp::Add) => a.lock_xadd(size, mem, val),
            (true, _) => Self::fetch_loop(a, alu, size, base, val, off),
        }
    }

    /// A fetching or/and/xor: a cmpxchg loop, which needs rax. r0 is
    /// parked in a scratch register, and the base and operand, when they
    /// are r0, are read from there.
    fn fetch_loop(a: &mut Asm, alu: X86Alu, size: Size, base: Reg, val: Reg, off: i32) {
        let saved = SCRATCH_B;
        let park = |r: Reg| if r == Reg::Rax { saved } else { r };
        let mem = Mem::new(park(base), off);
        a.mov_rr(Size::Q, saved, Reg::Rax);
        let again = a.new_label();
        a.bind(again);
        a.load(size, Reg::Rax, mem);
        a.mov_rr(Size::Q, SCRATCH_C, Reg::Rax);
        a.alu_rr(alu, size, SCRATCH_C, park(val));
        a.lock_cmpxchg(size, mem, SCRATCH_C);
        a.jcc_relaxed(X86Cond::Ne, again);
        // rax holds the old value; the operand register receives it, then
        // r0 comes back (unless r0 is the operand).
        a.mov_rr(Size::Q, SCRATCH_C, Reg::Rax);
        a.mov_rr(Size::Q, Reg::Rax, saved);
        a.mov_rr(size, val, SCRATCH_C);
    }
}
