//! The code buffer: bytes, labels, branch fixups, relocations against
//! absolute addresses, and the one routine that lays out prefixes, REX,
//! opcode, ModR/M, SIB and displacement for every ModR/M instruction.
//!
//! Instruction layout and the REX/ModR/M/SIB rules are from the Intel SDM
//! Vol. 2A, chapter 2 ("Instruction Format"), 2.1 and 2.2.1.

use super::error::X86Error;
use super::operand::{Mem, Reg, Size};

/// A position in the code, created unbound by [`Asm::new_label`] and bound
/// once by [`Asm::bind`]; branches may refer to it before or after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label(pub(super) u32);

/// The encoding size of a branch to a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JumpSize {
    /// rel8: 2 bytes for `jmp` and `jcc`.
    Short,
    /// rel32: 5 bytes for `jmp`, 6 for `jcc`.
    Near,
}

/// Which relaxed jumps of a pass are short, in emission order: the input of
/// one emission pass and the output of [`Asm::relax`] on the previous one.
///
/// The emitter emits the same instruction sequence every pass; jumps
/// emitted with [`Asm::jmp_relaxed`] / [`Asm::jcc_relaxed`] take their size
/// from the plan (near when the plan has no entry). Passes repeat until the
/// plan comes back unchanged: that layout is a fixed point in which every
/// short jump fits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JumpPlan {
    short: Vec<bool>,
}

impl JumpPlan {
    /// Whether relaxed jump number `index` is short.
    pub fn is_short(&self, index: usize) -> bool {
        self.short.get(index).copied().unwrap_or(false)
    }

    /// How many relaxed jumps the plan is short for.
    pub fn short_count(&self) -> usize {
        self.short.iter().filter(|&&s| s).count()
    }

    /// The jumps short in both plans: iterating `next.and(&plan)` only
    /// ever turns jumps near, so it reaches a fixed point, where alignment
    /// padding could otherwise make a jump flip between the two sizes
    /// forever.
    pub fn and(&self, other: &JumpPlan) -> JumpPlan {
        JumpPlan {
            short: self
                .short
                .iter()
                .enumerate()
                .map(|(i, &s)| s && other.is_short(i))
                .collect(),
        }
    }
}

/// The r/m operand of a ModR/M instruction.
#[derive(Debug, Clone, Copy)]
pub(super) enum Rm {
    /// A register (mod = 11).
    Reg(Reg),
    /// A memory reference.
    Mem(Mem),
}

/// The ModR/M reg field: a register or an opcode extension (`/digit`).
#[derive(Debug, Clone, Copy)]
pub(super) enum RegField {
    /// A register operand.
    Reg(Reg),
    /// An opcode extension, 0..=7.
    Digit(u8),
}

/// One ModR/M instruction to lay out.
pub(super) struct Enc<'a> {
    /// The operand size: W adds 0x66, Q adds REX.W; B and D add nothing
    /// (the caller picks the byte opcode).
    pub(super) size: Size,
    /// A lock (0xF0) prefix.
    pub(super) lock: bool,
    /// The opcode bytes, after any prefixes and REX.
    pub(super) opcode: &'a [u8],
    /// The reg field.
    pub(super) reg: RegField,
    /// The r/m operand.
    pub(super) rm: Rm,
    /// The reg field names an 8-bit register.
    pub(super) reg_byte: bool,
    /// The r/m operand, when a register, names an 8-bit register.
    pub(super) rm_byte: bool,
}

/// A branch whose displacement is resolved at finish time.
#[derive(Debug, Clone, Copy)]
struct Fixup {
    /// Offset of the instruction.
    site: usize,
    /// Offset of the end of the instruction (displacements count from it).
    end: usize,
    /// Width of the displacement field, 1 or 4 bytes, at `end - width`.
    width: usize,
    /// Where it goes.
    target: Target,
    /// For a relaxed jump, its near length (to compute the short layout).
    relaxed_near_len: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Label(Label),
    Abs(u64),
}

/// An x86-64 code buffer: each emitting method appends exactly one
/// instruction. Invalid operand combinations append nothing and are
/// reported by [`Asm::finish`] (the first one), so the emitting methods stay
/// infallible.
#[derive(Debug, Default)]
pub struct Asm {
    buf: Vec<u8>,
    labels: Vec<Option<usize>>,
    fixups: Vec<Fixup>,
    plan: JumpPlan,
    relaxed_seen: usize,
    error: Option<X86Error>,
}

const REX: u8 = 0x40;
const REX_W: u8 = 0x08;
const REX_R: u8 = 0x04;
const REX_X: u8 = 0x02;
const REX_B: u8 = 0x01;

/// A ModR/M byte from its three fields.
const fn modrm(md: u8, reg: u8, rm: u8) -> u8 {
    (md << 6) | ((reg & 7) << 3) | (rm & 7)
}

impl Asm {
    /// An empty buffer whose relaxed jumps are all near.
    pub fn new() -> Asm {
        Asm::default()
    }

