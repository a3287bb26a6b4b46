//! `rxdp prog dump`: a loaded program's code, as `bpftool prog dump`
//! shows it: `--xlated`, the instructions after fixup (what the engines
//! run), or `--jited`, the JIT's x86-64 code under the BPF instruction
//! each block came from (see [`crate::jited`]).
//!
//! Without `--prog`, every XDP program of an object is dumped. `--jited`
//! exits 1 when a program has no native code (the JIT engine runs it on
//! the interpreter), saying why: on stderr in text, as `not_jited` in
//! JSON.

use crate::error::{CliError, CliResult};
use crate::jited::{jited, not_jited_json, xlated, xlated_json, xlated_text};
use crate::load::{Loaded, load, read_setup};
use crate::vlog::{VerifierArgs, print_rejection_log};
use rxdp_object::Program;
use rxdp_xdp::XdpProgram;
use std::path::{Path, PathBuf};

/// Arguments of `rxdp prog dump`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["jited", "xlated"])))]
pub(crate) struct DumpArgs {
    /// The program: assembly (.s), raw bytecode (.bin), or a BPF object
    /// (.o).
    #[arg(value_name = "PROG")]
    file: PathBuf,
    /// Dump only this program of the object (default: all its XDP
    /// programs).
    #[arg(long, value_name = "NAME")]
    prog: Option<String>,
    /// The JIT's native code, each block under its BPF instruction.
    #[arg(long)]
    jited: bool,
    /// The instructions after fixup, as the engines run them.
    #[arg(long)]
    xlated: bool,
    /// Show each instruction's bytes (JSON always has them).
    #[arg(long)]
    opcodes: bool,
    /// A setup file whose global variables are set before verification
    /// (they may be frozen into the code).
    #[arg(long, value_name = "FILE")]
    setup: Option<PathBuf>,
    /// How the verifier checks the program.
    #[command(flatten)]
    verifier: VerifierArgs,
    /// Print one JSON object, `{"programs": [...]}`, instead of text.
    #[arg(long)]
    json: bool,
}

/// A program to dump: its name and, for objects, the object's view of it.
pub(crate) struct Target<'a> {
    /// The program's name (a lone program is named after its file).
    pub(crate) name: String,
    /// The loaded program.
    pub(crate) prog: &'a XdpProgram,
    /// The program as its object holds it (subprogram names, line info).
    pub(crate) obj: Option<&'a Program>,
}

/// The program of `loaded` that runs (the chosen one of an object).
pub(crate) fn chosen<'a>(file: &Path, loaded: &'a Loaded) -> Target<'a> {
    match loaded {
        Loaded::Single(p) => Target {
            name: file
                .file_stem()
                .map_or_else(|| "prog".to_string(), |s| s.to_string_lossy().into_owned()),
            prog: p,
            obj: None,
        },
        Loaded::Object { object, prog } => Target {
            name: prog.clone(),
            prog: loaded.program(),
            obj: object.object().program(prog),
        },
    }
}

/// The programs of `loaded` to dump: the chosen one when `only_chosen`,
/// else every XDP program.
fn targets<'a>(file: &Path, loaded: &'a Loaded, only_chosen: bool) -> Vec<Target<'a>> {
    match loaded {
        Loaded::Object { object, .. } if !only_chosen => object
            .programs()
            .map(|(n, p)| Target {
                name: n.to_string(),
                prog: p,
                obj: object.object().program(n),
            })
            .collect(),
        _ => vec![chosen(file, loaded)],
    }
}

/// Runs `rxdp prog dump`.
pub(crate) fn run(a: DumpArgs) -> CliResult {
    let setup = read_setup(a.setup.as_deref())?;
    let loaded = load(&a.file, a.prog.as_deref(), &setup, &a.verifier.options(0))
        .inspect_err(print_rejection_log)?;
    let targets = targets(&a.file, &loaded, a.prog.is_some());
    if a.xlated {
        let mut v = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let insns = xlated(t.prog);
            if a.json {
                v.push(xlated_json(&t.name, &insns));
            } else {
                if i > 0 {
                    println!();
                }
                print!("{}", xlated_text(&t.name, &insns, a.opcodes));
            }
        }
        if a.json {
            println!("{}", serde_json::json!({ "programs": v }));
        }
        return Ok(());
    }
    let mut fallbacks = Vec::new();
    let mut v = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match jited(&t.name, t.prog, t.obj) {
            Ok(d) if a.json => v.push(d.json()),
            Ok(d) => {
                if i > 0 {
                    println!();
                }
                print!("{}", d.text(a.opcodes));
            }
            Err(why) => {
                if a.json {
                    v.push(not_jited_json(&t.name, &why));
                }
                fallbacks.push((t.name.clone(), why));
            }
        }
    }
    if a.json {
        println!("{}", serde_json::json!({ "programs": v }));
    } else {
        for (name, why) in &fallbacks {
            eprintln!("rxdp: {name}: not jited: {why}; the jit engine runs it on the interpreter");
        }
    }
    if fallbacks.is_empty() {
        Ok(())
    } else {
        Err(CliError::Silent(1))
    }
}
