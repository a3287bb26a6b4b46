//! Differential test: random XDP programs from `rxdp_kernel::progen`
//! (ALU, jumps, stack, atomics, packet access, local calls; no helpers),
//! verified by rxdp's verifier, run on the checked interpreter and on the
//! JIT on the same frames; verdict and output bytes must agree.
//!
//! `RXDP_JIT_DIFF_PROGRAMS=N` runs N programs (default 2000);
//! `RXDP_JIT_DIFF_SEED=S` starts at seed S.

mod jit_support;

use rxdp_jit::x86_64::compile;
use rxdp_kernel::progen::{GenConfig, generate};
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, XdpBuff, XdpContext, XdpProgram};

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
        let img = compile(prog.verification())
            .unwrap_or_else(|e| panic!("seed {seed}: not compiled: {e}"));
        code += img.code_size();
        let mut runner = prog.runner(Engine::Checked);
        for len in [14, full / 2, full, full + 9] {
            let pkt = packet(seed ^ len as u64, len.max(14));
            let mut want_buff = XdpBuff::new(&pkt, 1, 0).unwrap();
            let want = runner
                .run(&mut want_buff)
                .unwrap_or_else(|f| panic!("seed {seed}: interpreter faulted: {f}"));
            let mut got_buff = XdpBuff::new(&pkt, 1, 0).unwrap();
            let ctx: *mut XdpContext = got_buff.ctx_mut();
            // SAFETY: the program passed rxdp's verifier for XDP and uses
            // no helpers; `ctx` is the live context of `got_buff`, whose
            // frame outlives the run.
            let got = unsafe { img.run(ctx.cast()) } as u32;
            if got != want || got_buff.data_out() != want_buff.data_out() {
                panic!(
                    "seed {seed}, frame of {len}: interpreter {want:#x}, JIT {got:#x}\n\
                     interpreter out {:x?}\nJIT out         {:x?}\n{}",
                    want_buff.data_out(),
                    got_buff.data_out(),
                    jit_support::disasm(&img)
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
