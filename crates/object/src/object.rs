//! The object: programs, maps, global variables, license and version of
//! one BPF ELF file, put together from the layers below.

use crate::btf::{Btf, BtfExt, BtfKind, ElfLayout, ExtSection, fixup_datasecs, linkage};
use crate::elf::{Elf, STT_FUNC, STT_OBJECT};
use crate::error::ObjectError;
use crate::link::{Code, Linked};
use crate::maps::{self, InitSlot, MapDef, MapIndex, SlotTarget};
use crate::program::{FuncInfo, LineInfo, Program, Subprog};
use crate::secdef::find_sec_def;
use std::collections::HashMap;

/// Slots all programs of one object may have together after linking:
/// shared subprograms are copied into every program that calls them, so
/// this bounds the work a hostile object can cause.
const LINK_BUDGET: usize = 8 << 20;

/// A variable of a global data section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalVar {
    /// The data section (`.rodata`, `.data`, `.bss`, `.data.custom`).
    pub section: String,
    /// The variable's name.
    pub name: String,
    /// Index of the section's map in `Object::maps`.
    pub map: usize,
    /// Byte offset in the map's value.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// A parsed BPF object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The programs, in section order and by offset within a section.
    pub programs: Vec<Program>,
    /// The maps: legacy `maps` definitions, then BTF-defined `.maps`,
    /// then one per global data section. Instructions refer to maps by
    /// their index here.
    pub maps: Vec<MapDef>,
    /// The `license` section's string (empty when absent).
    pub license: String,
    /// The `version` section's kernel version, if present.
    pub kern_version: Option<u32>,
    /// The variables of the global data sections.
    pub globals: Vec<GlobalVar>,
    /// The `.BTF` section, if present.
    pub btf: Option<Btf>,
    /// The `.BTF` section's bytes as the kernel loads them
    /// (`BPF_BTF_LOAD`), if present: `DATASEC` sizes and variable
    /// offsets filled in from the ELF sections and symbols (see
    /// [`crate::btf::fixup_datasecs`]). [`Program::func_info`] type ids
    /// refer to it.
    pub btf_raw: Option<Vec<u8>>,
}

/// Section sizes and variable symbols for the kernel's copy of `.BTF`.
impl ElfLayout for Elf<'_> {
    fn section_size(&self, section: &str) -> Option<u32> {
        let (_, s) = self.section_by_name(section)?;
        u32::try_from(s.size).ok()
    }

    fn var_offset(&self, section: &str, var: &str) -> Option<u32> {
        let (shndx, _) = self.section_by_name(section)?;
        let sym = self
            .symbols
            .iter()
            .find(|s| s.kind == STT_OBJECT && s.section == Some(shndx) && s.name == var)?;
        u32::try_from(sym.value).ok()
    }
}

/// Parses a BPF ELF object (clang `-target bpf`, libbpf conventions).
pub fn parse(bytes: &[u8]) -> Result<Object, ObjectError> {
    Object::parse(bytes)
}

