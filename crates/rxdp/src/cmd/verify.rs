//! `rxdp verify`: load a program as XDP and report whether it is accepted.

use crate::error::{CliError, CliResult};
use crate::input::read_program;
use rxdp_xdp::XdpProgram;
use std::path::PathBuf;

/// Arguments of `rxdp verify`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The program: assembly (.s) or raw bytecode (.bin).
    prog: PathBuf,
}

/// Runs `rxdp verify`: exit 0 when accepted, 1 with the reason when not.
pub(crate) fn run(a: Args) -> CliResult {
    let src = read_program(&a.prog)?;
    match XdpProgram::load(&src.insns, &src.maps) {
        Ok(p) => {
            println!(
                "{}: accepted ({} instructions)",
                a.prog.display(),
                p.insns().len()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("{}: rejected: {e}", a.prog.display());
            Err(CliError::Silent(1))
        }
    }
}
