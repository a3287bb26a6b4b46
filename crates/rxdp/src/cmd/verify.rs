//! `rxdp verify`: load a program as XDP and report whether it is accepted.

use crate::error::{CliError, CliResult};
use crate::load::{Loaded, load};
use rxdp_xdp::setup::Setup;
use std::path::PathBuf;

/// Arguments of `rxdp verify`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The program: assembly (.s), raw bytecode (.bin), or a BPF object
    /// (.o), whose XDP programs are all checked.
    #[arg(value_name = "PROG")]
    file: PathBuf,
}

/// Runs `rxdp verify`: exit 0 when accepted, 1 with the reason when not.
pub(crate) fn run(a: Args) -> CliResult {
    match load(&a.file, None, &Setup::default()) {
        Ok(Loaded::Single(p)) => {
            println!(
                "{}: accepted ({} instructions)",
                a.file.display(),
                p.insns().len()
            );
            Ok(())
        }
        Ok(Loaded::Object { object, .. }) => {
            for (name, p) in object.programs() {
                println!(
                    "{}: {name}: accepted ({} instructions)",
                    a.file.display(),
                    p.insns().len()
                );
            }
            Ok(())
        }
        Err(CliError::Program(e)) => {
            eprintln!("{}: rejected: {e:#}", a.file.display());
            Err(CliError::Silent(1))
        }
        Err(e) => Err(e),
    }
}
