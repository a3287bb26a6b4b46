//! The verifier is sound: no program it accepts, in the default or the
//! privileged mode, touches memory it may not when it runs. Programs
//! come from `rxdp_kernel::hostile`, which writes programs that are
//! often unsafe in the ways verifiers are known to miss; every accepted
//! one runs in the checked engine (every access bounds-checked) on
//! several frames, with fresh maps holding a few elements. A fault there
//! is a verifier bug, reported with the seed, the disassembly and the
//! fault.
//!
//! Figures are printed at the end (`--nocapture` to see them when the
//! test passes): programs generated, accepted per mode, runs, faults, a
//! census of what the programs contain, and, where bpf(2) is available,
//! how rxdp's privileged verdicts compare with the kernel's (the test
//! runs as root, so the kernel's verdict is the privileged one) on a
//! subsample. The kernel comparison is information, not a failure.
//!
//! Environment:
//! - `RXDP_SOUNDNESS_COUNT`: programs (default 20,000);
//! - `RXDP_SOUNDNESS_FIRST`: the first seed (default 0);
//! - `RXDP_SOUNDNESS_SEED`: replay one seed, printing its disassembly,
//!   verdicts and every run;
//! - `RXDP_SOUNDNESS_KERNEL_EVERY`: load every n-th program into the
//!   kernel too (default 10; 0 disables).
//!
//! A campaign: `RXDP_SOUNDNESS_COUNT=1000000 cargo test --release -p rxdp
//! --test soundness -- --nocapture`.

mod common;

use rxdp_interp::FaultKind;
use rxdp_isa::asm::MapDecl;
use rxdp_isa::{DisasmOptions, maptype};
use rxdp_kernel::hostile::{Hostile, HostileConfig, frames, generate};
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, LoadError, RunError, TestRunOpts, XdpProgram};
use std::collections::BTreeMap;

/// Frames each accepted program runs on.
const FRAMES: usize = 4;
/// Fault reports printed in full.
const MAX_REPORTS: usize = 5;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// The verdicts and runs of one program.
#[derive(Default)]
struct Outcome {
    accepted_default: bool,
    accepted_privileged: bool,
    /// Loads that failed for a reason other than the verifier's.
    load_errors: Vec<String>,
    runs: u64,
    /// (frame length, fault) of each faulting run.
    faults: Vec<(usize, String)>,
    /// The kernel's verdict, when asked.
    kernel: Option<bool>,
    /// Whether the JIT ran it next to the checked engine.
    jit_compared: bool,
    /// Where the JIT and the checked engine disagreed.
    jit_mismatches: Vec<String>,
}

