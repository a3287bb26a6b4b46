//! Helpers as rxdp alone can observe them: the helper environment (clock,
//! random source, devices, routes, sinks), the redirect target a run
//! leaves, and the checked engine's refusal of bad pointer arguments.
//! Every program runs on both engines, which must agree. What the kernel
//! can observe as well is compared with it in
//! crates/rxdp/tests/helpers_kernel.rs.

use rxdp_xdp::helpers::Device;
use rxdp_xdp::helpers::env::{FakeClock, RecordingSink};
use rxdp_xdp::helpers::fib::{Fib, Neighbour, Route, RouteKind, ret};
use rxdp_xdp::{Engine, HelperEnv, LoadError, Redirect, TestRunOpts, TestRunOutput, XdpProgram};
use std::sync::Arc;

fn load(src: &str) -> XdpProgram {
    load_with(src, false)
}

/// Loads verified as for a privileged loader (pointers may reach helpers
/// that print them).
fn load_with(src: &str, privileged: bool) -> XdpProgram {
    let a = rxdp_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}"));
    let opts = rxdp_verifier::Options {
        privileged,
        ..Default::default()
    };
    XdpProgram::load_with_options(&a.insns, &a.maps, &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// The verifier's reason for refusing `src`, naming a call instruction.
fn refused_call(src: &str) -> String {
    let a = rxdp_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}"));
    let e = XdpProgram::load(&a.insns, &a.maps)
        .err()
        .unwrap_or_else(|| panic!("{src}: loaded"));
    let v = e.verify_error().unwrap_or_else(|| panic!("{src}: {e}"));
    let pc = v.pc.unwrap_or_else(|| panic!("{src}: {v}"));
    assert!(matches!(a.insns[pc], rxdp_isa::Insn::Call(_)), "{src}: {v}");
    v.msg.clone()
}

fn pkt() -> Vec<u8> {
    rxdp_xdp::sample::udp4(64)
}

/// Runs on both engines, each in its own copy of `env` (a fresh one when
/// `None`); checks they agree and returns the checked engine's output.
fn run(p: &XdpProgram, env: Option<&dyn Fn() -> HelperEnv>) -> TestRunOutput {
    let outs: Vec<TestRunOutput> = [Engine::Checked, Engine::Interp]
        .into_iter()
        .map(|engine| {
            let opts = TestRunOpts {
                engine,
                env: env.map(|f| Arc::new(f())),
                ..TestRunOpts::default()
            };
            let mut o = p
                .test_run(&pkt(), &opts)
                .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
            o.duration_ns = 0;
            o
        })
        .collect();
    assert_eq!(outs[0], outs[1], "checked vs interp");
    outs[0].clone()
}

#[test]
fn time_and_randomness_repeat_in_the_deterministic_env() {
    // r0 = (second ktime - first ktime) + prandom, as 64 bits.
    let p = load(
        "call bpf_ktime_get_ns
        r6 = r0
        call bpf_ktime_get_ns
        r0 -= r6
        r6 = r0
        call bpf_get_prandom_u32
        r0 += r6
        exit",
    );
    let a = run(&p, None);
    let b = run(&p, None);
    assert_eq!(a.retval, b.retval, "fresh deterministic envs repeat");
    let step = 1_000;
    let clock = || HelperEnv::deterministic().with_clock(Arc::new(FakeClock::new(0, step, 0)));
    let c = run(&p, Some(&clock));
    assert_eq!(c.retval, a.retval, "the default clock steps 1 us per read");
    let other = || HelperEnv::deterministic().with_clock(Arc::new(FakeClock::new(0, 7, 0)));
    assert_eq!(
        run(&p, Some(&other)).retval.wrapping_sub(7),
        c.retval.wrapping_sub(step as u32)
    );
}

