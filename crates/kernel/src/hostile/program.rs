//! The writer of one hostile program: the register and stack
//! conventions every function keeps, the choice of items, the deliberate
//! mistakes, and the subprograms items ask for.
//!
//! Every function (the main program and each generic subprogram) keeps
//! `r6` = the context, `r7` = `data`, `r8` = `data_end` (both possibly
//! stale after a helper that moves the packet: that is one of the
//! mistakes), and its stack slot `-8` holds an unknown scalar (the first
//! 8 packet bytes when the frame has them, else `bpf_get_prandom_u32`).
//! Items use `r0`..`r5` and `r9` as scratch and stack slots below `-8`.

use super::HostileConfig;
use super::asm::{Asm, Label};
use crate::progen::rng::Rng;
use rxdp_isa::asm::MapDecl;
use rxdp_isa::helper_id as hid;
use rxdp_isa::{Cond, Insn, Operand, Reg, Size, Width};
use std::collections::BTreeSet;

pub(crate) const R0: Reg = Reg::R0;
pub(crate) const R1: Reg = Reg::R1;
pub(crate) const R2: Reg = Reg::R2;
pub(crate) const R3: Reg = Reg::R3;
pub(crate) const R4: Reg = Reg::R4;
pub(crate) const R5: Reg = Reg::R5;
/// The context.
pub(crate) const CTX: Reg = Reg::R6;
/// `data`.
pub(crate) const DATA: Reg = Reg::R7;
/// `data_end`.
pub(crate) const END: Reg = Reg::R8;
pub(crate) const R9: Reg = Reg::R9;
pub(crate) const FP: Reg = Reg::R10;
/// The stack slot holding the function's unknown scalar.
pub(crate) const UNKNOWN_SLOT: i16 = -8;
pub(crate) const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

/// What a subprogram an item asked for does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SubKind {
    /// Takes (ctx, data, data_end), keeps the conventions, runs items.
    Generic,
    /// Takes a pointer into the caller's stack in `r1` and writes 8
    /// bytes at `r1 + off`.
    StackArg { off: i16 },
    /// Returns a pointer into its own (then dead) frame.
    ReturnsStack,
    /// Calls itself while `r1 != 0`, decrementing it.
    Recursive,
    /// Calls the next link of a chain, `left` more after it; each link
    /// uses `stack` bytes of stack.
    Chain { left: usize, stack: i16 },
}

/// The generator's state while it writes one program.
pub(crate) struct Gen<'a> {
    pub(crate) rng: Rng,
    pub(crate) cfg: &'a HostileConfig,
    pub(crate) a: Asm,
    pub(crate) maps: Vec<MapDecl>,
    /// Subprograms asked for and not written yet.
    pending: Vec<(Label, SubKind, usize)>,
    /// Call depth of the function being written (main is 0).
    pub(crate) depth: usize,
    pub(crate) features: BTreeSet<&'static str>,
    pub(crate) mistakes: usize,
    /// Packet lengths around which checks flip.
    pub(crate) lengths: BTreeSet<usize>,
    pub(crate) may_not_terminate: bool,
    /// Items left for the current function.
    budget: usize,
}

/// The item families, in the order of their weights in [`Gen::item`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Packet,
    PacketVar,
    Meta,
    Map,
    Stack,
    PtrAlu,
    Ctx,
    Helper,
    Adjust,
    Call,
    Loop,
    Ringbuf,
    Filler,
    Branch,
}

const FAMILIES: [Family; 14] = [
    Family::Packet,
    Family::PacketVar,
    Family::Meta,
    Family::Map,
    Family::Stack,
    Family::PtrAlu,
    Family::Ctx,
    Family::Helper,
    Family::Adjust,
    Family::Call,
    Family::Loop,
    Family::Ringbuf,
    Family::Filler,
    Family::Branch,
];

