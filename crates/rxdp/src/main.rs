//! `rxdp`: run, check, assemble and disassemble XDP programs in user space.

mod cmd;
mod error;
mod events;
mod input;
mod jited;
mod load;
mod mapdump;
mod vlog;

use clap::{Parser, Subcommand};
use error::CliError;
use std::process::ExitCode;

/// A user-space eBPF runtime for XDP programs.
#[derive(Parser)]
#[command(name = "rxdp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program on one packet, like BPF_PROG_TEST_RUN.
    TestRun(cmd::test_run::Args),
    /// Inspect BPF objects.
    #[command(subcommand)]
    Prog(cmd::prog::ProgCommand),
    /// Check a program; exit 1 and say why when it is rejected.
    Verify(cmd::verify::Args),
    /// Assemble a program into raw bytecode.
    Asm(cmd::asm::AsmArgs),
    /// Print a program in the syntax of llvm-objdump.
    Disasm(cmd::asm::DisasmArgs),
    /// Run one test of the bpf_conformance suite (its plugin protocol).
    ConformancePlugin(cmd::conformance::Args),
}

/// Restores the default action of SIGPIPE, which Rust's runtime ignores, so
/// that `rxdp ... | head` ends quietly when the reader goes away, as other
/// command-line tools do, instead of failing on the next write.
fn default_sigpipe() {
    // SAFETY: called first thing in main, before any other thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn main() -> ExitCode {
    default_sigpipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::TestRun(a) => cmd::test_run::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Prog(c) => cmd::prog::run(c),
        Command::Asm(a) => cmd::asm::assemble(a),
        Command::Disasm(a) => cmd::asm::disassemble(a),
        Command::ConformancePlugin(a) => cmd::conformance::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Silent(code)) => ExitCode::from(code),
        Err(e) => {
            eprintln!("rxdp: {e:#}");
            ExitCode::from(e.exit_code())
        }
    }
}
