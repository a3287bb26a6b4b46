//! Map definitions, from the three places a BPF object declares maps:
//!
//! - `.maps`, BTF-defined maps (libbpf's `bpf_object__init_user_btf_maps`
//!   and `parse_btf_map_def`): each variable of the `.maps` DATASEC is a
//!   struct whose members encode the definition in their *types*:
//!   `__uint(name, N)` is `int (*name)[N]`, `__type(name, T)` is
//!   `typeof(T) *name`, `__array(name, T)` is `typeof(T) *name[]`;
//! - `maps`, the legacy `struct bpf_map_def` array, one symbol per map;
//! - global data: `.data*`, `.rodata*` and `.bss*` sections, each a
//!   single-element array map holding the section
//!   (`bpf_object__init_global_data_maps`).
//!
//! Maps are numbered in that order; relocations refer to them by this
//! index ([`rxdp_isa::Pseudo::MapIdx`]).

use crate::btf::{Btf, BtfKind, Member, linkage};
use crate::elf::{Elf, SHT_NOBITS, SHT_PROGBITS, STT_FILE, STT_OBJECT, STT_SECTION};
use crate::error::ObjectError;
use rxdp_isa::maptype;
use std::collections::HashMap;

/// `BPF_F_RDONLY_PROG`: programs may only read the map (`.rodata*`).
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`: the array may be mmap()ed; libbpf sets it on every
/// global data map.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// The largest value of an array map the kernel accepts
/// (`KMALLOC_MAX_SIZE` with 4 KiB pages), which bounds global data maps.
pub const MAX_DATA_SECTION: u64 = 4 << 20;

/// `LIBBPF_PIN_*`: whether and how a map is pinned in bpffs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pinning {
    /// `LIBBPF_PIN_NONE` (0).
    #[default]
    None,
    /// `LIBBPF_PIN_BY_NAME` (1): pinned under the map's name.
    ByName,
}

/// Where a map was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapOrigin {
    /// A BTF-defined map in `.maps`.
    Btf,
    /// A `struct bpf_map_def` in the legacy `maps` section.
    Legacy,
    /// A global data section (`.data*`, `.rodata*`, `.bss*`).
    GlobalData,
}

/// What an initial slot of a prog array or map of maps holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotTarget {
    /// A program, by name (a prog array's `values`).
    Prog(String),
    /// A map, by index into `Object::maps` (a map of maps' `values`).
    Map(usize),
}

/// One initialised element of a prog array or map of maps
/// (`.values = { [1] = &prog }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitSlot {
    /// The key (array index).
    pub index: u32,
    /// What it holds.
    pub target: SlotTarget,
}

/// A map as the object defines it, before it is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// The map's name: the variable or symbol name, or for global data
    /// the section name (`.rodata`, `.data.custom`); for an inner map
    /// template `<outer>.inner`.
    pub name: String,
    /// The ELF section that declared it (`.maps`, `maps`, `.bss`, ...).
    pub section: String,
    /// Where it came from.
    pub origin: MapOrigin,
    /// `enum bpf_map_type` ([`rxdp_isa::maptype`]).
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of elements.
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_*`).
    pub map_flags: u32,
    /// NUMA node (`numa_node`), 0 unless given.
    pub numa_node: u32,
    /// `map_extra` (bloom filter hash count, arena address).
    pub map_extra: u64,
    /// Pinning.
    pub pinning: Pinning,
    /// Whether programs may only read it (`.rodata*`).
    pub readonly: bool,
    /// BTF type id of the key (0: none).
    pub btf_key_type_id: u32,
    /// BTF type id of the value (0: none).
    pub btf_value_type_id: u32,
    /// The byte offset of the `struct bpf_spin_lock` in the value, found
    /// in the value's BTF as the kernel's `btf_parse_fields` finds it;
    /// `None` when the value holds none (or has no BTF). Global data
    /// maps are not searched.
    pub spin_lock_off: Option<u32>,
    /// For global data: the single element's initial bytes (zeros for
    /// `.bss`). `None` for other maps.
    pub initial_value: Option<Vec<u8>>,
    /// Initial elements of a prog array or map of maps.
    pub init_slots: Vec<InitSlot>,
    /// The inner map template of a map of maps (`__array(values, struct
    /// inner)`).
    pub inner: Option<Box<MapDef>>,
}

