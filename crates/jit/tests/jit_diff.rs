//! Differential test: random XDP programs from `rxdp_kernel::progen`
//! (ALU, jumps, stack, atomics, packet access, local calls, helpers),
//! verified by rxdp's verifier, run on the checked interpreter and on the
//! JIT on the same frames; verdict and output bytes must agree.
//!
//! `RXDP_JIT_DIFF_PROGRAMS=N` runs N programs (default 2000);
//! `RXDP_JIT_DIFF_SEED=S` starts at seed S.

mod jit_support;

use rxdp_kernel::progen::{GenConfig, generate};
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, XdpBuff, XdpProgram};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Frame bytes from a seed (xorshift).
fn packet(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn jit_agrees_with_the_checked_interpreter_on_random_programs() {
    let n = env_u64("RXDP_JIT_DIFF_PROGRAMS", 2000);
    let first = env_u64("RXDP_JIT_DIFF_SEED", 0);
    let cfg = GenConfig::default();
    let opts = Options {
        privileged: true,
        ..Options::default()
    };
    let full = cfg.full_frame_len();
    let (mut ran, mut rejected, mut code) = (0u64, 0u64, 0usize);
    for seed in first..first + n {
        let insns = generate(seed, &cfg);
        let Ok(prog) = XdpProgram::load_with_options(&insns, &[], &opts) else {
            rejected += 1;
            continue;
        };
        let img = prog
            .jit()
            .unwrap_or_else(|e| panic!("seed {seed}: not compiled: {e}"));
        code += img.code_size();
        let mut runner = prog.runner(Engine::Checked);
        let mut jit = prog.runner(Engine::Jit);
        assert_eq!(jit.engine_used(), Engine::Jit);
        for len in [14, full / 2, full, full + 9] {
            let pkt = packet(seed ^ len as u64, len.max(14));
            let mut want_buff = XdpBuff::new(&pkt, 1, 0).unwrap();
            let want = runner
                .run(&mut want_buff)
                .unwrap_or_else(|f| panic!("seed {seed}: interpreter faulted: {f}"));
            let mut got_buff = XdpBuff::new(&pkt, 1, 0).unwrap();
            let got = jit
                .run(&mut got_buff)
                .unwrap_or_else(|f| panic!("seed {seed}: JIT faulted: {f}"));
            if got != want || got_buff.data_out() != want_buff.data_out() {
                panic!(
                    "seed {seed}, frame of {len}: interpreter {want:#x}, JIT {got:#x}\n\
                     interpreter out {:x?}\nJIT out         {:x?}\n{}",
                    want_buff.data_out(),
                    got_buff.data_out(),
                    jit_support::disasm(img)
                );
            }
        }
        ran += 1;
    }
    println!(
        "{ran} programs agreed ({rejected} rejected by the verifier), {} bytes of code on average",
        code / ran.max(1) as usize
    );
    assert!(
        ran * 10 >= n * 9,
        "too many programs rejected: {rejected} of {n}"
    );
}
