//! What the end-to-end tests share: the packets every program is run on,
//! and running one program in rxdp's engines and in the kernel.

#![allow(dead_code, unreachable_pub)]

use etherparse::PacketBuilder;
use rxdp_isa::Insn;
use rxdp_isa::asm::MapDecl;
use rxdp_kernel::{KernelMap, KernelProg, LoadOptions};
use rxdp_xdp::{Engine, TestRunOpts, XdpProgram};
use std::os::fd::RawFd;

const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

/// The named packets of the differential tests: IPv4 and IPv6; TCP, UDP,
/// ICMP; VLAN-tagged; 14-, 64- and 1500-byte frames; truncated headers.
pub fn packets() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();
    let udp4 = |dport: u16, n: usize| {
        let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1234, dport);
        let p = payload(n);
        let mut out = Vec::with_capacity(b.size(p.len()));
        b.write(&mut out, &p).unwrap();
        out
    };
    v.push(("udp4-64", udp4(80, 64 - 42)));
    v.push(("udp4-port5678", udp4(5678, 22)));
    v.push(("udp4-1500", udp4(53, 1500 - 42)));
    let tcp4 = {
        let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 32)
            .tcp(443, 50000, 1, 4096);
        let p = payload(20);
        let mut out = Vec::new();
        b.write(&mut out, &p).unwrap();
        out
    };
    v.push(("tcp4", tcp4));
    let icmp4 = {
        let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .ipv4([10, 1, 1, 1], [10, 1, 1, 2], 64)
            .icmpv4_echo_request(7, 1);
        let p = payload(32);
        let mut out = Vec::new();
        b.write(&mut out, &p).unwrap();
        out
    };
    v.push(("icmp4", icmp4));
    let udp6 = {
        let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
            .udp(1234, 5678);
        let p = payload(40);
        let mut out = Vec::new();
        b.write(&mut out, &p).unwrap();
        out
    };
    v.push(("udp6", udp6));
    let vlan = {
        let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .single_vlan(etherparse::VlanId::try_new(42).unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1234, 5678);
        let p = payload(24);
        let mut out = Vec::new();
        b.write(&mut out, &p).unwrap();
        out
    };
    v.push(("vlan-udp4", vlan));
    let mut eth_only = udp4(80, 0);
    eth_only.truncate(14);
    v.push(("eth-only-14", eth_only));
    let mut truncated = udp4(5678, 0);
    truncated.truncate(30);
    v.push(("ipv4-truncated", truncated));
    v
}

/// What one run produced, in a form engines can be compared on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub retval: u32,
    pub data_out: Vec<u8>,
    /// Every map's (key, value) pairs after the run, sorted by key.
    pub maps: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
}

/// Elements to put in maps before a run: (map index, key, value).
pub type MapSetup = [(usize, Vec<u8>, Vec<u8>)];

/// Runs `insns` on `packet` with a fresh set of maps in rxdp's `engine`.
pub fn run_rxdp(insns: &[Insn], maps: &[MapDecl], packet: &[u8], engine: Engine) -> Outcome {
    run_rxdp_with(insns, maps, &[], packet, engine)
}

/// [`run_rxdp`] with map elements set first.
pub fn run_rxdp_with(
    insns: &[Insn],
    maps: &[MapDecl],
    setup: &MapSetup,
    packet: &[u8],
    engine: Engine,
) -> Outcome {
    // The kernel loads the same program as root: rxdp must accept what
    // root may load.
    let opts = rxdp_verifier::Options {
        privileged: true,
        log_level: 0,
    };
    let prog = XdpProgram::load_with_options(insns, maps, &opts)
        .unwrap_or_else(|e| panic!("rxdp load: {e}"));
    for (i, k, v) in setup {
        prog.maps()
            .get(*i)
            .expect("setup names a map")
            .map
            .update_copy(k, v, 0)
            .unwrap();
    }
    let opts = TestRunOpts {
        engine,
        ..TestRunOpts::default()
    };
    let out = prog
        .test_run(packet, &opts)
        .unwrap_or_else(|e| panic!("rxdp {engine:?}: {e}"));
    let maps = prog
        .maps()
        .iter()
        .map(|m| {
            let mut entries = rxdp_maps::dump(&*m.map).unwrap_or_default();
            entries.sort();
            entries
        })
        .collect();
    Outcome {
        retval: out.retval,
        data_out: out.data_out,
        maps,
    }
}

/// Loads `insns` into the kernel with fresh maps; Err is the verifier's
/// complaint.
pub fn load_kernel(
    insns: &[Insn],
    maps: &[MapDecl],
) -> Result<(KernelProg, Vec<KernelMap>), String> {
    let kmaps = rxdp_kernel::create_asm_maps(maps).map_err(|e| e.to_string())?;
    let fds: Vec<RawFd> = kmaps.iter().map(|m| m.fd()).collect();
    let raw = rxdp_isa::encode_raw(insns);
    let opts = LoadOptions {
        fd_array: &fds,
        ..LoadOptions::default()
    };
    let prog = KernelProg::load(&raw, &opts).map_err(|e| format!("{e}\n{}", e.log()))?;
    Ok((prog, kmaps))
}

/// Runs `insns` on `packet` in the kernel with fresh maps.
pub fn run_kernel(insns: &[Insn], maps: &[MapDecl], packet: &[u8]) -> Result<Outcome, String> {
    run_kernel_with(insns, maps, &[], packet)
}

/// [`run_kernel`] with map elements set first.
pub fn run_kernel_with(
    insns: &[Insn],
    maps: &[MapDecl],
    setup: &MapSetup,
    packet: &[u8],
) -> Result<Outcome, String> {
    let (prog, kmaps) = load_kernel(insns, maps)?;
    for (i, k, v) in setup {
        kmaps[*i].update(k, v, 0).map_err(|e| e.to_string())?;
    }
    let out = prog.test_run(packet, 1).map_err(|e| e.to_string())?;
    let maps = kmaps
        .iter()
        .map(|m| {
            let mut entries = m.dump().unwrap_or_default();
            entries.sort();
            entries
        })
        .collect();
    Ok(Outcome {
        retval: out.retval,
        data_out: out.data_out,
        maps,
    })
}

/// Whether the kernel can be the oracle; prints why not, once per test.
pub fn kernel_or_skip(test: &str) -> bool {
    match rxdp_kernel::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("{test}: kernel comparison skipped: {why}");
            false
        }
    }
}
