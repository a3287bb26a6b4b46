//! Prints, as a markdown table, what verifying each example XDP program
//! and two large generated programs costs rxdp's verifier and the
//! kernel's: processed instructions, states, peak states and the median
//! verification time of N runs.
//!
//! `CARGO_TARGET_DIR=target-bench cargo run --release -p rxdp --example verify_stats [N]`
//!
//! rxdp's time is the wall time of [`rxdp_verifier::verify`]; the
//! kernel's is the "verification time" line of its log (`BPF_LOG_STATS`),
//! which covers `bpf_check` but not the JIT. The kernel columns are
//! omitted where bpf(2) is unavailable.

#[path = "../benches/verify_programs/mod.rs"]
mod verify_programs;

use rxdp_kernel::VerifierStats;
use std::time::Duration;
use verify_programs::Subject;

/// Runs per program when no count is given.
const DEFAULT_RUNS: usize = 21;

fn main() -> Result<(), String> {
    let runs = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("runs {n:?}: {e}"))?,
        None => DEFAULT_RUNS,
    };
    let kernel = rxdp_kernel::available();
    if let Err(why) = &kernel {
        eprintln!("kernel columns omitted: {why}");
    }
    println!(
        "| program | insns | rxdp processed | rxdp states | rxdp peak | rxdp time | \
         kernel processed | kernel states | kernel peak | kernel time |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for s in verify_programs::subjects()? {
        let (rxdp, rxdp_time) = rxdp_row(&s, runs)?;
        let k = if kernel.is_ok() {
            kernel_cells(&s.kernel(runs)?)
        } else {
            "| | | |".into()
        };
        println!(
            "| {} | {} | {} | {} | {} | {} {k} |",
            s.name,
            s.insns.len(),
            rxdp.insns_processed,
            rxdp.states,
            rxdp.peak_states,
            micros(rxdp_time),
        );
    }
    Ok(())
}

/// rxdp's statistics (the same on every run) and its median time.
fn rxdp_row(s: &Subject, runs: usize) -> Result<(rxdp_verifier::Stats, Duration), String> {
    let mut times = Vec::with_capacity(runs);
    let mut stats = None;
    for _ in 0..runs.max(1) {
        let (st, t) = s.rxdp()?;
        times.push(t);
        stats = Some(st);
    }
    times.sort();
    Ok((stats.unwrap_or_default(), times[times.len() / 2]))
}

/// The kernel's columns: the figures of the first load (they do not vary)
/// and the median verification time.
fn kernel_cells(loads: &[VerifierStats]) -> String {
    let Some(first) = loads.first() else {
        return "| | | |".into();
    };
    let mut times: Vec<u64> = loads
        .iter()
        .filter_map(|l| l.verification_time_usec)
        .collect();
    times.sort();
    let opt = |v: Option<u64>| v.map_or_else(|| "?".into(), |v| v.to_string());
    format!(
        "| {} | {} | {} | {}",
        first.processed_insns,
        opt(first.total_states),
        opt(first.peak_states),
        times
            .get(times.len() / 2)
            .map_or_else(|| "?".into(), |t| format!("{t} µs")),
    )
}

/// A duration in whole microseconds, as the kernel's log gives it.
fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}
