//! XDP programs run side by side: rxdp's interpreters and JIT, rbpf 0.4's
//! interpreter and JIT, and the kernel's BPF_PROG_TEST_RUN, on the same
//! bytecode and the same 64-byte Ethernet/IPv4/UDP frame.
//!
//! `CARGO_TARGET_DIR=target-bench cargo bench -p rxdp --bench xdp -- --measurement-time 3`
//!
//! Every function reports nanoseconds per run of one call of a runtime's
//! public per-run API:
//!
//! - `rxdp_interp`, `rxdp_checked`, `rxdp_jit`: [`XdpRunner::run`] on a
//!   frame built once, with the fast (unchecked) interpreter, the checked
//!   interpreter and the JIT's native code. `rxdp_jit` is skipped, with the
//!   reason printed ([`XdpProgram::jit_fallback`]), for a program the JIT
//!   did not compile: the JIT engine would run it on the interpreter.
//! - `rbpf_interp`: rbpf's `EbpfVmMbuff::execute_program(packet, mbuff)`,
//!   the lightest rbpf call that hands a program its packet. rbpf knows
//!   nothing of `struct xdp_md`, whose pointer fields are 32 bits, so it
//!   runs rxdp's fixup output ([`XdpProgram::xlated`]: the context loads
//!   rewritten into 64-bit loads from [`XdpContext`]) with the mbuff
//!   holding an `XdpContext` that points at the packet: the instructions
//!   it executes are the ones rxdp executes.
//! - `rbpf_jit`: the same bytecode and mbuff through rbpf's x86-64 JIT
//!   (`EbpfVmMbuff::jit_compile`, then `execute_program_jit`).
//! - `kernel_test_run`: `BPF_PROG_TEST_RUN` with `repeat` = the number of
//!   iterations criterion asks for (in chunks of at most a million), the
//!   time being the kernel's own mean per run times the runs. That figure
//!   excludes the syscall and the frame set-up; it is whole nanoseconds,
//!   rounded down by the kernel. Skipped, with the reason printed, where
//!   bpf(2) is unavailable.
//!
//! Groups: `drop` (`examples/xdp_drop.s`, `r0 = 1; exit`), `parse`
//! (`examples/parse_udp.s`, Ethernet/IPv4/UDP parse with every bounds
//! check), `map_counter` (`examples/count_proto.s`, a parse and an
//! array map increment; rbpf has no maps, so it is not run there) and
//! `subprog` (`examples/subprog.s`, the IPv4 parse in a bpf-to-bpf
//! subprogram). Before
//! timing, each group checks that every runtime returns the same verdict.
//!
//! Tail calls (`rxdp_interp`, `rxdp_jit`, `kernel_test_run`; rbpf has no
//! tail calls): `tail_call_1`, a program that tail-calls (constant prog
//! array and index) a program returning `XDP_DROP`; `tail_call_32`, a chain
//! of 33 programs linked by 32 such tail calls, the last returning
//! `XDP_DROP` (a failed tail call returns `XDP_ABORTED`, which the verdict
//! check catches). The cost of one tail call is the difference of the two
//! divided by 31.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use rxdp_isa::asm::{Assembled, assemble};
use rxdp_kernel::{KernelMap, KernelProg, LoadOptions};
use rxdp_maps::ProgArray;
use rxdp_xdp::{Engine, Xdp, XdpBuff, XdpContext, XdpProgram, sample};
use std::hint::black_box;
use std::os::fd::RawFd;
use std::sync::Arc;
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

