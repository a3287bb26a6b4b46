//! The `.BTF` section as the kernel accepts it (`BPF_BTF_LOAD`).
//!
//! In an object straight from clang, a `DATASEC` has size 0 and its
//! global variables may have offset 0: the linker, not the compiler,
//! decides where things land. The kernel refuses such a `DATASEC`
//! (`btf_datasec_check_meta` in kernel/bpf/btf.c: "size == 0", and
//! variables must lie inside the section in increasing, non-overlapping
//! order). As libbpf's `btf_fixup_datasec` does, the size is taken from
//! the ELF section of the same name, each variable's offset from its ELF
//! symbol, and the variables are sorted by offset.
//!
//! Extern declarations (`__ksym`, `__kconfig`) are refused too: the
//! kernel knows no extern linkage, and their `DATASEC`s (`.ksyms`,
//! `.kconfig`) name no ELF section. libbpf resolves them against the
//! kernel; rxdp, which runs no program that uses them, only neutralises
//! them so the rest of the BTF loads: extern functions become static
//! (their unnamed parameters named after the function, as the kernel
//! wants named parameters), extern variables global, and a `DATASEC` of
//! a section the file does not have an anonymous empty struct. Every
//! type keeps its id.

use super::BtfError;
use super::reader::Bytes;
use super::types::{Btf, BtfKind, TYPE_HEADER, linkage, parse_type};
use std::collections::HashMap;

/// Size of `struct btf_var_secinfo` (type, offset, size) and of a
/// struct member record.
const SECINFO: usize = 12;
/// Size of `struct btf_param` (name_off, type).
const PARAM: usize = 8;
/// Size of `struct btf_header`.
const HEADER: usize = 24;
/// `BTF_KIND_STRUCT`.
const KIND_STRUCT: u32 = 4;

/// Where the ELF file puts the things a `DATASEC` describes.
pub trait ElfLayout {
    /// The size of the section called `section`, if the file has it.
    fn section_size(&self, section: &str) -> Option<u32>;
    /// The offset of variable `var` in section `section`, from its
    /// symbol, if it has one.
    fn var_offset(&self, section: &str, var: &str) -> Option<u32>;
}

/// A copy of the `.BTF` section `raw` that the kernel accepts: every
/// `DATASEC` sized and its variables placed and sorted as `layout` says,
/// extern declarations neutralised (see the module documentation).
/// Fails only if `raw` is not valid BTF.
pub fn fixup_datasecs(raw: &[u8], layout: &impl ElfLayout) -> Result<Vec<u8>, BtfError> {
    let btf = Btf::parse(raw)?;
    let (types, strings) = parts(raw)?;
    // FUNC_PROTO id -> the name_off of an extern function using it.
    let mut extern_protos = HashMap::new();
    for (_, t) in btf.types() {
        if let BtfKind::Func {
            proto,
            linkage: linkage::EXTERN,
        } = t.kind
        {
            extern_protos.entry(proto).or_insert(t.name_off);
        }
    }
    let mut out_types = Vec::with_capacity(types.len());
    let mut off = 0;
    let mut id = 1u32;
    while off < types.len() {
        let (t, len) = parse_type(Bytes(types), off, id)?;
        let mut rec = types[off..off + len].to_vec();
        match &t.kind {
            BtfKind::Datasec { size, vars } => {
                let section = btf.string(t.name_off)?;
                match layout.section_size(section) {
                    Some(elf_size) => {
                        place_vars(&btf, layout, section, *size, elf_size, vars, &mut rec)?
                    }
                    None => rec = empty_struct(),
                }
            }
            BtfKind::Func {
                linkage: linkage::EXTERN,
                ..
            } => put_u32(&mut rec, 4, (12 << 24) | linkage::STATIC),
            BtfKind::Var {
                linkage: linkage::EXTERN,
                ..
            } => put_u32(&mut rec, TYPE_HEADER, linkage::GLOBAL),
            BtfKind::FuncProto { params, .. } => {
                if let Some(&name) = extern_protos.get(&id) {
                    for (i, p) in params.iter().enumerate() {
                        if p.ty != 0 && p.name_off == 0 {
                            put_u32(&mut rec, TYPE_HEADER + PARAM * i, name);
                        }
                    }
                }
            }
            _ => {}
        }
        out_types.extend_from_slice(&rec);
        off += len;
        id += 1;
    }
    Ok(assemble(raw, &out_types, strings))
}

/// Sizes a `DATASEC` from its ELF section (unless it has a size) and
/// places and sorts its variables, in its record `rec`.
fn place_vars(
    btf: &Btf,
    layout: &impl ElfLayout,
    section: &str,
    size: u32,
    elf_size: u32,
    vars: &[super::VarSecinfo],
    rec: &mut [u8],
) -> Result<(), BtfError> {
    let size = if size == 0 { elf_size } else { size };
    let mut placed = vars.to_vec();
    for v in &mut placed {
        if let Some(at) = layout.var_offset(section, btf.type_name(v.ty)?) {
            v.offset = at;
        }
    }
    placed.sort_by_key(|v| v.offset);
    put_u32(rec, 8, size);
    for (i, v) in placed.iter().enumerate() {
        let at = TYPE_HEADER + SECINFO * i;
        put_u32(rec, at, v.ty);
        put_u32(rec, at + 4, v.offset);
        put_u32(rec, at + 8, v.size);
    }
    Ok(())
}

/// `struct {}`, anonymous: a type the kernel accepts that describes
/// nothing.
fn empty_struct() -> Vec<u8> {
    [0, KIND_STRUCT << 24, 0]
        .iter()
        .flat_map(|w: &u32| w.to_le_bytes())
        .collect()
}

