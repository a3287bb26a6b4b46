//! Every example program, on every shared packet, in every rxdp engine and
//! in the kernel: the same verdict, output bytes and map contents.

mod common;

use common::{kernel_or_skip, packets, run_kernel, run_rxdp};
use rxdp_xdp::Engine;
use std::path::PathBuf;

fn examples() -> Vec<(String, rxdp_isa::asm::Assembled)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let asm =
                rxdp_isa::asm::assemble(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), asm)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() >= 6, "examples missing from {}", dir.display());
    v
}

#[test]
fn engines_agree_with_each_other_and_the_kernel() {
    let kernel = kernel_or_skip("engines_agree_with_each_other_and_the_kernel");
    for (name, asm) in examples() {
        for (pkt_name, pkt) in packets() {
            let checked = run_rxdp(&asm.insns, &asm.maps, &pkt, Engine::Checked);
            let fast = run_rxdp(&asm.insns, &asm.maps, &pkt, Engine::Interp);
            assert_eq!(fast, checked, "{name} on {pkt_name}: interp vs checked");
            let jit = run_rxdp(&asm.insns, &asm.maps, &pkt, Engine::Jit);
            assert_eq!(jit, checked, "{name} on {pkt_name}: jit vs checked");
            if kernel {
                let k = run_kernel(&asm.insns, &asm.maps, &pkt)
                    .unwrap_or_else(|e| panic!("{name}: kernel: {e}"));
                assert_eq!(checked, k, "{name} on {pkt_name}: rxdp vs kernel");
            }
        }
    }
}

/// The verdicts the examples exist to produce, so that a bug shared by
/// every engine still shows.
#[test]
fn examples_do_what_they_say() {
    let by_name: std::collections::HashMap<_, _> = examples().into_iter().collect();
    let pkts: std::collections::HashMap<_, _> = packets().into_iter().collect();
    let verdict = |prog: &str, pkt: &str| {
        let a = &by_name[prog];
        run_rxdp(&a.insns, &a.maps, &pkts[pkt], Engine::Checked).retval
    };
    assert_eq!(verdict("xdp_drop.s", "tcp4"), 1);
    assert_eq!(verdict("pass_ipv4.s", "tcp4"), 2);
    assert_eq!(verdict("pass_ipv4.s", "udp6"), 1);
    assert_eq!(verdict("pass_ipv4.s", "vlan-udp4"), 1);
    assert_eq!(verdict("parse_udp.s", "udp4-port5678"), 1);
    assert_eq!(verdict("parse_udp.s", "udp4-64"), 2);
    assert_eq!(verdict("parse_udp.s", "ipv4-truncated"), 2);
    assert_eq!(verdict("subprog.s", "icmp4"), 1);
    assert_eq!(verdict("subprog.s", "tcp4"), 2);
    assert_eq!(verdict("swap_mac.s", "udp4-64"), 3);

    let a = &by_name["swap_mac.s"];
    let pkt = &pkts["udp4-64"];
    let out = run_rxdp(&a.insns, &a.maps, pkt, Engine::Checked).data_out;
    assert_eq!(&out[0..6], &pkt[6..12]);
    assert_eq!(&out[6..12], &pkt[0..6]);
    assert_eq!(&out[12..], &pkt[12..]);

    let a = &by_name["count_proto.s"];
    let o = run_rxdp(&a.insns, &a.maps, &pkts["tcp4"], Engine::Checked);
    let counters = &o.maps[0];
    assert_eq!(counters.len(), 256, "an array map lists every index");
    let tcp = counters
        .iter()
        .find(|(k, _)| k == &6u32.to_ne_bytes())
        .unwrap();
    assert_eq!(tcp.1, 1u64.to_ne_bytes());
    let total: u64 = counters
        .iter()
        .map(|(_, v)| u64::from_ne_bytes(v[..8].try_into().unwrap()))
        .sum();
    assert_eq!(total, 1);
}
