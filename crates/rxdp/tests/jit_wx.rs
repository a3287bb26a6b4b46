//! W^X at the runtime level: while threads load the example programs
//! (the JIT compiles them at load into the prog pack), run them on the
//! JIT engine and drop them (their code freed after a grace period), a
//! watcher thread reads /proc/self/maps over and over, and no mapping of
//! the process may ever be writable and executable at once.
//!
//! At the same time another thread patches running code the way prog
//! array updates do: it installs and removes the target of a direct tail
//! call over and over, each change a text poke of the caller's code. The
//! pack allocator alone is checked the same way by
//! `crates/jit/tests/pack_wx.rs`.

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
/// Install/remove cycles of the patcher.
const PATCHES: usize = 300;

/// A direct tail call through slot 0 (`r0 = 7` when it falls through),
/// and the target (`r0 = 1`).
const CALLER: &str = ".map jmp type=prog_array key=4 value=4 entries=1
    r2 = map[jmp] ll
    r3 = 0
    call bpf_tail_call
    r0 = 7
    exit";

/// Installs and removes the tail call target `PATCHES` times, checking
/// the caller's verdict after each change.
fn patch_tail_calls() {
    let a = rxdp_isa::asm::assemble(CALLER).unwrap();
    let caller = XdpProgram::load(&a.insns, &a.maps).unwrap();
    assert_eq!(caller.jit().unwrap().tail_call_sites().len(), 1);
    let t = rxdp_isa::asm::assemble(
        ".map jmp type=prog_array key=4 value=4 entries=1
r0 = 1
exit",
    )
    .unwrap();
    let target = XdpProgram::load_with_maps(
        &t.insns,
        std::sync::Arc::clone(caller.map_table()),
        rxdp_xdp::Xdp::default(),
        &rxdp_verifier::Options::default(),
    )
    .unwrap();
    let array = caller.maps().by_name("jmp").unwrap();
    let array = array
        .map
        .as_any()
        .downcast_ref::<rxdp_maps::ProgArray>()
        .unwrap();
    let opts = TestRunOpts {
        engine: Engine::Jit,
        ..TestRunOpts::default()
    };
    let pkt = &packets()[0].1;
    for _ in 0..PATCHES {
        array.set(0, target.prog_ref(), 0).unwrap();
        assert_eq!(caller.test_run(pkt, &opts).unwrap().retval, 1);
        array.clear(0).unwrap();
        assert_eq!(caller.test_run(pkt, &opts).unwrap().retval, 7);
    }
}
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
        let patcher = s.spawn(patch_tail_calls);
        for l in loaders {
            l.join().unwrap();
        }
        patcher.join().unwrap();
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
