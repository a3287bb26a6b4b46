//! The `.BTF` section: a header, a table of types (id 0 is `void`, the
//! first record is id 1) and a string table that names them.

use super::BtfError;
use super::reader::{Bytes, str_at};

/// `BTF_MAGIC`, the first two bytes of `.BTF` and `.BTF.ext`.
pub(super) const BTF_MAGIC: u16 = 0xeb9f;
/// How many links of typedef/modifier/array chains are followed before
/// giving up (libbpf's `MAX_RESOLVE_DEPTH`).
const MAX_RESOLVE_DEPTH: usize = 32;
/// Size of `struct btf_type` (name_off, info, size/type).
pub(super) const TYPE_HEADER: usize = 12;

/// `btf_var.linkage` and `btf_func` linkage values (`enum btf_func_linkage`,
/// `BTF_VAR_*`).
pub mod linkage {
    /// `BTF_VAR_STATIC` / `BTF_FUNC_STATIC`.
    pub const STATIC: u32 = 0;
    /// `BTF_VAR_GLOBAL_ALLOCATED` / `BTF_FUNC_GLOBAL`.
    pub const GLOBAL: u32 = 1;
    /// `BTF_VAR_GLOBAL_EXTERN` / `BTF_FUNC_EXTERN`.
    pub const EXTERN: u32 = 2;
}

/// A member of a struct or union.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Offset of the name in the string table (0: anonymous).
    pub name_off: u32,
    /// The member's type id.
    pub ty: u32,
    /// Offset of the member from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 for an ordinary member.
    pub bitfield_size: u8,
}

/// One enumerator of an enum (`ENUM` or `ENUM64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumValue {
    /// Offset of the name in the string table.
    pub name_off: u32,
    /// The value; for a 32-bit signed enum, sign-extended.
    pub value: u64,
}

/// One parameter of a function prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Offset of the name in the string table.
    pub name_off: u32,
    /// The parameter's type id (0 for a trailing `...`).
    pub ty: u32,
}

/// One variable of a data section (`struct btf_var_secinfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The `VAR` (or `FUNC` for extern functions) type id.
    pub ty: u32,
    /// Offset of the variable in its section.
    pub offset: u32,
    /// Size of the variable in bytes.
    pub size: u32,
}

/// The kind-specific part of a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BtfKind {
    /// Type id 0.
    Void,
    /// `BTF_KIND_INT`: size in bytes and the raw encoding word
    /// (`BTF_INT_ENCODING << 24 | offset << 16 | bits`).
    Int {
        /// Size in bytes.
        size: u32,
        /// The `__u32` following the type.
        encoding: u32,
    },
    /// `BTF_KIND_PTR` to a type.
    Ptr(u32),
    /// `BTF_KIND_ARRAY`.
    Array {
        /// Element type id.
        elem: u32,
        /// Index type id.
        index: u32,
        /// Number of elements.
        nelems: u32,
    },
    /// `BTF_KIND_STRUCT` or `BTF_KIND_UNION`.
    Composite {
        /// Whether it is a union.
        union: bool,
        /// Size in bytes.
        size: u32,
        /// The members.
        members: Vec<Member>,
    },
    /// `BTF_KIND_ENUM` or `BTF_KIND_ENUM64`.
    Enum {
        /// Size in bytes.
        size: u32,
        /// Whether the values are signed (the kind flag).
        signed: bool,
        /// The enumerators.
        values: Vec<EnumValue>,
    },
    /// `BTF_KIND_FWD`: a forward declaration.
    Fwd {
        /// `union` rather than `struct`.
        union: bool,
    },
    /// `BTF_KIND_TYPEDEF` of a type.
    Typedef(u32),
    /// `BTF_KIND_VOLATILE` of a type.
    Volatile(u32),
    /// `BTF_KIND_CONST` of a type.
    Const(u32),
    /// `BTF_KIND_RESTRICT` of a type.
    Restrict(u32),
    /// `BTF_KIND_TYPE_TAG` of a type.
    TypeTag(u32),
    /// `BTF_KIND_FUNC`: a function, by its prototype.
    Func {
        /// The `FUNC_PROTO` type id.
        proto: u32,
        /// [`linkage`] of the function.
        linkage: u32,
    },
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto {
        /// Return type id.
        ret: u32,
        /// Parameters.
        params: Vec<Param>,
    },
    /// `BTF_KIND_VAR`: a global or static variable.
    Var {
        /// The variable's type id.
        ty: u32,
        /// [`linkage`] of the variable.
        linkage: u32,
    },
    /// `BTF_KIND_DATASEC`: the variables of one ELF section.
    Datasec {
        /// Section size (0 in objects straight from clang).
        size: u32,
        /// The variables.
        vars: Vec<VarSecinfo>,
    },
    /// `BTF_KIND_FLOAT`.
    Float {
        /// Size in bytes.
        size: u32,
    },
    /// `BTF_KIND_DECL_TAG`: an annotation on a type or one of its members.
    DeclTag {
        /// The annotated type id.
        ty: u32,
        /// Member or parameter index, -1 for the type itself.
        component_idx: i32,
    },
}

