//! Map lookups and updates from an XDP program, in rxdp and in the kernel:
//! the cost of one `bpf_map_lookup_elem` and one `bpf_map_update_elem` on
//! array, hash, LRU hash and LPM trie maps.
//!
//! `CARGO_TARGET_DIR=target-bench cargo bench -p rxdp --bench maps -- --measurement-time 3`
//!
//! For each map type one program text is generated and run by both
//! runtimes, in three forms with the same skeleton: [`N`] unrolled blocks,
//! each storing a key on the stack, setting up the helper's arguments
//! (`r1` = the map, `r2` = the key, `r3` = a value, `r4` = 0), making the
//! call and checking its result, then `return XDP_PASS`:
//!
//! - `baseline`: the call replaced by `r0 = 1` (so the check passes);
//! - `lookup`: `call bpf_map_lookup_elem`, keys all present (a miss
//!   returns `XDP_ABORTED`, which the bench refuses before timing);
//! - `update`: `call bpf_map_update_elem` with `BPF_ANY` on keys all
//!   present (a failure returns `XDP_ABORTED`).
//!
//! The cost of one operation is `(lookup - baseline) / N` (or update):
//! the helper call, less one register move. Functions of each group
//! (`map_array`, `map_hash`, `map_lru_hash`, `map_lpm_trie`):
//!
//! - `rxdp_{baseline,lookup,update}`: one [`XdpRunner::run`] with the fast
//!   interpreter ([`Engine::Interp`]), as the `xdp` bench;
//! - `kernel_{baseline,lookup,update}`: `BPF_PROG_TEST_RUN` of the same
//!   instructions (JIT-compiled), timed by the kernel's own `duration` as
//!   in the `xdp` bench; skipped, with the reason printed, where bpf(2) is
//!   unavailable;
//! - `rust_lookup`, `rust_update`: one call of rxdp's map API
//!   ([`Map::lookup`], [`Map::update`]) on the same map, one key per
//!   iteration, cycling through the program's keys: what a lookup costs
//!   without the interpreter and the helper layer.
//!
//! Maps: `array` (256 entries, all present), `hash` and `lru_hash` (1024
//! elements in a map of 4096; 4-byte keys), `lpm_trie` (321 IPv4 prefixes:
//! one /8, 64 /16 and 256 /24; lookups of /32 addresses under the /24s,
//! updates of the /24 prefixes themselves). Values are 8 bytes.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use rxdp_isa::asm::{Assembled, assemble};
use rxdp_kernel::{KernelMap, KernelProg, LoadOptions};
use rxdp_maps::Map;
use rxdp_xdp::{Engine, XdpBuff, XdpProgram, sample};
use std::fmt::Write as _;
use std::hint::black_box;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

/// Map operations per program run.
const N: usize = 16;

/// The most runs asked of the kernel in one BPF_PROG_TEST_RUN.
const KERNEL_CHUNK: u64 = 1_000_000;

/// What a timed closure yields for a run that failed.
const FAULTED: u32 = u32::MAX;

/// `XDP_PASS`: what every program returns when all its operations hit.
const XDP_PASS: u32 = 2;

/// The three programs of a map type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Baseline,
    Lookup,
    Update,
}

impl Op {
    const ALL: [Op; 3] = [Op::Baseline, Op::Lookup, Op::Update];

    fn name(self) -> &'static str {
        match self {
            Op::Baseline => "baseline",
            Op::Lookup => "lookup",
            Op::Update => "update",
        }
    }
}

/// One map type under test: its declaration, its elements and the keys
/// the programs use.
struct Case {
    /// The criterion group.
    group: &'static str,
    /// The `.map` declaration's fields after the name.
    decl: &'static str,
    /// Elements put in the map before the runs.
    elements: Vec<(Vec<u8>, Vec<u8>)>,
    /// The keys the lookup program (and the baseline) looks up.
    lookup_keys: Vec<Vec<u8>>,
    /// The keys the update program writes (all present already).
    update_keys: Vec<Vec<u8>>,
}

fn value(i: usize) -> Vec<u8> {
    (i as u64).to_ne_bytes().to_vec()
}

fn u32_key(k: u32) -> Vec<u8> {
    k.to_ne_bytes().to_vec()
}

