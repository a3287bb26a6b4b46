//! Counting which instruction forms generated programs contain, to show
//! (and test) that the generator covers the instruction set.

use rxdp_isa::{AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Reg, Size, Width};
use std::collections::BTreeMap;
use std::fmt;

/// Counts of instruction forms over some programs, keyed like
/// `alu64.sdiv.x`, `jmp32.jset.k`, `atomic32.xor.fetch`, `ldsx.h.mem`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Programs added.
    pub programs: usize,
    /// Instruction slots added.
    pub slots: usize,
    /// Occurrences of each form.
    pub forms: BTreeMap<String, usize>,
}

/// The census of one program.
pub fn census(prog: &[Insn]) -> Census {
    let mut c = Census::default();
    c.add(prog);
    c
}

fn w(width: Width) -> &'static str {
    match width {
        Width::W32 => "32",
        Width::W64 => "64",
    }
}

fn alu_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Sub => "sub",
        AluOp::Mul => "mul",
        AluOp::Div => "div",
        AluOp::Sdiv => "sdiv",
        AluOp::Mod => "mod",
        AluOp::Smod => "smod",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Lsh => "lsh",
        AluOp::Rsh => "rsh",
        AluOp::Arsh => "arsh",
        AluOp::Xor => "xor",
        AluOp::Mov => "mov",
    }
}

fn cond_name(c: Cond) -> &'static str {
    match c {
        Cond::Eq => "jeq",
        Cond::Gt => "jgt",
        Cond::Ge => "jge",
        Cond::Set => "jset",
        Cond::Ne => "jne",
        Cond::Sgt => "jsgt",
        Cond::Sge => "jsge",
        Cond::Lt => "jlt",
        Cond::Le => "jle",
        Cond::Slt => "jslt",
        Cond::Sle => "jsle",
    }
}

fn atomic_name(op: AtomicOp) -> &'static str {
    match op {
        AtomicOp::Add => "add",
        AtomicOp::Or => "or",
        AtomicOp::And => "and",
        AtomicOp::Xor => "xor",
        AtomicOp::Xchg => "xchg",
        AtomicOp::Cmpxchg => "cmpxchg",
    }
}

fn size_name(s: Size) -> &'static str {
    match s {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

fn kx(src: Operand) -> &'static str {
    match src {
        Operand::Imm(_) => "k",
        Operand::Reg(_) => "x",
    }
}

fn base(r: Reg) -> &'static str {
    if r == Reg::R10 { "stack" } else { "mem" }
}

/// The census key of one instruction; `None` for the second `lddw` slot.
fn form(insn: &Insn) -> Option<String> {
    Some(match *insn {
        Insn::Alu { width, op, src, .. } => format!("alu{}.{}.{}", w(width), alu_name(op), kx(src)),
        Insn::Neg { width, .. } => format!("neg{}", w(width)),
        Insn::End { kind, bits, .. } => {
            let k = match kind {
                Endian::Le => "le",
                Endian::Be => "be",
                Endian::Swap => "bswap",
            };
            format!("{k}{bits}")
        }
        Insn::MovSx { width, from, .. } => format!("movsx{}.{}", w(width), from.bytes() * 8),
        Insn::LdImm64 { .. } => "lddw".into(),
        Insn::LdImm64Hi => return None,
        Insn::Ldx {
            size, signed, src, ..
        } => format!(
            "{}.{}.{}",
            if signed { "ldsx" } else { "ldx" },
            size_name(size),
            base(src)
        ),
        Insn::Stx { size, dst, .. } => format!("stx.{}.{}", size_name(size), base(dst)),
        Insn::St { size, dst, .. } => format!("st.{}.{}", size_name(size), base(dst)),
        Insn::Atomic {
            size, op, fetch, ..
        } => {
            let bits = if size == Size::W { "32" } else { "64" };
            let fetch = if fetch && !matches!(op, AtomicOp::Xchg | AtomicOp::Cmpxchg) {
                ".fetch"
            } else {
                ""
            };
            format!("atomic{bits}.{}{fetch}", atomic_name(op))
        }
        Insn::Jmp {
            width, cond, src, ..
        } => format!("jmp{}.{}.{}", w(width), cond_name(cond), kx(src)),
        Insn::Ja { long: false, .. } => "ja".into(),
        Insn::Ja { long: true, .. } => "gotol".into(),
        Insn::Call(CallKind::Local(_)) => "call.local".into(),
        Insn::Call(CallKind::Helper(_)) => "call.helper".into(),
        Insn::Call(CallKind::Kfunc(_)) => "call.kfunc".into(),
        Insn::Callx { .. } => "callx".into(),
        Insn::Exit => "exit".into(),
        Insn::LdAbs { .. } => "ldabs".into(),
        Insn::LdInd { .. } => "ldind".into(),
    })
}

impl Census {
    /// Adds one program.
    pub fn add(&mut self, prog: &[Insn]) {
        self.programs += 1;
        self.slots += prog.len();
        for insn in prog {
            if let Some(f) = form(insn) {
                *self.forms.entry(f).or_default() += 1;
            }
        }
    }

    /// Every form the generator is meant to produce with all families
    /// enabled.
    pub fn expected() -> Vec<String> {
        let mut out = Vec::new();
        for width in ["32", "64"] {
            for op in AluOp::ALL {
                for s in ["k", "x"] {
                    out.push(format!("alu{width}.{}.{s}", alu_name(op)));
                }
            }
            for c in Cond::ALL {
                for s in ["k", "x"] {
                    out.push(format!("jmp{width}.{}.{s}", cond_name(c)));
                }
            }
            out.push(format!("neg{width}"));
            for op in ["add", "or", "and", "xor"] {
                out.push(format!("atomic{width}.{op}"));
                out.push(format!("atomic{width}.{op}.fetch"));
            }
            out.push(format!("atomic{width}.xchg"));
            out.push(format!("atomic{width}.cmpxchg"));
        }
        for k in ["le", "be", "bswap"] {
            for bits in [16, 32, 64] {
                out.push(format!("{k}{bits}"));
            }
        }
        for m in [
            "movsx64.8",
            "movsx64.16",
            "movsx64.32",
            "movsx32.8",
            "movsx32.16",
        ] {
            out.push(m.into());
        }
        for s in ["b", "h", "w", "dw"] {
            for b in ["stack", "mem"] {
                out.push(format!("ldx.{s}.{b}"));
                out.push(format!("stx.{s}.{b}"));
                out.push(format!("st.{s}.{b}"));
                if s != "dw" {
                    out.push(format!("ldsx.{s}.{b}"));
                }
            }
        }
        for f in ["lddw", "ja", "gotol", "call.local", "exit"] {
            out.push(f.into());
        }
        out
    }

    /// The expected forms never seen.
    pub fn missing(&self) -> Vec<String> {
        Census::expected()
            .into_iter()
            .filter(|f| !self.forms.contains_key(f))
            .collect()
    }
}

impl fmt::Display for Census {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = Census::expected();
        let covered = expected.len() - self.missing().len();
        writeln!(
            f,
            "{} programs, {} slots ({:.1} per program); {covered}/{} expected forms",
            self.programs,
            self.slots,
            self.slots as f64 / self.programs.max(1) as f64,
            expected.len()
        )?;
        let missing = self.missing();
        if !missing.is_empty() {
            writeln!(f, "missing: {}", missing.join(" "))?;
        }
        let rare: Vec<String> = self
            .forms
            .iter()
            .filter(|(_, n)| **n < 10)
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        if !rare.is_empty() {
            writeln!(f, "rare (<10): {}", rare.join(" "))?;
        }
        Ok(())
    }
}
