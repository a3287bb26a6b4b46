//! XDP programs run side by side: rxdp's interpreters, rbpf 0.4's
//! interpreter and the kernel's BPF_PROG_TEST_RUN, on the same bytecode
//! and the same 64-byte Ethernet/IPv4/UDP frame.
//!
//! `CARGO_TARGET_DIR=target-bench cargo bench -p rxdp --bench xdp -- --measurement-time 3`
//!
//! Every function reports nanoseconds per run of one call of a runtime's
//! public per-run API:
//!
//! - `rxdp_interp`, `rxdp_checked`: [`XdpRunner::run`] on a frame built
//!   once, with the fast (unchecked) and the checked engine.
//! - `rbpf_interp`: rbpf's `EbpfVmMbuff::execute_program(packet, mbuff)`,
//!   the lightest rbpf call that hands a program its packet. rbpf knows
//!   nothing of `struct xdp_md`, whose pointer fields are 32 bits, so it
//!   runs rxdp's fixup output ([`XdpProgram::xlated`]: the context loads
//!   rewritten into 64-bit loads from [`XdpContext`]) with the mbuff
//!   holding an `XdpContext` that points at the packet: the instructions
//!   it executes are the ones rxdp executes.
//! - `kernel_test_run`: `BPF_PROG_TEST_RUN` with `repeat` = the number of
//!   iterations criterion asks for (in chunks of at most a million), the
//!   time being the kernel's own mean per run times the runs. That figure
//!   excludes the syscall and the frame set-up; it is whole nanoseconds,
//!   rounded down by the kernel. Skipped, with the reason printed, where
//!   bpf(2) is unavailable.
//!
//! Groups: `drop` (`examples/xdp_drop.s`, `r0 = 1; exit`), `parse`
//! (`examples/parse_udp.s`, Ethernet/IPv4/UDP parse with every bounds
//! check) and `map_counter` (`examples/count_proto.s`, a parse and an
//! array map increment; rbpf has no maps, so it is not run there). Before
//! timing, each group checks that every runtime returns the same verdict.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use rxdp_isa::asm::{Assembled, assemble};
use rxdp_kernel::{KernelMap, KernelProg, LoadOptions};
use rxdp_xdp::{Engine, XdpBuff, XdpContext, XdpProgram, sample};
use std::hint::black_box;
use std::os::fd::RawFd;
use std::time::Duration;

/// The most runs asked of the kernel in one BPF_PROG_TEST_RUN, so that
/// one call stays well under a second.
const KERNEL_CHUNK: u64 = 1_000_000;

/// What a timed closure yields for a run that failed. Every runtime's
/// result is reduced to its `u32` verdict inside the timed closure, so that
/// no runtime pays for criterion keeping (and dropping) a large error type.
const FAULTED: u32 = u32::MAX;

/// One benchmarked program.
struct Case {
    group: &'static str,
    src: &'static str,
    /// Whether rbpf can run it (it has no maps).
    rbpf: bool,
}

const CASES: [Case; 3] = [
    Case {
        group: "drop",
        src: include_str!("../../../examples/xdp_drop.s"),
        rbpf: true,
    },
    Case {
        group: "parse",
        src: include_str!("../../../examples/parse_udp.s"),
        rbpf: true,
    },
    Case {
        group: "map_counter",
        src: include_str!("../../../examples/count_proto.s"),
        rbpf: false,
    },
];

fn bench(c: &mut Criterion) {
    let packet = sample::udp4(64);
    let kernel = rxdp_kernel::available();
    if let Err(why) = &kernel {
        eprintln!("kernel_test_run skipped: {why}");
    }
    for case in &CASES {
        let asm = assemble(case.src).unwrap_or_else(|e| panic!("{}: {e}", case.group));
        let prog = XdpProgram::load(&asm.insns, &asm.maps)
            .unwrap_or_else(|e| panic!("{}: {e}", case.group));
        let mut g = c.benchmark_group(case.group);
        let expected = bench_rxdp(&mut g, &prog, &packet);
        if case.rbpf {
            bench_rbpf(&mut g, &prog, &packet, expected);
        }
        if kernel.is_ok() {
            bench_kernel(&mut g, &asm, &packet, expected);
        }
        g.finish();
    }
}

