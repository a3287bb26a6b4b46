//! `rxdp test-run`: the counterpart of BPF_PROG_TEST_RUN.

use crate::cmd::prog_dump::chosen;
use crate::error::{CliResult, program, usage};
use crate::events::PrintSink;
use crate::input::{hex, read_packet};
use crate::jited::{jited, not_jited_json};
use crate::load::{load, read_setup};
use crate::mapdump::{map_dump_json, print_map_dump};
use crate::vlog::{VerifierArgs, print_rejection_log, with_newline};
use anyhow::anyhow;
use clap::ValueEnum;
use rxdp_xdp::helpers::{EventSink, HelperEnv};
use rxdp_xdp::{Engine, TestRunOpts};
use std::path::PathBuf;
use std::sync::Arc;

/// The interpreters, selectable on the command line (what runs programs
/// the verifier did not check, such as the conformance suite's).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum EngineArg {
    /// The fast interpreter: no run-time checks, as the verifier proved
    /// the program safe.
    Interp,
    /// The checked interpreter, the reference: every access is checked.
    Checked,
}

/// The engines `test-run` offers: the interpreters and the JIT.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum RunEngineArg {
    /// The fast interpreter: no run-time checks, as the verifier proved
    /// the program safe.
    Interp,
    /// The checked interpreter, the reference: every access is checked.
    Checked,
    /// Native code from rxdp's JIT (the fast interpreter for a program it
    /// cannot compile yet, said on stderr).
    Jit,
}

impl From<RunEngineArg> for Engine {
    fn from(e: RunEngineArg) -> Engine {
        match e {
            RunEngineArg::Interp => Engine::Interp,
            RunEngineArg::Checked => Engine::Checked,
            RunEngineArg::Jit => Engine::Jit,
        }
    }
}

/// Arguments of `rxdp test-run`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The program: assembly (.s), raw bytecode (.bin), or a BPF object
    /// (.o) whose programs are all loaded.
    #[arg(value_name = "PROG")]
    file: PathBuf,
    /// The program of the object that runs (default: its first XDP program).
    #[arg(long, value_name = "NAME")]
    prog: Option<String>,
    /// A setup file: map elements, global variables and prog array slots
    /// to set before the run (see the README).
    #[arg(long, value_name = "FILE")]
    setup: Option<PathBuf>,
    /// Print every map after the run.
    #[arg(long)]
    map_dump: bool,
    /// The packet as hex bytes (default: a built-in 64-byte IPv4/UDP packet).
    #[arg(long)]
    data: Option<String>,
    /// A file holding the packet's raw bytes.
    #[arg(long, value_name = "FILE")]
    data_file: Option<PathBuf>,
    /// How many times to run the program on the packet.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// The engine: `interp` runs without run-time checks (the verifier
    /// proved the program safe), `checked` checks every access, `jit`
    /// runs native code.
    #[arg(long, value_enum, default_value_t = RunEngineArg::Interp)]
    engine: RunEngineArg,
    /// With `--engine jit`: print the native code first, as `prog dump
    /// --jited` does, on stderr (with `--json`, in the output's `jited`
    /// field).
    #[arg(long)]
    disasm: bool,
    /// How the verifier checks the program.
    #[command(flatten)]
    verifier: VerifierArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `rxdp test-run`.
pub(crate) fn run(a: Args) -> CliResult {
    if a.disasm && !matches!(a.engine, RunEngineArg::Jit) {
        return Err(usage(anyhow!(
            "--disasm prints the JIT's code: it needs --engine jit (for the \
             instructions the interpreters run, see `rxdp prog dump --xlated`)"
        )));
    }
    let packet = read_packet(a.data.as_deref(), a.data_file.as_deref())?;
    if let Err(e) = rxdp_xdp::XdpBuff::new(&packet, 1, 0) {
        return Err(usage(e));
    }
    let setup = read_setup(a.setup.as_deref())?;
    let loaded = load(&a.file, a.prog.as_deref(), &setup, &a.verifier.options(0))
        .inspect_err(print_rejection_log)?;
    // The log of an accepted program (the statistics at level 1) goes to
    // stderr, away from the run's output.
    eprint!("{}", with_newline(loaded.program().verifier_log()));
    // The native code, before the run (on stderr, away from its output).
    let jited = a.disasm.then(|| {
        let t = chosen(&a.file, &loaded);
        jited(&t.name, t.prog, t.obj).map_err(|why| (t.name.clone(), why))
    });
    if !a.json
        && let Some(Ok(d)) = &jited
    {
        eprint!("{}", d.text(false));
    }
    let mut engine = Engine::from(a.engine);
    if engine == Engine::Jit
        && let Some(why) = loaded.program().jit_fallback()
    {
        eprintln!("jit: {why}; running the interpreter");
        // What the runner falls back to, for the timing line.
        engine = Engine::Interp;
    }
    let sink = Arc::new(PrintSink::default());
    sink.attach(Arc::clone(loaded.program().map_table()));
    let env = HelperEnv {
        sink: Arc::clone(&sink) as Arc<dyn EventSink>,
        ..HelperEnv::deterministic()
    };
    let opts = TestRunOpts {
        engine,
        repeat: a.repeat,
        env: Some(Arc::new(env)),
        ..TestRunOpts::default()
    };
    let out = loaded.program().test_run(&packet, &opts).map_err(program)?;
    sink.drain_all();
    if a.json {
        let mut v = serde_json::json!({
            "retval": out.retval,
            "action": out.action.name(),
            "data_out": hex(&out.data_out),
            "duration_ns": out.duration_ns,
        });
        if a.map_dump {
            v["maps"] = map_dump_json(loaded.maps()).map_err(program)?;
        }
        match &jited {
            Some(Ok(d)) => v["jited"] = d.json(),
            Some(Err((name, why))) => v["jited"] = not_jited_json(name, why),
            None => {}
        }
        println!("{v}");
    } else {
        println!("verdict:   {} (retval {})", out.action, out.retval);
        println!("data_out:  {} bytes", out.data_out.len());
        for (i, line) in out.data_out.chunks(16).enumerate() {
            let bytes: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
            println!("  {:04x}  {}", i * 16, bytes.join(" "));
        }
        println!(
            "time:      {} ns per run (mean of {} runs, {} engine)",
            out.duration_ns,
            a.repeat,
            engine.name()
        );
        if a.map_dump {
            print_map_dump(loaded.maps()).map_err(program)?;
        }
    }
    Ok(())
}