/// `struct bpf_lpm_trie_key` for IPv4: the prefix length in host order,
/// then the address in network order.
fn lpm_key(prefixlen: u32, addr: [u8; 4]) -> Vec<u8> {
    let mut k = prefixlen.to_ne_bytes().to_vec();
    k.extend_from_slice(&addr);
    k
}

/// `N` keys picked from `elements`, spread over them.
fn spread(elements: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    (0..N)
        .map(|i| elements[(i * 61 + 7) % elements.len()].0.clone())
        .collect()
}

fn hash_case(group: &'static str, decl: &'static str) -> Case {
    // 1024 distinct keys, not consecutive.
    let elements: Vec<_> = (0..1024u32)
        .map(|i| (u32_key(i.wrapping_mul(7919) + 1), value(i as usize)))
        .collect();
    let keys = spread(&elements);
    Case {
        group,
        decl,
        lookup_keys: keys.clone(),
        update_keys: keys,
        elements,
    }
}

fn cases() -> Vec<Case> {
    let array: Vec<_> = (0..256u32)
        .map(|i| (u32_key(i), value(i as usize)))
        .collect();
    let array_keys = spread(&array);
    // 10.0.0.0/8, 10.x.0.0/16 and 10.x.y.0/24 for x < 64, y < 4.
    let mut prefixes = vec![lpm_key(8, [10, 0, 0, 0])];
    for x in 0..64u8 {
        prefixes.push(lpm_key(16, [10, x, 0, 0]));
        for y in 0..4u8 {
            prefixes.push(lpm_key(24, [10, x, y, 0]));
        }
    }
    let lpm: Vec<_> = prefixes
        .into_iter()
        .enumerate()
        .map(|(i, k)| (k, value(i)))
        .collect();
    let slash24 = |i: usize| [10, (i * 37 % 64) as u8, (i % 4) as u8];
    let lpm_lookups = (0..N)
        .map(|i| {
            let [a, b, c] = slash24(i);
            lpm_key(32, [a, b, c, (i * 29 % 256) as u8])
        })
        .collect();
    let lpm_updates = (0..N)
        .map(|i| {
            let [a, b, c] = slash24(i);
            lpm_key(24, [a, b, c, 0])
        })
        .collect();
    vec![
        Case {
            group: "map_array",
            decl: "type=array key=4 value=8 entries=256",
            elements: array,
            lookup_keys: array_keys.clone(),
            update_keys: array_keys,
        },
        hash_case("map_hash", "type=hash key=4 value=8 entries=4096"),
        hash_case("map_lru_hash", "type=lru_hash key=4 value=8 entries=4096"),
        Case {
            group: "map_lpm_trie",
            decl: "type=lpm_trie key=8 value=8 entries=1024 flags=1",
            elements: lpm,
            lookup_keys: lpm_lookups,
            update_keys: lpm_updates,
        },
    ]
}

/// The program text for `op` on `case`'s map. The key lives at
/// `r10 - 8` (up to 8 bytes, stored a 32-bit word at a time), the value
/// for updates at `r10 - 16`.
fn program(case: &Case, op: Op) -> String {
    let keys = match op {
        Op::Update => &case.update_keys,
        Op::Baseline | Op::Lookup => &case.lookup_keys,
    };
    let mut s = format!(".map m {}\n    *(u64 *)(r10 - 16) = 7\n", case.decl);
    for key in keys {
        for (i, word) in key.chunks(4).enumerate() {
            let imm = u32::from_ne_bytes(word.try_into().expect("keys are whole words"));
            writeln!(s, "    *(u32 *)(r10 - {}) = {imm:#x}", 8 - 4 * i).unwrap();
        }
        s.push_str(
            "    r1 = map[m] ll\n    r2 = r10\n    r2 += -8\n    r3 = r10\n    r3 += -16\n    r4 = 0\n",
        );
        s.push_str(match op {
            Op::Baseline => "    r0 = 1\n    if r0 == 0 goto miss\n",
            Op::Lookup => "    call bpf_map_lookup_elem\n    if r0 == 0 goto miss\n",
            Op::Update => "    call bpf_map_update_elem\n    if r0 != 0 goto miss\n",
        });
    }
    s.push_str("    r0 = 2\n    exit\nmiss:\n    r0 = 0\n    exit\n");
    s
}

