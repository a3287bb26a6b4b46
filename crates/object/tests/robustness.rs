//! Malformed and hostile objects: every one gives an `ObjectError`
//! naming what is wrong, none panics. Targeted corruptions of real
//! objects first, then random mutations (proptest) concentrated on the
//! structures the loader reads.

mod common;

use common::{data, data_dir, examples_dir, objects_in};
use object::read::elf::{FileHeader, SectionHeader};
use object::{LittleEndian as LE, elf::FileHeader64};
use proptest::prelude::*;
use rxdp_object::{ObjectError, parse};
use std::ops::Range;

/// File ranges of the parts of an object the loader reads, by name
/// (`"shdrs"` for the section header table, else the section name).
fn regions(bytes: &[u8]) -> Vec<(String, Range<usize>)> {
    let header = FileHeader64::<LE>::parse(bytes).unwrap();
    let shoff = header.e_shoff(LE) as usize;
    let shnum = header.e_shnum(LE) as usize;
    let mut out = vec![
        ("ehdr".to_owned(), 0..64),
        ("shdrs".to_owned(), shoff..shoff + 64 * shnum),
    ];
    let sections = header.sections(LE, bytes).unwrap();
    for sh in sections.iter() {
        let name = String::from_utf8_lossy(sections.section_name(LE, sh).unwrap()).into_owned();
        if let Some((off, size)) = sh.file_range(LE)
            && size > 0
            && !name.starts_with(".debug")
            && !name.starts_with(".rel.debug")
        {
            out.push((name, off as usize..(off + size) as usize));
        }
    }
    out
}

fn region(bytes: &[u8], name: &str) -> Range<usize> {
    regions(bytes)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

/// The section header of section `name`, as a byte range of the file.
fn shdr(bytes: &[u8], name: &str) -> Range<usize> {
    let header = FileHeader64::<LE>::parse(bytes).unwrap();
    let sections = header.sections(LE, bytes).unwrap();
    let (i, _) = sections
        .enumerate()
        .find(|(_, sh)| sections.section_name(LE, sh).unwrap() == name.as_bytes())
        .unwrap();
    let start = header.e_shoff(LE) as usize + 64 * i.0;
    start..start + 64
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn not_an_elf_file() {
    assert!(matches!(parse(b""), Err(ObjectError::NotBpf(_))));
    assert!(matches!(
        parse(b"hello, world"),
        Err(ObjectError::NotBpf(_))
    ));
}

#[test]
fn wrong_class_endianness_machine_or_type() {
    let good = data("legacy.o");
    let mut b = good.clone();
    b[4] = 1; // ELFCLASS32
    assert!(matches!(parse(&b), Err(ObjectError::NotBpf(m)) if m.contains("32-bit")));
    let mut b = good.clone();
    b[5] = 2; // ELFDATA2MSB
    assert!(matches!(parse(&b), Err(ObjectError::NotBpf(m)) if m.contains("big-endian")));
    let mut b = good.clone();
    put_u16(&mut b, 18, 62); // EM_X86_64
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::NotBpf(m) if m.contains("62")),
        "{e}"
    );
    let mut b = good.clone();
    put_u16(&mut b, 16, 2); // ET_EXEC
    assert!(matches!(parse(&b), Err(ObjectError::NotBpf(m)) if m.contains("ET_REL")));
}

#[test]
fn every_truncation_is_an_error() {
    for name in ["legacy.o", "maps.o", "subprogs.o"] {
        let b = data(name);
        for len in (0..b.len()).step_by(7) {
            assert!(
                parse(&b[..len]).is_err() || len >= region(&b, "shdrs").end,
                "{name} cut at {len}"
            );
        }
    }
}

#[test]
fn relocation_past_its_section() {
    let mut b = data("legacy.o");
    let rel = region(&b, ".relxdp");
    put_u64(&mut b, rel.start, 0x10_0000);
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Relocation { section, offset: 0x10_0000, .. } if section == "xdp"),
        "{e}"
    );
    // Inside the section but not at an instruction.
    put_u64(&mut b, rel.start, 0x21);
    assert!(matches!(
        parse(&b),
        Err(ObjectError::Relocation { offset: 0x21, .. })
    ));
}

