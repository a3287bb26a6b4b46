//! Every program `progen` generates is accepted by the kernel verifier
//! and runs. `RXDP_PROGEN_COUNT` sets the number of programs with the
//! default configuration (default 300; a tenth as many again are drawn
//! with a large configuration), `RXDP_PROGEN_SEED` the first seed
//! (default 0). Prints "skipped: <reason>" when the kernel cannot be
//! used.

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

/// Loads `count` programs from `first` on; returns a report line and
/// the failures.
fn check(label: &str, cfg: &GenConfig, first: u64, count: u64) -> (String, Vec<String>) {
    let full = vec![0x5au8; cfg.full_frame_len().max(64)];
    let short = [0xa5u8; 14];
    let mut census = Census::default();
    let mut failures = Vec::new();
    let mut processed = Vec::new();
    for seed in first..first + count {
        let prog = generate(seed, cfg);
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
                        failures.push(format!("{label} seed {seed}: test run failed: {e}"));
                    }
                }
            }
            Err(e) if failures.len() < 3 => {
                let mut text =
                    format!("{label} seed {seed}: rejected: {:?}\nprogram:\n", e.errno());
                for (i, insn) in prog.iter().enumerate() {
                    let _ = writeln!(text, "{i:4}: {insn:?}");
                }
                let tail: Vec<&str> = e.log().lines().rev().take(40).collect();
                let _ = write!(
                    text,
                    "verifier log (end):\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
                failures.push(text);
            }
            Err(e) => failures.push(format!("{label} seed {seed}: rejected: {:?}", e.errno())),
        }
    }
    processed.sort_unstable();
    let median = processed.get(processed.len() / 2).copied().unwrap_or(0);
    let max = processed.last().copied().unwrap_or(0);
    let report = format!(
        "progen {label}: {} of {count} accepted (seeds {first}..{}); verifier processed insns: median {median}, max {max}\n{census}",
        count as usize - failures.len(),
        first + count
    );
    (report, failures)
}

#[test]
fn kernel_accepts_generated_programs() {
    if let Err(e) = available() {
        eprintln!("skipped: kernel_accepts_generated_programs: {e}");
        return;
    }
    let count = env_u64("RXDP_PROGEN_COUNT", 300);
    let first = env_u64("RXDP_PROGEN_SEED", 0);
    let large = GenConfig {
        items: 150,
        max_depth: 5,
        max_subprogs: 4,
        packet_span: 64,
        stack_slots: 16,
        ..GenConfig::default()
    };
    let mut failures = Vec::new();
    for (label, cfg, n) in [
        ("default", GenConfig::default(), count),
        ("large", large, count.div_ceil(10)),
    ] {
        let (report, f) = check(label, &cfg, first, n);
        eprintln!("{report}");
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
