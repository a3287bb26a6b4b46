//! The prog pack allocator's bookkeeping: chunk rounding, first fit, int3
//! over freed chunks, frees after grace periods, packs returned when
//! empty, dedicated mappings, usage figures, and 1,000 programs.

use std::sync::Arc;

use rxdp_jit::pack::{
    CHUNK_SIZE, PACK_SIZE, PackAllocator, PackError, PackOptions, ProgMem, TRAP_FILL,
};
use rxdp_rcu::Domain;

const PAGE: usize = 4096;

/// An allocator of its own domain, which has no readers: a barrier frees
/// at once.
fn allocator(keep_spare: bool) -> PackAllocator {
    PackAllocator::with_options(
        Domain::new(),
        PackOptions {
            keep_spare,
            hugetlb: true,
        },
    )
}

/// Frees whatever was dropped (nothing reads: the grace period is over).
fn settle(a: &PackAllocator) {
    a.domain().barrier();
}

/// `n` bytes of the RX view at `addr`.
fn rx_bytes(addr: u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            // SAFETY: the callers read only inside a pack that another
            // live allocation keeps mapped; volatile, since the allocator
            // writes the memory through its other view.
            unsafe { std::ptr::read_volatile((addr as usize + i) as *const u8) }
        })
        .collect()
}

#[test]
fn lengths_round_up_to_chunks_and_allocations_take_the_first_fit() {
    let a = allocator(true);
    let first = a.alloc(1).unwrap();
    let second = a.alloc(CHUNK_SIZE + 1).unwrap();
    let third = a.alloc(CHUNK_SIZE).unwrap();
    let base = first.exec_addr();
    assert_eq!(base % CHUNK_SIZE as u64, 0);
    assert_eq!((first.len(), first.capacity()), (1, 64));
    assert_eq!((second.len(), second.capacity()), (65, 128));
    assert_eq!(second.exec_addr(), base + 64);
    assert_eq!(third.exec_addr(), base + 192);

    // A hole of two chunks at +64: a 100-byte image fits it, a 129-byte
    // one does not and goes after the third program.
    drop(second);
    settle(&a);
    let big = a.alloc(129).unwrap();
    assert_eq!(big.exec_addr(), base + 256);
    let small = a.alloc(100).unwrap();
    assert_eq!(small.exec_addr(), base + 64);
    let one = a.alloc(10).unwrap();
    assert_eq!(one.exec_addr(), base + 256 + 192);
}

#[test]
fn usage_counts_chunks_packs_and_dedicated_mappings() {
    let a = allocator(true);
    assert_eq!(a.usage().packs, 0);
    let lens = [1, 64, 65, 1000, 4096];
    let progs: Vec<ProgMem> = lens.iter().map(|&n| a.alloc(n).unwrap()).collect();
    let used: usize = lens.iter().map(|n| n.div_ceil(64) * 64).sum();
    let u = a.usage();
    assert_eq!(u.packs, 1);
    assert_eq!(u.bytes_used, used);
    assert_eq!(u.bytes_free, PACK_SIZE - used);
    assert_eq!((u.dedicated, u.dedicated_bytes), (0, 0));

    let big = a.alloc(PACK_SIZE + 1).unwrap();
    assert!(big.is_dedicated());
    assert_eq!(big.capacity(), PACK_SIZE + PAGE);
    let u = a.usage();
    assert_eq!((u.dedicated, u.dedicated_bytes), (1, PACK_SIZE + PAGE));
    assert_eq!(u.bytes_used, used, "a dedicated mapping takes no chunks");

    drop(progs);
    drop(big);
    settle(&a);
    let u = a.usage();
    assert_eq!((u.packs, u.bytes_used, u.bytes_free), (1, 0, PACK_SIZE));
    assert_eq!((u.dedicated, u.dedicated_bytes), (0, 0));
}

#[test]
fn freed_chunks_hold_int3_once_the_grace_period_is_over() {
    let a = allocator(true);
    let mut prog = a.alloc(100).unwrap();
    // Keeps the pack mapped after `prog` is freed.
    let _neighbour = a.alloc(64).unwrap();
    let fresh = rx_bytes(prog.exec_addr(), prog.capacity());
    assert!(
        fresh.iter().all(|&b| b == TRAP_FILL),
        "new chunks hold int3"
    );

    prog.copy_in(&[0x90; 100]).unwrap();
    let addr = prog.exec_addr();
    let mut expected = vec![0x90; 100];
    expected.resize(128, TRAP_FILL);
    assert_eq!(rx_bytes(addr, 128), expected, "the image, then int3");
    assert_eq!(prog.read_back(), expected);

    drop(prog);
    assert_eq!(
        rx_bytes(addr, 100),
        vec![0x90; 100],
        "the free waits for the grace period"
    );
    settle(&a);
    assert_eq!(rx_bytes(addr, 128), vec![TRAP_FILL; 128]);
    assert_eq!(a.usage().bytes_used, 64);
}

