//! The program pass: collects every line's statements into slots, maps and
//! labels, then patches each name an instruction used with the slot or map
//! index it names.

use std::collections::HashMap;

use super::error::AsmError;
use super::parser::{FixKind, Fixup, Stmt, parse_line};
use super::{Assembled, MapDecl};
use crate::helper_id::helper_by_name;
use crate::insn::{CallKind, Insn, Pseudo};

/// Statements gathered from all lines, before names are resolved.
#[derive(Default)]
struct Pass {
    out: Assembled,
    fixups: Vec<(usize, Fixup)>,
    label_at: HashMap<String, usize>,
    map_at: HashMap<String, usize>,
}

pub(super) fn assemble(src: &str) -> Result<Assembled, AsmError> {
    let mut pass = Pass::default();
    for (i, text) in src.lines().enumerate() {
        for stmt in parse_line(i + 1, text)? {
            pass.add(stmt)?;
        }
    }
    for (pc, fix) in std::mem::take(&mut pass.fixups) {
        pass.apply(pc, &fix)?;
    }
    Ok(pass.out)
}

impl Pass {
    fn add(&mut self, stmt: Stmt) -> Result<(), AsmError> {
        match stmt {
            Stmt::Label { name, at } => {
                let pc = self.out.insns.len();
                if self.label_at.insert(name.clone(), pc).is_some() {
                    return Err(AsmError::new(
                        at.0,
                        at.1,
                        format!("label `{name}` is defined twice"),
                    ));
                }
                self.out.labels.push((name, pc));
            }
            Stmt::Map { decl, at } => {
                let idx = self.out.maps.len();
                if self.map_at.insert(decl.name.clone(), idx).is_some() {
                    return Err(AsmError::new(
                        at.0,
                        at.1,
                        format!("map `{}` is declared twice", decl.name),
                    ));
                }
                self.out.maps.push(decl);
            }
            Stmt::Insn(insn, fixup) => {
                if let Some(f) = fixup {
                    self.fixups.push((self.out.insns.len(), f));
                }
                self.out.insns.push(insn);
                if insn.slots() == 2 {
                    self.out.insns.push(Insn::LdImm64Hi);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, pc: usize, fix: &Fixup) -> Result<(), AsmError> {
        let err = |msg: String| AsmError::new(fix.line, fix.col, msg);
        let label = self.label_at.get(&fix.name).copied();
        let rel = label.map(|t| t as i64 - (pc as i64 + 1));
        let map = self.map_at.get(&fix.name).copied();
        let insn = &mut self.out.insns[pc];
        match (fix.kind, insn) {
            (FixKind::Jump, Insn::Ja { off, .. }) => {
                let rel = rel.ok_or_else(|| err(undefined_label(&fix.name)))?;
                *off = i16::try_from(rel)
                    .map_err(|_| {
                        err(format!(
                            "`{}` is {rel} slots away, past goto's 16-bit offset; use gotol",
                            fix.name
                        ))
                    })?
                    .into();
            }
            (FixKind::Jump, Insn::Jmp { off, .. }) => {
                let rel = rel.ok_or_else(|| err(undefined_label(&fix.name)))?;
                *off = i16::try_from(rel).map_err(|_| {
                    err(format!(
                        "`{}` is {rel} slots away, past a conditional jump's 16-bit offset; \
                         jump over a gotol instead",
                        fix.name
                    ))
                })?;
            }
            (FixKind::JumpLong, Insn::Ja { off, .. }) => {
                let rel = rel.ok_or_else(|| err(undefined_label(&fix.name)))?;
                *off = i32::try_from(rel)
                    .map_err(|_| err(format!("`{}` is out of gotol's range", fix.name)))?;
            }
            (FixKind::Call, Insn::Call(kind)) => {
                *kind = match (rel, helper_by_name(&fix.name)) {
                    (Some(rel), _) => CallKind::Local(rel as i32),
                    (None, Some(id)) => CallKind::Helper(id),
                    (None, None) => {
                        return Err(err(format!(
                            "`{}` is neither a label nor a helper name",
                            fix.name
                        )));
                    }
                };
            }
            (FixKind::Func, Insn::LdImm64 { imm, .. }) => {
                let rel = rel.ok_or_else(|| err(undefined_label(&fix.name)))?;
                *imm = set_low(*imm, rel as u32);
            }
            (FixKind::Map, Insn::LdImm64 { imm, .. }) => {
                let idx =
                    map.ok_or_else(|| err(format!("no map named `{}` is declared", fix.name)))?;
                *imm = set_low(*imm, idx as u32);
            }
            (FixKind::Symbol, Insn::LdImm64 { imm, pseudo, .. }) => match (map, rel) {
                (Some(idx), _) => {
                    (*pseudo, *imm) = (Pseudo::MapIdx, idx as u64);
                }
                (None, Some(rel)) => {
                    (*pseudo, *imm) = (Pseudo::Func, u64::from(rel as u32));
                }
                (None, None) => {
                    return Err(err(format!("`{}` is neither a map nor a label", fix.name)));
                }
            },
            (kind, insn) => unreachable!("parser made fixup {kind:?} for {insn:?}"),
        }
        Ok(())
    }
}

fn undefined_label(name: &str) -> String {
    format!("undefined label `{name}`")
}

/// `imm` with its low 32 bits replaced.
fn set_low(imm: u64, low: u32) -> u64 {
    (imm & !0xffff_ffff) | u64::from(low)
}

impl MapDecl {
    /// The `.map` directive that declares this map.
    pub fn directive(&self) -> String {
        let ty = crate::maptype::map_type_name(self.map_type)
            .map_or_else(|| self.map_type.to_string(), str::to_string);
        let mut s = format!(
            ".map {} type={ty} key={} value={} entries={}",
            self.name, self.key_size, self.value_size, self.max_entries
        );
        if self.flags != 0 {
            s.push_str(&format!(" flags={:#x}", self.flags));
        }
        s
    }
}