/// One type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfType {
    /// Offset of the name in the string table (0: anonymous).
    pub name_off: u32,
    /// The kind and its data.
    pub kind: BtfKind,
}

impl BtfType {
    /// The kind's name as `bpftool btf dump` prints it (`STRUCT`, `PTR`).
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            BtfKind::Void => "VOID",
            BtfKind::Int { .. } => "INT",
            BtfKind::Ptr(_) => "PTR",
            BtfKind::Array { .. } => "ARRAY",
            BtfKind::Composite { union: false, .. } => "STRUCT",
            BtfKind::Composite { union: true, .. } => "UNION",
            BtfKind::Enum { .. } => "ENUM",
            BtfKind::Fwd { .. } => "FWD",
            BtfKind::Typedef(_) => "TYPEDEF",
            BtfKind::Volatile(_) => "VOLATILE",
            BtfKind::Const(_) => "CONST",
            BtfKind::Restrict(_) => "RESTRICT",
            BtfKind::TypeTag(_) => "TYPE_TAG",
            BtfKind::Func { .. } => "FUNC",
            BtfKind::FuncProto { .. } => "FUNC_PROTO",
            BtfKind::Var { .. } => "VAR",
            BtfKind::Datasec { .. } => "DATASEC",
            BtfKind::Float { .. } => "FLOAT",
            BtfKind::DeclTag { .. } => "DECL_TAG",
        }
    }
}

/// A parsed `.BTF` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Btf {
    types: Vec<BtfType>,
    strings: Vec<u8>,
}

fn header_err(msg: impl Into<String>) -> BtfError {
    BtfError::Header {
        section: ".BTF",
        msg: msg.into(),
    }
}

