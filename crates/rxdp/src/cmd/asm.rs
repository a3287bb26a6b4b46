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
}

/// Runs `rxdp asm`.
pub(crate) fn assemble(a: AsmArgs) -> CliResult {
    if a.input.extension().and_then(|e| e.to_str()) != Some("s") {
        return Err(usage(anyhow!("{}: expected an assembly file (.s)", a.input.display())));
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
    print!("{}", rxdp_isa::disasm::disasm(&src.insns, &rxdp_isa::disasm::Options::default()));
    Ok(())
}