#[test]
fn clocks_come_from_the_env() {
    let p = load("call bpf_ktime_get_boot_ns\nr6 = r0\ncall bpf_jiffies64\nr0 -= r6\nexit");
    let env =
        || HelperEnv::deterministic().with_clock(Arc::new(FakeClock::new(4_000_000_000, 10, 500)));
    let o = run(&p, Some(&env));
    // boot = 4e9 + 10 + 500; jiffies at 4e9 + 20 ns = INITIAL_JIFFIES + 1000.
    let jiffies = rxdp_xdp::helpers::env::initial_jiffies(250) + 1000;
    assert_eq!(o.retval, jiffies.wrapping_sub(4_000_000_510) as u32);
    let p = load("call bpf_get_numa_node_id\nexit");
    let numa = || HelperEnv {
        numa_node: 3,
        ..HelperEnv::deterministic()
    };
    assert_eq!(run(&p, Some(&numa)).retval, 3);
}

#[test]
fn redirect_targets_are_left_for_the_datapath() {
    let p = load("r1 = 7\nr2 = 0\ncall bpf_redirect\nexit");
    let o = run(&p, None);
    assert_eq!((o.retval, o.redirect), (4, Some(Redirect::Ifindex(7))));

    let src = ".map tx type=devmap key=4 value=4 entries=4
        r1 = map[tx] ll
        r2 = KEY
        r3 = FLAGS
        call bpf_redirect_map
        exit";
    let prog = |key: u32, flags: u64| {
        let p = load(
            &src.replace("KEY", &key.to_string())
                .replace("FLAGS", &flags.to_string()),
        );
        let m = &p.maps().get(0).unwrap().map;
        m.update_copy(&2u32.to_ne_bytes(), &9u32.to_ne_bytes(), 0)
            .unwrap();
        p
    };
    let o = run(&prog(2, 0), None);
    assert_eq!(o.retval, 4);
    assert_eq!(
        o.redirect,
        Some(Redirect::Map {
            map: 0,
            map_type: rxdp_isa::maptype::DEVMAP,
            key: 2,
            target: Some(9),
            flags: 0
        })
    );
    let o = run(&prog(1, 2), None);
    assert_eq!(
        (o.retval, o.redirect),
        (2, None),
        "a miss returns the flags' action"
    );
    let o = run(&prog(1, 8), None);
    assert_eq!(o.retval, 4, "a broadcast needs no entry");
    assert!(matches!(
        o.redirect,
        Some(Redirect::Map {
            target: None,
            flags: 8,
            ..
        })
    ));
}

#[test]
fn a_miss_forgets_an_earlier_redirect() {
    let p = load(
        ".map tx type=devmap key=4 value=4 entries=4
        r1 = 3
        r2 = 0
        call bpf_redirect
        r1 = map[tx] ll
        r2 = 1
        r3 = 1
        call bpf_redirect_map
        exit",
    );
    let o = run(&p, None);
    assert_eq!((o.retval, o.redirect), (1, None));
}

#[test]
fn trace_lines_reach_the_sink() {
    let sink = Arc::new(RecordingSink::default());
    let s = Arc::clone(&sink);
    let env = move || HelperEnv::deterministic().with_sink(s.clone());
    // %pI4 takes a pointer: passing one to a helper is privileged.
    let p = load_with(
        // "n=%d ip=%pI4\n" at r10-32, the address 10.0.0.1 at r10-8.
        "r1 = 0x7069202c64253d6e ll
        *(u64 *)(r10 - 32) = r1
        r1 = 0x0a344970253d ll
        *(u64 *)(r10 - 24) = r1
        r1 = 0x0100000a
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -32
        r2 = 15
        r3 = -5
        r4 = r10
        r4 += -8
        r5 = 0
        call bpf_trace_printk
        exit",
        true,
    );
    let o = run(&p, Some(&env));
    let lines = sink.take().trace;
    assert_eq!(
        lines,
        vec![(0, "n=-5, ip=10.0.0.1\n".to_string()); 2],
        "one line per engine"
    );
    assert_eq!(o.retval as usize, "n=-5, ip=10.0.0.1\n".len());
}