/// The type and string sections of valid BTF (`Btf::parse` checked the
/// header).
fn parts(raw: &[u8]) -> Result<(&[u8], &[u8]), BtfError> {
    let b = Bytes(raw);
    let malformed = || BtfError::Header {
        section: ".BTF",
        msg: "parts outside the data".into(),
    };
    let field = |i: usize| {
        b.u32_at(4 + 4 * i)
            .map(|v| v as usize)
            .ok_or_else(malformed)
    };
    let hdr_len = field(0)?;
    let part = |off: usize, len: usize| {
        hdr_len
            .checked_add(off)
            .and_then(|start| b.slice(start, len))
            .ok_or_else(malformed)
    };
    Ok((part(field(1)?, field(2)?)?, part(field(3)?, field(4)?)?))
}

/// A `.BTF` section from the magic, version and flags of `raw`, a
/// 24-byte header, `types` and `strings`.
fn assemble(raw: &[u8], types: &[u8], strings: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + types.len() + strings.len());
    out.extend_from_slice(&raw[..4]);
    let type_len = types.len() as u32;
    for v in [HEADER as u32, 0, type_len, type_len, strings.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(types);
    out.extend_from_slice(strings);
    out
}

/// Writes a little-endian `u32` at `at`, which parsing showed is inside.
fn put_u32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::super::types::tests::build;
    use super::*;

    struct Layout;

    impl ElfLayout for Layout {
        fn section_size(&self, section: &str) -> Option<u32> {
            (section == ".data").then_some(16)
        }
        fn var_offset(&self, section: &str, var: &str) -> Option<u32> {
            match (section, var) {
                (".data", "a") => Some(8),
                (".data", "b") => Some(0),
                _ => None,
            }
        }
    }

    const fn info(kind: u32, vlen: u32) -> u32 {
        kind << 24 | vlen
    }

    /// [1] int, [2] VAR a, [3] VAR b, [4] DATASEC .data {a@0, b@0} size 0,
    /// [5] FUNC_PROTO int (int), [6] FUNC kf extern, [7] VAR k extern,
    /// [8] DATASEC .ksyms {kf, k}.
    fn object_btf() -> Vec<u8> {
        let strings = b"\0int\0a\0b\0.data\0.ksyms\0kf\0k\0";
        let types = [
            1,
            info(1, 0),
            4,
            32, // [1] int
            5,
            info(14, 0),
            1,
            1, // [2] VAR a, global
            7,
            info(14, 0),
            1,
            1, // [3] VAR b, global
            9,
            info(15, 2),
            0,
            2,
            0,
            4,
            3,
            0,
            4, // [4] DATASEC .data
            0,
            info(13, 1),
            1,
            0,
            1, // [5] FUNC_PROTO int (int)
            22,
            info(12, 2),
            5, // [6] FUNC kf, extern
            25,
            info(14, 0),
            1,
            2, // [7] VAR k, extern
            15,
            info(15, 2),
            0,
            6,
            0,
            0,
            7,
            0,
            4, // [8] DATASEC .ksyms
        ];
        build(&types, strings)
    }

    fn datasec(btf: &Btf, id: u32) -> (u32, Vec<(u32, u32)>) {
        match &btf.type_by_id(id).unwrap().kind {
            BtfKind::Datasec { size, vars } => {
                (*size, vars.iter().map(|v| (v.ty, v.offset)).collect())
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn sizes_and_offsets_come_from_the_elf_file() {
        let raw = object_btf();
        let before = Btf::parse(&raw).unwrap();
        assert_eq!(datasec(&before, 4), (0, vec![(2, 0), (3, 0)]));
        let fixed = Btf::parse(&fixup_datasecs(&raw, &Layout).unwrap()).unwrap();
        // Sized from the section, b (offset 0) sorted before a (8).
        assert_eq!(datasec(&fixed, 4), (16, vec![(3, 0), (2, 8)]));
        // Everything else keeps its id.
        assert_eq!(fixed.len(), before.len());
        for id in [1, 2, 3] {
            assert_eq!(fixed.type_by_id(id), before.type_by_id(id));
        }
    }

    #[test]
    fn externs_are_neutralised() {
        let fixed = Btf::parse(&fixup_datasecs(&object_btf(), &Layout).unwrap()).unwrap();
        let kind = |id| fixed.type_by_id(id).unwrap().kind.clone();
        assert_eq!(
            kind(6),
            BtfKind::Func {
                proto: 5,
                linkage: linkage::STATIC
            }
        );
        assert_eq!(
            kind(7),
            BtfKind::Var {
                ty: 1,
                linkage: linkage::GLOBAL
            }
        );
        // The parameter is named after the function.
        let BtfKind::FuncProto { params, .. } = kind(5) else {
            panic!()
        };
        assert_eq!(fixed.string(params[0].name_off).unwrap(), "kf");
        // No ELF section .ksyms: an anonymous empty struct.
        assert_eq!(
            fixed.type_by_id(8).unwrap().kind,
            BtfKind::Composite {
                union: false,
                size: 0,
                members: vec![]
            }
        );
        assert_eq!(fixed.type_name(8).unwrap(), "");
    }

    #[test]
    fn malformed_btf_is_an_error() {
        let mut raw = object_btf();
        raw.truncate(raw.len() - 30);
        assert!(fixup_datasecs(&raw, &Layout).is_err());
        assert!(fixup_datasecs(b"", &Layout).is_err());
    }
}
