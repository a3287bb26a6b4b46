//! The `.BTF.ext` section: per-section tables of records keyed by
//! instruction offset: `func_info` (which BTF `FUNC` starts where),
//! `line_info` (source file, line and column of an instruction) and CO-RE
//! relocations (field and type accesses to be adjusted to the running
//! kernel's layout).
//!
//! Layout (include/uapi/linux/btf.h, libbpf's btf.h): a header with
//! offsets relative to its end; each table starts with a `u32` record
//! size, followed by `{ sec_name_off, num_info, records[num_info] }`
//! groups. Instruction offsets are in bytes within the ELF section.

use super::reader::Bytes;
use super::types::BTF_MAGIC;
use super::{Btf, BtfError};

/// One `struct bpf_func_info` as stored in the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtFuncInfo {
    /// Byte offset of the function's first instruction in its section.
    pub insn_off: u32,
    /// The `FUNC` type id.
    pub type_id: u32,
}

/// One `struct bpf_line_info` as stored in the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtLineInfo {
    /// Byte offset of the instruction in its section.
    pub insn_off: u32,
    /// String offset of the source file name.
    pub file_name_off: u32,
    /// String offset of the source line's text.
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

impl ExtLineInfo {
    /// The source line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }

    /// The source column.
    pub fn col(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// One `struct bpf_core_relo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the relocated instruction in its section.
    pub insn_off: u32,
    /// The local root type id.
    pub type_id: u32,
    /// String offset of the access specification (`"0:1:2"`).
    pub access_str_off: u32,
    /// `enum bpf_core_relo_kind`.
    pub kind: u32,
}

/// The records of one ELF section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtSection<T> {
    /// The ELF section's name.
    pub section: String,
    /// Its records, in file order.
    pub records: Vec<T>,
}

/// A parsed `.BTF.ext` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// `func_info` by section.
    pub func_info: Vec<ExtSection<ExtFuncInfo>>,
    /// `line_info` by section.
    pub line_info: Vec<ExtSection<ExtLineInfo>>,
    /// CO-RE relocations by section.
    pub core_relos: Vec<ExtSection<CoreRelo>>,
}

/// The name of CO-RE relocation kind `kind` (libbpf's
/// `core_relo_kind_str`).
pub fn core_relo_kind_name(kind: u32) -> &'static str {
    const NAMES: [&str; 13] = [
        "byte_off",
        "byte_sz",
        "field_exists",
        "signed",
        "lshift_u64",
        "rshift_u64",
        "local_type_id",
        "target_type_id",
        "type_exists",
        "type_size",
        "enumval_exists",
        "enumval_value",
        "type_matches",
    ];
    NAMES.get(kind as usize).copied().unwrap_or("unknown")
}

fn header_err(msg: impl Into<String>) -> BtfError {
    BtfError::Header {
        section: ".BTF.ext",
        msg: msg.into(),
    }
}

fn ext_err(part: &'static str, msg: impl Into<String>) -> BtfError {
    BtfError::Ext {
        part,
        msg: msg.into(),
    }
}

impl BtfExt {
    /// Parses `.BTF.ext`; section names are looked up in `btf`'s strings.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfError> {
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
        let hdr_len = b.u32_at(4).ok_or_else(|| header_err("truncated"))? as usize;
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(header_err(format!("hdr_len {hdr_len} out of range")));
        }
        // Fields past hdr_len are absent (older headers lack core_relo).
        let field = |i: usize| {
            let off = 8 + 4 * i;
            if off + 4 <= hdr_len {
                b.u32_at(off).map(|v| v as usize)
            } else {
                Some(0)
            }
        };
        let part = |i: usize, what: &'static str| -> Result<&[u8], BtfError> {
            let (off, len) = (field(i).unwrap_or(0), field(i + 1).unwrap_or(0));
            hdr_len
                .checked_add(off)
                .and_then(|start| b.slice(start, len))
                .ok_or_else(|| {
                    ext_err(
                        what,
                        format!("table ({off:#x}+{len:#x}) is outside .BTF.ext"),
                    )
                })
        };
        Ok(BtfExt {
            func_info: parse_table(part(0, "func_info")?, "func_info", 8, btf, |r| {
                ExtFuncInfo {
                    insn_off: r[0],
                    type_id: r[1],
                }
            })?,
            line_info: parse_table(part(2, "line_info")?, "line_info", 16, btf, |r| {
                ExtLineInfo {
                    insn_off: r[0],
                    file_name_off: r[1],
                    line_off: r[2],
                    line_col: r[3],
                }
            })?,
            core_relos: parse_table(part(4, "core_relo")?, "core_relo", 16, btf, |r| CoreRelo {
                insn_off: r[0],
                type_id: r[1],
                access_str_off: r[2],
                kind: r[3],
            })?,
        })
    }
}