/// Loads in one mode: Ok(Some) accepted, Ok(None) rejected by the
/// verifier, Err another load failure.
fn load(h: &Hostile, privileged: bool) -> Result<Option<XdpProgram>, String> {
    let opts = Options {
        privileged,
        log_level: 0,
    };
    match XdpProgram::load_with_options(&h.insns, &h.maps, &opts) {
        Ok(p) => Ok(Some(p)),
        Err(LoadError::Verify(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// A few elements in every map that holds them: keys 0..3 (those within
/// `max_entries`), values filled from `seed`.
fn fill_maps(prog: &XdpProgram, maps: &[MapDecl], seed: u64) {
    for (i, d) in maps.iter().enumerate() {
        if !matches!(
            d.map_type,
            maptype::ARRAY
                | maptype::HASH
                | maptype::PERCPU_ARRAY
                | maptype::PERCPU_HASH
                | maptype::LRU_HASH
        ) {
            continue;
        }
        let m = &prog.maps().get(i).expect("declared map").map;
        for k in 0..3u64.min(u64::from(d.max_entries)) {
            let key = &k.to_le_bytes()[..d.key_size as usize];
            let value: Vec<u8> = (0..m.user_value_size())
                .map(|b| (seed as usize ^ (b * 31) ^ k as usize) as u8)
                .collect();
            let _ = m.update_copy(key, &value, 0);
        }
    }
}

/// Verifies `h` in both modes and runs it on `FRAMES` frames if either
/// accepts it.
fn check(seed: u64, h: &Hostile, kernel: bool, verbose: bool) -> Outcome {
    let mut o = Outcome::default();
    let default = load(h, false);
    let privileged = load(h, true);
    let mut accepted = None;
    for (r, flag) in [
        (default, &mut o.accepted_default),
        (privileged, &mut o.accepted_privileged),
    ] {
        match r {
            Ok(Some(p)) => {
                *flag = true;
                accepted.get_or_insert(p);
            }
            Ok(None) => {}
            Err(e) => o.load_errors.push(e),
        }
    }
    if kernel {
        // A helper this kernel does not offer XDP leaves the kernel's
        // verdict unknown.
        o.kernel = match common::load_kernel(&h.insns, &h.maps) {
            Ok(_) => Some(true),
            Err(e) if rxdp_kernel::unavailable_helper(&e).is_some() => None,
            Err(_) => Some(false),
        };
    }
    let Some(prog) = accepted else {
        return o;
    };
    // Programs the default mode accepts leak no address into the return
    // value, the packet or a map: what the checked engine and the JIT
    // compute must be equal. The JIT runs a second load, its maps filled
    // the same way.
    let jit = match o.accepted_default {
        true => load(h, false).ok().flatten(),
        false => None,
    };
    fill_maps(&prog, &h.maps, seed);
    if let Some(j) = &jit {
        fill_maps(j, &h.maps, seed);
    }
    let opts = TestRunOpts {
        engine: Engine::Checked,
        ..TestRunOpts::default()
    };
    let jit_opts = TestRunOpts {
        engine: Engine::Jit,
        ..TestRunOpts::default()
    };
    let mut jit_runs = Vec::new();
    for frame in frames(seed, FRAMES, &h.lengths) {
        o.runs += 1;
        let r = prog.test_run(&frame, &opts);
        if let (Some(j), Ok(want)) = (&jit, &r) {
            let got = j.test_run(&frame, &jit_opts).map_err(|e| e.to_string());
            let same = got
                .as_ref()
                .is_ok_and(|g| (g.retval, &g.data_out) == (want.retval, &want.data_out));
            if !same {
                jit_runs.push(format!(
                    "frame of {} bytes: checked retval {} data {:02x?}; jit {:?}",
                    frame.len(),
                    want.retval,
                    want.data_out,
                    got.map(|g| (g.retval, g.data_out))
                ));
            }
        }
        if verbose {
            match &r {
                Ok(out) => eprintln!("frame of {} bytes: retval {}", frame.len(), out.retval),
                Err(e) => eprintln!("frame of {} bytes: {e}", frame.len()),
            }
        }
        match r {
            Ok(_) => {}
            Err(RunError::Fault { fault, .. }) => {
                o.faults.push((frame.len(), format!("{fault}")));
                // A budget exhausted takes seconds: not again.
                if matches!(fault.kind, FaultKind::InsnLimit { .. }) {
                    break;
                }
            }
            Err(e) => o
                .load_errors
                .push(format!("frame of {} bytes: {e}", frame.len())),
        }
    }
    if let Some(j) = &jit
        && o.faults.is_empty()
    {
        o.jit_compared = true;
        o.jit_mismatches = jit_runs;
        if map_contents(&prog) != map_contents(j) {
            o.jit_mismatches.push("maps differ after the runs".into());
        }
    }
    o
}

/// Every map's elements, sorted.
fn map_contents(prog: &XdpProgram) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
    prog.maps()
        .iter()
        .map(|m| {
            let mut e = rxdp_maps::dump(&*m.map).unwrap_or_default();
            e.sort();
            e
        })
        .collect()
}

fn disasm(h: &Hostile) -> String {
    rxdp_isa::disasm(
        &h.insns,
        &DisasmOptions {
            helper_names: true,
            maps: &h.maps,
            auto_labels: true,
            slot_numbers: true,
            ..DisasmOptions::default()
        },
    )
}

fn report(seed: u64, h: &Hostile, o: &Outcome) -> String {
    let modes = match (o.accepted_default, o.accepted_privileged) {
        (true, true) => "default and privileged",
        (true, false) => "default",
        _ => "privileged",
    };
    let faults: Vec<String> = o
        .faults
        .iter()
        .map(|(len, f)| format!("  frame of {len} bytes: {f}"))
        .collect();
    format!(
        "seed {seed}: accepted ({modes}), then faulted in the checked engine{}:\n{}\n{}",
        match o.kernel {
            Some(true) => " (the kernel accepts it too)",
            Some(false) => " (the kernel rejects it)",
            None => "",
        },
        faults.join("\n"),
        disasm(h)
    )
}

/// Totals over a campaign.
#[derive(Default)]
struct Figures {
    generated: u64,
    accepted_default: u64,
    accepted_privileged: u64,
    runs: u64,
    faulty_programs: u64,
    faults: u64,
    load_errors: Vec<String>,
    reports: Vec<String>,
    /// (both accept, both reject, rxdp only, kernel only).
    kernel: [u64; 4],
    /// Seeds (the first few) where rxdp-privileged accepts and the
    /// kernel rejects, and the other way round.
    disagree: [Vec<u64>; 2],
    /// Faults on programs the kernel accepts (the generator's or the
    /// checked engine's bug, or the kernel's).
    kernel_accepted_faults: Vec<u64>,
    /// feature -> (programs, kernel-asked, kernel-accepted, rxdp-accepted).
    census: BTreeMap<&'static str, [u64; 4]>,
    with_mistakes: u64,
    /// Programs the JIT ran next to the checked engine, and those where
    /// the two disagreed (reports of the first few).
    jit_compared: u64,
    jit_mismatches: u64,
    jit_reports: Vec<String>,
}

impl Figures {
    fn add(&mut self, seed: u64, h: &Hostile, o: Outcome) {
        self.generated += 1;
        self.accepted_default += u64::from(o.accepted_default);
        self.accepted_privileged += u64::from(o.accepted_privileged);
        self.runs += o.runs;
        self.with_mistakes += u64::from(h.mistakes > 0);
        let accepted = o.accepted_default || o.accepted_privileged;
        for f in h.features.iter().copied().chain(["(all)"]) {
            let c = self.census.entry(f).or_default();
            c[0] += 1;
            c[1] += u64::from(o.kernel.is_some());
            c[2] += u64::from(o.kernel == Some(true));
            c[3] += u64::from(accepted);
        }
        if let Some(k) = o.kernel {
            let i = match (o.accepted_privileged, k) {
                (true, true) => 0,
                (false, false) => 1,
                (true, false) => 2,
                (false, true) => 3,
            };
            self.kernel[i] += 1;
            if i >= 2 && self.disagree[i - 2].len() < 10 {
                self.disagree[i - 2].push(seed);
            }
            if k && !o.faults.is_empty() {
                self.kernel_accepted_faults.push(seed);
            }
        }
        for e in &o.load_errors {
            if self.load_errors.len() < MAX_REPORTS {
                self.load_errors.push(format!("seed {seed}: {e}"));
            }
        }
        self.jit_compared += u64::from(o.jit_compared);
        if !o.jit_mismatches.is_empty() {
            self.jit_mismatches += 1;
            if self.jit_reports.len() < MAX_REPORTS {
                self.jit_reports.push(format!(
                    "seed {seed}: the JIT and the checked engine disagree:\n{}\n{}",
                    o.jit_mismatches.join("\n"),
                    disasm(h)
                ));
            }
        }
        if !o.faults.is_empty() {
            self.faulty_programs += 1;
            self.faults += o.faults.len() as u64;
            if self.reports.len() < MAX_REPORTS {
                self.reports.push(report(seed, h, &o));
            }
        }
    }

    fn merge(&mut self, other: Figures) {
        self.generated += other.generated;
        self.accepted_default += other.accepted_default;
        self.accepted_privileged += other.accepted_privileged;
        self.runs += other.runs;
        self.faulty_programs += other.faulty_programs;
        self.faults += other.faults;
        self.with_mistakes += other.with_mistakes;
        self.jit_compared += other.jit_compared;
        self.jit_mismatches += other.jit_mismatches;
        self.jit_reports.extend(other.jit_reports);
        self.jit_reports.truncate(MAX_REPORTS);
        self.load_errors.extend(other.load_errors);
        self.load_errors.truncate(MAX_REPORTS);
        self.reports.extend(other.reports);
        self.reports.truncate(MAX_REPORTS);
        for i in 0..4 {
            self.kernel[i] += other.kernel[i];
        }
        self.kernel_accepted_faults
            .extend(other.kernel_accepted_faults);
        for (mine, theirs) in self.disagree.iter_mut().zip(other.disagree) {
            mine.extend(theirs);
            mine.sort_unstable();
            mine.truncate(10);
        }
        for (f, c) in other.census {
            let e = self.census.entry(f).or_default();
            for i in 0..4 {
                e[i] += c[i];
            }
        }
    }

    fn print(&self) {
        let pct = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        eprintln!(
            "soundness: {} programs ({:.1}% with deliberate mistakes); accepted: default {} ({:.1}%), \
             privileged {} ({:.1}%); {} checked runs; {} faults in {} programs",
            self.generated,
            pct(self.with_mistakes, self.generated),
            self.accepted_default,
            pct(self.accepted_default, self.generated),
            self.accepted_privileged,
            pct(self.accepted_privileged, self.generated),
            self.runs,
            self.faults,
            self.faulty_programs
        );
        eprintln!(
            "jit: {} programs run next to the checked engine, {} disagreements",
            self.jit_compared, self.jit_mismatches
        );
        let asked: u64 = self.kernel.iter().sum();
        if asked > 0 {
            eprintln!(
                "kernel (root) on {asked} programs: both accept {}, both reject {}, rxdp-privileged \
                 accepts / kernel rejects {}, kernel accepts / rxdp rejects {}; kernel accepts {:.1}%",
                self.kernel[0],
                self.kernel[1],
                self.kernel[2],
                self.kernel[3],
                pct(self.kernel[0] + self.kernel[3], asked)
            );
            eprintln!(
                "  seeds where rxdp accepts and the kernel rejects: {:?}; the other way: {:?}",
                self.disagree[0], self.disagree[1]
            );
            if !self.kernel_accepted_faults.is_empty() {
                eprintln!(
                    "faults on programs the kernel accepts (generator, engine or kernel bug?): seeds {:?}",
                    self.kernel_accepted_faults
                );
            }
        }
        eprintln!("census: feature: % of programs, % kernel-accepted, % rxdp-accepted");
        for (f, c) in &self.census {
            eprintln!(
                "  {f:<22} {:5.1}%  kernel {:5.1}%  rxdp {:5.1}%",
                pct(c[0], self.generated),
                pct(c[2], c[1]),
                pct(c[3], c[0])
            );
        }
    }
}

fn campaign(cfg: &HostileConfig, first: u64, count: u64, kernel_every: u64) -> Figures {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4)) as u64;
    let kernel_ok = kernel_every > 0 && common::kernel_or_skip("soundness");
    let mut total = Figures::default();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut f = Figures::default();
                    let mut seed = first + t;
                    while seed < first + count {
                        let h = generate(seed, cfg);
                        let kernel = kernel_ok && seed.is_multiple_of(kernel_every);
                        let o = check(seed, &h, kernel, false);
                        f.add(seed, &h, o);
                        seed += threads;
                    }
                    f
                })
            })
            .collect();
        for w in workers {
            total.merge(w.join().expect("worker"));
        }
    });
    total
}

