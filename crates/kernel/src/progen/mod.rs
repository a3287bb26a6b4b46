//! Random XDP programs that the kernel verifier accepts, for
//! differential testing of rxdp's engines against the kernel: run the
//! same program on the same frame in both and compare verdict and output
//! frame.
//!
//! A program is a main function and up to [`GenConfig::max_subprogs`]
//! subprograms reached by bpf-to-bpf calls (a subprogram calls only
//! later ones, so there is no recursion). Each function is a prologue
//! that initialises its stack slots and some registers, a sequence of
//! items drawn from the enabled families, and an epilogue that folds
//! every live scalar into `r0`. The main function also reads the frame
//! early (so values and branches depend on it), and at the end stores
//! the 64-bit `r0` into the first 8 bytes of the frame: the 32-bit
//! verdict alone would hide upper halves.
//!
//! Families: ALU and ALU64 with every operation (division and modulo by
//! registers that may be zero, signed forms, shifts by registers of any
//! value, shifts by immediates below the width), negation, byte swaps
//! (`le`, `be`, `bswap`), sign-extending moves, 64-bit immediates,
//! stack stores and (sign-extending) loads of every size, atomics of
//! every kind on the stack, bounds-checked packet loads and stores
//! (constant and masked variable offsets, unaligned), JMP and JMP32
//! conditional jumps with every condition (forward only: if and if-else
//! blocks), `goto` and `gotol`, and local calls.
//!
//! Kept out because their results differ between runs or machines:
//! reads of uninitialised stack (permitted to root, but garbage), any
//! pointer value reaching a scalar, helpers, context fields other than
//! `data` and `data_end`.
//!
//! XDP places no range on the return value (`check_return_code` in
//! kernel/bpf/verifier.c only checks it is a scalar for XDP without an
//! expected attach type; checked by loading `r0 = 7`), so the verdict is
//! any `u32` and `BPF_PROG_TEST_RUN` reports it as is.

mod census;
mod func;
pub(crate) mod rng;
mod state;

pub use census::{Census, census};

use func::{Func, FuncGen, MAX_VAR_OFF, Role, SubInfo};
use rng::Rng;
use rxdp_isa::{CallKind, Insn};

/// What to generate. `GenConfig::default()` enables every family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Items (instruction groups) in the main body; subprograms get a
    /// third. An item is one to a dozen instructions.
    pub items: usize,
    /// How deeply if blocks nest.
    pub max_depth: usize,
    /// Most subprograms (0 to disable calls).
    pub max_subprogs: usize,
    /// Largest packet range proven by one check, in bytes.
    pub packet_span: usize,
    /// 8-byte stack slots of the main function.
    pub stack_slots: usize,
    /// Bound on the paths through a function (each if block, packet
    /// check and call multiplies them); once reached, no more branching
    /// items are written. It keeps the kernel verifier's walk, which
    /// pruning usually makes far shorter, within its limit of 1M
    /// processed instructions for large `items`.
    pub max_paths: u64,
    /// ALU and ALU64 operations and negation.
    pub alu: bool,
    /// Conditional jumps (if and if-else blocks).
    pub jumps: bool,
    /// Byte swaps.
    pub endian: bool,
    /// Sign-extending moves.
    pub movsx: bool,
    /// 64-bit immediate loads.
    pub lddw: bool,
    /// Stack stores and loads.
    pub stack: bool,
    /// Atomic operations on the stack.
    pub atomics: bool,
    /// Packet loads and stores (and the final store of `r0`).
    pub packet: bool,
    /// Local calls to subprograms.
    pub calls: bool,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            items: 40,
            max_depth: 3,
            max_subprogs: 2,
            packet_span: 32,
            stack_slots: 6,
            max_paths: 1 << 16,
            alu: true,
            jumps: true,
            endian: true,
            movsx: true,
            lddw: true,
            stack: true,
            atomics: true,
            packet: true,
            calls: true,
        }
    }
}

impl GenConfig {
    /// The frame length from which every packet check of every program
    /// passes: `packet_span` plus the largest variable offset. Shorter
    /// frames (at least 14 bytes, the kernel's minimum) take the skip
    /// paths, which is worth testing too.
    pub fn full_frame_len(&self) -> usize {
        (self.packet_span + MAX_VAR_OFF).max(8)
    }
}

