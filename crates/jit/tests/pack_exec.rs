//! Running code out of packs: a real function called through the RX view,
//! rel32 reach of rxdp's text, and text_poke on code another thread runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rxdp_jit::pack::{self, PACK_SIZE, PackAllocator, PackError, ProgMem, SyncCore, TRAP_FILL};
use rxdp_rcu::Domain;

/// `mov eax, 42; ret`.
const RETURN_42: [u8; 6] = [0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3];
/// `nop; nop; nop; mov eax, 42; ret`: the immediate at offset 4, aligned
/// for a 4-byte poke.
const RETURN_42_ALIGNED: [u8; 9] = [0x90, 0x90, 0x90, 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3];

fn allocator() -> PackAllocator {
    PackAllocator::new(Domain::new())
}

/// Calls the program as `extern "C" fn() -> u32`.
fn call(prog: &ProgMem) -> u32 {
    // SAFETY: every test copies in a complete x86-64 function that takes
    // nothing, preserves callee-saved registers, returns in eax and only
    // has its immediate patched by text_poke; the allocation lives for
    // the borrow, mapped read+execute.
    let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(prog.exec_addr() as usize) };
    f()
}

fn load(a: &PackAllocator, code: &[u8]) -> ProgMem {
    let mut prog = a.alloc(code.len()).unwrap();
    prog.copy_in(code).unwrap();
    prog
}

#[test]
fn code_copied_into_a_pack_runs() {
    let a = allocator();
    let prog = load(&a, &RETURN_42);
    assert_eq!(call(&prog), 42);
    // A neighbour in the same pack runs too.
    let other = load(&a, &[0xb8, 0x07, 0x00, 0x00, 0x00, 0xc3]);
    assert_eq!(other.exec_addr(), prog.exec_addr() + 64);
    assert_eq!((call(&prog), call(&other)), (42, 7));
}

#[test]
fn code_in_a_dedicated_mapping_runs() {
    let a = allocator();
    let mut code = vec![TRAP_FILL; PACK_SIZE + 100];
    code[..RETURN_42.len()].copy_from_slice(&RETURN_42);
    let prog = load(&a, &code);
    assert!(prog.is_dedicated());
    assert_eq!(call(&prog), 42);
}

/// A function of the test binary, which links rxdp: rel32 calls from
/// packs to it must reach.
#[inline(never)]
extern "C" fn some_helper() -> u64 {
    7
}

#[test]
fn executable_memory_is_within_rel32_reach_of_rxdp_text() {
    let a = allocator();
    let small = a.alloc(64).unwrap();
    let big = a.alloc(PACK_SIZE * 2).unwrap();
    let helper = some_helper as *const () as i64;
    let alloc_fn = PackAllocator::alloc as *const () as i64;
    for prog in [&small, &big] {
        let start = prog.exec_addr() as i64;
        let end = start + prog.capacity() as i64;
        for target in [helper, alloc_fn] {
            for site in [start, end] {
                let distance = target - site;
                assert!(
                    i64::from(i32::MIN) < distance && distance < i64::from(i32::MAX),
                    "{site:#x} to {target:#x}: {distance:#x}"
                );
            }
        }
        assert!(pack::within_rel32_reach(
            start as u64,
            prog.capacity() as u64
        ));
    }
    let text = pack::text_range();
    assert!(text.contains(&(alloc_fn as u64)), "{text:x?}");
    assert_eq!(some_helper(), 7);
}

#[test]
fn text_poke_patches_code_another_thread_keeps_running() {
    let a = allocator();
    let prog = load(&a, &RETURN_42_ALIGNED);
    let imm = prog.exec_addr() + 4;
    let stop = AtomicBool::new(false);
    let calls = AtomicU64::new(0);
    let (forty_two, forty_three, pokes) = std::thread::scope(|s| {
        let runner = s.spawn(|| {
            let (mut n42, mut n43) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                match call(&prog) {
                    42 => n42 += 1,
                    43 => n43 += 1,
                    other => panic!("the patched function returned {other}"),
                }
                calls.fetch_add(1, Ordering::Relaxed);
            }
            (n42, n43)
        });
        // Poke only while the runner runs, for a while.
        while calls.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        let started = Instant::now();
        let mut pokes = 0u64;
        while pokes < 2000 || started.elapsed() < Duration::from_millis(300) {
            let (old, new) = if pokes.is_multiple_of(2) {
                (42, 43)
            } else {
                (43, 42)
            };
            a.text_poke(imm, &[old, 0, 0, 0], &[new, 0, 0, 0]).unwrap();
            // Visible at once to this thread, too.
            assert_eq!(call(&prog), u32::from(new));
            pokes += 1;
        }
        if !pokes.is_multiple_of(2) {
            a.text_poke(imm, &[43, 0, 0, 0], &[42, 0, 0, 0]).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let (n42, n43) = runner.join().unwrap();
        (n42, n43, pokes)
    });
    eprintln!(
        "{pokes} pokes; the runner saw 42 {forty_two} times and 43 {forty_three} times; sync mode {:?}",
        pack::sync_core_mode()
    );
    assert!(
        forty_two > 0 && forty_three > 0,
        "the runner saw both versions"
    );
    assert_eq!(call(&prog), 42);
}

