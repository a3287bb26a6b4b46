//! `rxdp verify`: load a program as XDP and report whether the verifier
//! accepts it, with its log and statistics as the kernel's verifier
//! reports them.
//!
//! Accepted: per program, `FILE: [NAME: ]accepted (N instructions)` and
//! the log (the statistics at level 1, every instruction at level 2) on
//! stdout, exit 0. Rejected: the log (the state at the fault, the reason
//! and the statistics at level 1, the default) and then
//! `FILE: rejected: ...` with the instruction and, for objects with line
//! info, the C source line, on stderr; exit 1.

use crate::error::{CliError, CliResult};
use crate::load::{Loaded, load};
use crate::vlog::{
    VerifierArgs, print_rejection_log, rejection, stats_json, stats_text, with_newline,
};
use rxdp_xdp::XdpProgram;
use rxdp_xdp::setup::Setup;
use std::path::PathBuf;

/// Arguments of `rxdp verify`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The program: assembly (.s), raw bytecode (.bin), or a BPF object
    /// (.o), whose XDP programs are all checked.
    #[arg(value_name = "PROG")]
    file: PathBuf,
    /// Report only this program of the object (the others are loaded
    /// too, as libbpf loads a whole object).
    #[arg(long, value_name = "NAME")]
    prog: Option<String>,
    /// How the verifier checks the program (log level 1 by default).
    #[command(flatten)]
    verifier: VerifierArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `rxdp verify`: exit 0 when accepted, 1 with the reason when not.
pub(crate) fn run(a: Args) -> CliResult {
    let opts = a.verifier.options(1);
    match load(&a.file, a.prog.as_deref(), &Setup::default(), &opts) {
        Ok(loaded) => {
            let programs = accepted(&loaded, a.prog.is_some());
            if a.json {
                let v: Vec<_> = programs.iter().map(|(n, p)| accepted_json(n, p)).collect();
                println!("{}", serde_json::json!({ "accepted": true, "programs": v }));
            } else {
                for (name, p) in programs {
                    print_accepted(&a, name, p);
                }
            }
            Ok(())
        }
        Err(e @ CliError::Program(_)) => {
            if a.json {
                println!("{}", rejected_json(&e));
            } else {
                print_rejected(&a, &e);
            }
            Err(CliError::Silent(1))
        }
        Err(e) => Err(e),
    }
}

/// The programs to report, by name (`None` for a lone program): the one
/// chosen with `--prog`, else every XDP program loaded.
fn accepted(loaded: &Loaded, only_chosen: bool) -> Vec<(Option<&str>, &XdpProgram)> {
    match loaded {
        Loaded::Single(p) => vec![(None, p)],
        Loaded::Object { object, prog } => object
            .programs()
            .filter(|(n, _)| !only_chosen || n == prog)
            .map(|(n, p)| (Some(n), p))
            .collect(),
    }
}

fn print_accepted(a: &Args, name: Option<&str>, p: &XdpProgram) {
    let who = match name {
        Some(n) => format!("{}: {n}", a.file.display()),
        None => a.file.display().to_string(),
    };
    println!("{who}: accepted ({} instructions)", p.insns().len());
    let log = p.verifier_log();
    if !log.is_empty() {
        print!("{}", with_newline(log));
    } else {
        // No log asked for (level 0): the statistics all the same, as they
        // are what `verify` is for.
        print!("{}", stats_text(&p.verifier_stats(), p.subprog_info()));
    }
}

fn accepted_json(name: &Option<&str>, p: &XdpProgram) -> serde_json::Value {
    let depths: Vec<u32> = p.subprog_info().iter().map(|s| s.stack_depth).collect();
    serde_json::json!({
        "name": name,
        "accepted": true,
        "insns": p.insns().len(),
        "stats": stats_json(&p.verifier_stats()),
        "stack_depth": depths,
        "log": p.verifier_log(),
    })
}

fn print_rejected(a: &Args, e: &CliError) {
    print_rejection_log(e);
    eprintln!("{}: rejected: {e}", a.file.display());
    // Rejections before the abstract interpretation (the program's
    // structure) leave no log: the statistics all the same.
    if let Some(v) = rejection(e)
        && v.log.is_empty()
    {
        eprint!("{}", stats_text(&v.stats, &[]));
    }
}

fn rejected_json(e: &CliError) -> serde_json::Value {
    let mut v = serde_json::json!({ "accepted": false, "error": e.to_string() });
    if let Some(r) = rejection(e) {
        v["pc"] = serde_json::json!(r.pc);
        v["msg"] = serde_json::json!(r.msg);
        v["log"] = serde_json::json!(r.log);
        v["stats"] = stats_json(&r.stats);
    }
    v
}