#[test]
fn snprintf_fills_the_buffer_and_returns_the_full_length() {
    // fmt "%d-%d" in a read-only map value, arguments on the stack.
    let p = load(
        ".map fmt type=array key=4 value=8 entries=1 flags=0x80
        r1 = 42
        *(u64 *)(r10 - 16) = r1
        r1 = -7
        *(u64 *)(r10 - 8) = r1
        *(u32 *)(r10 - 32) = 0
        r1 = r10
        r1 += -32
        r2 = 4
        r3 = map_value[fmt]+0 ll
        r4 = r10
        r4 += -16
        r5 = 16
        call bpf_snprintf
        r1 = *(u32 *)(r10 - 32)
        r0 <<= 32
        r0 |= r1
        exit",
    );
    let m = &p.maps().get(0).unwrap().map;
    m.update_copy(&0u32.to_ne_bytes(), b"%d-%d\0\0\0", 0)
        .unwrap();
    let o = run(&p, None);
    // "42--7" is 5 bytes, 6 with its NUL; 3 fit before the NUL.
    assert_eq!(o.retval.to_le_bytes(), *b"42-\0");
}

#[test]
fn check_mtu_uses_the_configured_devices() {
    let devs = || {
        let mut env = HelperEnv::deterministic();
        env.devices.by_ifindex.insert(5, Device::ethernet(100));
        env
    };
    // A 64-byte frame is 50 bytes of L3: it fits 100, and 50 + 51 does not.
    for (diff, verdict) in [(50, 0), (51, 1)] {
        let p = load(&p_src_with(diff));
        assert_eq!(
            run(&p, Some(&devs)).retval,
            verdict << 16 | 100,
            "len_diff {diff}"
        );
    }
    let strict = || {
        let mut env = HelperEnv::deterministic();
        env.devices.default_mtu = None;
        env
    };
    let p = load(&p_src_with(0));
    assert_eq!(
        run(&p, Some(&strict)).retval,
        (-19i32 as u32) << 16,
        "-ENODEV"
    );
    assert_eq!(
        run(&p, None).retval,
        1500,
        "unknown devices default to 1500"
    );
}

fn p_src_with(diff: i32) -> String {
    format!(
        "*(u32 *)(r10 - 4) = 0
        r2 = 5
        r3 = r10
        r3 += -4
        r4 = {diff}
        r5 = 0
        call bpf_check_mtu
        r0 <<= 16
        r1 = *(u32 *)(r10 - 4)
        r0 |= r1
        exit"
    )
}

/// A `struct bpf_fib_lookup` for IPv4 `dst` arriving on ifindex 1, with
/// `tot_len`, written at r10-64, then the lookup with `flags`; returns
/// r0 and leaves the struct in the packet's first 64 bytes.
fn fib_prog(dst: [u8; 4], tot_len: u16, flags: u32) -> XdpProgram {
    let mut params = [0u8; 64];
    params[0] = 2;
    params[6..8].copy_from_slice(&tot_len.to_ne_bytes());
    params[8..12].copy_from_slice(&1u32.to_ne_bytes());
    params[32..36].copy_from_slice(&dst);
    let mut src = String::from("r6 = r1\n");
    for (k, w) in params.chunks(8).enumerate() {
        let v = u64::from_le_bytes(w.try_into().unwrap());
        src += &format!("r1 = {v:#x} ll\n*(u64 *)(r10 - {}) = r1\n", 64 - 8 * k);
    }
    src += &format!(
        "r1 = r6
        r2 = r10
        r2 += -64
        r3 = 64
        r4 = {flags}
        call bpf_fib_lookup
        r7 = r0
        r1 = r6
        r2 = 0
        r3 = r10
        r3 += -64
        r4 = 64
        call bpf_xdp_store_bytes
        r0 = r7
        exit"
    );
    load(&src)
}

