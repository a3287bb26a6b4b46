//! The ELF container, read once into plain, validated tables.
//!
//! The `object` crate does the bounds-checked reading of headers, section
//! data, symbols and relocations; this module turns them into the few
//! facts the loader needs (names, kinds, data, symbol values) so that the
//! rest of the crate never touches raw ELF structures. Nothing here
//! panics on bad input: every index is checked where it is used.

use crate::error::ObjectError;
use object::LittleEndian as LE;
use object::elf::{FileHeader64, SectionHeader64};
use object::read::elf::{FileHeader, SectionHeader, SectionTable, Sym};

/// `e_machine` of BPF objects (ELF psABI registry).
pub(crate) const EM_BPF: u16 = 247;
/// `e_type` of relocatable objects.
const ET_REL: u16 = 1;
/// `sh_type` values used by the loader (System V gABI).
pub(crate) const SHT_PROGBITS: u32 = 1;
pub(crate) const SHT_NOBITS: u32 = 8;
/// `sh_flags` bit of sections holding code.
const SHF_EXECINSTR: u64 = 0x4;
/// `st_type` values.
pub(crate) const STT_OBJECT: u8 = 1;
pub(crate) const STT_FUNC: u8 = 2;
pub(crate) const STT_SECTION: u8 = 3;
pub(crate) const STT_FILE: u8 = 4;
/// `st_bind` values.
pub(crate) const STB_LOCAL: u8 = 0;

/// One section header with its contents.
#[derive(Debug)]
pub(crate) struct Section<'a> {
    /// The section's name (lossily decoded; names are ASCII in practice).
    pub(crate) name: String,
    /// `sh_type`.
    pub(crate) sh_type: u32,
    /// Whether `SHF_EXECINSTR` is set.
    pub(crate) exec: bool,
    /// The bytes in the file; empty for `SHT_NOBITS`.
    pub(crate) data: &'a [u8],
    /// `sh_size`, which for `SHT_NOBITS` is larger than `data`.
    pub(crate) size: u64,
}

/// One symbol table entry.
#[derive(Clone, Debug)]
pub(crate) struct Symbol {
    /// The name, or `#index` when the symbol has none (section symbols
    /// get their section's name).
    pub(crate) name: String,
    /// `st_value`: for a defined symbol, its offset in its section.
    pub(crate) value: u64,
    /// `st_size`.
    pub(crate) size: u64,
    /// `st_type` (`STT_*`).
    pub(crate) kind: u8,
    /// `st_bind` (`STB_*`).
    pub(crate) bind: u8,
    /// The defining section's index; `None` for undefined (extern) and
    /// absolute symbols.
    pub(crate) section: Option<usize>,
}

/// One `Elf64_Rel` entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rel {
    /// Its index within its relocation section.
    pub(crate) index: usize,
    /// `r_offset`: byte offset in the target section.
    pub(crate) offset: u64,
    /// `r_sym`: index into the symbol table (not yet checked).
    pub(crate) sym: usize,
    /// `r_type` (`R_BPF_*`).
    pub(crate) r_type: u32,
}

/// The validated tables of a BPF ELF object.
#[derive(Debug)]
pub(crate) struct Elf<'a> {
    /// All sections, by ELF index (index 0 is the null section).
    pub(crate) sections: Vec<Section<'a>>,
    /// All symbols, by ELF index (index 0 is the null symbol).
    pub(crate) symbols: Vec<Symbol>,
    /// Relocations by the index of the section they apply to.
    pub(crate) rels: Vec<Vec<Rel>>,
}

fn elf_err(e: object::read::Error) -> ObjectError {
    ObjectError::Elf(e.to_string())
}

impl<'a> Elf<'a> {
    /// Reads the header, sections, symbol table and relocations.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Elf<'a>, ObjectError> {
        let header = FileHeader64::<LE>::parse(bytes).map_err(|e| classify_header(bytes, e))?;
        let endian = header.endian().map_err(|_| {
            ObjectError::NotBpf("big-endian ELF; BPF objects for rxdp are little-endian".into())
        })?;
        check_machine(header.e_machine(endian).0, header.e_type(endian).0)?;
        let table = header.sections(endian, bytes).map_err(elf_err)?;
        let sections = read_sections(&table, bytes)?;
        let symbols = read_symbols(&table, bytes, &sections)?;
        let rels = read_rels(&table, bytes, &sections)?;
        Ok(Elf {
            sections,
            symbols,
            rels,
        })
    }

    /// The first section called `name`.
    pub(crate) fn section_by_name(&self, name: &str) -> Option<(usize, &Section<'a>)> {
        self.sections
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == name)
    }

    /// The name of section `index`, for messages.
    pub(crate) fn section_name(&self, index: usize) -> &str {
        self.sections.get(index).map_or("<bad index>", |s| &s.name)
    }
}

/// Gives a 32-bit or non-ELF input a clearer message than "unsupported
/// header".
fn classify_header(bytes: &[u8], e: object::read::Error) -> ObjectError {
    if bytes.len() >= 5 && &bytes[..4] == b"\x7fELF" && bytes[4] == 1 {
        return ObjectError::NotBpf("32-bit ELF; BPF objects are ELF64".into());
    }
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return ObjectError::NotBpf("no ELF magic".into());
    }
    elf_err(e)
}

