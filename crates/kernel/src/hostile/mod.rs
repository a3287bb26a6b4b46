//! Random XDP programs biased toward what breaks verifiers, for testing
//! that rxdp's verifier is sound: unlike [`crate::progen`], these
//! programs are *not* restricted to safe ones. Each decision an item
//! makes (a bounds check, a mask, a null check, a stack offset, a helper
//! argument, a loop bound) is right most of the time and, with
//! probability [`HostileConfig::mistake_per_mille`], wrong in one of the
//! ways verifiers are known to miss: off by one, the check on the wrong
//! register, a 32-bit or signed compare where only a 64-bit unsigned
//! one proves anything, a check against `data_end` from the wrong side,
//! a copy of a pointer made before the check, a partially overwritten
//! spill, a stale packet pointer after `bpf_xdp_adjust_head`, a callee's
//! dead frame, a missing release. A verifier that accepts a program
//! whose run then touches memory it may not (the checked engine's
//! fault) is unsound.
//!
//! Items (see the modules): packet access with constant and variable
//! offsets and `data_meta` (`memory`), stack spills, fills, partial
//! overwrites, uninitialised and variable-offset access, pointer
//! arithmetic and context fields (`memory`), map lookups, value
//! accesses, updates and ring buffers (`maps`), helpers with memory
//! arguments, helpers that move the packet, bpf-to-bpf calls and loops
//! (`flow`). Jumps and calls are resolved from labels, so programs stay
//! structurally valid: every jump lands inside the program, never inside
//! a `lddw`, and every function ends with `exit` (an instruction can
//! still be unreachable when an item's branch is decided, which the
//! verifier may reject).
//!
//! The same seed and configuration always give the same program.

mod asm;
mod flow;
mod frame;
mod maps;
mod memory;
mod program;

pub use frame::{MAX_FRAME, MIN_FRAME, frame, frames};

use rxdp_isa::Insn;
use rxdp_isa::asm::MapDecl;

/// What to generate. `HostileConfig::default()` enables every family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostileConfig {
    /// Most items in the main function (at least one is written); a
    /// subprogram gets one to three.
    pub items: usize,
    /// Chance in a thousand that a decision goes wrong.
    pub mistake_per_mille: u32,
    /// Most frames of bpf-to-bpf calls that generic calls nest (the
    /// main program is frame 1); call chains may go deeper on purpose.
    pub max_call_depth: usize,
    /// Packet accesses, constant and variable, and `data_meta`.
    pub packet: bool,
    /// Map lookups, value accesses, updates.
    pub maps: bool,
    /// Stack spills, fills and odd offsets.
    pub stack: bool,
    /// Pointer arithmetic and context fields.
    pub pointer_alu: bool,
    /// Helpers with memory arguments and helpers that move the packet.
    pub helpers: bool,
    /// bpf-to-bpf calls.
    pub calls: bool,
    /// Counter-driven loops.
    pub loops: bool,
    /// Loops that never end once entered. Off by default: an engine
    /// runs such a program until its instruction budget (seconds), so a
    /// test enables them only where it can afford that; see
    /// [`Hostile::may_not_terminate`].
    pub runaway_loops: bool,
    /// Ring buffer reservations.
    pub ringbuf: bool,
}

impl Default for HostileConfig {
    fn default() -> Self {
        HostileConfig {
            items: 6,
            mistake_per_mille: 60,
            max_call_depth: 3,
            packet: true,
            maps: true,
            stack: true,
            pointer_alu: true,
            helpers: true,
            calls: true,
            loops: true,
            runaway_loops: false,
            ringbuf: true,
        }
    }
}