/// The program for `seed`: one [`Insn`] per slot (`LdImm64` followed by
/// `LdImm64Hi`), main function first, then the subprograms. The same
/// seed and configuration always give the same program.
pub fn generate(seed: u64, cfg: &GenConfig) -> Vec<Insn> {
    let mut rng = Rng::new(seed);
    let nsubs = if cfg.calls && cfg.max_subprogs > 0 {
        rng.below(cfg.max_subprogs + 1)
    } else {
        0
    };
    let mut info: Vec<SubInfo> = (0..nsubs)
        .map(|_| SubInfo {
            args: rng.below(6),
            called: false,
            paths: 1.0,
        })
        .collect();
    // Later subprograms first: their callers need their path bounds, and
    // the main function calls those no one calls yet.
    let mut subs = Vec::with_capacity(nsubs);
    for n in (0..nsubs).rev() {
        let (f, paths) = FuncGen::new(&mut rng, cfg, Role::Sub(n), &mut info).write();
        info[n].paths = paths;
        subs.push(f);
    }
    subs.reverse();
    let (main, _) = FuncGen::new(&mut rng, cfg, Role::Main, &mut info).write();
    link(main, subs)
}

/// Lays the functions out one after the other and resolves the local
/// calls: `imm = callee start - (call slot + 1)`.
fn link(main: Func, subs: Vec<Func>) -> Vec<Insn> {
    let mut starts = Vec::with_capacity(subs.len());
    let mut at = main.insns.len();
    for f in &subs {
        starts.push(at);
        at += f.insns.len();
    }
    let mut out = Vec::with_capacity(at);
    for f in std::iter::once(main).chain(subs) {
        let base = out.len();
        let mut insns = f.insns;
        for (slot, callee) in f.calls {
            let off = starts[callee] as i64 - (base + slot + 1) as i64;
            insns[slot] = Insn::Call(CallKind::Local(off as i32));
        }
        out.extend(insns);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxdp_isa::{decode_raw, encode_raw};

    #[test]
    fn deterministic_per_seed() {
        let cfg = GenConfig::default();
        assert_eq!(generate(42, &cfg), generate(42, &cfg));
        assert_ne!(generate(42, &cfg), generate(43, &cfg));
    }

    #[test]
    fn programs_encode_and_decode_back() {
        let cfg = GenConfig::default();
        for seed in 0..200 {
            let prog = generate(seed, &cfg);
            assert_eq!(decode_raw(&encode_raw(&prog)).unwrap(), prog, "seed {seed}");
        }
    }

    #[test]
    fn jumps_and_calls_stay_inside_and_land_on_instructions() {
        let cfg = GenConfig::default();
        for seed in 0..200 {
            let prog = generate(seed, &cfg);
            assert_eq!(prog.last(), Some(&Insn::Exit), "seed {seed}");
            for (pc, insn) in prog.iter().enumerate() {
                let target = insn.jump_target(pc).or_else(|| insn.call_target(pc));
                if let Some(t) = target {
                    assert!(t > pc as i64, "seed {seed}: backward jump at {pc}");
                    let t = t as usize;
                    assert!(t < prog.len(), "seed {seed}: jump out at {pc}");
                    assert_ne!(prog[t], Insn::LdImm64Hi, "seed {seed}: into lddw at {pc}");
                }
            }
        }
    }

    #[test]
    fn every_family_appears() {
        let cfg = GenConfig::default();
        let mut c = Census::default();
        for seed in 0..300 {
            c.add(&generate(seed, &cfg));
        }
        let missing = c.missing();
        assert!(missing.is_empty(), "never generated: {missing:?}");
    }

    #[test]
    fn disabled_families_are_absent() {
        let cfg = GenConfig {
            atomics: false,
            calls: false,
            endian: false,
            ..GenConfig::default()
        };
        for seed in 0..100 {
            for insn in generate(seed, &cfg) {
                assert!(
                    !matches!(insn, Insn::Atomic { .. } | Insn::Call(_) | Insn::End { .. }),
                    "seed {seed}: {insn:?}"
                );
            }
        }
    }
}