/// Parses one table whose records are at least `min` bytes; `make` builds
/// a record from its first `min / 4` words.
fn parse_table<T>(
    data: &[u8],
    part: &'static str,
    min: usize,
    btf: &Btf,
    make: impl Fn(&[u32]) -> T,
) -> Result<Vec<ExtSection<T>>, BtfError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let b = Bytes(data);
    let rec_size = b.u32_at(0).ok_or_else(|| ext_err(part, "no record size"))? as usize;
    if rec_size < min || !rec_size.is_multiple_of(4) {
        return Err(ext_err(
            part,
            format!("record size {rec_size} (need >= {min}, multiple of 4)"),
        ));
    }
    let mut out = Vec::new();
    let mut off = 4;
    let mut words = vec![0u32; min / 4];
    while off < data.len() {
        let (name_off, num) = match (b.u32_at(off), b.u32_at(off + 4)) {
            (Some(n), Some(c)) => (n, c as usize),
            _ => return Err(ext_err(part, format!("truncated group header at {off:#x}"))),
        };
        let section = btf.string(name_off)?.to_owned();
        let start = off + 8;
        let bytes = num
            .checked_mul(rec_size)
            .filter(|&n| b.slice(start, n).is_some())
            .ok_or_else(|| {
                ext_err(
                    part,
                    format!("section {section}: {num} records overrun the table"),
                )
            })?;
        if num == 0 {
            return Err(ext_err(part, format!("section {section}: no records")));
        }
        let mut records = Vec::with_capacity(num);
        for i in 0..num {
            let rec = start + i * rec_size;
            for (w, word) in words.iter_mut().enumerate() {
                // In bounds: the whole group was checked above.
                *word = b.u32_at(rec + 4 * w).unwrap_or(0);
            }
            records.push(make(&words));
        }
        out.push(ExtSection { section, records });
        off = start + bytes;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::types::tests::build;

    /// A `.BTF` whose strings are "\0xdp\0a.c\0return 0;\0".
    fn btf() -> Btf {
        Btf::parse(&build(&[], b"\0xdp\0a.c\0return 0;\0")).unwrap()
    }

    /// A `.BTF.ext` with the given func_info and line_info tables.
    fn ext(func: &[u32], line: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        let (f, l) = ((func.len() * 4) as u32, (line.len() * 4) as u32);
        for v in [32, 0, f, f, l, f + l, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for w in func.iter().chain(line) {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    #[test]
    fn func_and_line_records() {
        let func = [8, 1, 2, 0, 3, 16, 4];
        let line = [16, 1, 1, 8, 5, 9, 7 << 10 | 2];
        let e = BtfExt::parse(&ext(&func, &line), &btf()).unwrap();
        assert_eq!(e.func_info.len(), 1);
        assert_eq!(e.func_info[0].section, "xdp");
        assert_eq!(
            e.func_info[0].records,
            [
                ExtFuncInfo {
                    insn_off: 0,
                    type_id: 3
                },
                ExtFuncInfo {
                    insn_off: 16,
                    type_id: 4
                }
            ]
        );
        let l = e.line_info[0].records[0];
        assert_eq!((l.insn_off, l.line(), l.col()), (8, 7, 2));
        assert_eq!(btf().string(l.file_name_off).unwrap(), "a.c");
        assert_eq!(btf().string(l.line_off).unwrap(), "return 0;");
        assert!(e.core_relos.is_empty());
    }

    #[test]
    fn malformed_tables_are_errors() {
        // Record size below the minimum.
        let e = BtfExt::parse(&ext(&[4, 1, 1, 0], &[]), &btf()).unwrap_err();
        assert!(
            matches!(
                e,
                BtfError::Ext {
                    part: "func_info",
                    ..
                }
            ),
            "{e}"
        );
        // A group claiming more records than the table holds.
        let e = BtfExt::parse(&ext(&[8, 1, 0x4000_0000, 0, 3], &[]), &btf()).unwrap_err();
        assert!(
            matches!(
                e,
                BtfError::Ext {
                    part: "func_info",
                    ..
                }
            ),
            "{e}"
        );
        // A section name outside the strings.
        let e = BtfExt::parse(&ext(&[8, 999, 1, 0, 3], &[]), &btf()).unwrap_err();
        assert_eq!(e, BtfError::BadString(999));
        // A table placed past the section.
        let mut bad = ext(&[8, 1, 1, 0, 3], &[]);
        bad[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            BtfExt::parse(&bad, &btf()),
            Err(BtfError::Ext { .. })
        ));
        assert!(matches!(
            BtfExt::parse(&[0x9f, 0xeb], &btf()),
            Err(BtfError::Header { .. })
        ));
    }
}