/// libbpf accepts `EM_BPF` and, for objects from old compilers, `EM_NONE`;
/// only relocatable objects (`ET_REL`) carry the relocations it needs.
fn check_machine(machine: u16, file_type: u16) -> Result<(), ObjectError> {
    if machine != EM_BPF && machine != 0 {
        return Err(ObjectError::NotBpf(format!(
            "e_machine is {machine}, not EM_BPF ({EM_BPF})"
        )));
    }
    if file_type != ET_REL {
        return Err(ObjectError::NotBpf(format!(
            "e_type is {file_type}, not ET_REL (a relocatable object from clang -c)"
        )));
    }
    Ok(())
}

type Table<'a> = SectionTable<'a, FileHeader64<LE>, &'a [u8]>;

fn read_sections<'a>(table: &Table<'a>, bytes: &'a [u8]) -> Result<Vec<Section<'a>>, ObjectError> {
    let mut out = Vec::with_capacity(table.len());
    for (index, sh) in table.enumerate() {
        let name = match table.section_name(LE, sh) {
            Ok(n) => String::from_utf8_lossy(n).into_owned(),
            Err(_) => format!("#{}", index.0),
        };
        let sh_type = sh.sh_type(LE).0;
        let data = section_data(sh, bytes, &name)?;
        out.push(Section {
            name,
            sh_type,
            exec: sh.sh_flags(LE).0 & SHF_EXECINSTR != 0,
            data,
            size: sh.sh_size(LE),
        });
    }
    Ok(out)
}

fn section_data<'a>(
    sh: &SectionHeader64<LE>,
    bytes: &'a [u8],
    name: &str,
) -> Result<&'a [u8], ObjectError> {
    if sh.sh_type(LE).0 == SHT_NOBITS {
        return Ok(&[]);
    }
    sh.data(LE, bytes).map_err(|_| {
        ObjectError::section(
            name,
            format!(
                "data at offset {:#x} size {:#x} lies outside the file ({} bytes)",
                sh.sh_offset(LE),
                sh.sh_size(LE),
                bytes.len()
            ),
        )
    })
}

fn read_symbols(
    table: &Table<'_>,
    bytes: &[u8],
    sections: &[Section<'_>],
) -> Result<Vec<Symbol>, ObjectError> {
    let symtab = table
        .symbols(LE, bytes, object::elf::SHT_SYMTAB)
        .map_err(|e| ObjectError::section(".symtab", e.to_string()))?;
    let mut out = Vec::with_capacity(symtab.len());
    for (i, sym) in symtab.iter().enumerate() {
        let shndx = sym.st_shndx(LE);
        let section = match symtab.symbol_section(LE, sym, object::read::SymbolIndex(i)) {
            Ok(Some(idx)) => Some(idx.0),
            Ok(None) => None,
            Err(_) => {
                return Err(ObjectError::Symbol {
                    symbol: format!("#{i}"),
                    msg: format!("bad section index {}", shndx.0),
                });
            }
        };
        if let Some(s) = section
            && s >= sections.len()
        {
            return Err(ObjectError::Symbol {
                symbol: format!("#{i}"),
                msg: format!("section index {s} is past the {} sections", sections.len()),
            });
        }
        let kind = sym.st_type().0;
        let raw_name = symtab.symbol_name(LE, sym).unwrap_or(b"");
        let name = if kind == STT_SECTION {
            section.map_or_else(|| format!("#{i}"), |s| sections[s].name.clone())
        } else if raw_name.is_empty() {
            format!("#{i}")
        } else {
            String::from_utf8_lossy(raw_name).into_owned()
        };
        out.push(Symbol {
            name,
            value: sym.st_value(LE),
            size: sym.st_size(LE),
            kind,
            bind: sym.st_bind().0,
            section,
        });
    }
    Ok(out)
}

fn read_rels(
    table: &Table<'_>,
    bytes: &[u8],
    sections: &[Section<'_>],
) -> Result<Vec<Vec<Rel>>, ObjectError> {
    let mut rels: Vec<Vec<Rel>> = (0..sections.len()).map(|_| Vec::new()).collect();
    for (index, sh) in table.enumerate() {
        let name = &sections[index.0].name;
        let Some((entries, _link)) = sh
            .rel(LE, bytes)
            .map_err(|e| ObjectError::section(name, e.to_string()))?
        else {
            continue;
        };
        let target = sh.sh_info(LE) as usize;
        let Some(slot) = rels.get_mut(target) else {
            return Err(ObjectError::section(
                name,
                format!("applies to section {target}, which does not exist"),
            ));
        };
        slot.extend(entries.iter().enumerate().map(|(i, r)| Rel {
            index: i,
            offset: r.r_offset.get(LE),
            sym: r.r_sym(LE) as usize,
            r_type: r.r_type(LE).0,
        }));
    }
    Ok(rels)
}
