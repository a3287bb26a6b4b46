//! Code sections, their functions and relocations, and the linking of a
//! program with the subprograms it calls, as libbpf does it
//! (`bpf_object__collect_prog_relos`, `bpf_program__record_reloc`,
//! `bpf_object__reloc_code`).
//!
//! Every executable section is cut into functions by its `FUNC` symbols.
//! A relocation is recorded against the instruction it patches:
//!
//! - a call (`R_BPF_64_32`, `src = BPF_PSEUDO_CALL`) to a function: the
//!   callee is the instruction `st_value / 8 + imm + 1` of the symbol's
//!   section (a global function's call has `imm = -1`, a static one's is
//!   against the section symbol with `imm` relative to it); calls
//!   without a relocation stay within their own section
//!   (`pc + imm + 1`);
//! - a `lddw` of a function address (`R_BPF_64_64` against a code
//!   section, bpf_loop callbacks): the target is byte
//!   `st_value + imm` of that section;
//! - a `lddw` of a map (against a `.maps`/`maps` symbol) or of global data
//!   (against a `.data*`/`.rodata*`/`.bss*` symbol, byte
//!   `st_value + imm` of the section);
//! - a call to an undefined symbol: a kfunc, which rxdp does not run.
//!
//! Linking copies the program's own instructions, then appends each
//! function it reaches, depth first in the order of the calls, once, and
//! points every call and function address at the appended copy. Map
//! references become `BPF_PSEUDO_MAP_IDX` (`imm` = map index) and global
//! data references `BPF_PSEUDO_MAP_IDX_VALUE` (offset in the second
//! slot's `imm`).

use crate::btf::{Btf, BtfExt, core_relo_kind_name};
use crate::elf::{Elf, STB_LOCAL, STT_FUNC};
use crate::error::ObjectError;
use crate::maps::MapIndex;
use rxdp_isa::RawInsn;
use std::collections::HashMap;

