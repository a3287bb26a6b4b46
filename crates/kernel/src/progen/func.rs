//! Writing one function (the main program or a subprogram) item by
//! item, keeping [`Regs`] in step with what the verifier will know.
//!
//! An *item* is a short instruction group of one family (an ALU
//! operation, a stack access, a packet block, an if block, a call, ...).
//! Jumps are only forward and only over whole items, so there are no
//! loops, no jump into a `lddw`, and every instruction is reachable.

use super::GenConfig;
use super::rng::Rng;
use super::state::{Regs, Val};
use rxdp_isa::{AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width};

/// Stack offset of the spilled packet pointer `data` (main only).
const DATA_SPILL: i16 = -8;
/// Stack offset of the spilled `data_end` (main only).
const DATA_END_SPILL: i16 = -16;
/// The largest mask applied to a variable packet offset.
pub(crate) const MAX_VAR_OFF: usize = 63;

const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

/// The families an item is drawn from; the order of [`Family::ALL`] is
/// the order of the weights in [`FuncGen::item`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    Alu,
    Neg,
    End,
    MovSx,
    Lddw,
    StackStore,
    StackLoad,
    Atomic,
    Packet,
    If,
    IfElse,
    Call,
}

impl Family {
    const ALL: [Family; 12] = [
        Family::Alu,
        Family::Neg,
        Family::End,
        Family::MovSx,
        Family::Lddw,
        Family::StackStore,
        Family::StackLoad,
        Family::Atomic,
        Family::Packet,
        Family::If,
        Family::IfElse,
        Family::Call,
    ];

    fn base_weight(self) -> u32 {
        match self {
            Family::Alu => 30,
            Family::Neg => 2,
            Family::End => 5,
            Family::MovSx => 4,
            Family::Lddw => 3,
            Family::StackStore => 7,
            Family::StackLoad => 7,
            Family::Atomic => 6,
            Family::Packet => 7,
            Family::If => 8,
            Family::IfElse => 4,
            Family::Call => 4,
        }
    }
}

/// Which function is being written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Role {
    /// The XDP entry point: has the context and the packet.
    Main,
    /// Subprogram number `n` (0-based); may call only later ones.
    Sub(usize),
}

/// What a caller needs to know of a subprogram.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SubInfo {
    /// Its arguments are r1..=r`args`.
    pub(crate) args: usize,
    /// Whether some already written function calls it.
    pub(crate) called: bool,
    /// Upper bound of the paths from its entry to its exit.
    pub(crate) paths: f64,
}

/// A function's instructions and its unresolved local calls.
#[derive(Debug, Default)]
pub(crate) struct Func {
    /// One instruction per slot.
    pub(crate) insns: Vec<Insn>,
    /// (slot of a `call` in `insns`, index of the called subprogram).
    pub(crate) calls: Vec<(usize, usize)>,
}

/// The writer of one function.
pub(crate) struct FuncGen<'a> {
    rng: &'a mut Rng,
    cfg: &'a GenConfig,
    role: Role,
    regs: Regs,
    /// Number of 8-byte scalar stack slots.
    slots: usize,
    /// The subprograms (those after this one are already written).
    subs: &'a mut [SubInfo],
    /// Upper bound of the paths from the function's entry to the current
    /// point, counting each call as its callee's paths (the verifier
    /// walks a static subprogram once per calling state).
    paths: f64,
    /// Items left to write in this function.
    budget: usize,
    out: Func,
}