#[test]
fn relocation_against_a_missing_symbol() {
    let mut b = data("legacy.o");
    let rel = region(&b, ".relxdp");
    put_u64(&mut b, rel.start + 8, (0xffff_u64 << 32) | 1);
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Relocation { msg, .. } if msg.contains("symbol index 65535")),
        "{e}"
    );
}

#[test]
fn relocation_on_an_instruction_that_takes_none() {
    let mut b = data("legacy.o");
    let rel = region(&b, ".relxdp");
    put_u64(&mut b, rel.start, 0); // slot 0 is `r1 = 1`
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Relocation { msg, .. } if msg.contains("neither a call nor a lddw")),
        "{e}"
    );
}

#[test]
fn section_data_outside_the_file() {
    let mut b = data("legacy.o");
    let sh = shdr(&b, "xdp");
    put_u64(&mut b, sh.start + 24, 0xffff_0000); // sh_offset
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Section { section, .. } if section == "xdp"),
        "{e}"
    );
}

#[test]
fn huge_section_count() {
    let mut b = data("legacy.o");
    put_u16(&mut b, 60, 0xffff); // e_shnum
    assert!(parse(&b).is_err());
}

#[test]
fn huge_bss_is_refused_without_allocating_it() {
    let mut b = data("globals.o");
    let sh = shdr(&b, ".bss");
    put_u64(&mut b, sh.start + 32, 1 << 40); // sh_size of a NOBITS section
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Section { section, .. } if section == ".bss"),
        "{e}"
    );
}

#[test]
fn function_symbol_past_its_section() {
    let mut b = data("legacy.o");
    let symtab = region(&b, ".symtab");
    // Find the FUNC symbol xdp_legacy (st_info 0x12) and make it huge.
    let entry = (symtab.start..symtab.end)
        .step_by(24)
        .find(|&e| b[e + 4] == 0x12)
        .unwrap();
    put_u64(&mut b, entry + 16, 0x1000); // st_size
    let e = parse(&b).unwrap_err();
    assert!(
        matches!(&e, ObjectError::Symbol { symbol, .. } if symbol == "xdp_legacy"),
        "{e}"
    );
}

#[test]
fn btf_header_corruption_is_named() {
    let mut b = data("maps.o");
    let btf = region(&b, ".BTF");
    put_u32(&mut b, btf.start + 16, 0x7fff_0000); // str_off
    let e = parse(&b).unwrap_err();
    assert!(e.to_string().contains(".BTF"), "{e}");
}

/// All test and example objects with the regions worth corrupting.
fn corpus() -> Vec<(Vec<u8>, Vec<Range<usize>>)> {
    let mut paths = objects_in(&data_dir());
    paths.extend(objects_in(&examples_dir()));
    paths
        .into_iter()
        .map(|p| {
            let b = std::fs::read(p).unwrap();
            let r = regions(&b).into_iter().map(|(_, r)| r).collect();
            (b, r)
        })
        .collect()
}

fn mutate(
    bytes: &mut Vec<u8>,
    regions: &[Range<usize>],
    edits: &[(usize, usize, u8)],
    cut: Option<usize>,
) {
    for &(region, pos, val) in edits {
        let r = &regions[region % regions.len()];
        if r.is_empty() {
            continue;
        }
        let at = r.start + pos % r.len();
        if let Some(b) = bytes.get_mut(at) {
            *b = val;
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Random byte edits in headers, symbols, relocations, code, maps and
    /// BTF, and random truncation: `parse` returns, never panics.
    #[test]
    fn mutated_objects_never_panic(
        which in any::<usize>(),
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 1..12),
        cut in prop::option::weighted(0.1, any::<usize>()),
    ) {
        thread_local!(static CORPUS: Vec<(Vec<u8>, Vec<Range<usize>>)> = corpus());
        CORPUS.with(|c| {
            let (orig, regions) = &c[which % c.len()];
            let mut bytes = orig.clone();
            mutate(&mut bytes, regions, &edits, cut);
            let _ = parse(&bytes);
        });
    }
}