/// `R_BPF_64_64`: the 64-bit immediate of a `lddw`.
const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_32`: the 32-bit immediate of a call.
const R_BPF_64_32: u32 = 10;
/// `BPF_JMP | BPF_CALL`.
const OP_CALL: u8 = 0x85;
/// `BPF_LD | BPF_IMM | BPF_DW`.
const OP_LDDW: u8 = 0x18;
/// `src` values of pseudo calls and `lddw`s.
const PSEUDO_CALL: u8 = 1;
const PSEUDO_KFUNC_CALL: u8 = 2;
const PSEUDO_FUNC: u8 = 4;
const PSEUDO_MAP_IDX: u8 = 5;
const PSEUDO_MAP_IDX_VALUE: u8 = 6;

/// The most slots one linked program may have: the kernel's limit on a
/// privileged program (`BPF_COMPLEXITY_LIMIT_INSNS`).
pub(crate) const MAX_PROG_SLOTS: usize = 1_000_000;

/// What a relocated instruction refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A bpf-to-bpf call to instruction `.1` of code section `.0`.
    Call(usize, i64),
    /// The address of instruction `.1` of code section `.0`.
    FuncAddr(usize, i64),
    /// A map by index.
    Map(usize),
    /// A byte offset into the value of a global data map.
    MapValue(usize, u32),
    /// A call of an extern function (kfunc), by name.
    Kfunc(String),
    /// Something rxdp cannot resolve; the message says what.
    Unsupported(String),
}

/// One function: a program entry or a subprogram.
#[derive(Clone, Debug)]
pub(crate) struct Func {
    /// ELF index of its section.
    pub(crate) section: usize,
    /// Its symbol's name.
    pub(crate) name: String,
    /// First slot in its section.
    pub(crate) start: usize,
    /// Number of slots.
    pub(crate) len: usize,
    /// Whether it is a program entry (a global function in a program
    /// section) rather than a subprogram.
    pub(crate) is_program: bool,
}

/// The instructions of one executable section and what relocates them.
#[derive(Debug)]
pub(crate) struct CodeSection {
    /// The section's name.
    pub(crate) name: String,
    /// Its slots as in the file.
    pub(crate) raw: Vec<RawInsn>,
    /// Relocation targets by slot.
    pub(crate) targets: HashMap<usize, Target>,
    /// CO-RE relocations by slot, described for messages.
    pub(crate) core: HashMap<usize, String>,
}

/// All code of the object.
#[derive(Debug, Default)]
pub(crate) struct Code {
    /// Code sections by ELF index.
    pub(crate) sections: HashMap<usize, CodeSection>,
    /// All functions, programs first in file order.
    pub(crate) funcs: Vec<Func>,
    /// Function by `(section, first slot)`.
    by_start: HashMap<(usize, usize), usize>,
}

impl Code {
    /// Reads the executable sections, their functions and relocations.
    pub(crate) fn collect(
        elf: &Elf<'_>,
        maps: &MapIndex,
        btf: Option<&Btf>,
        ext: Option<&BtfExt>,
    ) -> Result<Code, ObjectError> {
        let mut code = Code::default();
        for (shndx, sec) in elf.sections.iter().enumerate() {
            if !sec.exec || sec.data.is_empty() {
                continue;
            }
            if sec.data.len() % 8 != 0 {
                return Err(ObjectError::section(
                    &sec.name,
                    format!("size {} is not a multiple of 8", sec.data.len()),
                ));
            }
            let raw = sec
                .data
                .chunks_exact(8)
                .map(|c| RawInsn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            code.sections.insert(
                shndx,
                CodeSection {
                    name: sec.name.clone(),
                    raw,
                    targets: HashMap::new(),
                    core: HashMap::new(),
                },
            );
        }
        code.collect_funcs(elf)?;
        let shndxs: Vec<usize> = code.sections.keys().copied().collect();
        for shndx in shndxs {
            code.collect_relocs(elf, shndx, maps)?;
            code.collect_implicit_calls(shndx);
        }
        if let (Some(btf), Some(ext)) = (btf, ext) {
            code.collect_core_relos(btf, ext)?;
        }
        Ok(code)
    }

    /// Cuts each code section into functions by its `FUNC` symbols.
    fn collect_funcs(&mut self, elf: &Elf<'_>) -> Result<(), ObjectError> {
        let mut funcs = Vec::new();
        for sym in &elf.symbols {
            let Some(shndx) = sym.section else { continue };
            let Some(sec) = self.sections.get(&shndx) else {
                continue;
            };
            if sym.kind != STT_FUNC {
                continue;
            }
            let sec_len = sec.raw.len() as u64;
            let bad = |msg: &str| ObjectError::Symbol {
                symbol: sym.name.clone(),
                msg: format!("function in section {}: {msg}", sec.name),
            };
            if sym.value % 8 != 0 || sym.size % 8 != 0 {
                return Err(bad(&format!(
                    "offset {:#x} or size {:#x} not a multiple of 8",
                    sym.value, sym.size
                )));
            }
            let (start, len) = (sym.value / 8, sym.size / 8);
            if len == 0 || start.checked_add(len).is_none_or(|end| end > sec_len) {
                return Err(bad(&format!(
                    "slots {start}+{len} do not fit the section's {sec_len}"
                )));
            }
            let is_program = sec.name != ".text" && sym.bind != STB_LOCAL;
            funcs.push(Func {
                section: shndx,
                name: sym.name.clone(),
                start: start as usize,
                len: len as usize,
                is_program,
            });
        }
        // A program section without FUNC symbols (hand-written assembly):
        // the whole section is one program named after it.
        for (&shndx, sec) in &self.sections {
            if sec.name != ".text" && !funcs.iter().any(|f| f.section == shndx) {
                funcs.push(Func {
                    section: shndx,
                    name: sec.name.clone(),
                    start: 0,
                    len: sec.raw.len(),
                    is_program: true,
                });
            }
        }
        funcs.sort_by_key(|f| (!f.is_program, f.section, f.start));
        check_overlaps(&funcs, &self.sections)?;
        for (i, f) in funcs.iter().enumerate() {
            self.by_start.entry((f.section, f.start)).or_insert(i);
        }
        self.funcs = funcs;
        Ok(())
    }

    /// Records what each relocation of section `shndx` refers to.
    fn collect_relocs(
        &mut self,
        elf: &Elf<'_>,
        shndx: usize,
        maps: &MapIndex,
    ) -> Result<(), ObjectError> {
        let rels = &elf.rels[shndx];
        for rel in rels {
            let sec = &self.sections[&shndx];
            let err = |msg: String| ObjectError::Relocation {
                section: sec.name.clone(),
                index: rel.index,
                offset: rel.offset,
                msg,
            };
            if rel.offset % 8 != 0 || rel.offset / 8 >= sec.raw.len() as u64 {
                return Err(err(format!(
                    "not at an instruction of the {}-slot section",
                    sec.raw.len()
                )));
            }
            let slot = (rel.offset / 8) as usize;
            let sym = elf.symbols.get(rel.sym).ok_or_else(|| {
                err(format!(
                    "symbol index {} past the {} symbols",
                    rel.sym,
                    elf.symbols.len()
                ))
            })?;
            if rel.r_type != R_BPF_64_64 && rel.r_type != R_BPF_64_32 {
                return Err(err(format!(
                    "relocation type {} (only R_BPF_64_64 and R_BPF_64_32 apply to code)",
                    rel.r_type
                )));
            }
            let insn = sec.raw[slot];
            let target = match insn.code {
                OP_CALL => self.call_target(elf, sym, insn).map_err(err)?,
                OP_LDDW => {
                    if slot + 1 >= sec.raw.len() {
                        return Err(err("lddw in the last slot".into()));
                    }
                    self.lddw_target(elf, sym, insn, maps).map_err(err)?
                }
                code => {
                    return Err(err(format!(
                        "on opcode {code:#04x}, neither a call nor a lddw (symbol {})",
                        sym.name
                    )));
                }
            };
            self.sections
                .get_mut(&shndx)
                .map(|s| s.targets.insert(slot, target));
        }
        Ok(())
    }

    fn call_target(
        &self,
        elf: &Elf<'_>,
        sym: &crate::elf::Symbol,
        insn: RawInsn,
    ) -> Result<Target, String> {
        let Some(tsec) = sym.section else {
            return Ok(Target::Kfunc(sym.name.clone()));
        };
        if insn.src != PSEUDO_CALL {
            return Err(format!(
                "call relocation against {} on a helper call (src {})",
                sym.name, insn.src
            ));
        }
        if !self.sections.contains_key(&tsec) {
            return Err(format!(
                "call of {} in section {}, which holds no code",
                sym.name,
                elf.section_name(tsec)
            ));
        }
        if !sym.value.is_multiple_of(8) {
            return Err(format!(
                "call of {} at offset {:#x}, not an instruction",
                sym.name, sym.value
            ));
        }
        Ok(Target::Call(
            tsec,
            (sym.value / 8) as i64 + i64::from(insn.imm) + 1,
        ))
    }

    fn lddw_target(
        &self,
        elf: &Elf<'_>,
        sym: &crate::elf::Symbol,
        insn: RawInsn,
        maps: &MapIndex,
    ) -> Result<Target, String> {
        let Some(tsec) = sym.section else {
            return Ok(Target::Unsupported(format!(
                "extern variable {} (__ksym or __kconfig)",
                sym.name
            )));
        };
        let byte = i128::from(sym.value) + i128::from(insn.imm);
        if self.sections.contains_key(&tsec) {
            if byte < 0 || byte % 8 != 0 {
                return Err(format!(
                    "function address {}+{} is not an instruction",
                    sym.name, insn.imm
                ));
            }
            return Ok(Target::FuncAddr(tsec, (byte / 8) as i64));
        }
        if maps.map_sections.contains(&tsec) {
            // A global map's symbol is the map (imm 0); a static map is
            // reached through the section symbol, its offset in the imm.
            return u64::try_from(byte)
                .ok()
                .and_then(|off| maps.by_location.get(&(tsec, off)))
                .map(|&m| Target::Map(m))
                .ok_or_else(|| {
                    format!(
                        "no map at offset {byte:#x} of {} (symbol {})",
                        elf.section_name(tsec),
                        sym.name
                    )
                });
        }
        if let Some(&m) = maps.by_data_section.get(&tsec) {
            let off = u32::try_from(byte).map_err(|_| {
                format!(
                    "offset {byte} into {} is out of range",
                    elf.section_name(tsec)
                )
            })?;
            return Ok(Target::MapValue(m, off));
        }
        Ok(Target::Unsupported(format!(
            "reference to {} in section {}, which is neither a map nor global data",
            sym.name,
            elf.section_name(tsec)
        )))
    }

    /// Calls and function addresses without a relocation are relative to
    /// their own instruction, within their section.
    fn collect_implicit_calls(&mut self, shndx: usize) {
        let Some(sec) = self.sections.get_mut(&shndx) else {
            return;
        };
        for (slot, insn) in sec.raw.iter().enumerate() {
            if sec.targets.contains_key(&slot) {
                continue;
            }
            let rel = slot as i64 + 1 + i64::from(insn.imm);
            if insn.code == OP_CALL && insn.src == PSEUDO_CALL {
                sec.targets.insert(slot, Target::Call(shndx, rel));
            } else if insn.code == OP_LDDW && insn.src == PSEUDO_FUNC {
                sec.targets.insert(slot, Target::FuncAddr(shndx, rel));
            }
        }
    }

    /// Notes every CO-RE relocation; rxdp has no kernel BTF to resolve
    /// them against, so a program reaching one cannot be run.
    fn collect_core_relos(&mut self, btf: &Btf, ext: &BtfExt) -> Result<(), ObjectError> {
        for group in &ext.core_relos {
            let Some(sec) = self.sections.values_mut().find(|s| s.name == group.section) else {
                continue;
            };
            for r in &group.records {
                let ty = btf.type_by_id(r.type_id)?;
                let what = format!(
                    "CO-RE relocation {} of {} {} (access {})",
                    core_relo_kind_name(r.kind),
                    ty.kind_name().to_ascii_lowercase(),
                    btf.string(ty.name_off)?,
                    btf.string(r.access_str_off)?,
                );
                sec.core.entry((r.insn_off / 8) as usize).or_insert(what);
            }
        }
        Ok(())
    }

    /// The function starting at slot `slot` of section `shndx`.
    fn func_at(&self, shndx: usize, slot: i64) -> Option<usize> {
        let slot = usize::try_from(slot).ok()?;
        self.by_start.get(&(shndx, slot)).copied()
    }

    /// Links program `main`: its own slots, then every function it
    /// reaches, with calls, function addresses and map references fixed.
    /// `budget` is what is left of the slots all programs may use.
    pub(crate) fn link(&self, main: usize, budget: &mut usize) -> Result<Linked, ObjectError> {
        let prog = &self.funcs[main];
        let mut out = Linked::default();
        out.append(self, main);
        let mut stack = vec![(main, 0usize, 0usize)];
        while let Some(frame) = stack.last_mut() {
            let (fid, base, i) = *frame;
            let func = &self.funcs[fid];
            if i >= func.len {
                stack.pop();
                continue;
            }
            frame.1 = base;
            frame.2 = i + 1;
            let sec = &self.sections[&func.section];
            let slot = func.start + i;
            let pos = base + i;
            if let Some(what) = sec.core.get(&slot) {
                out.note(format!("{what} at insn {pos}"));
            }
            let Some(target) = sec.targets.get(&slot) else {
                continue;
            };
            if sec.raw[slot].code == OP_LDDW && i + 1 >= func.len {
                return Err(ObjectError::program(
                    &prog.name,
                    format!(
                        "lddw at insn {slot} of {} ({}) is cut by the function's end",
                        func.name, sec.name
                    ),
                ));
            }
            match target {
                Target::Call(tsec, tslot) | Target::FuncAddr(tsec, tslot) => {
                    let callee = self.func_at(*tsec, *tslot).ok_or_else(|| {
                        ObjectError::program(
                            &prog.name,
                            format!(
                                "insn {slot} of {} ({}) refers to insn {tslot} of section {}, where no function starts",
                                func.name,
                                sec.name,
                                self.sections.get(tsec).map_or("?", |s| &s.name)
                            ),
                        )
                    })?;
                    let at = match out.placed_at.get(&callee) {
                        Some(&at) => at,
                        None => {
                            let at = out.append(self, callee);
                            if out.raw.len() > MAX_PROG_SLOTS {
                                return Err(ObjectError::program(
                                    &prog.name,
                                    format!(
                                        "more than {MAX_PROG_SLOTS} instructions after linking"
                                    ),
                                ));
                            }
                            stack.push((callee, at, 0));
                            at
                        }
                    };
                    let rel = at as i64 - pos as i64 - 1;
                    let insn = &mut out.raw[pos];
                    insn.imm = rel as i32;
                    if matches!(target, Target::FuncAddr(..)) {
                        insn.src = PSEUDO_FUNC;
                        out.raw[pos + 1].imm = 0;
                    }
                }
                Target::Map(m) => out.set_lddw(pos, PSEUDO_MAP_IDX, *m as i32, 0),
                Target::MapValue(m, off) => {
                    out.set_lddw(pos, PSEUDO_MAP_IDX_VALUE, *m as i32, *off as i32)
                }
                Target::Kfunc(name) => {
                    out.raw[pos].src = PSEUDO_KFUNC_CALL;
                    out.raw[pos].imm = 0;
                    out.note(format!("kfunc call to {name} at insn {pos}"));
                }
                Target::Unsupported(what) => out.note(format!("{what} at insn {pos}")),
            }
        }
        *budget = budget.checked_sub(out.raw.len()).ok_or_else(|| {
            ObjectError::program(
                &prog.name,
                "the object's programs exceed the instruction budget after linking",
            )
        })?;
        Ok(out)
    }
}

/// Functions of one section must not overlap.
fn check_overlaps(
    funcs: &[Func],
    sections: &HashMap<usize, CodeSection>,
) -> Result<(), ObjectError> {
    let mut by_pos: Vec<&Func> = funcs.iter().collect();
    by_pos.sort_by_key(|f| (f.section, f.start, f.len));
    for pair in by_pos.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let same_alias = a.start == b.start && a.len == b.len;
        if a.section == b.section && b.start < a.start + a.len && !same_alias {
            return Err(ObjectError::section(
                sections.get(&a.section).map_or("?", |s| &s.name),
                format!("functions {} and {} overlap", a.name, b.name),
            ));
        }
    }
    Ok(())
}

/// A program after linking, in raw slots.
#[derive(Debug, Default)]
pub(crate) struct Linked {
    /// The linked slots.
    pub(crate) raw: Vec<RawInsn>,
    /// Each function placed, with its first slot in `raw` (the program
    /// itself at 0).
    pub(crate) placed: Vec<(usize, usize)>,
    /// The same, by function.
    placed_at: HashMap<usize, usize>,
    /// Why the program cannot run in rxdp, if anything.
    pub(crate) unsupported: Vec<String>,
}

impl Linked {
    /// Appends function `fid`'s slots; returns where they start.
    fn append(&mut self, code: &Code, fid: usize) -> usize {
        let f = &code.funcs[fid];
        let at = self.raw.len();
        let sec = &code.sections[&f.section];
        self.raw
            .extend_from_slice(&sec.raw[f.start..f.start + f.len]);
        self.placed.push((fid, at));
        self.placed_at.insert(fid, at);
        at
    }

    fn set_lddw(&mut self, pos: usize, src: u8, imm: i32, hi: i32) {
        self.raw[pos].src = src;
        self.raw[pos].imm = imm;
        self.raw[pos + 1].imm = hi;
    }

    fn note(&mut self, what: String) {
        self.unsupported.push(what);
    }
}
