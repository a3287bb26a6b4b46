//! `rxdp prog list`: what an object holds, as `bpftool prog` and
//! `bpftool map` would show it after loading: the object is loaded, so
//! each XDP program also shows what verifying it cost
//! (`verified_insns`, as `bpftool prog show` reports it, and its stack).
//! A verifier rejection prints the log and exits 1 after the listing.
//! After the programs comes the executable memory the loaded programs'
//! native code takes (prog packs, bytes used and free).
//!
//! `rxdp prog dump` is in [`super::prog_dump`].

use crate::error::{CliError, CliResult, program, usage};
use crate::input::hex;
use crate::vlog::{VerifierArgs, print_rejection_log, rejection, with_newline};
use anyhow::{Context, anyhow};
use clap::Subcommand;
use rxdp_isa::{Insn, Pseudo};
use rxdp_jit::pack::{PACK_SIZE, PackAllocator, PackUsage};
use rxdp_object::{Object, Program};
use rxdp_xdp::{ObjectLoadError, ObjectOpts, XdpObject};
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
        /// How the verifier checks the programs.
        #[command(flatten)]
        verifier: VerifierArgs,
    },
    /// Print a program's code: after fixup (--xlated) or the JIT's x86-64
    /// code, under the BPF instruction each block came from (--jited).
    Dump(super::prog_dump::DumpArgs),
}

/// What loading the object said about one program.
enum Verdict {
    /// Verified: instructions processed and stack depth per subprogram.
    Verified {
        insns: u64,
        stack: Vec<u32>,
        /// Bytes of native code, or why the JIT did not compile it.
        native: Result<usize, String>,
    },
    /// It failed to load: why.
    NotLoaded(String),
}

/// Loads `obj` as `test-run` would and says, per program name, what the
/// verifier found, printing the verifier's logs on stderr. A load that
/// failed for another reason than a program (a map) is reported for no
/// program; an XDP program the load did not reach is absent. The status
/// is 1 (already reported) for a verifier rejection. Also what the
/// loaded programs' native code takes of executable memory, measured
/// while they are loaded.
fn verdicts(
    obj: &Object,
    opts: rxdp_verifier::Options,
) -> (Vec<(String, Verdict)>, PackUsage, CliResult) {
    let opts = ObjectOpts {
        verifier: opts,
        ..ObjectOpts::default()
    };
    match XdpObject::load(obj.clone(), &opts) {
        Ok(loaded) => {
            let v = loaded
                .programs()
                .map(|(n, p)| {
                    let verdict = Verdict::Verified {
                        insns: p.verifier_stats().insns_processed,
                        stack: p.subprog_info().iter().map(|s| s.stack_depth).collect(),
                        native: p
                            .native_size()
                            .ok_or_else(|| p.jit_fallback().unwrap_or_default()),
                    };
                    eprint!("{}", with_newline(p.verifier_log()));
                    (n.to_string(), verdict)
                })
                .collect();
            (v, PackAllocator::global().usage(), Ok(()))
        }
        Err(e) => {
            let named = match &e {
                ObjectLoadError::Program { name, .. } => Some(name.clone()),
                _ => None,
            };
            let err = program(e);
            let reason = err.to_string();
            print_rejection_log(&err);
            // Only a verifier rejection fails the listing: objects with
            // programs rxdp cannot run (marked "not runnable") still list.
            let status = if rejection(&err).is_some() {
                eprintln!("rxdp: {reason}");
                Err(CliError::Silent(1))
            } else {
                Ok(())
            };
            let v = named
                .map(|n| (n, Verdict::NotLoaded(reason)))
                .into_iter()
                .collect();
            (v, PackAllocator::global().usage(), status)
        }
    }
}

/// Runs `rxdp prog ...`.
pub(crate) fn run(cmd: ProgCommand) -> CliResult {
    match cmd {
        ProgCommand::List {
            object,
            json,
            verifier,
        } => list(&object, json, verifier.options(0)),
        ProgCommand::Dump(a) => super::prog_dump::run(a),
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

fn list(path: &PathBuf, json: bool, opts: rxdp_verifier::Options) -> CliResult {
    let obj = read_object(path)?;
    let (verdicts, usage, status) = verdicts(&obj, opts);
    let verdict = |name: &str| verdicts.iter().find(|(n, _)| n == name).map(|(_, v)| v);
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
                let mut v = serde_json::json!({
                    "name": p.name,
                    "section": p.section,
                    "type": rxdp_object::secdef::prog_type::name(p.prog_type),
                    "insns": p.insns.len(),
                    "subprogs": p.subprogs.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                    "maps": maps_used(p).iter().map(map_name).collect::<Vec<_>>(),
                    "tag": hex(&p.tag_sha256()),
                    "unsupported": p.unsupported,
                });
                match verdict(&p.name) {
                    Some(Verdict::Verified {
                        insns,
                        stack,
                        native,
                    }) => {
                        v["verified_insns"] = serde_json::json!(insns);
                        v["stack_depth"] = serde_json::json!(stack);
                        match native {
                            Ok(n) => v["native_size"] = serde_json::json!(n),
                            Err(why) => v["not_jited"] = serde_json::json!(why),
                        }
                    }
                    Some(Verdict::NotLoaded(why)) => v["load_error"] = serde_json::json!(why),
                    None => {}
                }
                v
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
            serde_json::json!({
                "license": obj.license,
                "programs": progs,
                "executable_memory": usage_json(&usage),
                "maps": maps,
            })
        );
        return status;
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
        match verdict(&p.name) {
            Some(Verdict::Verified {
                insns,
                stack,
                native,
            }) => {
                let depths: Vec<String> = stack.iter().map(u32::to_string).collect();
                println!(
                    "      verified_insns {insns}  stack depth {}",
                    depths.join("+")
                );
                match native {
                    Ok(n) => println!("      native code {n} B"),
                    Err(why) => println!("      not jited: {why}"),
                }
            }
            Some(Verdict::NotLoaded(why)) => println!("      not loaded: {why}"),
            None => {}
        }
    }
    println!("executable memory: {}", usage_text(&usage));
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
    status
}

/// `usage` in a line: packs and their size, bytes used and free, and the
/// mappings of programs too large for a pack, if any.
fn usage_text(u: &PackUsage) -> String {
    let mut s = format!(
        "{} pack{} of {} KiB, {} B used, {} B free",
        u.packs,
        if u.packs == 1 { "" } else { "s" },
        PACK_SIZE / 1024,
        u.bytes_used,
        u.bytes_free
    );
    if u.hugetlb_packs > 0 {
        s += &format!(" ({} on hugetlb pages)", u.hugetlb_packs);
    }
    if u.dedicated > 0 {
        s += &format!(
            ", {} dedicated mapping{} of {} B",
            u.dedicated,
            if u.dedicated == 1 { "" } else { "s" },
            u.dedicated_bytes
        );
    }
    s
}

/// `usage` as JSON.
fn usage_json(u: &PackUsage) -> serde_json::Value {
    serde_json::json!({
        "packs": u.packs,
        "pack_size": PACK_SIZE,
        "bytes_used": u.bytes_used,
        "bytes_free": u.bytes_free,
        "hugetlb_packs": u.hugetlb_packs,
        "dedicated": u.dedicated,
        "dedicated_bytes": u.dedicated_bytes,
    })
}