impl MapDef {
    fn new(name: &str, section: &str, origin: MapOrigin) -> MapDef {
        MapDef {
            name: name.to_owned(),
            section: section.to_owned(),
            origin,
            map_type: maptype::UNSPEC,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            map_flags: 0,
            numa_node: 0,
            map_extra: 0,
            pinning: Pinning::None,
            readonly: false,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            spin_lock_off: None,
            initial_value: None,
            init_slots: Vec::new(),
            inner: None,
        }
    }

    /// Whether the map's values are maps (array or hash of maps).
    pub fn is_map_in_map(&self) -> bool {
        matches!(
            self.map_type,
            maptype::ARRAY_OF_MAPS | maptype::HASH_OF_MAPS
        )
    }
}

/// Where each map lives in the ELF file, to resolve relocations.
#[derive(Debug, Default)]
pub(crate) struct MapIndex {
    /// `(section, offset)` of each `.maps`/`maps` definition → map index.
    pub(crate) by_location: HashMap<(usize, u64), usize>,
    /// Global data section → map index.
    pub(crate) by_data_section: HashMap<usize, usize>,
    /// The legacy `maps` and the `.maps` section indices.
    pub(crate) map_sections: Vec<usize>,
    /// BTF maps: `(map index, offset, size, byte offset of "values")`.
    pub(crate) btf_maps: Vec<BtfMapLoc>,
}

/// The placement of a BTF-defined map within `.maps`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BtfMapLoc {
    pub(crate) map: usize,
    pub(crate) offset: u64,
    pub(crate) size: u64,
    /// Byte offset of the `values` member, when it is the last member.
    pub(crate) values_off: Option<u64>,
}

/// Collects every map of the object, in libbpf's order.
pub(crate) fn collect(
    elf: &Elf<'_>,
    btf: Option<&Btf>,
) -> Result<(Vec<MapDef>, MapIndex), ObjectError> {
    let mut maps = Vec::new();
    let mut index = MapIndex::default();
    if let Some((shndx, _)) = elf.section_by_name("maps") {
        legacy_maps(elf, shndx, &mut maps, &mut index)?;
    }
    if let Some((shndx, sec)) = elf.section_by_name(".maps")
        && !sec.data.is_empty()
    {
        let btf = btf
            .ok_or_else(|| ObjectError::section(".maps", "BTF-defined maps need a .BTF section"))?;
        btf_maps(elf, btf, shndx, &mut maps, &mut index)?;
    }
    data_maps(elf, &mut maps, &mut index)?;
    Ok((maps, index))
}

