//! Prints what rxdp-object makes of a BPF object: programs with their
//! linked instructions and source lines, maps and global variables.
//!
//! `cargo run -p rxdp-object --example objdump -- prog.o`

use rxdp_isa::{DisasmOptions, disasm_insn};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: objdump <file.o>")?;
    let bytes = std::fs::read(&path)?;
    let obj = rxdp_object::parse(&bytes)?;
    println!("license {:?} version {:?}", obj.license, obj.kern_version);
    for (i, m) in obj.maps.iter().enumerate() {
        println!(
            "map {i} {} type {} key {} value {} max {} flags {:#x} slots {:?} inner {:?}",
            m.name,
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.map_flags,
            m.init_slots,
            m.inner.as_ref().map(|i| &i.name)
        );
    }
    for g in &obj.globals {
        println!(
            "global {}/{} map {} off {} size {}",
            g.section, g.name, g.map, g.offset, g.size
        );
    }
    for p in &obj.programs {
        println!(
            "\nprog {} sec {} type {} attach {} own {} subprogs {:?} unsupported {:?}",
            p.name,
            p.section,
            p.prog_type,
            p.expected_attach_type,
            p.own_len,
            p.subprogs
                .iter()
                .map(|s| (&s.name, s.start))
                .collect::<Vec<_>>(),
            p.unsupported
        );
        for f in &p.func_info {
            println!("  func {} at {}", f.name, f.insn);
        }
        for (pc, insn) in p.insns.iter().enumerate() {
            if let Some(l) = p.line_info.iter().find(|l| l.insn == pc) {
                println!("  ; {}:{}:{} {}", l.file, l.line, l.col, l.text.trim());
            }
            println!(
                "  {pc:4}: {}",
                disasm_insn(insn, pc, &DisasmOptions::default())
            );
        }
    }
    Ok(())
}