impl Object {
    /// Parses a BPF ELF object (clang `-target bpf`, libbpf conventions).
    pub fn parse(bytes: &[u8]) -> Result<Object, ObjectError> {
        let elf = Elf::parse(bytes)?;
        let (btf, btf_raw) = match elf.section_by_name(".BTF") {
            Some((_, s)) => (
                Some(Btf::parse(s.data)?),
                Some(fixup_datasecs(s.data, &elf)?),
            ),
            None => (None, None),
        };
        let ext = match (elf.section_by_name(".BTF.ext"), &btf) {
            (Some((_, s)), Some(btf)) => Some(BtfExt::parse(s.data, btf)?),
            _ => None,
        };
        let (mut maps, index) = maps::collect(&elf, btf.as_ref())?;
        let code = Code::collect(&elf, &index, btf.as_ref(), ext.as_ref())?;
        let programs = build_programs(&code, btf.as_ref(), ext.as_ref())?;
        init_slots(&elf, &index, &programs, &mut maps)?;
        let globals = global_vars(&elf, btf.as_ref(), &index);
        Ok(Object {
            programs,
            license: license(&elf)?,
            kern_version: kern_version(&elf)?,
            maps,
            globals,
            btf,
            btf_raw,
        })
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map called `name`, with its index.
    pub fn map(&self, name: &str) -> Option<(usize, &MapDef)> {
        self.maps.iter().enumerate().find(|(_, m)| m.name == name)
    }

    /// Where global variable `name` of data section `section` lives:
    /// `(map index, offset, size)`.
    pub fn global_var(&self, section: &str, name: &str) -> Option<(usize, u32, u32)> {
        self.globals
            .iter()
            .find(|g| g.section == section && g.name == name)
            .map(|g| (g.map, g.offset, g.size))
    }

    /// Sets the initial value of a global variable before the maps are
    /// created, as a skeleton sets `rodata->knob`: this is how
    /// `volatile const` configuration reaches a program before
    /// verification. `value` must have the variable's size.
    pub fn set_global_var(
        &mut self,
        section: &str,
        name: &str,
        value: &[u8],
    ) -> Result<(), ObjectError> {
        let err = |msg: String| ObjectError::GlobalVar {
            section: section.to_owned(),
            name: name.to_owned(),
            msg,
        };
        let (map, offset, size) = self
            .global_var(section, name)
            .ok_or_else(|| err("no such variable".into()))?;
        if value.len() != size as usize {
            return Err(err(format!(
                "value has {} bytes, the variable {size}",
                value.len()
            )));
        }
        let init = self.maps[map]
            .initial_value
            .as_mut()
            .ok_or_else(|| err("its map has no initial value".into()))?;
        let start = offset as usize;
        let dst = init
            .get_mut(start..start + value.len())
            .ok_or_else(|| err(format!("bytes {start}+{size} lie outside the section")))?;
        dst.copy_from_slice(value);
        Ok(())
    }
}

/// The `license` section: a NUL-terminated string.
fn license(elf: &Elf<'_>) -> Result<String, ObjectError> {
    let Some((_, sec)) = elf.section_by_name("license") else {
        return Ok(String::new());
    };
    let end = sec
        .data
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(sec.data.len());
    std::str::from_utf8(&sec.data[..end])
        .map(str::to_owned)
        .map_err(|_| ObjectError::section("license", "not UTF-8"))
}

/// The `version` section: one `u32`.
fn kern_version(elf: &Elf<'_>) -> Result<Option<u32>, ObjectError> {
    let Some((_, sec)) = elf.section_by_name("version") else {
        return Ok(None);
    };
    match sec.data {
        [a, b, c, d] => Ok(Some(u32::from_le_bytes([*a, *b, *c, *d]))),
        _ => Err(ObjectError::section(
            "version",
            format!("{} bytes, not 4", sec.data.len()),
        )),
    }
}

/// Links every program entry of every program section.
fn build_programs(
    code: &Code,
    btf: Option<&Btf>,
    ext: Option<&BtfExt>,
) -> Result<Vec<Program>, ObjectError> {
    let mut budget = LINK_BUDGET;
    let lines = ext
        .map(|e| index_by_section(&e.line_info, |r| r.insn_off))
        .unwrap_or_default();
    let funcs = ext
        .map(|e| index_by_section(&e.func_info, |r| r.insn_off))
        .unwrap_or_default();
    let mut programs = Vec::new();
    for (fid, func) in code.funcs.iter().enumerate() {
        if !func.is_program {
            continue;
        }
        let section = &code.sections[&func.section].name;
        let sec_def =
            *find_sec_def(section).ok_or_else(|| ObjectError::UnknownSection(section.clone()))?;
        let linked = code.link(fid, &mut budget)?;
        let insns = rxdp_isa::decode_raw(&linked.raw).map_err(|source| ObjectError::Decode {
            program: func.name.clone(),
            source,
        })?;
        let line_info = match btf {
            Some(btf) => map_records(code, &linked, &lines, |r, insn| {
                Ok(LineInfo {
                    insn,
                    file: btf.string(r.file_name_off)?.to_owned(),
                    line: r.line(),
                    col: r.col(),
                    text: btf.string(r.line_off)?.to_owned(),
                })
            })?,
            None => Vec::new(),
        };
        let func_info = match btf {
            Some(btf) => map_records(code, &linked, &funcs, |r, insn| {
                Ok(FuncInfo {
                    insn,
                    type_id: r.type_id,
                    name: btf.type_name(r.type_id)?.to_owned(),
                })
            })?,
            None => Vec::new(),
        };
        let subprogs = linked.placed[1..]
            .iter()
            .map(|&(f, start)| {
                let f = &code.funcs[f];
                Subprog {
                    name: f.name.clone(),
                    section: code.sections[&f.section].name.clone(),
                    start,
                    len: f.len,
                }
            })
            .collect();
        programs.push(Program {
            name: func.name.clone(),
            section: section.clone(),
            sec_def,
            prog_type: sec_def.prog_type,
            expected_attach_type: sec_def.expected_attach_type,
            frags: sec_def.flags.xdp_frags,
            autoload: !section.starts_with('?'),
            own_len: func.len,
            insns,
            subprogs,
            func_info,
            line_info,
            unsupported: (!linked.unsupported.is_empty()).then(|| linked.unsupported.join("; ")),
        });
    }
    Ok(programs)
}

/// `.BTF.ext` records grouped by section name, sorted by instruction.
fn index_by_section<T: Copy>(
    groups: &[ExtSection<T>],
    key: impl Fn(&T) -> u32,
) -> HashMap<String, Vec<T>> {
    let mut out: HashMap<String, Vec<T>> = HashMap::new();
    for g in groups {
        out.entry(g.section.clone())
            .or_default()
            .extend(g.records.iter().copied());
    }
    for v in out.values_mut() {
        v.sort_by_key(&key);
    }
    out
}

/// Carries the records of every placed function over to the linked
/// program, at `start_in_program + (slot - start_in_section)`
/// (libbpf's `adjust_prog_btf_ext_info`).
fn map_records<T: Copy + HasInsnOff, U>(
    code: &Code,
    linked: &Linked,
    by_section: &HashMap<String, Vec<T>>,
    make: impl Fn(&T, usize) -> Result<U, crate::btf::BtfError>,
) -> Result<Vec<U>, ObjectError> {
    let mut placed = linked.placed.clone();
    placed.sort_by_key(|&(_, at)| at);
    let mut out = Vec::new();
    for (fid, at) in placed {
        let f = &code.funcs[fid];
        let Some(records) = by_section.get(&code.sections[&f.section].name) else {
            continue;
        };
        let lo = records.partition_point(|r| (r.insn_off() / 8) < f.start);
        for r in &records[lo..] {
            let slot = r.insn_off() / 8;
            if slot >= f.start + f.len {
                break;
            }
            out.push(make(r, at + slot - f.start)?);
        }
    }
    Ok(out)
}

/// Records keyed by a byte offset within their section.
trait HasInsnOff {
    fn insn_off(&self) -> usize;
}

impl HasInsnOff for crate::btf::ExtLineInfo {
    fn insn_off(&self) -> usize {
        self.insn_off as usize
    }
}

impl HasInsnOff for crate::btf::ExtFuncInfo {
    fn insn_off(&self) -> usize {
        self.insn_off as usize
    }
}

/// The initial `values` of prog arrays and maps of maps: relocations in
/// `.maps` against programs or maps (libbpf's
/// `bpf_object__collect_map_relos`).
fn init_slots(
    elf: &Elf<'_>,
    index: &MapIndex,
    programs: &[Program],
    maps: &mut [MapDef],
) -> Result<(), ObjectError> {
    let Some((shndx, _)) = elf.section_by_name(".maps") else {
        return Ok(());
    };
    let prog_names: std::collections::HashSet<&str> =
        programs.iter().map(|p| p.name.as_str()).collect();
    for rel in &elf.rels[shndx] {
        let err = |msg: String| ObjectError::Relocation {
            section: ".maps".into(),
            index: rel.index,
            offset: rel.offset,
            msg,
        };
        let sym = elf
            .symbols
            .get(rel.sym)
            .ok_or_else(|| err(format!("symbol index {} past the symbols", rel.sym)))?;
        // The last map starting at or before the relocation (sorted).
        let after = index.btf_maps.partition_point(|l| l.offset <= rel.offset);
        let loc = after
            .checked_sub(1)
            .map(|i| &index.btf_maps[i])
            .filter(|l| rel.offset.saturating_add(8) <= l.offset + l.size)
            .ok_or_else(|| err(format!("for {} lies in no map definition", sym.name)))?;
        let map = &maps[loc.map];
        let values_off = loc
            .values_off
            .ok_or_else(|| err(format!("map {} has no values member", map.name)))?;
        let moff = (rel.offset - loc.offset)
            .checked_sub(values_off)
            .filter(|m| m % 8 == 0)
            .ok_or_else(|| err(format!("not at a slot of map {}'s values", map.name)))?;
        let slot = u32::try_from(moff / 8).map_err(|_| err("slot index overflows".into()))?;
        let target = if map.is_map_in_map() {
            let inner = (sym.section == Some(shndx))
                .then(|| index.by_location.get(&(shndx, sym.value)))
                .flatten()
                .ok_or_else(|| err(format!("{} is not a BTF-defined map", sym.name)))?;
            SlotTarget::Map(*inner)
        } else {
            if sym.kind != STT_FUNC || !prog_names.contains(sym.name.as_str()) {
                return Err(err(format!("{} is not a program", sym.name)));
            }
            SlotTarget::Prog(sym.name.clone())
        };
        maps[loc.map].init_slots.push(InitSlot {
            index: slot,
            target,
        });
    }
    Ok(())
}

/// The variables of every global data section: its ELF `OBJECT` symbols,
/// plus BTF `DATASEC` variables that have no symbol.
fn global_vars(elf: &Elf<'_>, btf: Option<&Btf>, index: &MapIndex) -> Vec<GlobalVar> {
    let mut out = Vec::new();
    let mut data: Vec<(usize, usize)> = index
        .by_data_section
        .iter()
        .map(|(&s, &m)| (s, m))
        .collect();
    data.sort_unstable();
    for (shndx, map) in data {
        let section = &elf.sections[shndx].name;
        for sym in elf
            .symbols
            .iter()
            .filter(|s| s.section == Some(shndx) && s.kind == STT_OBJECT)
        {
            let (Ok(offset), Ok(size)) = (u32::try_from(sym.value), u32::try_from(sym.size)) else {
                continue;
            };
            out.push(GlobalVar {
                section: section.clone(),
                name: sym.name.clone(),
                map,
                offset,
                size,
            });
        }
        let Some((_, vars)) = btf.and_then(|b| b.datasec(section)) else {
            continue;
        };
        for vi in vars {
            let Some(btf) = btf else { break };
            let Ok(t) = btf.type_by_id(vi.ty) else {
                continue;
            };
            let (BtfKind::Var { linkage: link, .. }, Ok(name)) = (&t.kind, btf.string(t.name_off))
            else {
                continue;
            };
            // Global variables' DATASEC offsets are only fixed up from the
            // symbols, which were taken above.
            if *link != linkage::STATIC
                || out.iter().any(|g| g.section == *section && g.name == name)
            {
                continue;
            }
            out.push(GlobalVar {
                section: section.clone(),
                name: name.to_owned(),
                map,
                offset: vi.offset,
                size: vi.size,
            });
        }
    }
    out
}
