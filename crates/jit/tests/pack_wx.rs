//! W^X: while programs are allocated, copied in, run, poked and freed, no
//! mapping of the process is ever writable and executable at once, as
//! another thread reading /proc/self/maps over and over sees it.

use std::sync::atomic::{AtomicBool, Ordering};

use rxdp_jit::pack::{PACK_SIZE, PackAllocator};
use rxdp_rcu::Domain;

/// The lines of /proc/self/maps whose permissions hold both `w` and `x`.
fn writable_and_executable(maps: &str) -> Vec<String> {
    maps.lines()
        .filter(|line| {
            let perms = line.split_whitespace().nth(1).unwrap_or("");
            perms.contains('w') && perms.contains('x')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_mapping_is_ever_writable_and_executable() {
    let a = PackAllocator::new(Domain::new());
    let done = AtomicBool::new(false);
    let (scans, packs_seen) = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let (mut scans, mut packs_seen) = (0u64, false);
            loop {
                let finished = done.load(Ordering::Acquire);
                let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
                let bad = writable_and_executable(&maps);
                assert!(bad.is_empty(), "writable and executable: {bad:?}");
                // Both views of a pack: r-xs and rw-s of the memfd.
                let pack_views: Vec<&str> = maps
                    .lines()
                    .filter(|l| l.contains("rxdp-prog-pack"))
                    .filter_map(|l| l.split_whitespace().nth(1))
                    .collect();
                packs_seen |= pack_views.contains(&"r-xs") && pack_views.contains(&"rw-s");
                scans += 1;
                if finished {
                    return (scans, packs_seen);
                }
            }
        });
        for round in 0..200u32 {
            let len = if round % 50 == 0 { PACK_SIZE + 1 } else { 16 };
            let mut prog = a.alloc(len).unwrap();
            // nop x3; mov eax, round; ret
            let mut code = vec![0x90, 0x90, 0x90, 0xb8];
            code.extend_from_slice(&round.to_le_bytes());
            code.push(0xc3);
            prog.copy_in(&code).unwrap();
            // SAFETY: a complete function returning `round` in eax.
            let f: extern "C" fn() -> u32 =
                unsafe { std::mem::transmute(prog.exec_addr() as usize) };
            assert_eq!(f(), round);
            let imm = prog.exec_addr() + 4;
            a.text_poke(imm, &round.to_le_bytes(), &(round + 1).to_le_bytes())
                .unwrap();
            assert_eq!(f(), round + 1);
            drop(prog);
            a.domain().barrier();
        }
        done.store(true, Ordering::Release);
        watcher.join().unwrap()
    });
    eprintln!("{scans} scans of /proc/self/maps");
    assert!(scans > 1);
    assert!(packs_seen, "the watcher never saw a pack's two views");
}

#[test]
fn the_check_spots_a_writable_and_executable_line() {
    let maps = "7f00-7f10 r-xs 00000000 00:01 5 /memfd:rxdp-prog-pack (deleted)\n\
                7f20-7f30 rw-s 00000000 00:01 5 /memfd:rxdp-prog-pack (deleted)\n\
                7f40-7f50 rwxp 00000000 00:00 0\n";
    assert_eq!(
        writable_and_executable(maps),
        vec!["7f40-7f50 rwxp 00000000 00:00 0"]
    );
}
