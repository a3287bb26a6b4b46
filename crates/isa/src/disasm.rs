//! The disassembler: [`Insn`]s as text, in llvm-objdump's C-like syntax
//! (with the kernel log's `call pc+N` for bpf-to-bpf calls, which llvm
//! cannot tell from helper calls). The output is what [`crate::asm`]
//! reads: `assemble(disasm(p))` gives back `p`, with or without names.
//!
//! Immediates print in decimal, 64-bit `lddw` immediates in hex once they
//! are large; jump targets as `+N`/`-N` or, when labels are known or
//! asked for, as label names.

use std::collections::HashMap;
use std::fmt::Write;

use crate::asm::MapDecl;
use crate::helper_id::helper_name;
use crate::insn::{
    AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width,
};

/// How to print.
#[derive(Clone, Copy, Debug, Default)]
pub struct DisasmOptions<'a> {
    /// Print helper calls by name (`call bpf_map_lookup_elem`) rather than
    /// by id (`call 1`, llvm-objdump's way).
    pub helper_names: bool,
    /// Maps by index: `map[i]` and `map_value[i]` print `maps[i].name`, and
    /// [`disasm`] opens with their `.map` declarations.
    pub maps: &'a [MapDecl],
    /// Labels and the slots they mark: jumps and calls to a labelled slot
    /// print the label, and [`disasm`] prints `name:` lines.
    pub labels: &'a [(String, usize)],
    /// Invent a label `.L<slot>` for every jump, call and `func[]` target
    /// in the program that has none.
    pub auto_labels: bool,
    /// Prefix each instruction with its slot index (`  12: `), as the
    /// kernel log does; the assembler skips such prefixes.
    pub slot_numbers: bool,
}

/// Label names by slot, from the options and, if asked, invented ones.
struct Names<'a> {
    opts: &'a DisasmOptions<'a>,
    labels: HashMap<usize, String>,
}

impl<'a> Names<'a> {
    /// Names for a whole program: given labels first, then invented ones
    /// for targets that land on an instruction (never inside a `lddw`).
    fn new(opts: &'a DisasmOptions<'a>, insns: &[Insn]) -> Names<'a> {
        let mut labels: HashMap<usize, String> = HashMap::new();
        for (name, pc) in opts.labels.iter().rev() {
            labels.insert(*pc, name.clone());
        }
        if opts.auto_labels {
            let taken: std::collections::HashSet<&str> =
                opts.labels.iter().map(|(n, _)| n.as_str()).collect();
            for (pc, insn) in insns.iter().enumerate() {
                let Some(t) = insn.jump_target(pc).or_else(|| insn.call_target(pc)) else {
                    continue;
                };
                let Ok(t) = usize::try_from(t) else { continue };
                let lands = t == insns.len() || insns.get(t).is_some_and(|i| *i != Insn::LdImm64Hi);
                let name = format!(".L{t}");
                if lands && !taken.contains(name.as_str()) {
                    labels.entry(t).or_insert(name);
                }
            }
        }
        Names { opts, labels }
    }

    /// Names from the given labels only (for one instruction).
    fn given(opts: &'a DisasmOptions<'a>) -> Names<'a> {
        let mut labels = HashMap::new();
        for (name, pc) in opts.labels.iter().rev() {
            labels.insert(*pc, name.clone());
        }
        Names { opts, labels }
    }

    /// The label at `pc + 1 + off`, if there is one.
    fn target(&self, pc: usize, off: i64) -> Option<&str> {
        let t = usize::try_from(pc as i64 + 1 + off).ok()?;
        self.labels.get(&t).map(String::as_str)
    }

    fn map(&self, idx: u32) -> Option<&str> {
        self.opts.maps.get(idx as usize).map(|m| m.name.as_str())
    }
}

/// One instruction at slot `pc` as a line of text (no newline). The second
/// slot of a `lddw` prints as a comment.
pub fn disasm_insn(insn: &Insn, pc: usize, opts: &DisasmOptions<'_>) -> String {
    format_insn(insn, pc, &Names::given(opts))
}

