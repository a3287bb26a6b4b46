//! `rxdp prog list`: what an object holds, as `bpftool prog` and
//! `bpftool map` would show it after loading.

use crate::error::{CliResult, usage};
use crate::input::hex;
use anyhow::{Context, anyhow};
use clap::Subcommand;
use rxdp_isa::{Insn, Pseudo};
use rxdp_object::{Object, Program};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// `rxdp prog` subcommands.
#[derive(Subcommand)]
pub(crate) enum ProgCommand {
    /// List an object's programs and maps.
    List {
        /// The BPF object (.o).
        object: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `rxdp prog ...`.
pub(crate) fn run(cmd: ProgCommand) -> CliResult {
    match cmd {
        ProgCommand::List { object, json } => list(&object, json),
    }
}

/// The maps a program's instructions refer to, by index.
fn maps_used(p: &Program) -> BTreeSet<usize> {
    p.insns
        .iter()
        .filter_map(|i| match *i {
            Insn::LdImm64 {
                pseudo: Pseudo::MapIdx | Pseudo::MapIdxValue,
                imm,
                ..
            } => Some(imm as u32 as usize),
            _ => None,
        })
        .collect()
}

fn read_object(path: &PathBuf) -> CliResult<Object> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(usage)?;
    rxdp_object::parse(&bytes).map_err(|e| usage(anyhow!("{}: {e}", path.display())))
}

fn list(path: &PathBuf, json: bool) -> CliResult {
    let obj = read_object(path)?;
    let map_name = |i: &usize| {
        obj.maps
            .get(*i)
            .map_or("?", |m| m.name.as_str())
            .to_string()
    };
    if json {
        let progs: Vec<_> = obj
            .programs
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "section": p.section,
                    "type": rxdp_object::secdef::prog_type::name(p.prog_type),
                    "insns": p.insns.len(),
                    "subprogs": p.subprogs.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                    "maps": maps_used(p).iter().map(map_name).collect::<Vec<_>>(),
                    "tag": hex(&p.tag_sha256()),
                    "unsupported": p.unsupported,
                })
            })
            .collect();
        let maps: Vec<_> = obj
            .maps
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name,
                    "type": rxdp_isa::maptype::map_type_name(m.map_type),
                    "key_size": m.key_size,
                    "value_size": m.value_size,
                    "max_entries": m.max_entries,
                    "flags": m.map_flags,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"license": obj.license, "programs": progs, "maps": maps})
        );
        return Ok(());
    }
    println!("programs:");
    for p in &obj.programs {
        println!(
            "  {}  section {}  type {}  {} insns  tag {}",
            p.name,
            p.section,
            rxdp_object::secdef::prog_type::name(p.prog_type).unwrap_or("unknown"),
            p.insns.len(),
            hex(&p.tag_sha256())
        );
        if !p.subprogs.is_empty() {
            let subs: Vec<&str> = p.subprogs.iter().map(|s| s.name.as_str()).collect();
            println!("      subprograms: {}", subs.join(", "));
        }
        let used: Vec<String> = maps_used(p).iter().map(map_name).collect();
        if !used.is_empty() {
            println!("      maps: {}", used.join(", "));
        }
        if let Some(why) = &p.unsupported {
            println!("      not runnable: {why}");
        }
    }
    println!("maps:");
    for m in &obj.maps {
        println!(
            "  {}  type {}  key {} B  value {} B  max_entries {}{}",
            m.name,
            rxdp_isa::maptype::describe(m.map_type),
            m.key_size,
            m.value_size,
            m.max_entries,
            if m.readonly {
                "  read-only to programs"
            } else {
                ""
            }
        );
    }
    println!("license: {}", obj.license);
    Ok(())
}
