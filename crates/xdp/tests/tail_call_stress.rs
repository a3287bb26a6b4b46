//! Direct and indirect tail calls while the prog array changes under
//! running code: worker threads run a program that counts its runs in the
//! packet and tail-calls itself through slot 0 (directly: the key is
//! constant) and, after that, through slot `data[1]` (indirectly), while
//! another thread installs, replaces and removes slot 0's program over and
//! over. Every run must end with one of the legal outcomes (the self chain
//! cut by an empty slot or by the limit, or a jump to the other program),
//! the limit of 33 tail calls must hold, and nothing may crash: the
//! direct call's patch sites go through the state matrix of
//! `rxdp_jit::x86_64` (`poke.rs`), with a grace period before a removed
//! target is cleared.
//!
//! `RXDP_TAIL_STRESS_UPDATES=N` sets the number of updates (default
//! 3,000; the figures in BENCHMARKS.md come from longer runs).

use rxdp_isa::asm::assemble;
use rxdp_maps::{Domain, ProgArray};
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, Xdp, XdpBuff, XdpProgram, sample::udp4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const MAPS: &str = ".map jmp type=prog_array key=4 value=4 entries=2\n";

/// Counts its run in `data[0]`, tail-calls slot 0 directly, then slot
/// `data[1]` (0) indirectly, then returns 2.
const SELF: &str = "
    r2 = *(u32 *)(r1 + 4)
    r3 = *(u32 *)(r1 + 0)
    r4 = r3
    r4 += 2
    if r4 > r2 goto out
    r5 = *(u8 *)(r3 + 0)
    r5 += 1
    *(u8 *)(r3 + 0) = r5
    r6 = r1
    r7 = *(u8 *)(r3 + 1)
    r2 = map[jmp] ll
    r3 = 0
    call bpf_tail_call
    r1 = r6
    r2 = map[jmp] ll
    r3 = r7
    call bpf_tail_call
out:
    r0 = 2
    exit
";

/// The other program slot 0 may hold: returns 3.
const OTHER: &str = "r0 = 3\nexit\n";

fn updates() -> u64 {
    std::env::var("RXDP_TAIL_STRESS_UPDATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

#[test]
fn tail_calls_stay_legal_while_the_prog_array_changes() {
    let opts = Options::default();
    let a = assemble(&format!("{MAPS}{SELF}")).unwrap();
    let me = XdpProgram::load_with_options(&a.insns, &a.maps, &opts).unwrap();
    let b = assemble(&format!("{MAPS}{OTHER}")).unwrap();
    let other =
        XdpProgram::load_with_maps(&b.insns, Arc::clone(me.map_table()), Xdp::default(), &opts)
            .unwrap();
    let image = me.jit().expect("compiled");
    assert_eq!(image.tail_call_sites().len(), 1, "one direct, one indirect");
    let array = me.maps().by_name("jmp").unwrap();
    let array = array.map.as_any().downcast_ref::<ProgArray>().unwrap();

    let stop = AtomicBool::new(false);
    let runs = AtomicU64::new(0);
    let (mut frame, _) = (udp4(64), ());
    frame[0] = 0;
    frame[1] = 0;
    std::thread::scope(|s| {
        for cpu in 0..2 {
            let (me, stop, runs, frame) = (&me, &stop, &runs, &frame);
            s.spawn(move || {
                let worker = Domain::global().register();
                let mut r = me.runner(Engine::Jit).with_cpu(cpu);
                assert_eq!(r.engine_used(), Engine::Jit);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut buff = XdpBuff::new(frame, 1, 0).unwrap();
                    let ret = r.run(&mut buff).expect("no fault");
                    let count = buff.data_out()[0];
                    // 1 run, plus at most 33 tail calls.
                    assert!((1..=34).contains(&count), "{count} runs");
                    assert!(ret == 2 || ret == 3, "return value {ret}");
                    n += 1;
                    worker.quiescent();
                }
                runs.fetch_add(n, Ordering::Relaxed);
            });
        }
        for i in 0..updates() {
            match i % 4 {
                0 => array.set(0, me.prog_ref(), 0).unwrap(),
                1 => array.set(0, other.prog_ref(), 0).unwrap(),
                2 => array.set(0, me.prog_ref(), 0).unwrap(),
                _ => array.clear(0).unwrap(),
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let runs = runs.load(Ordering::Relaxed);
    eprintln!(
        "{runs} runs on two threads during {} prog array updates",
        updates()
    );
    assert!(runs > 0);
    // With the slot settled, the outcomes are exact again.
    array.set(0, me.prog_ref(), 0).unwrap();
    let mut buff = XdpBuff::new(&frame, 1, 0).unwrap();
    assert_eq!(me.runner(Engine::Jit).run(&mut buff), Ok(2));
    assert_eq!(buff.data_out()[0], 34, "the limit holds across both sites");
    array.clear(0).unwrap();
    let mut buff = XdpBuff::new(&frame, 1, 0).unwrap();
    assert_eq!(me.runner(Engine::Jit).run(&mut buff), Ok(2));
    assert_eq!(buff.data_out()[0], 1);
}
