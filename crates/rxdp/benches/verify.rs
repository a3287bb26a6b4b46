//! How long rxdp's verifier takes on each example XDP program and on two
//! large generated programs (see `verify_programs`).
//!
//! `CARGO_TARGET_DIR=target-bench cargo bench -p rxdp --bench verify -- --measurement-time 3 --warm-up-time 1`
//!
//! Group `verify`, one function per program: one [`rxdp_verifier::verify`]
//! call, privileged, without a log. The kernel's figures for the same
//! programs come from the `verify_stats` example, which reads them from
//! the kernel verifier's log.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

mod verify_programs;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let subjects = verify_programs::subjects().unwrap_or_else(|e| panic!("{e}"));
    let opts = verify_programs::options();
    let mut g = c.benchmark_group("verify");
    for s in &subjects {
        if let Err(e) = s.rxdp() {
            eprintln!("{} skipped: {e}", s.name);
            continue;
        }
        if s.insns.len() > 1000 {
            // Tens of milliseconds per run: criterion's fewest samples.
            g.sample_size(10);
        }
        g.bench_function(&s.name, |b| {
            b.iter(|| rxdp_verifier::verify(black_box(&s.insns), &s.xdp, &*s.maps, &opts).is_ok())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