fn bench(c: &mut Criterion) {
    let packet = sample::udp4(64);
    let kernel = rxdp_kernel::available();
    if let Err(why) = &kernel {
        eprintln!("kernel runs skipped: {why}");
    }
    for case in cases() {
        let mut g = c.benchmark_group(case.group);
        let mut lookup_map = None;
        for op in Op::ALL {
            let src = program(&case, op);
            let asm = assemble(&src).unwrap_or_else(|e| panic!("{}: {e}\n{src}", case.group));
            let map = bench_rxdp(&mut g, &case, op, &asm, &packet);
            if op == Op::Lookup {
                lookup_map = Some(map);
            }
            if kernel.is_ok() {
                bench_kernel(&mut g, &case, op, &asm, &packet);
            }
        }
        bench_rust(&mut g, &case, &lookup_map.expect("the lookup program ran"));
        g.finish();
    }
}

/// Loads `asm` in rxdp, fills its map, checks that every operation hits
/// and times runs; returns the map.
fn bench_rxdp(
    g: &mut BenchmarkGroup<'_, WallTime>,
    case: &Case,
    op: Op,
    asm: &Assembled,
    packet: &[u8],
) -> Arc<dyn Map> {
    let prog = XdpProgram::load(&asm.insns, &asm.maps)
        .unwrap_or_else(|e| panic!("{} {}: {e}", case.group, op.name()));
    let map = Arc::clone(&prog.maps().get(0).expect("one map").map);
    for (k, v) in &case.elements {
        map.update_copy(k, v, 0).expect("rxdp map setup");
    }
    let mut runner = prog.runner(Engine::Interp);
    let mut buff = XdpBuff::new(packet, 1, 0).unwrap();
    let what = format!("{} rxdp {}", case.group, op.name());
    assert_eq!(runner.run(&mut buff), Ok(XDP_PASS), "{what}: a miss");
    g.bench_function(format!("rxdp_{}", op.name()), |b| {
        b.iter(|| runner.run(black_box(&mut buff)).unwrap_or(FAULTED))
    });
    map
}

/// Loads `asm` in the kernel with a map filled as rxdp's, checks that
/// every operation hits and times runs by the kernel's own clock.
fn bench_kernel(
    g: &mut BenchmarkGroup<'_, WallTime>,
    case: &Case,
    op: Op,
    asm: &Assembled,
    packet: &[u8],
) {
    let d = &asm.maps[0];
    let map = KernelMap::create(
        d.map_type,
        d.key_size,
        d.value_size,
        d.max_entries,
        d.flags,
        &d.name,
    )
    .expect("kernel map");
    for (k, v) in &case.elements {
        map.update(k, v, 0).expect("kernel map setup");
    }
    let fds: [RawFd; 1] = [map.fd()];
    let opts = LoadOptions {
        fd_array: &fds,
        ..LoadOptions::default()
    };
    let what = format!("{} kernel {}", case.group, op.name());
    let prog = match KernelProg::load_insns(&asm.insns, &opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{what} skipped: the kernel refused the program: {e}");
            return;
        }
    };
    let run = prog.test_run(packet, 1).expect("kernel test run");
    assert_eq!(run.retval, XDP_PASS, "{what}: a miss");
    g.bench_function(format!("kernel_{}", op.name()), |b| {
        b.iter_custom(|iters| {
            let mut ns = 0;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(KERNEL_CHUNK);
                let run = prog
                    .test_run(packet, chunk as u32)
                    .expect("kernel test run");
                ns += u64::from(run.duration_ns) * chunk;
                left -= chunk;
            }
            Duration::from_nanos(ns)
        })
    });
}

/// Times rxdp's map API on `map` (filled with `case`'s elements), one
/// operation per iteration, cycling through the programs' keys.
fn bench_rust(g: &mut BenchmarkGroup<'_, WallTime>, case: &Case, map: &Arc<dyn Map>) {
    for k in &case.lookup_keys {
        assert!(
            map.lookup(k).is_some(),
            "{}: rust lookup misses",
            case.group
        );
    }
    let mut i = 0;
    g.bench_function("rust_lookup", |b| {
        b.iter(|| {
            i = (i + 1) % N;
            map.lookup(black_box(&case.lookup_keys[i])).is_some()
        })
    });
    let value = 7u64.to_ne_bytes();
    g.bench_function("rust_update", |b| {
        b.iter(|| {
            i = (i + 1) % N;
            map.update(black_box(&case.update_keys[i]), &value, 0)
                .is_ok()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