impl<'a> FuncGen<'a> {
    pub(crate) fn new(
        rng: &'a mut Rng,
        cfg: &'a GenConfig,
        role: Role,
        subs: &'a mut [SubInfo],
    ) -> FuncGen<'a> {
        let slots = match role {
            Role::Main => cfg.stack_slots.max(1),
            Role::Sub(_) => 1 + rng.below(3),
        };
        let budget = match role {
            Role::Main => cfg.items,
            Role::Sub(_) => (cfg.items / 3).max(2),
        };
        FuncGen {
            rng,
            cfg,
            role,
            regs: Regs::empty(),
            slots,
            subs,
            paths: 1.0,
            budget,
            out: Func::default(),
        }
    }

    /// Writes the whole function: prologue, items, epilogue. Returns it
    /// with the bound of its paths.
    pub(crate) fn write(mut self) -> (Func, f64) {
        self.prologue();
        while self.budget > 0 {
            self.item(0);
        }
        self.epilogue();
        (self.out, self.paths)
    }

    fn emit(&mut self, insn: Insn) {
        self.out.insns.push(insn);
        if insn.slots() == 2 {
            self.out.insns.push(Insn::LdImm64Hi);
        }
    }

    fn any_reg(&mut self) -> Reg {
        Reg::new(self.rng.below(10) as u8).expect("r0..r9")
    }

    /// A register holding a scalar, making one if there is none.
    fn scalar(&mut self) -> Reg {
        let scalars = self.regs.scalars();
        if scalars.is_empty() {
            let r = self.any_reg();
            self.mov_imm(r);
            r
        } else {
            self.rng.pick(&scalars)
        }
    }

    fn mov_imm(&mut self, dst: Reg) {
        let width = self.width();
        let imm = self.rng.interesting_i32();
        self.emit(alu(width, AluOp::Mov, dst, Operand::Imm(imm)));
        self.regs.set(dst, Val::Scalar);
    }

    fn width(&mut self) -> Width {
        if self.rng.chance(1, 2) {
            Width::W64
        } else {
            Width::W32
        }
    }

    fn lddw(&mut self, dst: Reg) {
        let imm = self.rng.interesting_u64();
        self.emit(Insn::LdImm64 {
            dst,
            pseudo: Pseudo::Imm64,
            imm,
        });
        self.regs.set(dst, Val::Scalar);
    }

    /// Offset of scalar slot `s` from the frame pointer.
    fn slot_off(&self, s: usize) -> i16 {
        let base: i16 = match self.role {
            Role::Main => DATA_END_SPILL,
            Role::Sub(_) => 0,
        };
        base - 8 * (s as i16 + 1)
    }

    /// A naturally aligned offset of `size` inside a random slot (the
    /// verifier wants stack accesses aligned).
    fn stack_addr(&mut self, size: Size) -> i16 {
        let s = self.rng.below(self.slots);
        let per_slot = 8 / size.bytes();
        let k = self.rng.below(per_slot);
        self.slot_off(s) + (k * size.bytes()) as i16
    }

    fn prologue(&mut self) {
        if self.role == Role::Main {
            // data and data_end from struct xdp_md, spilled for the
            // packet blocks.
            self.emit(ldx(Size::W, Reg::R2, Reg::R1, 0));
            self.emit(ldx(Size::W, Reg::R3, Reg::R1, 4));
            self.emit(stx(Size::DW, Reg::R10, Reg::R2, DATA_SPILL));
            self.emit(stx(Size::DW, Reg::R10, Reg::R3, DATA_END_SPILL));
        } else if let Role::Sub(n) = self.role {
            for a in 1..=self.subs[n].args {
                self.regs
                    .set(Reg::new(a as u8).expect("r1..r5"), Val::Scalar);
            }
        }
        // Every stack slot is written before anything reads it: reading
        // uninitialised stack is allowed for root but not deterministic.
        for s in 0..self.slots {
            let off = self.slot_off(s);
            if self.rng.chance(1, 2) {
                let imm = self.rng.interesting_i32();
                self.emit(st(Size::DW, off, imm));
            } else {
                let r = self.scalar();
                self.emit(stx(Size::DW, Reg::R10, r, off));
            }
        }
        for n in 0..10u8 {
            let r = Reg::new(n).expect("r0..r9");
            if !self.regs.is_scalar(r) && self.rng.chance(1, 2) {
                if self.rng.chance(1, 4) {
                    self.lddw(r);
                } else {
                    self.mov_imm(r);
                }
            }
        }
        if self.role == Role::Main && self.cfg.packet {
            // Make most values depend on the frame, so branches are not
            // all decided by the verifier.
            self.packet_block(true);
        }
    }

    fn epilogue(&mut self) {
        if let Role::Main = self.role {
            // Call any subprogram nothing called yet: an uncalled one
            // would be unreachable code to the verifier.
            for n in 0..self.subs.len() {
                if !self.subs[n].called {
                    self.call(n);
                }
            }
        }
        if !self.regs.is_scalar(Reg::R0) {
            self.mov_imm(Reg::R0);
        }
        // Fold every scalar register into r0 so that the verdict depends
        // on all of them.
        for r in self.regs.scalars() {
            if r != Reg::R0 {
                let op = self.rng.pick(&[AluOp::Xor, AluOp::Add, AluOp::Sub]);
                self.emit(alu(Width::W64, op, Reg::R0, Operand::Reg(r)));
                self.mix_r0();
            }
        }
        if self.role == Role::Main {
            self.fold_stack_and_store();
        }
        self.emit(Insn::Exit);
    }

    /// `r0 *= odd; r0 ^= r0 >> 29`: spreads high bits into the 32-bit
    /// verdict.
    fn mix_r0(&mut self) {
        let odd = (self.rng.next_u64() as i32) | 1;
        self.emit(alu(Width::W64, AluOp::Mul, Reg::R0, Operand::Imm(odd)));
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R1, Operand::Reg(Reg::R0)));
        self.emit(alu(Width::W64, AluOp::Rsh, Reg::R1, Operand::Imm(29)));
        self.emit(alu(Width::W64, AluOp::Xor, Reg::R0, Operand::Reg(Reg::R1)));
        self.regs.set(Reg::R1, Val::Scalar);
    }

    /// Folds the stack slots into r0, then stores r0 as the first 8
    /// bytes of the frame (when it has them), so that 64-bit results are
    /// compared too.
    fn fold_stack_and_store(&mut self) {
        for s in 0..self.slots {
            let off = self.slot_off(s);
            self.emit(ldx(Size::DW, Reg::R2, Reg::R10, off));
            self.emit(alu(Width::W64, AluOp::Xor, Reg::R0, Operand::Reg(Reg::R2)));
            self.mix_r0();
        }
        if !self.cfg.packet {
            return;
        }
        self.emit(ldx(Size::DW, Reg::R2, Reg::R10, DATA_SPILL));
        self.emit(ldx(Size::DW, Reg::R3, Reg::R10, DATA_END_SPILL));
        self.emit(alu(Width::W64, AluOp::Mov, Reg::R4, Operand::Reg(Reg::R2)));
        self.emit(alu(Width::W64, AluOp::Add, Reg::R4, Operand::Imm(8)));
        self.emit(jmp(Width::W64, Cond::Gt, Reg::R4, Operand::Reg(Reg::R3), 1));
        self.emit(stx(Size::DW, Reg::R2, Reg::R0, 0));
    }

    fn weights(&self, depth: usize) -> Vec<u32> {
        // Items that multiply paths stop once the bound is reached, so
        // that the verifier's walk stays under its complexity limit.
        let branchy = self.paths < self.cfg.max_paths as f64;
        Family::ALL
            .iter()
            .map(|&f| {
                let on = match f {
                    Family::Alu | Family::Neg => self.cfg.alu,
                    Family::End => self.cfg.endian,
                    Family::MovSx => self.cfg.movsx,
                    Family::Lddw => self.cfg.lddw,
                    Family::StackStore | Family::StackLoad => self.cfg.stack,
                    Family::Atomic => self.cfg.atomics,
                    Family::Packet => self.cfg.packet && self.role == Role::Main && branchy,
                    Family::If | Family::IfElse => {
                        self.cfg.jumps && depth < self.cfg.max_depth && branchy
                    }
                    Family::Call => self.cfg.calls && !self.affordable_callees().is_empty(),
                };
                if on { f.base_weight() } else { 0 }
            })
            .collect()
    }

    /// The subprograms this function may call (only later ones, so
    /// there is no recursion).
    fn callees(&self) -> Vec<usize> {
        let first = match self.role {
            Role::Main => 0,
            Role::Sub(n) => n + 1,
        };
        (first..self.subs.len()).collect()
    }

    /// The callees whose paths, times ours, stay within the bound.
    fn affordable_callees(&self) -> Vec<usize> {
        self.callees()
            .into_iter()
            .filter(|&n| self.paths * self.subs[n].paths <= self.cfg.max_paths as f64)
            .collect()
    }

    fn item(&mut self, depth: usize) {
        self.budget = self.budget.saturating_sub(1);
        let weights = self.weights(depth);
        if weights.iter().all(|&w| w == 0) {
            let r = self.any_reg();
            self.mov_imm(r);
            return;
        }
        match Family::ALL[self.rng.weighted(&weights)] {
            Family::Alu => self.alu(),
            Family::Neg => {
                let (width, dst) = (self.width(), self.scalar());
                self.emit(Insn::Neg { width, dst });
            }
            Family::End => self.end(),
            Family::MovSx => self.movsx(),
            Family::Lddw => {
                let r = self.any_reg();
                self.lddw(r);
            }
            Family::StackStore => self.stack_store(),
            Family::StackLoad => self.stack_load(),
            Family::Atomic => self.atomic(),
            Family::Packet => self.packet_block(false),
            Family::If => self.if_block(depth),
            Family::IfElse => self.if_else(depth),
            Family::Call => {
                let callees = self.affordable_callees();
                let n = self.rng.pick(&callees);
                self.call(n);
            }
        }
    }

    fn alu(&mut self) {
        let width = self.width();
        let op = self.rng.pick(&AluOp::ALL);
        let bits = match width {
            Width::W32 => 32,
            Width::W64 => 64,
        };
        let use_reg = self.rng.chance(1, 2);
        let src = if use_reg {
            Operand::Reg(self.scalar())
        } else {
            Operand::Imm(match op {
                // The verifier refuses shifts by an immediate >= width
                // and division by an immediate 0.
                AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => self.rng.range(0, bits - 1) as i32,
                AluOp::Div | AluOp::Sdiv | AluOp::Mod | AluOp::Smod => {
                    match self.rng.interesting_i32() {
                        0 => 1,
                        v => v,
                    }
                }
                _ => self.rng.interesting_i32(),
            })
        };
        // A move may target any register; other operations read theirs.
        let dst = if op == AluOp::Mov {
            self.any_reg()
        } else {
            self.scalar()
        };
        self.emit(alu(width, op, dst, src));
        self.regs.set(dst, Val::Scalar);
    }

    fn end(&mut self) {
        let kind = self.rng.pick(&[Endian::Le, Endian::Be, Endian::Swap]);
        let bits = self.rng.pick(&[16u8, 32, 64]);
        let dst = self.scalar();
        self.emit(Insn::End { kind, dst, bits });
    }

    fn movsx(&mut self) {
        let width = self.width();
        let from = match width {
            Width::W64 => self.rng.pick(&[Size::B, Size::H, Size::W]),
            Width::W32 => self.rng.pick(&[Size::B, Size::H]),
        };
        let src = self.scalar();
        let dst = self.any_reg();
        self.emit(Insn::MovSx {
            width,
            dst,
            src,
            from,
        });
        self.regs.set(dst, Val::Scalar);
    }

    fn stack_store(&mut self) {
        let size = self.rng.pick(&SIZES);
        let off = self.stack_addr(size);
        if self.rng.chance(1, 3) {
            let imm = self.rng.interesting_i32();
            self.emit(st(size, off, imm));
        } else {
            let src = self.scalar();
            self.emit(stx(size, Reg::R10, src, off));
        }
    }

    fn stack_load(&mut self) {
        let size = self.rng.pick(&SIZES);
        let off = self.stack_addr(size);
        let dst = self.any_reg();
        let signed = size != Size::DW && self.rng.chance(1, 2);
        self.emit(Insn::Ldx {
            size,
            signed,
            dst,
            src: Reg::R10,
            off,
        });
        self.regs.set(dst, Val::Scalar);
    }

    fn atomic(&mut self) {
        let size = self.rng.pick(&[Size::W, Size::DW]);
        let off = self.stack_addr(size);
        let op = self.rng.pick(&[
            AtomicOp::Add,
            AtomicOp::Or,
            AtomicOp::And,
            AtomicOp::Xor,
            AtomicOp::Xchg,
            AtomicOp::Cmpxchg,
        ]);
        let fetch = match op {
            AtomicOp::Xchg | AtomicOp::Cmpxchg => true,
            _ => self.rng.chance(1, 2),
        };
        if op == AtomicOp::Cmpxchg && !self.regs.is_scalar(Reg::R0) {
            // cmpxchg compares with r0.
            self.mov_imm(Reg::R0);
        }
        let src = self.scalar();
        self.emit(Insn::Atomic {
            size,
            op,
            fetch,
            dst: Reg::R10,
            src,
            off,
        });
    }

    /// Three distinct registers for `data`, `data_end` and the checked
    /// end of the access.
    fn three_regs(&mut self) -> [Reg; 3] {
        let mut all: Vec<Reg> = (0..10u8).filter_map(Reg::new).collect();
        let mut out = [Reg::R0; 3];
        for slot in &mut out {
            let i = self.rng.below(all.len());
            *slot = all.swap_remove(i);
        }
        out
    }

    /// Fills `data`/`data_end` from the stack, optionally adds a masked
    /// variable offset, proves `span` bytes with `if end > data_end goto
    /// skip`, then loads and stores inside the proven range. With
    /// `seed_regs`, loads go to scalar registers (to make them depend on
    /// the frame) and there are no stores.
    fn packet_block(&mut self, seed_regs: bool) {
        let [d, e, t] = self.three_regs();
        self.emit(ldx(Size::DW, d, Reg::R10, DATA_SPILL));
        self.emit(ldx(Size::DW, e, Reg::R10, DATA_END_SPILL));
        self.regs.set(d, Val::Unusable);
        self.regs.set(e, Val::Unusable);
        self.regs.set(t, Val::Unusable);
        if !seed_regs && self.rng.chance(1, 4) {
            // data += scalar & mask: a variable offset, as when parsing a
            // header whose length is in the packet.
            let idx: Vec<Reg> = self
                .regs
                .scalars()
                .into_iter()
                .filter(|r| ![d, e, t].contains(r))
                .collect();
            if !idx.is_empty() {
                let idx = self.rng.pick(&idx);
                let mask = self.rng.pick(&[1, 7, 15, 31, MAX_VAR_OFF as i32]);
                self.emit(alu(Width::W64, AluOp::Mov, t, Operand::Reg(idx)));
                self.emit(alu(Width::W64, AluOp::And, t, Operand::Imm(mask)));
                self.emit(alu(Width::W64, AluOp::Add, d, Operand::Reg(t)));
            }
        }
        let span = self.rng.range(1, self.cfg.packet_span.max(1) as i64) as i16;
        self.emit(alu(Width::W64, AluOp::Mov, t, Operand::Reg(d)));
        self.emit(alu(Width::W64, AluOp::Add, t, Operand::Imm(span.into())));
        let check_at = self.out.insns.len();
        // Both forms are recognised by the verifier's packet range
        // tracking; the fall-through path has `span` bytes.
        if self.rng.chance(1, 2) {
            self.emit(jmp(Width::W64, Cond::Gt, t, Operand::Reg(e), 0));
        } else {
            self.emit(jmp(Width::W64, Cond::Lt, e, Operand::Reg(t), 0));
        }
        let before = self.regs;
        let accesses = 1 + self.rng.below(if seed_regs { 6 } else { 4 });
        for _ in 0..accesses {
            let fitting: Vec<Size> = SIZES
                .into_iter()
                .filter(|s| s.bytes() <= span as usize)
                .collect();
            let size = self.rng.pick(&fitting);
            let off = self.rng.range(0, span as i64 - size.bytes() as i64) as i16;
            if seed_regs || self.rng.chance(1, 2) {
                let candidates: Vec<Reg> = self
                    .regs
                    .scalars()
                    .into_iter()
                    .filter(|r| ![d, e, t].contains(r))
                    .collect();
                let dst = if candidates.is_empty() || self.rng.chance(1, 8) {
                    self.pick_not(&[d, e, t])
                } else {
                    self.rng.pick(&candidates)
                };
                let signed = size != Size::DW && self.rng.chance(1, 3);
                self.emit(Insn::Ldx {
                    size,
                    signed,
                    dst,
                    src: d,
                    off,
                });
                self.regs.set(dst, Val::Scalar);
            } else if self.rng.chance(1, 3) {
                let imm = self.rng.interesting_i32();
                self.emit(Insn::St {
                    size,
                    dst: d,
                    off,
                    imm,
                });
            } else {
                let scalars: Vec<Reg> = self
                    .regs
                    .scalars()
                    .into_iter()
                    .filter(|r| ![d, e, t].contains(r))
                    .collect();
                if scalars.is_empty() {
                    continue;
                }
                let src = self.rng.pick(&scalars);
                self.emit(stx(size, d, src, off));
            }
        }
        self.close_forward(check_at);
        self.regs = self.regs.meet(&before);
        self.paths *= 2.0;
    }

    fn pick_not(&mut self, avoid: &[Reg]) -> Reg {
        loop {
            let r = self.any_reg();
            if !avoid.contains(&r) {
                return r;
            }
        }
    }

    /// Points the jump at `at` to the current end of the function.
    fn close_forward(&mut self, at: usize) {
        let off = self.out.insns.len() - at - 1;
        match &mut self.out.insns[at] {
            Insn::Jmp { off: o, .. } => *o = i16::try_from(off).expect("short block"),
            Insn::Ja { off: o, .. } => *o = i32::try_from(off).expect("short block"),
            other => unreachable!("not a jump: {other:?}"),
        }
    }

    /// A conditional jump on scalars with a placeholder offset.
    fn condition(&mut self) -> Insn {
        let width = self.width();
        let cond = self.rng.pick(&Cond::ALL);
        let dst = self.scalar();
        let src = if self.rng.chance(1, 2) {
            Operand::Reg(self.scalar())
        } else {
            Operand::Imm(self.rng.interesting_i32())
        };
        jmp(width, cond, dst, src, 0)
    }

    fn body(&mut self, depth: usize) {
        let n = 1 + self.rng.below(3);
        for _ in 0..n {
            self.item(depth + 1);
        }
    }

    fn if_block(&mut self, depth: usize) {
        let cond = self.condition();
        let at = self.out.insns.len();
        self.emit(cond);
        let before = self.regs;
        let paths_before = self.paths;
        self.body(depth);
        self.close_forward(at);
        self.regs = self.regs.meet(&before);
        self.paths += paths_before;
    }

    fn if_else(&mut self, depth: usize) {
        let cond = self.condition();
        let at = self.out.insns.len();
        self.emit(cond);
        let before = self.regs;
        let paths_before = self.paths;
        self.body(depth);
        let then_regs = self.regs;
        let then_paths = self.paths;
        let ja_at = self.out.insns.len();
        let long = self.rng.chance(1, 3);
        self.emit(Insn::Ja { off: 0, long });
        self.close_forward(at);
        self.regs = before;
        self.paths = paths_before;
        self.body(depth);
        self.close_forward(ja_at);
        self.regs = self.regs.meet(&then_regs);
        self.paths += then_paths;
    }

    fn call(&mut self, n: usize) {
        for a in 1..=self.subs[n].args {
            let r = Reg::new(a as u8).expect("r1..r5");
            if !self.regs.is_scalar(r) {
                if self.rng.chance(1, 2) && !self.regs.scalars().is_empty() {
                    let src = self.scalar();
                    self.emit(alu(Width::W64, AluOp::Mov, r, Operand::Reg(src)));
                    self.regs.set(r, Val::Scalar);
                } else {
                    self.mov_imm(r);
                }
            }
        }
        self.out.calls.push((self.out.insns.len(), n));
        self.emit(Insn::Call(CallKind::Local(0)));
        self.subs[n].called = true;
        self.paths *= self.subs[n].paths;
        self.regs.after_call();
    }
}

fn alu(width: Width, op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst,
        src,
    }
}

fn jmp(width: Width, cond: Cond, dst: Reg, src: Operand, off: i16) -> Insn {
    Insn::Jmp {
        width,
        cond,
        dst,
        src,
        off,
    }
}

fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Ldx {
        size,
        signed: false,
        dst,
        src,
        off,
    }
}

fn stx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Stx {
        size,
        dst,
        src,
        off,
    }
}

fn st(size: Size, off: i16, imm: i32) -> Insn {
    Insn::St {
        size,
        dst: Reg::R10,
        off,
        imm,
    }
}
