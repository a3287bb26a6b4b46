//! Fuzzes the verifier's soundness: a program it accepts, in the default
//! or the privileged mode, must never fault in the checked engine.
//!
//! The input chooses the program one of two ways (its first byte):
//! - even: a seed and configuration for `rxdp_kernel::hostile`, which
//!   writes programs biased toward what breaks verifiers (bytes 1..9 the
//!   seed, then items, the chance of a mistake and the families);
//! - odd: raw instructions (the bytes after the first, 8 per slot), with
//!   an array, a hash and a ring buffer map as `map[0]`..`map[2]`;
//!   forward jumps only (an accepted endless loop would run for
//!   seconds; the hostile generator's loops end).
//!
//! The frames come from the hostile generator's frame drawer, seeded by
//! the input. Run from crates/verifier:
//! `cargo fuzz run -s none soundness` (or `cargo +nightly fuzz run
//! soundness` for the sanitizer build).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxdp_isa::asm::MapDecl;
use rxdp_isa::maptype;
use rxdp_kernel::hostile::{HostileConfig, frames, generate};
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, RunError, TestRunOpts, XdpProgram};

/// The maps raw programs refer to.
fn raw_maps() -> Vec<MapDecl> {
    let decl = |name: &str, map_type, key_size, value_size, max_entries| MapDecl {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
    };
    vec![
        decl("array", maptype::ARRAY, 4, 16, 4),
        decl("hash", maptype::HASH, 8, 48, 16),
        decl("rb", maptype::RINGBUF, 0, 0, 4096),
    ]
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// Program, maps, frame lengths to favour, and the seed of the frames.
fn program(data: &[u8]) -> Option<(Vec<rxdp_isa::Insn>, Vec<MapDecl>, Vec<usize>, u64)> {
    let (&mode, rest) = data.split_first()?;
    if mode & 1 == 0 {
        let seed = u64_at(rest, 0);
        let knobs = u64_at(rest, 8);
        let on = |bit: u32| knobs >> bit & 1 == 0;
        let cfg = HostileConfig {
            items: 1 + (knobs >> 16 & 15) as usize,
            // At least some mistakes, or short inputs write only safe
            // programs.
            mistake_per_mille: 30 + (knobs >> 24 & 0x7f) as u32 * 3,
            max_call_depth: 1 + (knobs >> 32 & 7) as usize,
            packet: on(0),
            maps: on(1),
            stack: on(2),
            pointer_alu: on(3),
            helpers: on(4),
            calls: on(5),
            loops: on(6),
            ringbuf: on(7),
            // Runaway loops would run to the engine's budget (seconds).
            runaway_loops: false,
        };
        let h = generate(seed, &cfg);
        Some((h.insns, h.maps, h.lengths, seed))
    } else {
        let code = &rest[..rest.len() / 8 * 8];
        let insns = rxdp_isa::decode(code).ok()?;
        // An endless loop would run to the checked engine's budget of
        // 2^32 instructions (seconds): raw programs jump forward only.
        let backward = insns
            .iter()
            .enumerate()
            .any(|(pc, i)| i.jump_target(pc).is_some_and(|t| t <= pc as i64));
        if backward {
            return None;
        }
        Some((insns, raw_maps(), Vec::new(), u64::from(mode)))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((insns, maps, lengths, seed)) = program(data) else {
        return;
    };
    for privileged in [false, true] {
        let opts = Options {
            privileged,
            log_level: 0,
        };
        let Ok(prog) = XdpProgram::load_with_options(&insns, &maps, &opts) else {
            continue;
        };
        let run = TestRunOpts {
            engine: Engine::Checked,
            ..TestRunOpts::default()
        };
        for frame in frames(seed, 3, &lengths) {
            if let Err(RunError::Fault { fault, .. }) = prog.test_run(&frame, &run) {
                panic!(
                    "accepted (privileged: {privileged}) and faulted on a frame of {} bytes: {fault}\n{}",
                    frame.len(),
                    rxdp_isa::disasm(
                        &insns,
                        &rxdp_isa::DisasmOptions {
                            maps: &maps,
                            auto_labels: true,
                            slot_numbers: true,
                            helper_names: true,
                            ..Default::default()
                        }
                    )
                );
            }
        }
        // The privileged run adds nothing when the default mode accepted.
        break;
    }
});