/// A whole program, one line per instruction (the second slot of a `lddw`
/// skipped), preceded by the `.map` declarations of `opts.maps` and with
/// `name:` lines before labelled slots.
pub fn disasm(insns: &[Insn], opts: &DisasmOptions<'_>) -> String {
    let names = Names::new(opts, insns);
    let mut out = String::new();
    for m in opts.maps {
        let _ = writeln!(out, "{}", m.directive());
    }
    for (pc, insn) in insns.iter().enumerate() {
        if let Some(l) = names.labels.get(&pc) {
            let _ = writeln!(out, "{l}:");
        }
        if *insn == Insn::LdImm64Hi {
            continue;
        }
        if opts.slot_numbers {
            let _ = write!(out, "{pc:5}: ");
        }
        let _ = writeln!(out, "{}", format_insn(insn, pc, &names));
    }
    if let Some(l) = names.labels.get(&insns.len()) {
        let _ = writeln!(out, "{l}:");
    }
    out
}

fn reg(r: Reg, w: Width) -> String {
    match w {
        Width::W64 => format!("r{}", r.num()),
        Width::W32 => format!("w{}", r.num()),
    }
}

fn operand(src: Operand, w: Width) -> String {
    match src {
        Operand::Reg(r) => reg(r, w),
        Operand::Imm(i) => i.to_string(),
    }
}

fn size_name(s: Size, signed: bool) -> &'static str {
    match (s, signed) {
        (Size::B, false) => "u8",
        (Size::H, false) => "u16",
        (Size::W, false) => "u32",
        (Size::DW, _) => "u64",
        (Size::B, true) => "s8",
        (Size::H, true) => "s16",
        (Size::W, true) => "s32",
    }
}

/// `(r1 + 4)` / `(r1 - 2)`, the llvm spelling.
fn addr(base: Reg, off: i16) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    format!("{base} {sign} {}", off.unsigned_abs())
}

fn signed_off(off: i64) -> String {
    if off < 0 {
        off.to_string()
    } else {
        format!("+{off}")
    }
}

fn alu_op(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::Sdiv => "s/=",
        AluOp::Mod => "%=",
        AluOp::Smod => "s%=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Arsh => "s>>=",
        AluOp::Xor => "^=",
        AluOp::Mov => "=",
    }
}

fn cond_op(c: Cond) -> &'static str {
    match c {
        Cond::Eq => "==",
        Cond::Ne => "!=",
        Cond::Gt => ">",
        Cond::Ge => ">=",
        Cond::Lt => "<",
        Cond::Le => "<=",
        Cond::Set => "&",
        Cond::Sgt => "s>",
        Cond::Sge => "s>=",
        Cond::Slt => "s<",
        Cond::Sle => "s<=",
    }
}

fn format_insn(insn: &Insn, pc: usize, names: &Names<'_>) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            format!("{} {} {}", reg(dst, width), alu_op(op), operand(src, width))
        }
        Insn::MovSx {
            width,
            dst,
            src,
            from,
        } => {
            format!(
                "{} = ({}){}",
                reg(dst, width),
                size_name(from, true),
                reg(src, width)
            )
        }
        Insn::Neg { width, dst } => format!("{0} = -{0}", reg(dst, width)),
        Insn::End { kind, dst, bits } => {
            let k = match kind {
                Endian::Le => "le",
                Endian::Be => "be",
                Endian::Swap => "bswap",
            };
            format!("{dst} = {k}{bits} {dst}")
        }
        Insn::Ja { off, long } => {
            let m = if long { "gotol" } else { "goto" };
            format!("{m} {}", jump_target(names, pc, off.into()))
        }
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => format!(
            "if {} {} {} goto {}",
            reg(dst, width),
            cond_op(cond),
            operand(src, width),
            jump_target(names, pc, off.into())
        ),
        Insn::Call(kind) => call(names, pc, kind),
        Insn::Callx { dst } => format!("callx {dst}"),
        Insn::Exit => "exit".to_string(),
        Insn::Ldx {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            format!(
                "{dst} = *({} *)({})",
                size_name(size, signed),
                addr(src, off)
            )
        }
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => {
            format!(
                "*({} *)({}) = {src}",
                size_name(size, false),
                addr(dst, off)
            )
        }
        Insn::St {
            size,
            dst,
            off,
            imm,
        } => {
            format!(
                "*({} *)({}) = {imm}",
                size_name(size, false),
                addr(dst, off)
            )
        }
        Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            off,
        } => atomic(size, op, fetch, dst, src, off),
        Insn::LdImm64 { dst, pseudo, imm } => {
            format!("{dst} = {} ll", lddw_value(names, pc, pseudo, imm))
        }
        Insn::LdImm64Hi => "; (second slot of lddw)".to_string(),
        Insn::LdAbs { size, imm } => format!("r0 = *({} *)skb[{imm}]", size_name(size, false)),
        Insn::LdInd { size, src, imm } => {
            let idx = match imm {
                0 => format!("{src}"),
                i if i < 0 => format!("{src} - {}", i.unsigned_abs()),
                i => format!("{src} + {i}"),
            };
            format!("r0 = *({} *)skb[{idx}]", size_name(size, false))
        }
    }
}

