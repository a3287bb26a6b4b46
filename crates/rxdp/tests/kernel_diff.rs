//! Random programs the kernel's verifier accepts give identical results in
//! the kernel and in every rxdp engine: the return value and every byte of
//! the output frame, on frames that pass every packet check, frames that
//! fail them, and frames in between.
//!
//! `RXDP_KERNEL_DIFF_COUNT` sets how many programs (default 300, which
//! keeps CI short; the campaign is 10,000 and more), and
//! `RXDP_KERNEL_DIFF_SEED` the first seed. A failure names the seed, so
//! `RXDP_KERNEL_DIFF_SEED=<seed> RXDP_KERNEL_DIFF_COUNT=1` replays it.

mod common;

use common::{Outcome, kernel_or_skip, run_kernel, run_rxdp};
use rxdp_isa::DisasmOptions;
use rxdp_kernel::progen::{GenConfig, generate};
use rxdp_xdp::Engine;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

/// Frames of several lengths and contents, derived from the seed.
fn frames(seed: u64, cfg: &GenConfig) -> Vec<Vec<u8>> {
    let full = cfg.full_frame_len().max(64);
    let fill = |len: usize, salt: u64| -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    vec![fill(full, 1), fill(full, 2), fill(14, 3), fill(14 + (seed as usize % full), 4)]
}

fn report(seed: u64, prog: &[rxdp_isa::Insn], frame: &[u8], what: &str, a: &Outcome, b: &Outcome) -> String {
    let text = rxdp_isa::disasm(prog, &DisasmOptions { auto_labels: true, ..DisasmOptions::default() });
    format!(
        "seed {seed}, frame of {} bytes: {what} differ\n  left:  retval {} data_out {:02x?}\n  right: retval {} data_out {:02x?}\n{text}",
        frame.len(),
        a.retval,
        a.data_out,
        b.retval,
        b.data_out
    )
}

fn campaign(label: &str, cfg: &GenConfig, first: u64, count: u64) {
    let mut failures = Vec::new();
    for seed in first..first + count {
        let prog = generate(seed, cfg);
        for frame in frames(seed, cfg) {
            let kernel = match run_kernel(&prog, &[], &frame) {
                Ok(k) => k,
                Err(e) => {
                    failures.push(format!("seed {seed}: the kernel refused a generated program: {e}"));
                    break;
                }
            };
            let checked = run_rxdp(&prog, &[], &frame, Engine::Checked);
            if checked != kernel {
                failures.push(report(seed, &prog, &frame, "checked and kernel", &checked, &kernel));
            }
            let fast = run_rxdp(&prog, &[], &frame, Engine::Interp);
            if fast != checked {
                failures.push(report(seed, &prog, &frame, "interp and checked", &fast, &checked));
            }
        }
        if failures.len() >= 5 {
            break;
        }
    }
    assert!(failures.is_empty(), "{label}: {} failures:\n{}", failures.len(), failures.join("\n\n"));
    eprintln!("{label}: {count} programs from seed {first}, 4 frames each: rxdp == kernel");
}

#[test]
fn random_programs_match_the_kernel() {
    if !kernel_or_skip("random_programs_match_the_kernel") {
        return;
    }
    let count = env_u64("RXDP_KERNEL_DIFF_COUNT", 300);
    let first = env_u64("RXDP_KERNEL_DIFF_SEED", 0);
    campaign("default programs", &GenConfig::default(), first, count);
    let large = GenConfig { items: 120, max_subprogs: 4, packet_span: 64, ..GenConfig::default() };
    campaign("large programs", &large, first + 1_000_000, count.div_ceil(10));
}