#[test]
fn fib_lookup_against_user_tables() {
    let gw = [10, 0, 0, 254];
    let env = move || {
        let mut env = HelperEnv::deterministic();
        let mut eth = Device::ethernet(1500);
        eth.mac = [2, 0, 0, 0, 0, 0x22];
        env.devices.by_ifindex.insert(2, eth);
        env.fib = Fib {
            routes: vec![
                Route {
                    dst: "10.0.0.0".parse().unwrap(),
                    prefix_len: 24,
                    kind: RouteKind::Unicast {
                        ifindex: 2,
                        gateway: None,
                    },
                    metric: 5,
                    src: Some("10.0.0.1".parse().unwrap()),
                },
                Route {
                    dst: "0.0.0.0".parse().unwrap(),
                    prefix_len: 0,
                    kind: RouteKind::Unicast {
                        ifindex: 2,
                        gateway: Some(gw.into()),
                    },
                    metric: 9,
                    src: None,
                },
                Route {
                    dst: "192.0.2.0".parse().unwrap(),
                    prefix_len: 24,
                    kind: RouteKind::Blackhole,
                    metric: 0,
                    src: None,
                },
            ],
            neighbours: vec![Neighbour {
                ifindex: 2,
                addr: gw.into(),
                mac: [2, 0, 0, 0, 0, 0xfe],
            }],
        };
        env
    };
    // Via the gateway: egress 2, gateway as destination, both MACs.
    let o = run(&fib_prog([8, 8, 8, 8], 100, 0), Some(&env));
    assert_eq!(u64::from(o.retval), ret::SUCCESS);
    let out = &o.data_out;
    assert_eq!(
        u32::from_ne_bytes(out[8..12].try_into().unwrap()),
        2,
        "ifindex"
    );
    assert_eq!(
        u32::from_ne_bytes(out[12..16].try_into().unwrap()),
        9,
        "rt_metric"
    );
    assert_eq!(&out[32..36], &gw, "the gateway");
    assert_eq!(&out[52..58], &[2, 0, 0, 0, 0, 0x22], "smac");
    assert_eq!(&out[58..64], &[2, 0, 0, 0, 0, 0xfe], "dmac");
    assert_eq!(u16::from_ne_bytes([out[6], out[7]]), 1500, "mtu_result");
    // On link with no neighbour entry; with SKIP_NEIGH it succeeds.
    assert_eq!(
        u64::from(run(&fib_prog([10, 0, 0, 9], 100, 0), Some(&env)).retval),
        ret::NO_NEIGH
    );
    assert_eq!(
        u64::from(run(&fib_prog([10, 0, 0, 9], 100, 4), Some(&env)).retval),
        ret::SUCCESS
    );
    // BPF_FIB_LOOKUP_SRC: the route's source, or none.
    let o = run(&fib_prog([10, 0, 0, 9], 100, 4 | 16), Some(&env));
    assert_eq!(&o.data_out[16..20], &[10, 0, 0, 1]);
    assert_eq!(
        u64::from(run(&fib_prog([8, 8, 8, 8], 100, 16), Some(&env)).retval),
        ret::NO_SRC_ADDR
    );
    // Too big, blackholed, no route at all, bad flags.
    let o = run(&fib_prog([8, 8, 8, 8], 1501, 0), Some(&env));
    assert_eq!(u64::from(o.retval), ret::FRAG_NEEDED);
    assert_eq!(u16::from_ne_bytes([o.data_out[6], o.data_out[7]]), 1500);
    assert_eq!(
        u64::from(run(&fib_prog([192, 0, 2, 1], 100, 0), Some(&env)).retval),
        ret::BLACKHOLE
    );
    assert_eq!(
        u64::from(run(&fib_prog([8, 8, 8, 8], 100, 0), None).retval),
        ret::NOT_FWDED
    );
    assert_eq!(
        run(&fib_prog([8, 8, 8, 8], 100, 1 << 9), Some(&env)).retval as i32,
        -22
    );
}