impl Btf {
    /// Parses a `.BTF` section.
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let b = Bytes(data);
        let magic = b
            .u16_at(0)
            .ok_or_else(|| header_err("shorter than a header"))?;
        if magic != BTF_MAGIC {
            return Err(header_err(format!(
                "magic {magic:#06x}, not {BTF_MAGIC:#06x}"
            )));
        }
        if data.get(2) != Some(&1) {
            return Err(header_err(format!("version {:?}, not 1", data.get(2))));
        }
        let field = |i: usize| b.u32_at(4 + 4 * i).ok_or_else(|| header_err("truncated"));
        let hdr_len = field(0)? as usize;
        let (type_off, type_len) = (field(1)? as usize, field(2)? as usize);
        let (str_off, str_len) = (field(3)? as usize, field(4)? as usize);
        if hdr_len < 24 {
            return Err(header_err(format!("hdr_len {hdr_len} < 24")));
        }
        let part = |off: usize, len: usize, what: &str| {
            hdr_len
                .checked_add(off)
                .and_then(|start| b.slice(start, len))
                .ok_or_else(|| {
                    header_err(format!(
                        "{what} section ({off:#x}+{len:#x}) is outside .BTF"
                    ))
                })
        };
        let type_data = part(type_off, type_len, "type")?;
        let strings = part(str_off, str_len, "string")?;
        if strings.first().is_some_and(|&c| c != 0) {
            return Err(header_err(
                "string section does not start with an empty string",
            ));
        }
        let types = parse_types(type_data)?;
        Ok(Btf {
            types,
            strings: strings.to_vec(),
        })
    }

    /// The number of types, including `void` (id 0).
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether there are no types besides `void`.
    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    /// The type with id `id`.
    pub fn type_by_id(&self, id: u32) -> Result<&BtfType, BtfError> {
        self.types.get(id as usize).ok_or(BtfError::BadTypeId {
            id,
            count: self.types.len(),
        })
    }

    /// All types with their ids.
    pub fn types(&self) -> impl Iterator<Item = (u32, &BtfType)> {
        self.types.iter().enumerate().map(|(i, t)| (i as u32, t))
    }

    /// The string at offset `off` of the string table.
    pub fn string(&self, off: u32) -> Result<&str, BtfError> {
        str_at(&self.strings, off)
    }

    /// The name of type `id` (empty for anonymous types).
    pub fn type_name(&self, id: u32) -> Result<&str, BtfError> {
        self.string(self.type_by_id(id)?.name_off)
    }

    /// Follows typedefs and `const`/`volatile`/`restrict`/type tags from
    /// `id` to the type they qualify (libbpf's `skip_mods_and_typedefs`).
    pub fn skip_mods_and_typedefs(&self, id: u32) -> Result<(u32, &BtfType), BtfError> {
        let mut id = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.type_by_id(id)?;
            match t.kind {
                BtfKind::Typedef(next)
                | BtfKind::Volatile(next)
                | BtfKind::Const(next)
                | BtfKind::Restrict(next)
                | BtfKind::TypeTag(next) => id = next,
                _ => return Ok((id, t)),
            }
        }
        Err(BtfError::Loop(id))
    }

    /// The size in bytes of a value of type `id` (libbpf's
    /// `btf__resolve_size`): through typedefs, modifiers and variables,
    /// arrays multiplied out, pointers 8 bytes (the BPF target's size).
    pub fn resolve_size(&self, id: u32) -> Result<u64, BtfError> {
        let start = id;
        let mut id = id;
        let mut nelems: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.type_by_id(id)?;
            let size = match &t.kind {
                BtfKind::Int { size, .. }
                | BtfKind::Composite { size, .. }
                | BtfKind::Enum { size, .. }
                | BtfKind::Datasec { size, .. }
                | BtfKind::Float { size } => *size,
                BtfKind::Ptr(_) => 8,
                BtfKind::Typedef(next)
                | BtfKind::Volatile(next)
                | BtfKind::Const(next)
                | BtfKind::Restrict(next)
                | BtfKind::TypeTag(next)
                | BtfKind::Var { ty: next, .. }
                | BtfKind::DeclTag { ty: next, .. } => {
                    id = *next;
                    continue;
                }
                BtfKind::Array {
                    elem, nelems: n, ..
                } => {
                    nelems = nelems
                        .checked_mul(u64::from(*n))
                        .filter(|&v| v <= u64::from(u32::MAX))
                        .ok_or_else(|| type_err(start, "array size overflows"))?;
                    id = *elem;
                    continue;
                }
                BtfKind::Void
                | BtfKind::Fwd { .. }
                | BtfKind::Func { .. }
                | BtfKind::FuncProto { .. } => {
                    return Err(BtfError::NoSize {
                        id,
                        kind: t.kind_name(),
                    });
                }
            };
            return u64::from(size)
                .checked_mul(nelems)
                .filter(|&v| v <= u64::from(u32::MAX))
                .ok_or_else(|| type_err(start, "size overflows 32 bits"));
        }
        Err(BtfError::Loop(start))
    }

    /// The `DATASEC` called `name` and its id.
    pub fn datasec(&self, name: &str) -> Option<(u32, &[VarSecinfo])> {
        self.types().find_map(|(id, t)| match &t.kind {
            BtfKind::Datasec { vars, .. } if self.string(t.name_off).ok() == Some(name) => {
                Some((id, vars.as_slice()))
            }
            _ => None,
        })
    }
}

fn type_err(id: u32, msg: impl Into<String>) -> BtfError {
    BtfError::Type {
        id,
        msg: msg.into(),
    }
}

/// Parses the type section; ids count from 1.
fn parse_types(data: &[u8]) -> Result<Vec<BtfType>, BtfError> {
    let b = Bytes(data);
    // Each type takes at least 12 bytes, which bounds the allocation.
    let mut types = Vec::with_capacity(1 + data.len() / TYPE_HEADER);
    types.push(BtfType {
        name_off: 0,
        kind: BtfKind::Void,
    });
    let mut off = 0;
    while off < data.len() {
        let id = u32::try_from(types.len()).map_err(|_| type_err(u32::MAX, "too many types"))?;
        let (t, len) = parse_type(b, off, id)?;
        types.push(t);
        off += len;
    }
    Ok(types)
}