    /// An empty buffer whose relaxed jumps take their sizes from `plan`.
    pub fn with_plan(plan: JumpPlan) -> Asm {
        Asm {
            plan,
            ..Asm::default()
        }
    }

    /// Bytes emitted so far: the offset the next instruction starts at.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was emitted yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes so far, branch displacements not yet resolved (zero).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The first operand error so far, if any.
    pub fn error(&self) -> Option<&X86Error> {
        self.error.as_ref()
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label((self.labels.len() - 1) as u32)
    }

    /// Binds `label` to the current offset. Binding twice is an error
    /// reported by [`Asm::finish`]; the first binding stays.
    pub fn bind(&mut self, label: Label) {
        let offset = self.len();
        match self.labels.get_mut(label.0 as usize) {
            Some(slot @ None) => *slot = Some(offset),
            _ => self.fail_with(X86Error::LabelRebound { label, offset }),
        }
    }

    /// The offset `label` is bound to, if bound.
    pub fn label_offset(&self, label: Label) -> Option<usize> {
        self.labels.get(label.0 as usize).copied().flatten()
    }

    /// Records an operand error at the current offset.
    pub(super) fn fail(&mut self, what: &'static str) {
        let offset = self.len();
        self.fail_with(X86Error::Operand { offset, what });
    }

    fn fail_with(&mut self, error: X86Error) {
        self.error.get_or_insert(error);
    }

    /// Appends raw bytes (an opcode with no operands, an immediate).
    pub(super) fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends a REX prefix when any of its bits are needed or `force`.
    pub(super) fn put_rex(&mut self, bits: u8, force: bool) {
        if bits != 0 || force {
            self.buf.push(REX | bits);
        }
    }

    /// Emits an opcode with a register in its low three bits (`+rd`):
    /// push, pop, bswap, mov r, imm. `prefix` comes before the REX byte.
    pub(super) fn put_plus_r(&mut self, rex_w: bool, opcode: &[u8], reg: Reg) {
        let bits = if rex_w { REX_W } else { 0 } | if reg.needs_rex() { REX_B } else { 0 };
        self.put_rex(bits, false);
        let (last, head) = opcode.split_last().expect("opcode has a byte");
        self.put(head);
        self.buf.push(last | reg.low3());
    }

    /// Whether `rm` is a valid operand; records the error if not.
    fn check_rm(&mut self, rm: &Rm) -> bool {
        if let Rm::Mem(Mem {
            index: Some((Reg::Rsp, _)),
            ..
        }) = rm
        {
            self.fail("rsp cannot be an index register");
            return false;
        }
        true
    }

    /// Lays out one ModR/M instruction: [lock] [0x66] [REX] opcode ModR/M
    /// [SIB] [disp]. The caller appends any immediate. Returns false (and
    /// emits nothing) when the operands have no encoding.
    pub(super) fn put_enc(&mut self, e: Enc<'_>) -> bool {
        if !self.check_rm(&e.rm) {
            return false;
        }
        if e.lock {
            self.buf.push(0xf0);
        }
        if e.size == Size::W {
            self.buf.push(0x66);
        }
        let (bits, force) = rex_bits(&e);
        self.put_rex(bits, force);
        self.put(e.opcode);
        let reg3 = match e.reg {
            RegField::Reg(r) => r.low3(),
            RegField::Digit(d) => d,
        };
        match e.rm {
            Rm::Reg(r) => self.buf.push(modrm(0b11, reg3, r.low3())),
            Rm::Mem(m) => self.put_mem(reg3, m),
        }
        true
    }

    /// ModR/M, SIB and displacement of a memory operand (SDM Vol. 2A,
    /// Tables 2-2 and 2-3): mod 00 has no displacement except that base
    /// 101 (rbp, r13) then means RIP-relative / no base, so those take
    /// mod 01 with disp8 0; r/m 100 (rsp, r12) means "SIB follows".
    fn put_mem(&mut self, reg3: u8, m: Mem) {
        let base3 = m.base.low3();
        let (md, disp_len) = if m.disp == 0 && base3 != 0b101 {
            (0b00, 0)
        } else if i8::try_from(m.disp).is_ok() {
            (0b01, 1)
        } else {
            (0b10, 4)
        };
        match m.index {
            Some((index, scale)) => {
                self.buf.push(modrm(md, reg3, 0b100));
                self.buf
                    .push((scale.code() << 6) | (index.low3() << 3) | base3);
            }
            None if base3 == 0b100 => {
                self.buf.push(modrm(md, reg3, 0b100));
                // Scale 0, index 100 ("none"), base rsp/r12.
                self.buf.push(0b00_100_100);
            }
            None => self.buf.push(modrm(md, reg3, base3)),
        }
        self.put(&m.disp.to_le_bytes()[..disp_len]);
    }

