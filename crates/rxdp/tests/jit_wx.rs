//! W^X at the runtime level: while threads load the example programs
//! (the JIT compiles them at load into the prog pack), run them on the
//! JIT engine and drop them (their code freed after a grace period), a
//! watcher thread reads /proc/self/maps over and over, and no mapping of
//! the process may ever be writable and executable at once.
//!
//! The pack allocator alone is checked the same way, text patching
//! included, by `crates/jit/tests/pack_wx.rs`; `XdpProgram` offers no
//! patching of its code, so none is done here.

mod common;

use common::{packets, run_rxdp};
use rxdp_maps::Domain;
use rxdp_xdp::{Engine, TestRunOpts, XdpProgram};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Loader threads.
const LOADERS: usize = 2;
/// Rounds of every loader over every example.
const ROUNDS: usize = 200;
/// The name of the memfd behind the JIT's packs, as /proc/self/maps shows
/// it (`/memfd:rxdp-prog-pack (deleted)`).
const PACK_MEMFD: &str = "rxdp-prog-pack";

/// Whether a line of /proc/self/maps is writable and executable: its
/// permission field reads `rwxp`, `-wxs` and the like.
fn is_wx(line: &str) -> bool {
    let perms = line
        .split_ascii_whitespace()
        .nth(1)
        .unwrap_or("")
        .as_bytes();
    perms.len() >= 3 && perms[1] == b'w' && perms[2] == b'x'
}

/// What the watcher found in one scan.
#[derive(Default)]
struct Scan {
    /// Lines both writable and executable.
    wx: Vec<String>,
    /// Whether a pack's executable view (`r-xs`) and its writable view
    /// (`rw-s`) were both mapped.
    pack_views: bool,
}

fn scan(maps: &str) -> Scan {
    let mut s = Scan::default();
    let (mut rx, mut rw) = (false, false);
    for line in maps.lines() {
        if is_wx(line) {
            s.wx.push(line.to_owned());
        }
        if line.contains(PACK_MEMFD) {
            match line.split_ascii_whitespace().nth(1) {
                Some("r-xs") => rx = true,
                Some("rw-s") => rw = true,
                _ => {}
            }
        }
    }
    s.pack_views = rx && rw;
    s
}

/// The example programs `examples/*.s`, assembled, by file name.
fn example_programs() -> Vec<(String, rxdp_isa::asm::Assembled)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "s"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let asm = std::fs::read_to_string(p)
                .map_err(|e| e.to_string())
                .and_then(|text| rxdp_isa::asm::assemble(&text).map_err(|e| e.to_string()))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, asm)
        })
        .collect()
}

#[test]
fn jit_code_is_never_writable_and_executable() {
    let programs = example_programs();
    assert!(!programs.is_empty());
    let pkts = packets();
    // What each program returns on each packet, from the reference engine.
    let expected: Vec<Vec<u32>> = programs
        .iter()
        .map(|(_, a)| {
            pkts.iter()
                .map(|(_, p)| run_rxdp(&a.insns, &a.maps, p, Engine::Checked).retval)
                .collect()
        })
        .collect();
    let native = AtomicUsize::new(0);
    let loaders_done = AtomicBool::new(false);
    let (scans, saw_packs) = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let (mut scans, mut saw_packs) = (0u64, false);
            loop {
                let last = loaders_done.load(Ordering::Acquire);
                let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
                let found = scan(&maps);
                assert!(
                    found.wx.is_empty(),
                    "writable and executable after {scans} scans: {:?}",
                    found.wx
                );
                saw_packs |= found.pack_views;
                scans += 1;
                if last {
                    return (scans, saw_packs);
                }
            }
        });
        let loaders: Vec<_> = (0..LOADERS)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        for ((name, asm), want) in programs.iter().zip(&expected) {
                            let prog = XdpProgram::load(&asm.insns, &asm.maps)
                                .unwrap_or_else(|e| panic!("{name}: {e}"));
                            if prog.jit().is_ok() {
                                native.fetch_add(1, Ordering::Relaxed);
                            }
                            let opts = TestRunOpts {
                                engine: Engine::Jit,
                                ..TestRunOpts::default()
                            };
                            for ((pkt_name, pkt), want) in pkts.iter().zip(want) {
                                let out = prog
                                    .test_run(pkt, &opts)
                                    .unwrap_or_else(|e| panic!("{name} on {pkt_name}: {e}"));
                                assert_eq!(out.retval, *want, "{name} on {pkt_name}");
                            }
                            drop(prog);
                        }
                        // The dropped programs' code goes back to the
                        // packs only after a grace period: wait for it,
                        // so that frees (and the unmapping of emptied
                        // packs) happen while the watcher looks.
                        Domain::global().barrier();
                    }
                })
            })
            .collect();
        for l in loaders {
            l.join().unwrap();
        }
        loaders_done.store(true, Ordering::Release);
        watcher.join().unwrap()
    });
    let native = native.into_inner();
    eprintln!(
        "{scans} scans of /proc/self/maps; {native} of {} loads had native code",
        LOADERS * ROUNDS * programs.len()
    );
    assert!(native > 0, "the JIT compiled none of the examples");
    assert!(scans > 1);
    assert!(
        saw_packs,
        "the watcher never saw both views of a JIT pack ({PACK_MEMFD})"
    );
}

#[test]
fn the_scan_spots_writable_and_executable_lines_and_packs() {
    let maps = "7f00-7f10 r-xs 00000000 00:01 5 /memfd:rxdp-prog-pack (deleted)\n\
                7f20-7f30 rw-s 00000000 00:01 5 /memfd:rxdp-prog-pack (deleted)\n\
                7f40-7f50 rwxp 00000000 00:00 0\n\
                7f60-7f70 -wxs 00000000 00:00 0 /memfd:other\n\
                7f80-7f90 r-xp 00000000 08:01 7 /usr/lib/libc.so.6\n";
    let s = scan(maps);
    assert_eq!(
        s.wx,
        [
            "7f40-7f50 rwxp 00000000 00:00 0",
            "7f60-7f70 -wxs 00000000 00:00 0 /memfd:other"
        ]
    );
    assert!(s.pack_views);
    assert!(!scan(&maps[maps.find("7f20").unwrap()..]).pack_views);
}