/// A generated program, its maps and a frame to run it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hostile {
    /// One instruction per slot (`LdImm64` followed by `LdImm64Hi`); map
    /// references are `Pseudo::MapIdx` indexes into `maps`.
    pub insns: Vec<Insn>,
    /// The maps the program refers to.
    pub maps: Vec<MapDecl>,
    /// A frame to run it on (see [`frame`] for more).
    pub packet: Vec<u8>,
    /// The item families and variants the program contains, sorted
    /// (`packet`, `packet.var`, `map`, `map.copy_check`, `call.chain`,
    /// ...): for a census.
    pub features: Vec<&'static str>,
    /// How many decisions went wrong on purpose. Zero does not mean the
    /// program is safe (items interact, a stale pointer outlives its
    /// item), nor does non-zero mean it is unsafe (a wrong check may sit
    /// on a path no frame takes).
    pub mistakes: usize,
    /// Frame lengths at which the program's packet checks flip, for
    /// [`frame`] to favour.
    pub lengths: Vec<usize>,
    /// Whether the program contains a loop that never ends once
    /// entered (only with [`HostileConfig::runaway_loops`]).
    pub may_not_terminate: bool,
}

/// The program for `seed`.
pub fn generate(seed: u64, cfg: &HostileConfig) -> Hostile {
    let mut h = program::Gen::new(seed, cfg).program();
    h.packet = frame(seed, 0, &h.lengths);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxdp_isa::{CallKind, decode_raw, encode_raw};

    #[test]
    fn deterministic_per_seed() {
        let cfg = HostileConfig::default();
        assert_eq!(generate(42, &cfg), generate(42, &cfg));
        assert_ne!(generate(42, &cfg).insns, generate(43, &cfg).insns);
    }

    #[test]
    fn programs_are_structurally_valid() {
        let cfg = HostileConfig {
            runaway_loops: true,
            ..HostileConfig::default()
        };
        for seed in 0..500 {
            let h = generate(seed, &cfg);
            let p = &h.insns;
            assert_eq!(decode_raw(&encode_raw(p)).unwrap(), *p, "seed {seed}");
            assert_eq!(p.last(), Some(&Insn::Exit), "seed {seed}");
            for (pc, insn) in p.iter().enumerate() {
                let target = insn.jump_target(pc).or_else(|| insn.call_target(pc));
                if let Some(t) = target {
                    assert!(t >= 0 && (t as usize) < p.len(), "seed {seed}: out at {pc}");
                    assert_ne!(
                        p[t as usize],
                        Insn::LdImm64Hi,
                        "seed {seed}: into lddw at {pc}"
                    );
                }
                if let Insn::Jmp { off, .. } = insn {
                    assert_ne!(
                        *off, -1,
                        "seed {seed}: self-jump at {pc} (unresolved label)"
                    );
                }
                if let Insn::LdImm64 { pseudo, imm, .. } = insn
                    && pseudo.is_map()
                {
                    assert!(
                        (*imm as u32 as usize) < h.maps.len(),
                        "seed {seed}: map index"
                    );
                }
            }
            assert!((14..=1500).contains(&h.packet.len()));
        }
    }

    #[test]
    fn every_family_appears_and_mistakes_are_a_minority() {
        let cfg = HostileConfig::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut clean = 0;
        let mut calls = 0;
        for seed in 0..1000 {
            let h = generate(seed, &cfg);
            seen.extend(h.features.iter().copied());
            clean += usize::from(h.mistakes == 0);
            calls += usize::from(
                h.insns
                    .iter()
                    .any(|i| matches!(i, Insn::Call(CallKind::Local(_)))),
            );
        }
        for f in [
            "packet",
            "packet.var",
            "packet.meta",
            "packet.stale",
            "map",
            "map.var",
            "map.copy_check",
            "map.bad_null_check",
            "map.atomic",
            "stack.spill",
            "stack.var",
            "stack.uninit",
            "ptr.alu",
            "helper.adjust",
            "call.stack_arg",
            "call.chain",
            "loop",
            "loop.packet",
            "ringbuf",
        ] {
            assert!(seen.contains(f), "never generated: {f}");
        }
        assert!(!seen.contains("loop.runaway"));
        assert!(
            (200..900).contains(&clean),
            "{clean} of 1000 without mistakes"
        );
        assert!(calls > 100, "{calls} of 1000 with calls");
    }
}