/// Parses the type at byte `off`; returns it and its encoded length.
pub(super) fn parse_type(b: Bytes<'_>, off: usize, id: u32) -> Result<(BtfType, usize), BtfError> {
    let trunc = || type_err(id, "truncated");
    let name_off = b.u32_at(off).ok_or_else(trunc)?;
    let info = b.u32_at(off + 4).ok_or_else(trunc)?;
    let size_or_type = b.u32_at(off + 8).ok_or_else(trunc)?;
    let vlen = (info & 0xffff) as usize;
    let kind = (info >> 24) & 0x1f;
    let kflag = info >> 31 != 0;
    let body = off + TYPE_HEADER;
    // The number of trailing records is bounded by the bytes left.
    let records = |rec: usize| -> Result<usize, BtfError> {
        let need = vlen * rec;
        b.slice(body, need).ok_or_else(trunc)?;
        Ok(need)
    };
    let u32_at = |o: usize| b.u32_at(o).ok_or_else(trunc);
    let (kind, extra) = match kind {
        1 => (
            BtfKind::Int {
                size: size_or_type,
                encoding: u32_at(body)?,
            },
            4,
        ),
        2 => (BtfKind::Ptr(size_or_type), 0),
        3 => (
            BtfKind::Array {
                elem: u32_at(body)?,
                index: u32_at(body + 4)?,
                nelems: u32_at(body + 8)?,
            },
            12,
        ),
        4 | 5 => {
            let len = records(12)?;
            let members = (0..vlen)
                .map(|i| {
                    let m = body + 12 * i;
                    let raw = u32_at(m + 8)?;
                    let (bit_offset, bitfield_size) = if kflag {
                        (raw & 0x00ff_ffff, (raw >> 24) as u8)
                    } else {
                        (raw, 0)
                    };
                    Ok(Member {
                        name_off: u32_at(m)?,
                        ty: u32_at(m + 4)?,
                        bit_offset,
                        bitfield_size,
                    })
                })
                .collect::<Result<Vec<_>, BtfError>>()?;
            (
                BtfKind::Composite {
                    union: kind == 5,
                    size: size_or_type,
                    members,
                },
                len,
            )
        }
        6 => {
            let len = records(8)?;
            let values = (0..vlen)
                .map(|i| {
                    let v = body + 8 * i;
                    let raw = u32_at(v + 4)?;
                    let value = if kflag {
                        raw as i32 as i64 as u64
                    } else {
                        u64::from(raw)
                    };
                    Ok(EnumValue {
                        name_off: u32_at(v)?,
                        value,
                    })
                })
                .collect::<Result<Vec<_>, BtfError>>()?;
            let signed = kflag;
            (
                BtfKind::Enum {
                    size: size_or_type,
                    signed,
                    values,
                },
                len,
            )
        }
        7 => (BtfKind::Fwd { union: kflag }, 0),
        8 => (BtfKind::Typedef(size_or_type), 0),
        9 => (BtfKind::Volatile(size_or_type), 0),
        10 => (BtfKind::Const(size_or_type), 0),
        11 => (BtfKind::Restrict(size_or_type), 0),
        12 => (
            BtfKind::Func {
                proto: size_or_type,
                linkage: vlen as u32,
            },
            0,
        ),
        13 => {
            let len = records(8)?;
            let params = (0..vlen)
                .map(|i| {
                    Ok(Param {
                        name_off: u32_at(body + 8 * i)?,
                        ty: u32_at(body + 8 * i + 4)?,
                    })
                })
                .collect::<Result<Vec<_>, BtfError>>()?;
            (
                BtfKind::FuncProto {
                    ret: size_or_type,
                    params,
                },
                len,
            )
        }
        14 => (
            BtfKind::Var {
                ty: size_or_type,
                linkage: u32_at(body)?,
            },
            4,
        ),
        15 => {
            let len = records(12)?;
            let vars = (0..vlen)
                .map(|i| {
                    let v = body + 12 * i;
                    Ok(VarSecinfo {
                        ty: u32_at(v)?,
                        offset: u32_at(v + 4)?,
                        size: u32_at(v + 8)?,
                    })
                })
                .collect::<Result<Vec<_>, BtfError>>()?;
            (
                BtfKind::Datasec {
                    size: size_or_type,
                    vars,
                },
                len,
            )
        }
        16 => (BtfKind::Float { size: size_or_type }, 0),
        17 => (
            BtfKind::DeclTag {
                ty: size_or_type,
                component_idx: u32_at(body)? as i32,
            },
            4,
        ),
        18 => (BtfKind::TypeTag(size_or_type), 0),
        19 => {
            let len = records(12)?;
            let values = (0..vlen)
                .map(|i| {
                    let v = body + 12 * i;
                    let lo = u64::from(u32_at(v + 4)?);
                    let hi = u64::from(u32_at(v + 8)?);
                    Ok(EnumValue {
                        name_off: u32_at(v)?,
                        value: hi << 32 | lo,
                    })
                })
                .collect::<Result<Vec<_>, BtfError>>()?;
            (
                BtfKind::Enum {
                    size: size_or_type,
                    signed: kflag,
                    values,
                },
                len,
            )
        }
        k => return Err(type_err(id, format!("unknown kind {k}"))),
    };
    Ok((BtfType { name_off, kind }, TYPE_HEADER + extra))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a `.BTF` section from raw type words and a string table.
    pub(crate) fn build(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let type_len = (types.len() * 4) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for v in [24, 0, type_len, type_len, strings.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for t in types {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.extend_from_slice(strings);
        out
    }

    const fn info(kind: u32, vlen: u32) -> u32 {
        kind << 24 | vlen
    }

    #[test]
    fn sizes_through_typedefs_modifiers_and_arrays() {
        // [1] int (4 bytes), [2] typedef u32_t -> 1, [3] const -> 2,
        // [4] array of 3 x [3], [5] volatile -> 4, [6] ptr -> 1.
        let types = [
            1,
            info(1, 0),
            4,
            0x0100_0020, // int
            5,
            info(8, 0),
            1, // typedef
            0,
            info(10, 0),
            2, // const
            0,
            info(3, 0),
            0,
            3,
            1,
            3, // array
            0,
            info(9, 0),
            4, // volatile
            0,
            info(2, 0),
            1, // ptr
        ];
        let btf = Btf::parse(&build(&types, b"\0int\0u32_t\0")).unwrap();
        assert_eq!(btf.len(), 7);
        assert_eq!(btf.type_name(1).unwrap(), "int");
        assert_eq!(btf.type_name(2).unwrap(), "u32_t");
        assert_eq!(btf.resolve_size(1).unwrap(), 4);
        assert_eq!(btf.resolve_size(3).unwrap(), 4);
        assert_eq!(btf.resolve_size(5).unwrap(), 12);
        assert_eq!(btf.resolve_size(6).unwrap(), 8);
        assert_eq!(btf.skip_mods_and_typedefs(3).unwrap().0, 1);
        assert!(matches!(
            btf.resolve_size(0),
            Err(BtfError::NoSize { id: 0, .. })
        ));
        assert!(matches!(
            btf.type_by_id(7),
            Err(BtfError::BadTypeId { id: 7, .. })
        ));
    }

    #[test]
    fn loops_and_bad_ids_are_errors() {
        // [1] typedef -> 2, [2] const -> 1: a loop.
        let types = [0, info(8, 0), 2, 0, info(10, 0), 1, 0, info(2, 0), 99];
        let btf = Btf::parse(&build(&types, b"\0")).unwrap();
        assert_eq!(btf.resolve_size(1), Err(BtfError::Loop(1)));
        assert!(matches!(
            btf.skip_mods_and_typedefs(1),
            Err(BtfError::Loop(_))
        ));
        // A pointer to a missing type still has a size; following it fails.
        assert_eq!(btf.resolve_size(3).unwrap(), 8);
        assert!(btf.skip_mods_and_typedefs(99).is_err());
    }

    #[test]
    fn truncated_and_hostile_headers() {
        assert!(matches!(Btf::parse(&[]), Err(BtfError::Header { .. })));
        assert!(matches!(
            Btf::parse(&[0x9f, 0xeb, 1, 0]),
            Err(BtfError::Header { .. })
        ));
        let mut good = build(&[1, info(1, 0), 4, 32], b"\0int\0");
        assert!(Btf::parse(&good).is_ok());
        // A struct claiming 65535 members in 12 bytes.
        let huge = build(&[0, info(4, 0xffff), 4], b"\0");
        assert!(matches!(
            Btf::parse(&huge),
            Err(BtfError::Type { id: 1, .. })
        ));
        // A string section past the end.
        good[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(Btf::parse(&good), Err(BtfError::Header { .. })));
        // An unknown kind.
        let bad = build(&[0, info(25, 0), 0], b"\0");
        assert!(matches!(
            Btf::parse(&bad),
            Err(BtfError::Type { id: 1, .. })
        ));
        // A name offset outside the strings.
        let btf = Btf::parse(&build(&[77, info(2, 0), 0], b"\0")).unwrap();
        assert_eq!(btf.type_name(1), Err(BtfError::BadString(77)));
    }

    #[test]
    fn array_overflow_is_an_error() {
        // [1] int, [2] array of 2^30 x int (4 GiB), [3] array of 16 x [2].
        let types = [
            0,
            info(1, 0),
            4,
            32,
            0,
            info(3, 0),
            0,
            1,
            1,
            0x4000_0000,
            0,
            info(3, 0),
            0,
            2,
            1,
            16,
        ];
        let btf = Btf::parse(&build(&types, b"\0")).unwrap();
        assert!(matches!(
            btf.resolve_size(2),
            Err(BtfError::Type { id: 2, .. })
        ));
        assert!(matches!(
            btf.resolve_size(3),
            Err(BtfError::Type { id: 3, .. })
        ));
    }
}