    /// Records a branch whose `width`-byte displacement ends the instruction
    /// just emitted, which started at `site`.
    pub(super) fn add_fixup(
        &mut self,
        site: usize,
        width: usize,
        target: BranchTarget,
        relaxed_near_len: Option<usize>,
    ) {
        let target = match target {
            BranchTarget::Label(l) => Target::Label(l),
            BranchTarget::Abs(a) => Target::Abs(a),
        };
        self.fixups.push(Fixup {
            site,
            end: self.len(),
            width,
            target,
            relaxed_near_len,
        });
    }

    /// The size the plan gives to the next relaxed jump.
    pub(super) fn next_relaxed_size(&mut self) -> JumpSize {
        let short = self.plan.is_short(self.relaxed_seen);
        self.relaxed_seen += 1;
        if short {
            JumpSize::Short
        } else {
            JumpSize::Near
        }
    }

    /// The plan for the next pass: each relaxed jump is short when, in this
    /// pass's layout, its rel8 form would reach its target. Shrinking a jump
    /// only brings other targets closer, so without alignment padding the
    /// plans only grow and each one is safe; a short jump that stops fitting
    /// (padding grew) turns near again.
    pub fn relax(&self) -> Result<JumpPlan, X86Error> {
        let mut short = Vec::new();
        for f in &self.fixups {
            let Some(near_len) = f.relaxed_near_len else {
                continue;
            };
            let Target::Label(label) = f.target else {
                continue;
            };
            let target = self.resolve(label, f.site)? as i64;
            let (site, len) = (f.site as i64, (f.end - f.site) as i64);
            let short_end = site + 2;
            // A forward target moves closer by what this jump saves.
            let saved = len - 2;
            let disp = if target > site {
                target - saved - short_end
            } else {
                target - short_end
            };
            debug_assert!(len == 2 || len == near_len as i64);
            short.push(i8::try_from(disp).is_ok());
        }
        Ok(JumpPlan { short })
    }

    fn resolve(&self, label: Label, site: usize) -> Result<usize, X86Error> {
        self.label_offset(label)
            .ok_or(X86Error::UnboundLabel { site, label })
    }

    /// Resolves every branch and returns the image as it must run at
    /// address `base`: label branches are relative and need no base;
    /// branches to absolute addresses must be within +-2 GiB of their site.
    /// Reports the first operand error, an unbound label, a short branch
    /// that does not reach, or an absolute target out of rel32 range.
    pub fn finish(mut self, base: u64) -> Result<Vec<u8>, X86Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for f in std::mem::take(&mut self.fixups) {
            let disp = match f.target {
                Target::Label(l) => self.resolve(l, f.site)? as i64 - f.end as i64,
                Target::Abs(t) => {
                    rel32(base.wrapping_add(f.end as u64), t).ok_or(X86Error::Rel32OutOfRange {
                        site: f.site,
                        target: t,
                        base,
                    })? as i64
                }
            };
            self.patch_disp(&f, disp)?;
        }
        Ok(self.buf)
    }

    fn patch_disp(&mut self, f: &Fixup, disp: i64) -> Result<(), X86Error> {
        let at = f.end - f.width;
        if f.width == 1 {
            let d = i8::try_from(disp)
                .map_err(|_| X86Error::ShortBranchOutOfRange { site: f.site, disp })?;
            self.buf[at] = d as u8;
        } else {
            // Label distances within one image always fit in 32 bits.
            let d = i32::try_from(disp)
                .map_err(|_| X86Error::ShortBranchOutOfRange { site: f.site, disp })?;
            self.buf[at..f.end].copy_from_slice(&d.to_le_bytes());
        }
        Ok(())
    }
}

/// Where a branch goes, as the branch methods pass it to [`Asm::add_fixup`].
#[derive(Debug, Clone, Copy)]
pub(super) enum BranchTarget {
    Label(Label),
    Abs(u64),
}

/// The rel32 displacement from `next` (the address after the branch) to
/// `target`, if it fits.
pub(super) fn rel32(next: u64, target: u64) -> Option<i32> {
    i32::try_from(target.wrapping_sub(next) as i64).ok()
}

/// REX bits W, R, X, B for an instruction, and whether an otherwise empty
/// REX must still be emitted to name spl, bpl, sil or dil.
fn rex_bits(e: &Enc<'_>) -> (u8, bool) {
    let mut bits = if e.size == Size::Q { REX_W } else { 0 };
    let mut force = false;
    if let RegField::Reg(r) = e.reg {
        bits |= if r.needs_rex() { REX_R } else { 0 };
        force |= e.reg_byte && r.byte_needs_rex();
    }
    match e.rm {
        Rm::Reg(r) => {
            bits |= if r.needs_rex() { REX_B } else { 0 };
            force |= e.rm_byte && r.byte_needs_rex();
        }
        Rm::Mem(m) => {
            bits |= if m.base.needs_rex() { REX_B } else { 0 };
            if let Some((index, _)) = m.index {
                bits |= if index.needs_rex() { REX_X } else { 0 };
            }
        }
    }
    (bits, force)
}
