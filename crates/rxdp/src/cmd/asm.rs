//! `rxdp asm` and `rxdp disasm`.

use crate::error::{CliResult, usage};
use crate::input::read_program;
use anyhow::{Context, anyhow};
use std::path::PathBuf;

/// Arguments of `rxdp asm`.
#[derive(clap::Args)]
pub(crate) struct AsmArgs {
    /// The assembly file.
    input: PathBuf,
    /// Where to write the bytecode.
    #[arg(short, long)]
    output: PathBuf,
}

/// Arguments of `rxdp disasm`.
#[derive(clap::Args)]
pub(crate) struct DisasmArgs {
    /// The program: raw bytecode (.bin) or assembly (.s).
    prog: PathBuf,
    /// Print jump and call targets as labels instead of offsets.
    #[arg(long)]
    labels: bool,
    /// Print helper calls by name (`call bpf_map_lookup_elem`).
    #[arg(long)]
    helper_names: bool,
}

/// Runs `rxdp asm`.
pub(crate) fn assemble(a: AsmArgs) -> CliResult {
    if a.input.extension().and_then(|e| e.to_str()) != Some("s") {
        return Err(usage(anyhow!(
            "{}: expected an assembly file (.s)",
            a.input.display()
        )));
    }
    let src = read_program(&a.input)?;
    let bytes = rxdp_isa::encode(&src.insns);
    std::fs::write(&a.output, bytes)
        .with_context(|| format!("cannot write {}", a.output.display()))
        .map_err(usage)
}

/// Runs `rxdp disasm`.
pub(crate) fn disassemble(a: DisasmArgs) -> CliResult {
    let src = read_program(&a.prog)?;
    let opts = rxdp_isa::DisasmOptions {
        maps: &src.maps,
        auto_labels: a.labels,
        helper_names: a.helper_names,
        ..rxdp_isa::DisasmOptions::default()
    };
    print!("{}", rxdp_isa::disasm(&src.insns, &opts));
    Ok(())
}