impl<'a> Gen<'a> {
    pub(crate) fn new(seed: u64, cfg: &'a HostileConfig) -> Gen<'a> {
        Gen {
            rng: Rng::new(seed),
            cfg,
            a: Asm::default(),
            maps: Vec::new(),
            pending: Vec::new(),
            depth: 0,
            features: BTreeSet::new(),
            mistakes: 0,
            lengths: BTreeSet::new(),
            may_not_terminate: false,
            budget: 0,
        }
    }

    /// Whether this decision goes wrong (and counts it).
    pub(crate) fn mistake(&mut self) -> bool {
        let m = self.rng.chance(u64::from(self.cfg.mistake_per_mille), 1000);
        if m {
            self.mistakes += 1;
        }
        m
    }

    pub(crate) fn feature(&mut self, name: &'static str) {
        self.features.insert(name);
    }

    /// Remembers that a check against `data + n` flips at length `n`.
    pub(crate) fn length_hint(&mut self, n: i64) {
        for d in [-1, 0, 1] {
            if let Ok(len) = usize::try_from(n + d) {
                self.lengths.insert(len.clamp(14, 1500));
            }
        }
    }

    /// Writes the whole program: main, then every subprogram asked for.
    pub(crate) fn program(mut self) -> super::Hostile {
        let n = 1 + self.rng.below(self.cfg.items.max(1));
        self.main(n);
        while let Some((label, kind, depth)) = self.pending.pop() {
            self.a.bind(label);
            self.depth = depth;
            self.sub(kind);
        }
        super::Hostile {
            insns: self.a.finish(),
            maps: self.maps,
            packet: Vec::new(),
            features: self.features.into_iter().collect(),
            mistakes: self.mistakes,
            lengths: self.lengths.into_iter().collect(),
            may_not_terminate: self.may_not_terminate,
        }
    }

    fn main(&mut self, items: usize) {
        self.a.mov_x(CTX, R1);
        self.a.ldx(Size::W, DATA, CTX, 0);
        self.a.ldx(Size::W, END, CTX, 4);
        self.unknown_prologue(true);
        self.body(items);
        self.epilogue();
    }

    /// Fills slot -8 with an unknown scalar: random, then (main) the
    /// frame's first 8 bytes when it has them.
    fn unknown_prologue(&mut self, from_packet: bool) {
        self.a.call(hid::GET_PRANDOM_U32);
        self.a.stx(Size::DW, FP, R0, UNKNOWN_SLOT);
        if from_packet {
            let skip = self.a.label();
            self.a.mov_x(R1, DATA);
            self.a.alu_k(rxdp_isa::AluOp::Add, R1, 8);
            self.a
                .jmp(Width::W64, Cond::Gt, R1, Operand::Reg(END), skip);
            self.a.ldx(Size::DW, R0, DATA, 0);
            self.a.stx(Size::DW, FP, R0, UNKNOWN_SLOT);
            self.a.bind(skip);
        }
    }

    fn body(&mut self, items: usize) {
        self.budget = items;
        while self.budget > 0 {
            self.item();
        }
    }

    /// Sets `r0` to a verdict and exits; sometimes (a mistake) returns
    /// a pointer or nothing set.
    pub(crate) fn epilogue(&mut self) {
        if self.mistake() {
            match self.rng.below(2) {
                0 => self.a.mov_x(R0, DATA),
                _ => self.a.mov_x(R0, FP),
            }
        } else if self.rng.chance(1, 2) {
            self.a.ldx(Size::W, R0, FP, UNKNOWN_SLOT);
            self.a.alu_k(rxdp_isa::AluOp::And, R0, 3);
        } else {
            self.a.mov_k(R0, 2);
        }
        self.a.exit();
    }

    fn weights(&self) -> [u32; 14] {
        let c = self.cfg;
        let deep = self.depth + 1 < c.max_call_depth;
        FAMILIES.map(|f| match f {
            Family::Packet => u32::from(c.packet) * 12,
            Family::PacketVar => u32::from(c.packet) * 8,
            Family::Meta => u32::from(c.packet) * 3,
            Family::Map => u32::from(c.maps) * 12,
            Family::Stack => u32::from(c.stack) * 10,
            Family::PtrAlu => u32::from(c.pointer_alu) * 6,
            Family::Ctx => u32::from(c.pointer_alu) * 2,
            Family::Helper => u32::from(c.helpers) * 5,
            Family::Adjust => u32::from(c.helpers) * 4,
            Family::Call => u32::from(c.calls && deep) * 5,
            Family::Loop => u32::from(c.loops) * 5,
            Family::Ringbuf => u32::from(c.ringbuf) * 3,
            Family::Filler => 4,
            Family::Branch => 4,
        })
    }

    /// Writes one item (which may nest others).
    pub(crate) fn item(&mut self) {
        self.budget = self.budget.saturating_sub(1);
        let w = self.weights();
        match FAMILIES[self.rng.weighted(&w)] {
            Family::Packet => self.packet_const(),
            Family::PacketVar => self.packet_var(),
            Family::Meta => self.packet_meta(),
            Family::Map => self.map_item(),
            Family::Stack => self.stack_item(),
            Family::PtrAlu => self.ptr_alu(),
            Family::Ctx => self.ctx_item(),
            Family::Helper => self.helper_item(),
            Family::Adjust => self.adjust_item(),
            Family::Call => self.call_item(),
            Family::Loop => self.loop_item(),
            Family::Ringbuf => self.ringbuf_item(),
            Family::Filler => self.filler(),
            Family::Branch => self.branch(),
        }
    }

    /// `dst` = the function's unknown scalar, of a random width.
    pub(crate) fn unknown(&mut self, dst: Reg) {
        let size = self.rng.pick(&SIZES);
        let off = UNKNOWN_SLOT + (8 - size.bytes() as i16) * i16::from(self.rng.chance(1, 2));
        self.a.ldx(size, dst, FP, off);
    }

    /// A few ALU operations on scratch registers, so that states differ.
    fn filler(&mut self) {
        use rxdp_isa::AluOp;
        let r = self.rng.pick(&[R0, R1, R2, R3, R4, R5, R9]);
        self.unknown(r);
        for _ in 0..1 + self.rng.below(3) {
            let op = self.rng.pick(&AluOp::ALL);
            let width = if self.rng.chance(1, 3) {
                Width::W32
            } else {
                Width::W64
            };
            let imm = self
                .rng
                .pick(&[0, 1, 3, 7, 8, 31, 63, -1, 0xff, 0x7fff_ffff]);
            self.a.alu(width, op, r, Operand::Imm(imm));
        }
    }

    /// An if block around another item, on an unknown condition, JMP or
    /// JMP32, signed or unsigned.
    fn branch(&mut self) {
        self.feature("branch");
        let skip = self.a.label();
        self.unknown(R9);
        let cond = self.rng.pick(&Cond::ALL);
        let width = if self.rng.chance(1, 2) {
            Width::W32
        } else {
            Width::W64
        };
        let k = self.rng.pick(&[0, 1, 14, 60, 0x80, -1, i32::MIN]);
        self.a.jmp(width, cond, R9, Operand::Imm(k), skip);
        if self.budget > 0 {
            self.item();
        } else {
            self.filler();
        }
        self.a.bind(skip);
    }

    /// Asks for a subprogram of `kind` one frame deeper; returns its
    /// label for `call_local`.
    pub(crate) fn want_sub(&mut self, kind: SubKind) -> Label {
        let l = self.a.label();
        self.pending.push((l, kind, self.depth + 1));
        l
    }

    fn sub(&mut self, kind: SubKind) {
        match kind {
            SubKind::Generic => {
                self.a.mov_x(CTX, R1);
                self.a.mov_x(DATA, R2);
                self.a.mov_x(END, R3);
                self.unknown_prologue(false);
                let n = 1 + self.rng.below(3);
                self.body(n);
                self.epilogue();
            }
            SubKind::StackArg { off } => {
                if self.rng.chance(1, 2) {
                    self.a.stx(Size::DW, R1, R2, off);
                    self.a.mov_k(R0, 0);
                } else {
                    self.a.ldx(Size::DW, R0, R1, off);
                }
                self.a.exit();
            }
            SubKind::ReturnsStack => {
                self.a.st(Size::DW, FP, -8, 1);
                self.a.mov_x(R0, FP);
                self.a.alu_k(rxdp_isa::AluOp::Add, R0, -8);
                self.a.exit();
            }
            SubKind::Recursive => {
                let out = self.a.label();
                let me = self.a.label();
                // The label of this very function: bound to its entry.
                self.a.bind(me);
                self.a.mov_k(R0, 0);
                self.a.jmp(Width::W64, Cond::Eq, R1, Operand::Imm(0), out);
                self.a.alu_k(rxdp_isa::AluOp::Sub, R1, 1);
                self.a.call_local(me);
                self.a.bind(out);
                self.a.exit();
            }
            SubKind::Chain { left, stack } => {
                self.a.st(Size::DW, FP, -stack, 7);
                if left > 0 {
                    let next = self.want_sub(SubKind::Chain {
                        left: left - 1,
                        stack,
                    });
                    self.a.call_local(next);
                }
                self.a.ldx(Size::DW, R0, FP, -stack);
                self.a.exit();
            }
        }
    }

    /// Declares a map (or reuses one of the same shape); returns its index.
    pub(crate) fn map(&mut self, map_type: u32, key_size: u32, value_size: u32, max: u32) -> usize {
        if let Some(i) = self.maps.iter().position(|m| {
            m.map_type == map_type
                && m.key_size == key_size
                && m.value_size == value_size
                && m.max_entries == max
        }) {
            return i;
        }
        self.maps.push(MapDecl {
            name: format!("m{}", self.maps.len()),
            map_type,
            key_size,
            value_size,
            max_entries: max,
            flags: 0,
        });
        self.maps.len() - 1
    }

    /// `dst = map[idx]`.
    pub(crate) fn ld_map(&mut self, dst: Reg, idx: usize) {
        self.a.emit(Insn::LdImm64 {
            dst,
            pseudo: rxdp_isa::Pseudo::MapIdx,
            imm: idx as u64,
        });
    }

    /// Writes the check that `ptr` is at most `end` (so the bytes below
    /// `ptr` are in the packet), jumping to `skip` otherwise, in one of
    /// the forms compilers emit; as a mistake, a check that proves
    /// nothing (reversed, 32-bit, signed).
    pub(crate) fn check_le(&mut self, ptr: Reg, end: Reg, skip: Label) {
        let x = Operand::Reg;
        if self.mistake() {
            let (w, c, d, s) = match self.rng.below(4) {
                0 => (Width::W64, Cond::Lt, ptr, end),
                1 => (Width::W32, Cond::Gt, ptr, end),
                2 => (Width::W64, Cond::Sgt, ptr, end),
                _ => (Width::W64, Cond::Gt, end, ptr),
            };
            self.a.jmp(w, c, d, x(s), skip);
            return;
        }
        match self.rng.below(5) {
            0 | 1 => self.a.jmp(Width::W64, Cond::Gt, ptr, x(end), skip),
            2 => self.a.jmp(Width::W64, Cond::Lt, end, x(ptr), skip),
            3 => {
                let ok = self.a.label();
                self.a.jmp(Width::W64, Cond::Le, ptr, x(end), ok);
                self.a.ja(skip);
                self.a.bind(ok);
            }
            _ => {
                let ok = self.a.label();
                self.a.jmp(Width::W64, Cond::Ge, end, x(ptr), ok);
                self.a.ja(skip);
                self.a.bind(ok);
            }
        }
    }
}