fn jump_target(names: &Names<'_>, pc: usize, off: i64) -> String {
    names
        .target(pc, off)
        .map_or_else(|| signed_off(off), str::to_string)
}

fn call(names: &Names<'_>, pc: usize, kind: CallKind) -> String {
    match kind {
        CallKind::Helper(id) => match helper_name(id) {
            Some(name) if names.opts.helper_names => format!("call {name}"),
            _ => format!("call {id}"),
        },
        CallKind::Local(off) => match names.target(pc, off.into()) {
            Some(l) => format!("call {l}"),
            None => format!("call pc{}", signed_off(off.into())),
        },
        CallKind::Kfunc(id) => format!("call kfunc#{id}"),
    }
}

/// llvm's spellings: `lock *(u64 *)(r1 + 0) += r2`, `r0 =
/// atomic_fetch_add((u64 *)(r1 + 0), r0)`, `r0 = xchg_64(r1 + 0, r0)`,
/// `r0 = cmpxchg_64(r1 + 0, r0, r2)`, with `w` registers and `32_32` names
/// for 32 bits.
fn atomic(size: Size, op: AtomicOp, fetch: bool, dst: Reg, src: Reg, off: i16) -> String {
    let w = if size == Size::DW {
        Width::W64
    } else {
        Width::W32
    };
    let s = reg(src, w);
    let sz = size_name(size, false);
    let a = addr(dst, off);
    let (name, assign) = match op {
        AtomicOp::Add => ("add", "+="),
        AtomicOp::Or => ("or", "|="),
        AtomicOp::And => ("and", "&="),
        AtomicOp::Xor => ("xor", "^="),
        AtomicOp::Xchg if w == Width::W64 => return format!("{s} = xchg_64({a}, {s})"),
        AtomicOp::Xchg => return format!("{s} = xchg32_32({a}, {s})"),
        AtomicOp::Cmpxchg if w == Width::W64 => return format!("r0 = cmpxchg_64({a}, r0, {s})"),
        AtomicOp::Cmpxchg => return format!("w0 = cmpxchg32_32({a}, w0, {s})"),
    };
    if fetch {
        format!("{s} = atomic_fetch_{name}(({sz} *)({a}), {s})")
    } else {
        format!("lock *({sz} *)({a}) {assign} {s}")
    }
}

/// The right-hand side of a `lddw` (without ` ll`).
fn lddw_value(names: &Names<'_>, pc: usize, pseudo: Pseudo, imm: u64) -> String {
    let low = imm as u32;
    let high = (imm >> 32) as u32;
    let (kind, inner) = match pseudo {
        Pseudo::Imm64 => return imm64(imm),
        Pseudo::MapIdx | Pseudo::MapIdxValue => {
            let k = if pseudo == Pseudo::MapIdx {
                "map"
            } else {
                "map_value"
            };
            (
                k,
                names
                    .map(low)
                    .map_or_else(|| low.to_string(), str::to_string),
            )
        }
        Pseudo::MapFd => ("map_fd", low.to_string()),
        Pseudo::MapValue => ("map_fd_value", low.to_string()),
        Pseudo::BtfId => ("btf_id", low.to_string()),
        Pseudo::Func => {
            let off = i64::from(low as i32);
            (
                "func",
                names
                    .target(pc, off)
                    .map_or_else(|| signed_off(off), str::to_string),
            )
        }
    };
    // The value forms always show their offset; the others only when the
    // (reserved) high half is set, so that every encoding round-trips.
    let show_high = high != 0 || matches!(pseudo, Pseudo::MapIdxValue | Pseudo::MapValue);
    if show_high {
        format!("{kind}[{inner}]+{high}")
    } else {
        format!("{kind}[{inner}]")
    }
}

fn imm64(imm: u64) -> String {
    let v = imm as i64;
    if (-65536..=65536).contains(&v) {
        v.to_string()
    } else {
        format!("{imm:#x}")
    }
}