#[test]
fn text_poke_of_a_whole_word_and_through_the_program() {
    let a = allocator();
    let prog = load(&a, &RETURN_42_ALIGNED);
    let start = prog.exec_addr();
    // Replace `nop; nop; nop; mov eax, 42` by `nop; nop; nop; mov eax, 1000`.
    let old: [u8; 8] = RETURN_42_ALIGNED[..8].try_into().unwrap();
    let mut new = old;
    new[4..8].copy_from_slice(&1000u32.to_le_bytes());
    prog.text_poke(start, &old, &new).unwrap();
    assert_eq!(call(&prog), 1000);
    // One byte: the low byte of the immediate.
    prog.text_poke(start + 4, &[0xe8], &[0xe9]).unwrap();
    assert_eq!(call(&prog), 1001);
    // Two bytes.
    prog.text_poke(start + 4, &[0xe9, 0x03], &[0x05, 0x00])
        .unwrap();
    assert_eq!(call(&prog), 5);
}

#[test]
fn text_poke_refuses_wrong_old_bytes_bad_sizes_and_misaligned_sites() {
    let a = allocator();
    let prog = load(&a, &RETURN_42_ALIGNED);
    let start = prog.exec_addr();
    let before = prog.read_back();

    let err = a
        .text_poke(start + 4, &[41, 0, 0, 0], &[43, 0, 0, 0])
        .unwrap_err();
    match &err {
        PackError::OldMismatch { found, .. } => assert_eq!(found, &[42, 0, 0, 0]),
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains(&format!("{:#x}", start + 4)),
        "{err}"
    );

    // `mov eax, imm32` with the immediate at offset 1 is not 4-aligned.
    let unaligned = load(&a, &RETURN_42);
    let err = unaligned
        .text_poke(unaligned.exec_addr() + 1, &[42, 0, 0, 0], &[43, 0, 0, 0])
        .unwrap_err();
    assert!(
        matches!(err, PackError::Misaligned { size: 4, .. }),
        "{err}"
    );
    let err = a.text_poke(start + 2, &[0x90; 4], &[0x90; 4]).unwrap_err();
    assert!(matches!(err, PackError::Misaligned { .. }), "{err}");
    let err = a.text_poke(start + 4, &[0; 8], &[0; 8]).unwrap_err();
    assert!(
        matches!(err, PackError::Misaligned { size: 8, .. }),
        "{err}"
    );

    for (old, new) in [
        (&[0u8; 3][..], &[0u8; 3][..]),
        (&[0; 4], &[0; 2]),
        (&[], &[]),
    ] {
        let err = a.text_poke(start, old, new).unwrap_err();
        assert!(matches!(err, PackError::PokeSize { .. }), "{err}");
    }

    // Outside the program, outside any pack.
    let err = prog
        .text_poke(start + prog.capacity() as u64, &[TRAP_FILL], &[0x90])
        .unwrap_err();
    assert!(matches!(err, PackError::NotText { .. }), "{err}");
    let err = a.text_poke(8, &[0], &[0]).unwrap_err();
    assert!(matches!(err, PackError::NotText { .. }), "{err}");
    // Free chunks of a pack are not text either.
    let free_chunk = unaligned.exec_addr() + 64;
    let err = a.text_poke(free_chunk, &[TRAP_FILL], &[0x90]).unwrap_err();
    assert!(matches!(err, PackError::NotText { .. }), "{err}");

    assert_eq!(prog.read_back(), before, "no refused poke wrote anything");
    assert_eq!(call(&prog), 42);
}

#[test]
fn membarrier_sync_core_is_registered() {
    let mode = pack::sync_core_mode();
    eprintln!("text_poke serialises with {mode:?}");
    // Linux 4.16+ offers SYNC_CORE on x86-64; a sandbox refusing
    // membarrier leaves a weaker mode, which text_poke documents.
    assert_ne!(mode, SyncCore::None, "membarrier unavailable here");
}
