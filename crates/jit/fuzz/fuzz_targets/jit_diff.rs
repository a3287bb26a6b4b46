//! Fuzzes the JIT against the checked interpreter: a program rxdp's
//! verifier accepts and the JIT compiles must give, on every frame, the
//! same return value, output frame and map contents in native code as in
//! the checked engine (each engine on a load of its own, so that each
//! starts from empty maps).
//!
//! The input chooses the program one of two ways (its first byte):
//! - even: a seed and configuration for `rxdp_kernel::progen`, the
//!   generator of `crates/jit/tests/jit_diff.rs` (bytes 1..9 the seed,
//!   9..17 the size and the instruction families), verified in the
//!   privileged mode as that test does;
//! - odd: raw instructions (the bytes after the first, 8 per slot), with
//!   an array and a hash map as `map[0]` and `map[1]`, verified in the
//!   default mode, so that no pointer reaches the return value or a map
//!   (addresses differ between the engines); forward jumps only, since an
//!   endless loop the verifier wrongly accepted would hang native code.
//!
//! A program the checked engine faults on is skipped: it is a verifier
//! bug, the `soundness` target's business (crates/verifier/fuzz), and
//! unsafe to run natively. The frames come from
//! `rxdp_kernel::hostile::frames`, seeded by the input. Run from
//! crates/jit: `cargo +nightly fuzz run jit_diff` (or `cargo fuzz run -s
//! none jit_diff` on stable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxdp_isa::asm::MapDecl;
use rxdp_isa::{Insn, maptype};
use rxdp_kernel::hostile::frames;
use rxdp_kernel::progen::{self, GenConfig};
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, TestRunOpts, XdpProgram};

/// Frames each program runs on.
const FRAMES: usize = 4;

/// One program to compare, and how to check and run it.
struct Case {
    insns: Vec<Insn>,
    maps: Vec<MapDecl>,
    privileged: bool,
    /// Frame lengths worth trying (where the program's checks flip).
    lengths: Vec<usize>,
    seed: u64,
}

/// Little-endian `u64` from `data[at..at + 8]`, zeros past the end.
fn le_u64(data: &[u8], at: usize) -> u64 {
    let tail = data.get(at..).unwrap_or_default();
    let mut b = [0u8; 8];
    let n = tail.len().min(8);
    b[..n].copy_from_slice(&tail[..n]);
    u64::from_le_bytes(b)
}

/// A progen program: `knobs` picks its size and, bit by bit (a clear bit
/// turns a family on, so short inputs use every one), its families.
fn generated(seed: u64, knobs: u64) -> Case {
    let on = |bit: u32| knobs >> bit & 1 == 0;
    let cfg = GenConfig {
        items: 1 + (knobs >> 16 & 63) as usize,
        max_depth: 1 + (knobs >> 24 & 3) as usize,
        max_subprogs: (knobs >> 28 & 3) as usize,
        alu: on(0),
        jumps: on(1),
        endian: on(2),
        movsx: on(3),
        lddw: on(4),
        stack: on(5),
        atomics: on(6),
        packet: on(7),
        calls: on(8),
        ..GenConfig::default()
    };
    let full = cfg.full_frame_len();
    Case {
        insns: progen::generate(seed, &cfg),
        maps: Vec::new(),
        privileged: true,
        lengths: vec![14, full / 2, full, full + 9],
        seed,
    }
}

/// A map declaration without flags.
fn map(name: &str, map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> MapDecl {
    MapDecl {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
    }
}

/// Raw instructions, or `None` when they do not decode or jump back.
fn raw(code: &[u8], seed: u64) -> Option<Case> {
    let insns = rxdp_isa::decode(&code[..code.len() / 8 * 8]).ok()?;
    let forward_only = insns
        .iter()
        .enumerate()
        .all(|(pc, i)| i.jump_target(pc).is_none_or(|t| t > pc as i64));
    if !forward_only {
        return None;
    }
    Some(Case {
        insns,
        maps: vec![
            map("array", maptype::ARRAY, 4, 16, 4),
            map("hash", maptype::HASH, 8, 24, 8),
        ],
        privileged: false,
        lengths: Vec::new(),
        seed,
    })
}

fn case(data: &[u8]) -> Option<Case> {
    let (&mode, rest) = data.split_first()?;
    if mode & 1 == 0 {
        Some(generated(le_u64(rest, 0), le_u64(rest, 8)))
    } else {
        // FNV-1a of the code: the frames follow the program.
        let seed = rest.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        raw(rest, seed)
    }
}

/// What a run leaves: return value, output frame, and every map's
/// elements, sorted.
type Outcome = (u32, Vec<u8>, Vec<Vec<(Vec<u8>, Vec<u8>)>>);

fn run(prog: &XdpProgram, engine: Engine, frame: &[u8]) -> Option<Outcome> {
    let opts = TestRunOpts {
        engine,
        ..TestRunOpts::default()
    };
    let out = prog.test_run(frame, &opts).ok()?;
    let maps = prog
        .maps()
        .iter()
        .map(|m| {
            let mut elems = rxdp_maps::dump(&*m.map).unwrap_or_default();
            elems.sort();
            elems
        })
        .collect();
    Some((out.retval, out.data_out, maps))
}

fuzz_target!(|data: &[u8]| {
    let Some(c) = case(data) else {
        return;
    };
    let opts = Options {
        privileged: c.privileged,
        log_level: 0,
    };
    let load = || XdpProgram::load_with_options(&c.insns, &c.maps, &opts);
    let (Ok(reference), Ok(native)) = (load(), load()) else {
        return;
    };
    if native.jit().is_err() {
        return;
    }
    for frame in frames(c.seed, FRAMES, &c.lengths) {
        let Some(want) = run(&reference, Engine::Checked, &frame) else {
            return;
        };
        let got = run(&native, Engine::Jit, &frame);
        if got.as_ref() != Some(&want) {
            panic!(
                "JIT and checked interpreter disagree on a frame of {} bytes\n\
                 checked: {want:x?}\nJIT:     {got:x?}\n{}",
                frame.len(),
                rxdp_isa::disasm(
                    &c.insns,
                    &rxdp_isa::DisasmOptions {
                        maps: &c.maps,
                        auto_labels: true,
                        slot_numbers: true,
                        helper_names: true,
                        ..Default::default()
                    }
                )
            );
        }
    }
});
