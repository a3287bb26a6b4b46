//! `bpf_perf_event_output` from XDP programs: records reach the event
//! sink with the packet bytes the flags ask for, and the kernel's errors
//! (net/core/filter.c `bpf_xdp_event_output`, kernel/trace/bpf_trace.c
//! `__bpf_perf_event_output`) come back for bad flags, short packets, an
//! index past the array and an empty slot.
//!
//! Not compared with the kernel: `BPF_PROG_TEST_RUN` cannot observe perf
//! records without perf event fds opened on each CPU, which the kernel
//! comparison harness does not do.

use rxdp_isa::asm::assemble;
use rxdp_xdp::helpers::PerfEvent;
use rxdp_xdp::helpers::env::RecordingSink;
use rxdp_xdp::{Engine, HelperEnv, TestRunOpts, XdpProgram};
use std::sync::Arc;

const EINVAL: i32 = -22;
const EFAULT: i32 = -14;
const E2BIG: i32 = -7;
const ENOENT: i32 = -2;

/// The program's 8 bytes of data: 01 02 .. 08 in memory order.
const DATA: u64 = 0x0807_0605_0403_0201;

/// A program that sends `DATA` to perf event array `events` (2 slots)
/// with `flags`, and returns the helper's result.
fn prog(flags: u64) -> XdpProgram {
    let src = format!(
        ".map events type=perf_event_array key=4 value=4 entries=2
        r6 = r1
        r1 = {DATA:#x} ll
        *(u64 *)(r10 - 8) = r1
        r1 = r6
        r2 = map[events] ll
        r3 = {flags:#x} ll
        r4 = r10
        r4 += -8
        r5 = 8
        call bpf_perf_event_output
        exit"
    );
    let a = assemble(&src).unwrap_or_else(|e| panic!("{e}"));
    XdpProgram::load(&a.insns, &a.maps).unwrap_or_else(|e| panic!("{e}"))
}

/// Sets slot `index` of the program's perf event array to `handle`.
fn set_slot(p: &XdpProgram, index: u32, handle: u32) {
    let m = &p.maps().get(0).unwrap().map;
    m.update_copy(&index.to_ne_bytes(), &handle.to_ne_bytes(), 0)
        .unwrap();
}

/// Runs `p` on `pkt` on CPU `cpu` with every engine; returns the helper's
/// result (which the engines must agree on) and the records of one run.
fn run(p: &XdpProgram, pkt: &[u8], cpu: u32) -> (i32, Vec<PerfEvent>) {
    let mut results = Vec::new();
    let mut records = Vec::new();
    for engine in [Engine::Checked, Engine::Interp] {
        let sink = Arc::new(RecordingSink::default());
        let opts = TestRunOpts {
            engine,
            cpu,
            env: Some(Arc::new(HelperEnv::deterministic().with_sink(sink.clone()))),
            ..TestRunOpts::default()
        };
        let o = p
            .test_run(pkt, &opts)
            .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        results.push(o.retval as i32);
        records.push(sink.take().perf);
    }
    assert_eq!(results[0], results[1], "checked vs interp");
    assert_eq!(records[0], records[1], "checked vs interp");
    (results[0], records.swap_remove(0))
}

#[test]
fn records_carry_the_data_then_the_packet_bytes_asked_for() {
    let pkt = rxdp_xdp::sample::udp4(64);
    // BPF_F_CURRENT_CPU with 14 packet bytes (the Ethernet header).
    let p = prog(14 << 32 | 0xffff_ffff);
    set_slot(&p, 1, 42);
    let (ret, records) = run(&p, &pkt, 1);
    assert_eq!(ret, 0);
    let mut want = DATA.to_ne_bytes().to_vec();
    want.extend_from_slice(&pkt[..14]);
    assert_eq!(
        records,
        vec![PerfEvent {
            map: "events".into(),
            index: 1,
            data: want,
        }]
    );
    // An explicit index, no packet bytes, from another CPU.
    let p = prog(0);
    set_slot(&p, 0, 7);
    let (ret, records) = run(&p, &pkt, 1);
    assert_eq!(ret, 0);
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].index, &records[0].data[..]),
        (0, &DATA.to_ne_bytes()[..])
    );
    // The whole packet may be appended.
    let p = prog((pkt.len() as u64) << 32 | 1);
    set_slot(&p, 1, 7);
    let (ret, records) = run(&p, &pkt, 0);
    assert_eq!(ret, 0);
    assert_eq!(&records[0].data[8..], &pkt[..]);
}

#[test]
fn errors_come_in_the_kernels_order() {
    let pkt = rxdp_xdp::sample::udp4(64);
    let cases: [(u64, i32, &str); 5] = [
        (0, ENOENT, "slot 0 was never set"),
        (1 << 31, E2BIG, "index past max_entries"),
        (0xffff_ffff, E2BIG, "BPF_F_CURRENT_CPU on CPU 3 of 2 slots"),
        (
            1 << 52 | 1,
            EINVAL,
            "a flag outside the index and ctx-len fields",
        ),
        (
            ((pkt.len() as u64) + 1) << 32 | 1,
            EFAULT,
            "more bytes than the packet",
        ),
    ];
    for (flags, want, why) in cases {
        let p = prog(flags);
        set_slot(&p, 1, 5);
        let (ret, records) = run(&p, &pkt, 3);
        assert_eq!(ret, want, "{why}");
        assert!(records.is_empty(), "{why}");
    }
    // Deleting the slot empties it again.
    let p = prog(1);
    set_slot(&p, 1, 5);
    assert_eq!(run(&p, &pkt, 0).0, 0);
    p.maps()
        .get(0)
        .unwrap()
        .map
        .delete(&1u32.to_ne_bytes())
        .unwrap();
    assert_eq!(run(&p, &pkt, 0), (ENOENT, vec![]));
}
