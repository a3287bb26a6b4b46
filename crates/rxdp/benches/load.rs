//! How long loading a BPF object takes, for every example object in
//! `examples/c/*.o`.
//!
//! `CARGO_TARGET_DIR=target-bench cargo bench -p rxdp --bench load -- --measurement-time 3`
//!
//! Group `load`, one function per stage and object:
//!
//! - `parse/<object>`: [`rxdp_object::parse`] of the file's bytes (ELF,
//!   BTF, maps, relocations, subprograms linked into each program);
//! - `load/<object>`: [`XdpObject::load`] of the parsed object (cloned
//!   outside the timing): every map created, every XDP program checked
//!   and prepared for the interpreter, prog arrays filled;
//! - `kernel/<object>`: the same in the running kernel for reference:
//!   `BPF_MAP_CREATE` for every map (global data maps get their initial
//!   bytes), `BPF_PROG_LOAD` of every XDP program with its map fds
//!   (verifier and JIT), prog array slots filled, everything closed again
//!   at the end of the iteration. Timed by wall clock; skipped, with the
//!   reason printed, where bpf(2) is unavailable or the kernel refuses an
//!   object in this form (without its BTF).
//!
//! From bytes to a runnable rxdp object is `parse` + `load`.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use rxdp_kernel::{KernelMap, KernelProg, LoadOptions};
use rxdp_object::{Object, SlotTarget};
use rxdp_xdp::{ObjectOpts, XdpObject};
use std::hint::black_box;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// `BPF_PROG_TYPE_XDP`.
const PROG_TYPE_XDP: u32 = 6;

/// Every `examples/c/*.o`, by file name, in name order.
fn objects() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/c");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("object file"))
        })
        .collect();
    v.sort();
    v
}

/// The XDP programs [`XdpObject::load`] loads.
fn xdp_programs(obj: &Object) -> impl Iterator<Item = &rxdp_object::Program> {
    obj.programs
        .iter()
        .filter(|p| p.prog_type == PROG_TYPE_XDP && p.autoload)
}

/// An object loaded into the kernel: closed when dropped.
struct KernelObject {
    _maps: Vec<KernelMap>,
    _progs: Vec<KernelProg>,
}

/// Loads `obj`'s maps and XDP programs into the kernel.
fn kernel_load(obj: &Object) -> Result<KernelObject, String> {
    let maps = rxdp_kernel::create_maps(&obj.maps).map_err(|e| e.to_string())?;
    let fds: Vec<RawFd> = maps.iter().map(KernelMap::fd).collect();
    let mut progs = Vec::new();
    let mut names = Vec::new();
    for p in xdp_programs(obj) {
        let name = rxdp_kernel::obj_name(&p.name);
        let opts = LoadOptions {
            fd_array: &fds,
            prog_flags: p.prog_flags(),
            expected_attach_type: p.expected_attach_type,
            name: &name,
            ..LoadOptions::default()
        };
        let k = KernelProg::load(&p.raw_insns(), &opts).map_err(|e| format!("{}: {e}", p.name))?;
        progs.push(k);
        names.push(p.name.as_str());
    }
    for (i, d) in obj.maps.iter().enumerate() {
        for slot in &d.init_slots {
            if let SlotTarget::Prog(p) = &slot.target {
                let at = names.iter().position(|n| n == p);
                let fd = at
                    .map(|at| progs[at].fd())
                    .ok_or(format!("no program {p}"))?;
                maps[i]
                    .update(&slot.index.to_ne_bytes(), &(fd as u32).to_ne_bytes(), 0)
                    .map_err(|e| format!("map {}: {e}", d.name))?;
            }
        }
    }
    Ok(KernelObject {
        _maps: maps,
        _progs: progs,
    })
}

fn bench(c: &mut Criterion) {
    let kernel = rxdp_kernel::available();
    if let Err(why) = &kernel {
        eprintln!("kernel loads skipped: {why}");
    }
    let opts = ObjectOpts::default();
    let mut g = c.benchmark_group("load");
    for (name, bytes) in objects() {
        let obj = rxdp_object::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Err(e) = XdpObject::load(obj.clone(), &opts) {
            eprintln!("{name} skipped: rxdp cannot load it: {e}");
            continue;
        }
        g.bench_function(BenchmarkId::new("parse", &name), |b| {
            b.iter(|| rxdp_object::parse(black_box(&bytes)).is_ok())
        });
        g.bench_function(BenchmarkId::new("load", &name), |b| {
            b.iter_batched(
                || obj.clone(),
                |o| XdpObject::load(o, &opts).is_ok(),
                BatchSize::SmallInput,
            )
        });
        if kernel.is_err() {
            continue;
        }
        match kernel_load(&obj) {
            Ok(_) => g.bench_function(BenchmarkId::new("kernel", &name), |b| {
                b.iter(|| kernel_load(&obj).is_ok())
            }),
            Err(e) => {
                eprintln!("{name}: kernel load skipped: the kernel refused it: {e}");
                continue;
            }
        };
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