const CASES: [Case; 4] = [
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
    Case {
        group: "subprog",
        src: include_str!("../../../examples/subprog.s"),
        rbpf: true,
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
        bench_rxdp_jit(&mut g, case.group, &prog, &packet, expected);
        if case.rbpf {
            bench_rbpf(&mut g, &prog, &packet, expected);
            bench_rbpf_jit(&mut g, &prog, &packet, expected);
        }
        if kernel.is_ok() {
            bench_kernel(&mut g, &asm, &packet, expected);
        }
        g.finish();
    }
    for calls in TAIL_CHAINS {
        bench_tail_chain(c, calls, &packet, kernel.is_ok());
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

/// Times the JIT engine, when the JIT compiled the program; says why not
/// otherwise (the JIT engine would run the interpreter, which
/// `rxdp_interp` measures already).
fn bench_rxdp_jit(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    prog: &XdpProgram,
    packet: &[u8],
    expected: u32,
) {
    let mut runner = prog.runner(Engine::Jit);
    if runner.engine_used() != Engine::Jit {
        let why = prog.jit_fallback().unwrap_or_default();
        eprintln!("{group}/rxdp_jit skipped: the program runs on the interpreter: {why}");
        return;
    }
    let mut buff = XdpBuff::new(packet, 1, 0).unwrap();
    let retval = runner.run(&mut buff).unwrap();
    assert_eq!(retval, expected, "{group}/rxdp_jit");
    g.bench_function("rxdp_jit", |b| {
        b.iter(|| runner.run(black_box(&mut buff)).unwrap_or(FAULTED))
    });
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

fn bench_rbpf_jit(
    g: &mut BenchmarkGroup<'_, WallTime>,
    prog: &XdpProgram,
    packet: &[u8],
    expected: u32,
) {
    let bytecode = rxdp_isa::encode(prog.xlated());
    let mut vm = rbpf::EbpfVmMbuff::new(Some(&bytecode)).expect("rbpf accepts the program");
    vm.jit_compile().expect("rbpf's JIT compiles the program");
    // The mbuff points at this copy of the packet, which outlives `vm`'s runs.
    let mut mem = packet.to_vec();
    let mut mbuff = context_bytes(&mem);
    // SAFETY: rbpf's JIT checks no access. The program passed rxdp's
    // verifier, and this is its fixup output: it reads only the
    // `XdpContext` in `mbuff` (whose bytes hold a valid context) and the
    // packet in `mem` between `data` and `data_end`, which that context
    // points at; both outlive the call, and neither moves.
    let retval =
        unsafe { vm.execute_program_jit(&mut mem, &mut mbuff) }.expect("rbpf runs the program");
    assert_eq!(retval as u32, expected, "rbpf_jit");
    g.bench_function("rbpf_jit", |b| {
        b.iter(|| {
            // SAFETY: as for the run above, on the same buffers.
            unsafe { vm.execute_program_jit(black_box(&mut mem), black_box(&mut mbuff)) }
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
    let maps = rxdp_kernel::create_asm_maps(&asm.maps).expect("kernel maps");
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
    time_kernel(g, &prog, packet);
}

/// Times `prog` under `BPF_PROG_TEST_RUN` by the kernel's own `duration`.
fn time_kernel(g: &mut BenchmarkGroup<'_, WallTime>, prog: &KernelProg, packet: &[u8]) {
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

/// The tail-call chains: how many tail calls one run makes.
const TAIL_CHAINS: [usize; 2] = [1, 32];

/// `XDP_DROP`, what the last program of a chain returns.
const XDP_DROP: u32 = 1;

/// Program `i` of a chain of `calls` tail calls: programs `0..calls`
/// tail-call slot `i + 1` of the prog array `jt` (r1, the context, is the
/// one they were given) and return `XDP_ABORTED` should the call fail;
/// program `calls` returns `XDP_DROP`.
fn chain_program(i: usize, calls: usize) -> String {
    let head = format!(
        ".map jt type=prog_array key=4 value=4 entries={}\n",
        calls + 1
    );
    if i < calls {
        format!(
            "{head}    r2 = map[jt] ll\n    r3 = {}\n    call bpf_tail_call\n    r0 = 0\n    exit\n",
            i + 1
        )
    } else {
        format!("{head}    r0 = {XDP_DROP}\n    exit\n")
    }
}

/// Group `tail_call_<calls>`: a run that makes `calls` tail calls, in
/// rxdp's interpreter, rxdp's JIT (skipped, with the reason printed, when
/// the JIT left a program of the chain to the interpreter) and the kernel.
fn bench_tail_chain(c: &mut Criterion, calls: usize, packet: &[u8], kernel: bool) {
    let group = format!("tail_call_{calls}");
    let asms: Vec<Assembled> = (0..=calls)
        .map(|i| assemble(&chain_program(i, calls)).unwrap_or_else(|e| panic!("{group}: {e}")))
        .collect();
    // The first program creates the prog array; the others share its map
    // table, as the programs of one object do.
    let entry =
        XdpProgram::load(&asms[0].insns, &asms[0].maps).unwrap_or_else(|e| panic!("{group}: {e}"));
    let rest: Vec<XdpProgram> = asms[1..]
        .iter()
        .map(|a| {
            XdpProgram::load_with_maps(
                &a.insns,
                Arc::clone(entry.map_table()),
                Xdp::default(),
                &rxdp_verifier::Options::default(),
            )
            .unwrap_or_else(|e| panic!("{group}: {e}"))
        })
        .collect();
    let array = entry
        .maps()
        .get(0)
        .and_then(|m| m.map.as_any().downcast_ref::<ProgArray>())
        .expect("map 0 is the prog array");
    for (i, p) in rest.iter().enumerate() {
        array
            .set(i as u32 + 1, p.prog_ref(), 0)
            .unwrap_or_else(|e| panic!("{group}: slot {}: {e}", i + 1));
    }
    let mut g = c.benchmark_group(&group);
    let mut runner = entry.runner(Engine::Interp);
    let mut buff = XdpBuff::new(packet, 1, 0).unwrap();
    assert_eq!(runner.run(&mut buff), Ok(XDP_DROP), "{group}/rxdp_interp");
    g.bench_function("rxdp_interp", |b| {
        b.iter(|| runner.run(black_box(&mut buff)).unwrap_or(FAULTED))
    });
    // The JIT engine measures native code only when every program of the
    // chain is compiled.
    let fallback = std::iter::once(&entry)
        .chain(&rest)
        .enumerate()
        .find_map(|(i, p)| p.jit_fallback().map(|why| format!("program {i}: {why}")));
    match fallback {
        Some(why) => {
            eprintln!("{group}/rxdp_jit skipped: the chain runs on the interpreter: {why}")
        }
        None => bench_rxdp_jit(&mut g, &group, &entry, packet, XDP_DROP),
    }
    if kernel {
        bench_kernel_chain(&mut g, &group, &asms, packet);
    }
    g.finish();
}

/// The chain `asms` in the kernel: one prog array, each program loaded
/// with it, slot `i` holding program `i`.
fn bench_kernel_chain(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    asms: &[Assembled],
    packet: &[u8],
) {
    let d = &asms[0].maps[0];
    let array = KernelMap::create(
        d.map_type,
        d.key_size,
        d.value_size,
        d.max_entries,
        d.flags,
        &d.name,
    )
    .expect("kernel prog array");
    let fds = [array.fd()];
    let opts = LoadOptions {
        fd_array: &fds,
        ..LoadOptions::default()
    };
    let mut progs = Vec::with_capacity(asms.len());
    for (i, a) in asms.iter().enumerate() {
        match KernelProg::load_insns(&a.insns, &opts) {
            Ok(p) => progs.push(p),
            Err(e) => {
                eprintln!("{group}/kernel_test_run skipped: the kernel refused program {i}: {e}");
                return;
            }
        }
    }
    for (i, p) in progs.iter().enumerate().skip(1) {
        array
            .update(&(i as u32).to_ne_bytes(), &(p.fd() as u32).to_ne_bytes(), 0)
            .expect("kernel prog array slot");
    }
    let entry = &progs[0];
    let run = entry.test_run(packet, 1).expect("kernel test run");
    assert_eq!(run.retval, XDP_DROP, "{group}/kernel_test_run");
    time_kernel(g, entry, packet);
}

criterion_group!(benches, bench);
criterion_main!(benches);