#[test]
fn accepted_programs_never_fault() {
    let cfg = HostileConfig::default();
    if let Ok(seed) = std::env::var("RXDP_SOUNDNESS_SEED") {
        let seed: u64 = seed.parse().expect("RXDP_SOUNDNESS_SEED is a number");
        let h = generate(seed, &cfg);
        eprintln!(
            "seed {seed}: features {:?}, {} mistakes\n{}",
            h.features,
            h.mistakes,
            disasm(&h)
        );
        let kernel = common::kernel_or_skip("soundness");
        if kernel && let Err(e) = common::load_kernel(&h.insns, &h.maps) {
            eprintln!("kernel rejects: {e}");
        }
        let o = check(seed, &h, kernel, true);
        eprintln!(
            "rxdp: default {}, privileged {}; kernel {:?}",
            o.accepted_default, o.accepted_privileged, o.kernel
        );
        assert!(o.faults.is_empty(), "{}", report(seed, &h, &o));
        assert!(o.jit_mismatches.is_empty(), "{:#?}", o.jit_mismatches);
        return;
    }
    let count = env_u64("RXDP_SOUNDNESS_COUNT", 20_000);
    let first = env_u64("RXDP_SOUNDNESS_FIRST", 0);
    let kernel_every = env_u64("RXDP_SOUNDNESS_KERNEL_EVERY", 10);
    let f = campaign(&cfg, first, count, kernel_every);
    f.print();
    assert!(
        f.load_errors.is_empty(),
        "loads failed for reasons other than the verifier's:\n{}",
        f.load_errors.join("\n")
    );
    assert!(
        f.faults == 0,
        "the verifier accepted {} programs that then faulted ({} faults); replay one with \
         RXDP_SOUNDNESS_SEED=<seed>. The first:\n\n{}",
        f.faulty_programs,
        f.faults,
        f.reports.join("\n\n")
    );
    assert!(
        f.jit_mismatches == 0,
        "the JIT and the checked engine disagree on {} of {} programs; replay one with \
         RXDP_SOUNDNESS_SEED=<seed>. The first:\n\n{}",
        f.jit_mismatches,
        f.jit_compared,
        f.jit_reports.join("\n\n")
    );
    assert!(f.jit_compared > 0, "no program ran on the JIT");
}
