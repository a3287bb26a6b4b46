//! Every program `progen` generates is accepted by the kernel verifier
//! and runs. `RXDP_PROGEN_COUNT` sets the number of programs (default
//! 300), `RXDP_PROGEN_SEED` the first seed (default 0). Prints
//! "skipped: <reason>" when the kernel cannot be used.

use rxdp_kernel::progen::{Census, GenConfig, generate};
use rxdp_kernel::{KernelProg, LoadOptions, available};
use std::fmt::Write as _;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn kernel_accepts_generated_programs() {
    if let Err(e) = available() {
        eprintln!("skipped: kernel_accepts_generated_programs: {e}");
        return;
    }
    let count = env_u64("RXDP_PROGEN_COUNT", 300);
    let first = env_u64("RXDP_PROGEN_SEED", 0);
    let cfg = GenConfig::default();
    let full = vec![0x5au8; cfg.full_frame_len().max(64)];
    let short = [0xa5u8; 14];
    let mut census = Census::default();
    let mut failures = String::new();
    let mut failed = 0;
    let mut processed = Vec::new();
    for seed in first..first + count {
        let prog = generate(seed, &cfg);
        census.add(&prog);
        let opts = LoadOptions {
            log_level: rxdp_kernel::consts::log_level::BPF_LOG_STATS,
            ..Default::default()
        };
        match KernelProg::load_insns(&prog, &opts) {
            Ok(p) => {
                if let Some(s) = p.verifier_stats() {
                    processed.push(s.processed_insns);
                }
                for frame in [&full[..], &short[..]] {
                    if let Err(e) = p.test_run(frame, 1) {
                        failed += 1;
                        let _ = writeln!(failures, "seed {seed}: test run failed: {e}");
                    }
                }
            }
            Err(e) => {
                failed += 1;
                if failed <= 3 {
                    let log = e.log();
                    let tail: Vec<&str> = log.lines().rev().take(40).collect();
                    let _ = writeln!(
                        failures,
                        "seed {seed}: {:?}\nprogram:\n{}\nlog tail:\n{}",
                        e.errno(),
                        prog.iter()
                            .enumerate()
                            .map(|(i, x)| format!("{i:4}: {x:?}"))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    );
                } else {
                    let _ = writeln!(failures, "seed {seed}: rejected: {:?}", e.errno());
                }
            }
        }
    }
    processed.sort_unstable();
    let median = processed.get(processed.len() / 2).copied().unwrap_or(0);
    let max = processed.last().copied().unwrap_or(0);
    eprintln!(
        "progen: {} of {count} accepted (seeds {first}..{}); verifier processed insns: median {median}, max {max}\n{census}",
        count - failed,
        first + count
    );
    assert!(failed == 0, "{failed} of {count} failed:\n{failures}");
}