/// The legacy `maps` section: `struct bpf_map_def { type, key_size,
/// value_size, max_entries, map_flags }`, all `u32`, one per symbol, the
/// definition size being the section size over the number of symbols
/// (libbpf's rule; longer definitions must have zeros past the known
/// fields).
fn legacy_maps(
    elf: &Elf<'_>,
    shndx: usize,
    maps: &mut Vec<MapDef>,
    index: &mut MapIndex,
) -> Result<(), ObjectError> {
    let sec = &elf.sections[shndx];
    let mut syms: Vec<_> = elf
        .symbols
        .iter()
        .filter(|s| s.section == Some(shndx) && s.kind != STT_SECTION && s.kind != STT_FILE)
        .collect();
    if syms.is_empty() {
        return Ok(());
    }
    syms.sort_by_key(|s| s.value);
    let size = sec.data.len();
    if size == 0 || !size.is_multiple_of(syms.len()) {
        return Err(ObjectError::section(
            "maps",
            format!(
                "size {size} is not a multiple of its {} map symbols",
                syms.len()
            ),
        ));
    }
    let def_size = size / syms.len();
    index.map_sections.push(shndx);
    for sym in syms {
        let start = usize::try_from(sym.value)
            .ok()
            .filter(|v| v.checked_add(def_size).is_some_and(|e| e <= size));
        let start = start.ok_or_else(|| {
            ObjectError::map(
                &sym.name,
                format!("definition at {:#x} overruns the maps section", sym.value),
            )
        })?;
        let bytes = &sec.data[start..start + def_size];
        let field = |i: usize| {
            bytes
                .get(4 * i..4 * i + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if bytes.len() > 20 && bytes[20..].iter().any(|&b| b != 0) {
            return Err(ObjectError::map(
                &sym.name,
                "legacy definition has unknown non-zero fields past map_flags",
            ));
        }
        let mut def = MapDef::new(&sym.name, "maps", MapOrigin::Legacy);
        def.map_type = field(0);
        def.key_size = field(1);
        def.value_size = field(2);
        def.max_entries = field(3);
        def.map_flags = field(4);
        index.by_location.insert((shndx, sym.value), maps.len());
        maps.push(def);
    }
    Ok(())
}

/// BTF-defined maps: the variables of the `.maps` DATASEC.
fn btf_maps(
    elf: &Elf<'_>,
    btf: &Btf,
    shndx: usize,
    maps: &mut Vec<MapDef>,
    index: &mut MapIndex,
) -> Result<(), ObjectError> {
    let sec_size = elf.sections[shndx].data.len() as u64;
    let symbols: HashMap<&str, &crate::elf::Symbol> = elf
        .symbols
        .iter()
        .filter(|s| s.section == Some(shndx) && s.kind == STT_OBJECT)
        .map(|s| (s.name.as_str(), s))
        .collect();
    let (_, vars) = btf
        .datasec(".maps")
        .ok_or_else(|| ObjectError::section(".maps", "no DATASEC .maps in BTF"))?;
    index.map_sections.push(shndx);
    for vi in vars {
        let var = btf.type_by_id(vi.ty)?;
        let name = btf.string(var.name_off)?.to_owned();
        let BtfKind::Var { ty, linkage: link } = var.kind else {
            return Err(ObjectError::map(
                &name,
                format!(
                    ".maps DATASEC entry [{}] is {}, not VAR",
                    vi.ty,
                    var.kind_name()
                ),
            ));
        };
        if link != linkage::GLOBAL && link != linkage::STATIC {
            return Err(ObjectError::map(
                &name,
                format!("unsupported linkage {link}"),
            ));
        }
        let (offset, size) = map_placement(
            symbols.get(name.as_str()).copied(),
            &name,
            link,
            vi.offset,
            vi.size,
        )?;
        if offset.checked_add(size).is_none_or(|end| end > sec_size) {
            return Err(ObjectError::map(
                &name,
                format!("definition at {offset:#x}+{size:#x} overruns .maps ({sec_size:#x})"),
            ));
        }
        let (_, def_t) = btf.skip_mods_and_typedefs(ty)?;
        let BtfKind::Composite {
            union: false,
            members,
            ..
        } = &def_t.kind
        else {
            return Err(ObjectError::map(
                &name,
                format!("definition is {}, not a struct", def_t.kind_name()),
            ));
        };
        let def = parse_btf_map_def(btf, &name, members, false)?;
        let values_off = members
            .last()
            .filter(|m| btf.string(m.name_off).ok() == Some("values"))
            .map(|m| u64::from(m.bit_offset / 8));
        index.by_location.insert((shndx, offset), maps.len());
        index.btf_maps.push(BtfMapLoc {
            map: maps.len(),
            offset,
            size,
            values_off,
        });
        maps.push(def);
    }
    index.btf_maps.sort_by_key(|l| l.offset);
    Ok(())
}

/// Clang leaves the DATASEC offsets of global variables at 0; libbpf
/// takes them from the ELF symbols (`btf_fixup_datasec`). A static
/// variable without a symbol keeps its DATASEC offset.
fn map_placement(
    sym: Option<&crate::elf::Symbol>,
    name: &str,
    link: u32,
    btf_offset: u32,
    btf_size: u32,
) -> Result<(u64, u64), ObjectError> {
    match (sym, link) {
        (Some(s), _) => Ok((s.value, s.size.max(u64::from(btf_size)))),
        (None, linkage::STATIC) => Ok((u64::from(btf_offset), u64::from(btf_size))),
        (None, _) => Err(ObjectError::map(
            name,
            "no ELF symbol for this .maps variable",
        )),
    }
}

/// Decodes one map definition struct (libbpf's `parse_btf_map_def`).
fn parse_btf_map_def(
    btf: &Btf,
    name: &str,
    members: &[Member],
    is_inner: bool,
) -> Result<MapDef, ObjectError> {
    let mut def = MapDef::new(name, ".maps", MapOrigin::Btf);
    for (i, m) in members.iter().enumerate() {
        let field = btf.string(m.name_off)?;
        let err = |msg: String| ObjectError::map(name, format!("field {field}: {msg}"));
        match field {
            "type" => def.map_type = field_u32(btf, m).map_err(err)?,
            "max_entries" => def.max_entries = field_u32(btf, m).map_err(err)?,
            "map_flags" => def.map_flags = field_u32(btf, m).map_err(err)?,
            "numa_node" => def.numa_node = field_u32(btf, m).map_err(err)?,
            "map_extra" => def.map_extra = field_u64(btf, m).map_err(err)?,
            "key_size" => {
                set_size(&mut def.key_size, field_u32(btf, m).map_err(err)?).map_err(err)?
            }
            "value_size" => {
                set_size(&mut def.value_size, field_u32(btf, m).map_err(err)?).map_err(err)?
            }
            "key" => {
                let (id, size) = pointee_size(btf, m).map_err(err)?;
                set_size(&mut def.key_size, size).map_err(err)?;
                def.btf_key_type_id = id;
            }
            "value" => {
                let (id, size) = pointee_size(btf, m).map_err(err)?;
                set_size(&mut def.value_size, size).map_err(err)?;
                def.btf_value_type_id = id;
            }
            "pinning" => {
                if is_inner {
                    return Err(err("inner maps cannot be pinned".into()));
                }
                def.pinning = match field_u32(btf, m).map_err(err)? {
                    0 => Pinning::None,
                    1 => Pinning::ByName,
                    v => return Err(err(format!("invalid pinning value {v}"))),
                };
            }
            "values" => {
                if is_inner {
                    return Err(err("multi-level inner maps are not supported".into()));
                }
                if i + 1 != members.len() {
                    return Err(err("must be the last member".into()));
                }
                def.inner = parse_values(btf, name, &mut def, m).map_err(err)?;
            }
            _ => return Err(ObjectError::map(name, format!("unknown field {field}"))),
        }
    }
    if def.btf_value_type_id != 0 {
        def.spin_lock_off = find_spin_lock(btf, def.btf_value_type_id)
            .map_err(|e| ObjectError::map(name, format!("value type: {e}")))?;
    }
    Ok(def)
}

/// `sizeof(struct bpf_spin_lock)`, also its alignment.
const SPIN_LOCK_SIZE: u32 = 4;
/// How deep nested structs are searched (the kernel's `MAX_RESOLVE_DEPTH`).
const MAX_NESTING: u32 = 32;

/// The offset of the `struct bpf_spin_lock` in values of BTF type
/// `value_type`, as the kernel's `btf_parse_fields` finds it
/// (kernel/bpf/btf.c `btf_find_struct_field`): the value type itself is
/// taken through typedefs and modifiers and must be a struct; each
/// member's own type (not through typedefs or modifiers) is a lock when
/// it is a 4-byte STRUCT named `bpf_spin_lock` at a 4-byte aligned
/// offset (a misaligned one is ignored), and members of struct type are
/// searched in turn, arrays of them element by element. Two locks, or a
/// lock repeated by an array, are errors (the kernel's `-E2BIG` and
/// `-EINVAL`).
pub(crate) fn find_spin_lock(btf: &Btf, value_type: u32) -> Result<Option<u32>, String> {
    let (_, t) = btf
        .skip_mods_and_typedefs(value_type)
        .map_err(|e| e.to_string())?;
    let BtfKind::Composite {
        union: false,
        members,
        ..
    } = &t.kind
    else {
        return Ok(None);
    };
    let mut found = None;
    search_members(btf, members, 0, 0, &mut found)?;
    Ok(found)
}

/// Searches `members` (of a struct at byte `base` of the value) for
/// spin locks, recording the one found in `found`.
fn search_members(
    btf: &Btf,
    members: &[Member],
    base: u32,
    depth: u32,
    found: &mut Option<u32>,
) -> Result<(), String> {
    if depth >= MAX_NESTING {
        return Err("structs nested too deeply".into());
    }
    for m in members {
        // Bitfields hold no lock; a lock is byte-aligned.
        if m.bitfield_size != 0 || !m.bit_offset.is_multiple_of(8) {
            continue;
        }
        let off = base.saturating_add(m.bit_offset / 8);
        let (ty, nelems) = array_element(btf, m.ty)?;
        if nelems == 0 {
            continue;
        }
        let t = btf.type_by_id(ty).map_err(|e| e.to_string())?;
        let BtfKind::Composite {
            union: false,
            size,
            members: inner,
        } = &t.kind
        else {
            continue;
        };
        let is_lock = btf.string(t.name_off).map_err(|e| e.to_string())? == "bpf_spin_lock";
        if !is_lock {
            let before = *found;
            search_members(btf, inner, off, depth + 1, found)?;
            if nelems > 1 && *found != before {
                return Err("a bpf_spin_lock inside an array of structs".into());
            }
            continue;
        }
        if *size != SPIN_LOCK_SIZE || !off.is_multiple_of(SPIN_LOCK_SIZE) {
            continue;
        }
        if found.is_some() {
            return Err("more than one bpf_spin_lock".into());
        }
        if nelems > 1 {
            return Err("an array of bpf_spin_lock".into());
        }
        *found = Some(off);
    }
    Ok(())
}

/// The element type of `ty` through (nested) arrays, with the number of
/// elements they hold in all; `ty` itself and 1 for other types.
fn array_element(btf: &Btf, ty: u32) -> Result<(u32, u64), String> {
    let mut ty = ty;
    let mut nelems: u64 = 1;
    for _ in 0..MAX_NESTING {
        match btf.type_by_id(ty).map_err(|e| e.to_string())?.kind {
            BtfKind::Array {
                elem, nelems: n, ..
            } => {
                nelems = nelems.saturating_mul(u64::from(n));
                ty = elem;
            }
            _ => return Ok((ty, nelems)),
        }
    }
    Err("arrays nested too deeply".into())
}

/// The `values` member: a zero-sized array of pointers to a function
/// prototype (prog array) or to an inner map definition (map of maps).
fn parse_values(
    btf: &Btf,
    name: &str,
    def: &mut MapDef,
    m: &Member,
) -> Result<Option<Box<MapDef>>, String> {
    let is_prog_array = def.map_type == maptype::PROG_ARRAY;
    if !def.is_map_in_map() && !is_prog_array {
        return Err(format!(
            "map type {} has no values array (prog array or map of maps only)",
            maptype::describe(def.map_type)
        ));
    }
    set_size(&mut def.value_size, 4)?;
    let t = btf.type_by_id(m.ty).map_err(|e| e.to_string())?;
    let BtfKind::Array {
        elem, nelems: 0, ..
    } = t.kind
    else {
        return Err("not a zero-sized array".into());
    };
    let (_, ptr) = btf
        .skip_mods_and_typedefs(elem)
        .map_err(|e| e.to_string())?;
    let BtfKind::Ptr(target) = ptr.kind else {
        return Err(format!("array of {}, not of pointers", ptr.kind_name()));
    };
    let (_, t) = btf
        .skip_mods_and_typedefs(target)
        .map_err(|e| e.to_string())?;
    match (&t.kind, is_prog_array) {
        (BtfKind::FuncProto { .. }, true) => Ok(None),
        (
            BtfKind::Composite {
                union: false,
                members,
                ..
            },
            false,
        ) => {
            let inner = parse_btf_map_def(btf, &format!("{name}.inner"), members, true)
                .map_err(|e| e.to_string())?;
            Ok(Some(Box::new(inner)))
        }
        _ => Err(format!(
            "pointers to {}, not to a {}",
            t.kind_name(),
            if is_prog_array {
                "function prototype"
            } else {
                "map definition struct"
            }
        )),
    }
}

/// Sets a key or value size, refusing two different sizes.
fn set_size(slot: &mut u32, size: u32) -> Result<(), String> {
    if *slot != 0 && *slot != size {
        return Err(format!("conflicting sizes {} and {size}", *slot));
    }
    *slot = size;
    Ok(())
}

/// `__type(name, T)`: a pointer to `T`; the size is `sizeof(T)`.
fn pointee_size(btf: &Btf, m: &Member) -> Result<(u32, u32), String> {
    let t = btf.type_by_id(m.ty).map_err(|e| e.to_string())?;
    let BtfKind::Ptr(target) = t.kind else {
        return Err(format!("is {}, not a pointer (__type)", t.kind_name()));
    };
    let size = btf.resolve_size(target).map_err(|e| e.to_string())?;
    Ok((target, size as u32))
}

/// `__uint(name, N)` (pointer to an array of N) or `__ulong(name, N)` (an
/// enum whose only value is N).
fn field_u64(btf: &Btf, m: &Member) -> Result<u64, String> {
    let (_, t) = btf
        .skip_mods_and_typedefs(m.ty)
        .map_err(|e| e.to_string())?;
    match &t.kind {
        BtfKind::Ptr(target) => {
            let arr = btf.type_by_id(*target).map_err(|e| e.to_string())?;
            match arr.kind {
                BtfKind::Array { nelems, .. } => Ok(u64::from(nelems)),
                _ => Err(format!(
                    "points to {}, not an array (__uint)",
                    arr.kind_name()
                )),
            }
        }
        BtfKind::Enum { values, .. } if values.len() == 1 => Ok(values[0].value),
        _ => Err(format!("is {}, not __uint or __ulong", t.kind_name())),
    }
}

fn field_u32(btf: &Btf, m: &Member) -> Result<u32, String> {
    let v = field_u64(btf, m)?;
    u32::try_from(v).map_err(|_| format!("value {v} does not fit 32 bits"))
}

/// Whether section `name` holds global data, and which kind (libbpf's
/// `bpf_object__elf_collect` rules).
fn data_kind(name: &str, sh_type: u32) -> Option<bool> {
    let is =
        |base: &str| name == base || name.strip_prefix(base).is_some_and(|r| r.starts_with('.'));
    match sh_type {
        SHT_PROGBITS if is(".data") => Some(false),
        SHT_PROGBITS if is(".rodata") => Some(true),
        SHT_NOBITS if is(".bss") => Some(false),
        _ => None,
    }
}

/// One single-element array map per non-empty global data section.
fn data_maps(
    elf: &Elf<'_>,
    maps: &mut Vec<MapDef>,
    index: &mut MapIndex,
) -> Result<(), ObjectError> {
    for (shndx, sec) in elf.sections.iter().enumerate() {
        let Some(readonly) = data_kind(&sec.name, sec.sh_type) else {
            continue;
        };
        if sec.exec || sec.size == 0 {
            continue;
        }
        if sec.size > MAX_DATA_SECTION {
            return Err(ObjectError::section(
                &sec.name,
                format!(
                    "size {} exceeds the largest array map value ({MAX_DATA_SECTION} bytes)",
                    sec.size
                ),
            ));
        }
        let mut def = MapDef::new(&sec.name, &sec.name, MapOrigin::GlobalData);
        def.map_type = maptype::ARRAY;
        def.key_size = 4;
        def.value_size = sec.size as u32;
        def.max_entries = 1;
        def.map_flags = BPF_F_MMAPABLE | if readonly { BPF_F_RDONLY_PROG } else { 0 };
        def.readonly = readonly;
        def.initial_value = Some(if sec.sh_type == SHT_NOBITS {
            vec![0; sec.size as usize]
        } else {
            sec.data.to_vec()
        });
        index.by_data_section.insert(shndx, maps.len());
        maps.push(def);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal `.BTF` writer: types in order (ids from 1), names
    /// interned; enough for the value types of the spin lock search.
    #[derive(Default)]
    struct BtfWriter {
        types: Vec<u8>,
        strings: Vec<u8>,
        next_id: u32,
    }

    impl BtfWriter {
        fn new() -> Self {
            BtfWriter {
                strings: vec![0],
                next_id: 1,
                ..Self::default()
            }
        }

        fn name(&mut self, s: &str) -> u32 {
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        fn push(&mut self, words: &[u32]) -> u32 {
            for w in words {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
            self.next_id += 1;
            self.next_id - 1
        }

        /// `BTF_KIND_INT` of `size` bytes.
        fn int(&mut self, size: u32) -> u32 {
            let n = self.name("int");
            self.push(&[n, 1 << 24, size, size * 8])
        }

        /// `BTF_KIND_STRUCT` with members (name, type, byte offset).
        fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            let n = self.name(name);
            let mut words = vec![n, 4 << 24 | members.len() as u32, size];
            for &(m, ty, off) in members {
                let mn = self.name(m);
                words.extend([mn, ty, off * 8]);
            }
            self.push(&words)
        }

        /// `BTF_KIND_ARRAY` of `nelems` elements of `elem`.
        fn array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
            self.push(&[0, 3 << 24, 0, elem, index, nelems])
        }

        /// `BTF_KIND_CONST` of `ty`.
        fn konst(&mut self, ty: u32) -> u32 {
            self.push(&[0, 10 << 24, ty])
        }

        /// `BTF_KIND_TYPEDEF` `name` of `ty`.
        fn typedef(&mut self, name: &str, ty: u32) -> u32 {
            let n = self.name(name);
            self.push(&[n, 8 << 24, ty])
        }

        fn lock(&mut self) -> u32 {
            let int = self.int(4);
            self.strukt("bpf_spin_lock", 4, &[("val", int, 0)])
        }

        fn finish(self) -> Btf {
            let mut b = Vec::new();
            b.extend_from_slice(&0xeb9fu16.to_le_bytes());
            b.extend_from_slice(&[1, 0]);
            let tl = self.types.len() as u32;
            for w in [24, 0, tl, tl, self.strings.len() as u32] {
                b.extend_from_slice(&w.to_le_bytes());
            }
            b.extend_from_slice(&self.types);
            b.extend_from_slice(&self.strings);
            Btf::parse(&b).unwrap()
        }
    }

    #[test]
    fn locks_are_found_at_the_top_and_in_nested_structs() {
        let mut w = BtfWriter::new();
        let u64t = w.int(8);
        let lock = w.lock();
        let top = w.strukt("top", 16, &[("n", u64t, 0), ("l", lock, 8)]);
        let inner = w.strukt("inner", 8, &[("n", u64t, 0)]);
        let holder = w.strukt("holder", 8, &[("pad", u64t, 0), ("l", lock, 4)]);
        let nested = w.strukt("nested", 24, &[("i", inner, 0), ("h", holder, 8)]);
        let td = w.typedef("top_t", top);
        let one = w.array(lock, u64t, 1);
        let single = w.strukt("single", 8, &[("l", one, 4)]);
        let btf = w.finish();
        assert_eq!(find_spin_lock(&btf, top), Ok(Some(8)));
        assert_eq!(find_spin_lock(&btf, td), Ok(Some(8)), "value typedef");
        assert_eq!(find_spin_lock(&btf, nested), Ok(Some(12)), "8 + 4");
        assert_eq!(find_spin_lock(&btf, single), Ok(Some(4)), "lock[1]");
        assert_eq!(find_spin_lock(&btf, inner), Ok(None));
        assert_eq!(find_spin_lock(&btf, u64t), Ok(None), "not a struct");
    }

    #[test]
    fn misaligned_qualified_or_misnamed_locks_are_not_locks() {
        let mut w = BtfWriter::new();
        let u32t = w.int(4);
        let lock = w.lock();
        let other = w.strukt("not_a_lock", 4, &[("val", u32t, 0)]);
        let c = w.konst(lock);
        let td = w.typedef("lock_t", lock);
        let misaligned = w.strukt("m", 8, &[("l", lock, 2)]);
        let qualified = w.strukt("q", 8, &[("l", c, 0), ("t", td, 4)]);
        let misnamed = w.strukt("n", 4, &[("l", other, 0)]);
        let btf = w.finish();
        for ty in [misaligned, qualified, misnamed] {
            assert_eq!(find_spin_lock(&btf, ty), Ok(None), "type {ty}");
        }
    }

    #[test]
    fn two_locks_or_repeated_locks_are_refused() {
        let mut w = BtfWriter::new();
        let u64t = w.int(8);
        let lock = w.lock();
        let two = w.strukt("two", 8, &[("a", lock, 0), ("b", lock, 4)]);
        let holder = w.strukt("holder", 8, &[("l", lock, 0)]);
        let across = w.strukt("across", 16, &[("l", lock, 0), ("h", holder, 8)]);
        let locks = w.array(lock, u64t, 2);
        let arr = w.strukt("arr", 8, &[("l", locks, 0)]);
        let holders = w.array(holder, u64t, 2);
        let arr_nested = w.strukt("arr_nested", 16, &[("h", holders, 0)]);
        let btf = w.finish();
        for (ty, msg) in [
            (two, "more than one"),
            (across, "more than one"),
            (arr, "array of bpf_spin_lock"),
            (arr_nested, "array of structs"),
        ] {
            let e = find_spin_lock(&btf, ty).unwrap_err();
            assert!(e.contains(msg), "{ty}: {e}");
        }
    }
}