#[test]
fn bad_helper_pointers_are_refused_at_load() {
    // A key pointer into nowhere, a load_bytes buffer in the read-only
    // context, a csum_diff buffer past the stack's top.
    for (src, what) in [
        (
            ".map h type=hash key=4 value=4 entries=1\nr1 = map[h] ll\nr2 = 0x1234\ncall bpf_map_lookup_elem\nexit",
            "key",
        ),
        (
            "r3 = r1\nr2 = 0\nr4 = 4\ncall bpf_xdp_load_bytes\nexit",
            "buf",
        ),
        (
            "r1 = 0\nr2 = 0\nr3 = r10\nr3 += -4\nr4 = 8\nr5 = 0\ncall bpf_csum_diff\nexit",
            "to",
        ),
        (
            "r2 = 0x1234\nr3 = 1\nr4 = 0\ncall bpf_fib_lookup\nexit",
            "params",
        ),
    ] {
        // The verifier refuses them before any engine could run them.
        let why = refused_call(src);
        assert!(
            why.contains("expected") || why.contains("invalid"),
            "{src} ({what}): {why}"
        );
    }
}

#[test]
fn granted_values_are_writable_and_ctx_must_be_the_context() {
    let p = load(
        ".map a type=array key=4 value=8 entries=2
        *(u32 *)(r10 - 4) = 1
        r1 = map[a] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 5
        *(u64 *)(r0 + 0) = r1
        r0 = *(u64 *)(r0 + 0)
    out:
        exit",
    );
    assert_eq!(run(&p, None).retval, 5);
    let why = refused_call("r1 = r10\nr2 = 1\ncall bpf_xdp_adjust_head\nexit");
    assert!(why.contains("expected=ctx"), "{why}");
}

#[test]
fn a_helper_rxdp_lacks_fails_the_load_by_name() {
    let a = rxdp_isa::asm::assemble("call bpf_skb_store_bytes\nexit").unwrap();
    let e = XdpProgram::load(&a.insns, &a.maps).err().unwrap();
    assert!(matches!(e, LoadError::Verify(_)), "{e}");
    assert!(
        e.to_string()
            .contains("program of this type cannot use helper bpf_skb_store_bytes#9"),
        "{e}"
    );
}

#[test]
fn spin_locks_need_a_map_with_btf() {
    let src = ".map a type=array key=4 value=16 entries=1
        *(u32 *)(r10 - 4) = 0
        r1 = map[a] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r6 = r0
        r1 = r6
        r1 += OFF
        call bpf_spin_lock
        r1 = *(u64 *)(r6 + 8)
        r1 += 1
        *(u64 *)(r6 + 8) = r1
        r1 = r6
        r1 += OFF
        call bpf_spin_unlock
        r0 = *(u64 *)(r6 + 8)
    out:
        exit";
    // An assembly map has no BTF to say where a lock is: as in the
    // kernel, no lock may be taken in its values (tests/spin_lock.rs runs
    // locks of a clang object, whose BTF places them).
    let why = refused_call(&src.replace("OFF", "0"));
    assert!(
        why.contains("has to have BTF in order to use bpf_spin_lock"),
        "{why}"
    );
}

#[test]
fn ring_buffer_commits_wake_the_sink() {
    let sink = Arc::new(RecordingSink::default());
    let s = Arc::clone(&sink);
    let env = move || HelperEnv::deterministic().with_sink(s.clone());
    let p = load(
        ".map events type=ringbuf key=0 value=0 entries=4096
        r1 = map[events] ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r1 = 0x42
        *(u64 *)(r0 + 0) = r1
        r1 = r0
        r2 = 2
        call bpf_ringbuf_submit
        r0 = 0
    out:
        exit",
    );
    assert_eq!(run(&p, Some(&env)).retval, 0);
    assert_eq!(sink.take().ringbuf_wakeups, vec!["events".to_string(); 2]);
    let rb = p.maps().get(0).unwrap();
    let ring = rb
        .map
        .as_any()
        .downcast_ref::<rxdp_maps::RingBuf>()
        .unwrap()
        .ring();
    let mut records = Vec::new();
    ring.consume(|r| records.push(r.to_vec()));
    assert_eq!(records, vec![0x42u64.to_ne_bytes().to_vec(); 2]);
    // Submitting a pointer that no reservation handed out is refused.
    let why = refused_call("r1 = r10\nr1 += -8\nr2 = 0\ncall bpf_ringbuf_submit\nexit");
    assert!(why.contains("expected=ringbuf_mem"), "{why}");
}