/// Times both rxdp engines; returns the verdict they agree on.
fn bench_rxdp(g: &mut BenchmarkGroup<'_, WallTime>, prog: &XdpProgram, packet: &[u8]) -> u32 {
    let mut expected = None;
    for (name, engine) in [
        ("rxdp_interp", Engine::Interp),
        ("rxdp_checked", Engine::Checked),
    ] {
        let mut runner = prog.runner(engine);
        let mut buff = XdpBuff::new(packet, 1, 0).unwrap();
        let retval = runner.run(&mut buff).unwrap();
        assert_eq!(*expected.get_or_insert(retval), retval, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| runner.run(black_box(&mut buff)).unwrap_or(FAULTED))
        });
    }
    expected.unwrap()
}

/// The bytes of an `XdpContext` describing `packet` (no metadata, interface
/// 1, queue 0), as rbpf's mbuff.
fn context_bytes(packet: &[u8]) -> Vec<u8> {
    let data = packet.as_ptr() as u64;
    let ctx = XdpContext {
        data,
        data_end: data + packet.len() as u64,
        data_meta: data,
        ingress_ifindex: 1,
        rx_queue_index: 0,
        egress_ifindex: 0,
    };
    // Field by field, in `XdpContext`'s `repr(C)` order, padding zeroed.
    let mut bytes = Vec::with_capacity(size_of::<XdpContext>());
    for word in [ctx.data, ctx.data_end, ctx.data_meta] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    for word in [ctx.ingress_ifindex, ctx.rx_queue_index, ctx.egress_ifindex] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.resize(size_of::<XdpContext>(), 0);
    bytes
}

fn bench_rbpf(
    g: &mut BenchmarkGroup<'_, WallTime>,
    prog: &XdpProgram,
    packet: &[u8],
    expected: u32,
) {
    let bytecode = rxdp_isa::encode(prog.xlated());
    let vm = rbpf::EbpfVmMbuff::new(Some(&bytecode)).expect("rbpf accepts the program");
    // The mbuff points at this copy of the packet, which outlives `vm`'s runs.
    let mem = packet.to_vec();
    let mbuff = context_bytes(&mem);
    let retval = vm
        .execute_program(&mem, &mbuff)
        .expect("rbpf runs the program");
    assert_eq!(retval as u32, expected, "rbpf_interp");
    g.bench_function("rbpf_interp", |b| {
        b.iter(|| {
            vm.execute_program(black_box(&mem), black_box(&mbuff))
                .map_or(FAULTED, |r0| r0 as u32)
        })
    });
}

fn bench_kernel(
    g: &mut BenchmarkGroup<'_, WallTime>,
    asm: &Assembled,
    packet: &[u8],
    expected: u32,
) {
    let maps: Vec<KernelMap> = asm
        .maps
        .iter()
        .map(|d| {
            KernelMap::create(
                d.map_type,
                d.key_size,
                d.value_size,
                d.max_entries,
                d.flags,
                &d.name,
            )
            .expect("kernel map")
        })
        .collect();
    let fds: Vec<RawFd> = maps.iter().map(KernelMap::fd).collect();
    let opts = LoadOptions {
        fd_array: &fds,
        ..LoadOptions::default()
    };
    let prog = match KernelProg::load_insns(&asm.insns, &opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("kernel_test_run skipped: the kernel refused the program: {e}");
            return;
        }
    };
    let run = prog.test_run(packet, 1).expect("kernel test run");
    assert_eq!(run.retval, expected, "kernel_test_run");
    g.bench_function("kernel_test_run", |b| {
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

criterion_group!(benches, bench);
criterion_main!(benches);
