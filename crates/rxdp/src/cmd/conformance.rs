//! `rxdp conformance-plugin`: the plugin protocol of the bpf_conformance
//! suite. The program arrives on stdin as one line of hex bytes, the
//! memory (if the test has one) as the first argument; the program runs
//! with r1 pointing to a writable copy of the memory and r2 holding its
//! length, helper 5 returns its first argument, and r0 is printed in hex.
//! A program that fails the checks or the run exits non-zero with the
//! reason on stdout, where the suite looks for it.
//!
//! The engines: `checked` (the default) guards the memory at run time;
//! `interp` and `jit` trust the program, as the suite's programs are
//! trusted test inputs; the JIT compiles it with a full 512-byte stack per
//! frame and every callee-saved register saved (no verifier measured
//! them) and reports what it cannot compile (`ld_abs`, `callx`).

use crate::cmd::test_run::RunEngineArg as EngineArg;
use crate::error::{CliError, CliResult, usage};
use crate::input::parse_hex;
use anyhow::Context;
use rxdp_interp::{Env, HelperCtx, HelperError, Interpreter, Region, RegionKind, RunLimits, Stack};
use rxdp_isa::Insn;
use rxdp_jit::x86_64::{ArrayLayout, JitOptions, RunCtx, Runtime, compile_with};
use rxdp_verifier::{NoMaps, RawMemory, Stats, SubprogInfo, VerifiedProgram, check_structure};
use std::io::Read;

/// Arguments of `rxdp conformance-plugin`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The memory the program gets in r1, as hex bytes.
    memory: Option<String>,
    /// The engine.
    #[arg(long, value_enum, default_value_t = EngineArg::Checked)]
    engine: EngineArg,
}

/// The suite's world: one block of memory and helper 5.
struct ConformanceEnv {
    mem: Vec<u8>,
}

// SAFETY: the one region is `mem`, owned by the environment and neither
// moved nor resized while a program runs.
unsafe impl Env for ConformanceEnv {
    fn call_helper(
        &mut self,
        id: u32,
        args: [u64; 5],
        _ctx: &mut HelperCtx<'_, Self>,
    ) -> Result<u64, HelperError> {
        match id {
            5 => Ok(args[0]),
            _ => Err(HelperError::Unknown(id)),
        }
    }

    fn regions(&self, out: &mut Vec<Region>) {
        out.push(Region {
            start: self.mem.as_ptr() as u64,
            len: self.mem.len() as u64,
            writable: true,
            kind: RegionKind::Memory,
        });
    }

    fn legacy_packet(&self) -> Option<(u64, u64)> {
        Some((self.mem.as_ptr() as u64, self.mem.len() as u64))
    }
}

fn fail(reason: impl std::fmt::Display) -> CliError {
    println!("{reason}");
    CliError::Silent(1)
}

/// Runs one conformance test.
pub(crate) fn run(a: Args) -> CliResult {
    let mut line = String::new();
    std::io::stdin()
        .read_to_string(&mut line)
        .context("cannot read the program from stdin")
        .map_err(usage)?;
    let code = parse_hex("program", &line)?;
    let mem = match &a.memory {
        Some(m) => parse_hex("memory", m)?,
        None => Vec::new(),
    };
    let insns = rxdp_isa::decode(&code).map_err(fail)?;
    // The conformance suite's programs run on raw memory of any size: there
    // is nothing to prove their accesses against, so they get the
    // structural checks and the rewrites only, and the checked engine
    // (the default) guards their memory at run time.
    let xlated = rxdp_verifier::fixup(&insns, &RawMemory, &NoMaps).map_err(fail)?;
    let interp = Interpreter::new(&xlated).map_err(fail)?;
    let mut env = ConformanceEnv { mem };
    let mut stack = Stack::new();
    let r1 = if env.mem.is_empty() {
        0
    } else {
        env.mem.as_mut_ptr() as u64
    };
    let r2 = env.mem.len() as u64;
    let result = match a.engine {
        EngineArg::Checked => interp.run_checked_with_args(
            [r1, r2, 0, 0, 0],
            &mut stack,
            &mut env,
            RunLimits::default(),
        ),
        // SAFETY: the conformance suite's programs are trusted test
        // inputs, run on request with the unchecked engine.
        EngineArg::Interp => unsafe {
            interp.run_with_args([r1, r2, 0, 0, 0], &mut stack, &mut env)
        },
        EngineArg::Jit => {
            let image = compile_with(&unmeasured(xlated)?, &Helper5, JitOptions::default())
                .map_err(|e| fail(format!("jit: {e}")))?;
            // SAFETY: as for `interp`: trusted test inputs, with r1 and
            // r2 describing `env.mem`, which outlives the run.
            Ok(unsafe {
                image.run_with_args([r1, r2, 0, 0, 0], &mut RunCtx::new(std::ptr::null_mut()))
            })
        }
    };
    let r0 = result.map_err(fail)?;
    println!("{r0:x}");
    Ok(())
}

/// A program no verifier measured, for the JIT: every subprogram gets the
/// full stack and saves every callee-saved register.
fn unmeasured(insns: Vec<Insn>) -> Result<VerifiedProgram, CliError> {
    let structure = check_structure(&insns).map_err(fail)?;
    let frame = SubprogInfo {
        stack_depth: rxdp_interp::STACK_FRAME_SIZE as u32,
        callee_saved: 0b1111 << 6,
        tail_calls: false,
    };
    Ok(VerifiedProgram {
        subprogs: vec![frame; structure.subprogs.len()],
        insns,
        structure,
        ctx_accesses: Vec::new(),
        direct_tail_calls: Vec::new(),
        inline_lookups: Vec::new(),
        log: String::new(),
        stats: Stats::default(),
    })
}

/// The suite's one helper, for compiled code.
struct Helper5;

/// Helper 5 of the suite: returns its first argument.
extern "sysv64" fn helper5(r1: u64, _: u64, _: u64, _: u64, _: u64, _: *mut RunCtx) -> u64 {
    r1
}

impl Runtime for Helper5 {
    fn helper(&self, id: u32) -> Option<u64> {
        (id == 5).then_some(helper5 as *const () as u64)
    }

    fn array(&self, _: u32) -> Option<ArrayLayout> {
        None
    }
}