#[test]
fn a_worker_that_has_not_passed_a_quiescent_point_keeps_the_chunks() {
    let domain = Domain::new();
    let a = PackAllocator::new(Arc::clone(&domain));
    let worker = domain.register();
    let prog = a.alloc(300).unwrap();
    drop(prog);
    assert_eq!(domain.collect(), 0);
    assert_eq!(a.usage().bytes_used, 320, "still in use by the worker");
    worker.quiescent();
    assert_eq!(domain.collect(), 1);
    assert_eq!(a.usage().bytes_used, 0);
}

#[test]
fn free_after_waits_for_the_given_domain() {
    let a = allocator(true);
    let other = Domain::new();
    let worker = other.register();
    a.alloc(64).unwrap().free_after(&other);
    settle(&a);
    assert_eq!(
        a.usage().bytes_used,
        64,
        "the allocator's domain is not the one"
    );
    worker.quiescent();
    other.collect();
    assert_eq!(a.usage().bytes_used, 0);
}

#[test]
fn empty_packs_go_back_to_the_system() {
    let a = allocator(false);
    let whole = a.alloc(PACK_SIZE).unwrap();
    assert!(!whole.is_dedicated(), "exactly a pack still fits one");
    let more = a.alloc(64).unwrap();
    assert_eq!(a.usage().packs, 2);
    drop(more);
    settle(&a);
    assert_eq!(a.usage().packs, 1);
    drop(whole);
    settle(&a);
    assert_eq!(a.usage(), Default::default());

    // Keeping a spare: the last pack stays mapped, empty.
    let a = allocator(true);
    let whole = a.alloc(PACK_SIZE).unwrap();
    let more = a.alloc(64).unwrap();
    drop(whole);
    settle(&a);
    assert_eq!(a.usage().packs, 1, "the other pack is still in use");
    drop(more);
    settle(&a);
    let u = a.usage();
    assert_eq!((u.packs, u.bytes_used, u.bytes_free), (1, 0, PACK_SIZE));
}

#[test]
fn large_images_get_a_dedicated_mapping_with_two_views() {
    let a = allocator(true);
    let len = PACK_SIZE + 3 * PAGE + 5;
    let mut prog = a.alloc(len).unwrap();
    assert!(prog.is_dedicated());
    assert_eq!(prog.capacity(), PACK_SIZE + 4 * PAGE);
    let image: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    prog.copy_in(&image).unwrap();
    let back = prog.read_back();
    assert_eq!(&back[..len], &image[..]);
    assert!(back[len..].iter().all(|&b| b == TRAP_FILL));
    assert_eq!(a.usage().packs, 0);
    drop(prog);
    settle(&a);
    assert_eq!(a.usage().dedicated, 0);
}

#[test]
fn bad_requests_are_errors() {
    let a = allocator(true);
    assert!(matches!(a.alloc(0), Err(PackError::EmptyAlloc)));
    let mut prog = a.alloc(10).unwrap();
    let err = prog.copy_in(&[0; 65]).unwrap_err();
    assert!(matches!(
        err,
        PackError::ImageTooLarge {
            len: 65,
            capacity: 64
        }
    ));
    assert!(err.to_string().contains("65 bytes"), "{err}");
}

#[test]
fn a_thousand_programs_fit_in_one_pack_instead_of_a_thousand_pages() {
    let a = allocator(true);
    // Sizes of small XDP programs: 64 bytes to about 2 KiB.
    let lens: Vec<usize> = (0..1000).map(|i| 64 + (i * 397) % 1984).collect();
    let mut progs = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        let mut p = a.alloc(len).unwrap();
        p.copy_in(&vec![i as u8; len]).unwrap();
        progs.push(p);
    }
    let chunked: usize = lens
        .iter()
        .map(|n| n.div_ceil(CHUNK_SIZE) * CHUNK_SIZE)
        .sum();
    let page_each: usize = lens.iter().map(|n| n.div_ceil(PAGE) * PAGE).sum();
    let u = a.usage();
    assert_eq!(u.bytes_used, chunked);
    assert_eq!(u.packs, chunked.div_ceil(PACK_SIZE));
    assert!(u.packs * PACK_SIZE < page_each);
    eprintln!(
        "1000 programs ({} bytes of code): {} pack(s) = {} KiB mapped, {} KiB in chunks; \
         a page each: {} KiB",
        lens.iter().sum::<usize>(),
        u.packs,
        u.packs * PACK_SIZE / 1024,
        chunked / 1024,
        page_each / 1024
    );
    // No program overwrote another.
    for (i, p) in progs.iter().enumerate() {
        assert!(p.read_back()[..p.len()].iter().all(|&b| b == i as u8));
    }
}

#[test]
fn threads_allocate_and_free_without_overlapping() {
    let a = allocator(true);
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let a = &a;
            s.spawn(move || {
                let mut live = Vec::new();
                for i in 0..400usize {
                    let len = 1 + (i * 131 + usize::from(t) * 17) % 700;
                    let mut p = a.alloc(len).unwrap();
                    p.copy_in(&vec![t; len]).unwrap();
                    live.push(p);
                    if i % 3 == 0 {
                        live.swap_remove(i % live.len());
                    }
                }
                for p in &live {
                    assert!(p.read_back()[..p.len()].iter().all(|&b| b == t));
                }
            });
        }
    });
    settle(&a);
    assert_eq!(a.usage().bytes_used, 0);
}
