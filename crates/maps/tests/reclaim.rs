//! Grace-period reclaim: the value of a deleted, replaced or evicted hash
//! element stays put, with its last contents, while a worker that looked
//! it up has not passed a quiescent point; its slot is reused afterwards.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST};
use rxdp_maps::{Domain, Map, MapDef, create_in, map_type};

fn def(map_type: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type,
        key_size: 4,
        value_size: 8,
        max_entries,
        flags: 0,
        name: "r".into(),
    }
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

fn read(p: *mut u8) -> u64 {
    // SAFETY: `p` is an 8-byte, 8-aligned value pointer from a lookup on a
    // map that is still alive; value memory is never unmapped while the
    // map lives.
    unsafe { p.cast::<u64>().read_volatile() }
}

/// Deletes and re-inserts keys until the map has reused `p` or `rounds`
/// have passed; returns whether it did.
fn churn_until_reused(m: &dyn Map, p: *mut u8, rounds: u32) -> bool {
    for i in 0..rounds {
        let key = k(1000 + i);
        m.update(&key, &(i as u64 + 1_000_000).to_ne_bytes(), BPF_ANY)
            .unwrap();
        if m.lookup(&key) == Some(p) {
            return true;
        }
        m.delete(&key).unwrap();
    }
    false
}

#[test]
fn a_deleted_value_outlives_the_readers_batch() {
    for ty in [map_type::HASH, map_type::LRU_HASH, map_type::PERCPU_HASH] {
        let domain = Domain::new();
        let m = create_in(&def(ty, 4), 1, &domain).unwrap();
        m.update(&k(1), &7u64.to_ne_bytes(), BPF_ANY).unwrap();
        let worker = domain.register();
        let p = m.lookup(&k(1)).unwrap();
        m.delete(&k(1)).unwrap();
        assert!(!churn_until_reused(&*m, p, 50), "reused inside the batch");
        assert_eq!(read(p), 7, "type {ty}: value changed under the reader");
        worker.quiescent();
        assert!(churn_until_reused(&*m, p, 50), "type {ty}: never reused");
    }
}

#[test]
fn a_replaced_value_keeps_its_old_contents_for_the_reader() {
    let domain = Domain::new();
    let m = create_in(&def(map_type::HASH, 2), 1, &domain).unwrap();
    m.update(&k(1), &1u64.to_ne_bytes(), BPF_ANY).unwrap();
    let worker = domain.register();
    let old = m.lookup(&k(1)).unwrap();
    for n in 2..40u64 {
        m.update(&k(1), &n.to_ne_bytes(), BPF_EXIST).unwrap();
        assert_ne!(m.lookup(&k(1)), Some(old));
    }
    assert_eq!(read(old), 1);
    drop(worker);
}

#[test]
fn with_no_worker_online_slots_are_reused_at_once() {
    let domain = Domain::new();
    let m = create_in(&def(map_type::HASH, 1), 1, &domain).unwrap();
    m.update(&k(1), &1u64.to_ne_bytes(), BPF_ANY).unwrap();
    let p = m.lookup(&k(1)).unwrap();
    m.delete(&k(1)).unwrap();
    assert!(churn_until_reused(&*m, p, 2));
}

#[test]
fn a_stuck_worker_bounds_memory_with_enomem() {
    let domain = Domain::new();
    let m = create_in(&def(map_type::HASH, 1), 1, &domain).unwrap();
    let worker = domain.register();
    let mut failed = None;
    for i in 0..1000u32 {
        if let Err(e) = m.update(&k(0), &u64::from(i).to_ne_bytes(), BPF_ANY) {
            failed = Some(e.errno());
            break;
        }
    }
    assert_eq!(failed, Some(-12));
    worker.quiescent();
    m.update(&k(0), &5u64.to_ne_bytes(), BPF_ANY).unwrap();
}

/// A worker on its own thread reads a value through its pointer while the
/// control plane deletes the element and churns the map; the value must
/// not change until the worker passes a quiescent point.
#[test]
fn a_worker_thread_in_a_batch_keeps_its_value() {
    let domain = Domain::new();
    let m = create_in(&def(map_type::HASH, 8), 1, &domain).unwrap();
    let (to_worker, from_main) = mpsc::channel::<&'static str>();
    let (to_main, from_worker) = mpsc::channel::<usize>();
    let worker = {
        let (m, domain) = (Arc::clone(&m), Arc::clone(&domain));
        thread::spawn(move || {
            let w = domain.register();
            m.update(&k(3), &33u64.to_ne_bytes(), BPF_ANY).unwrap();
            let p = m.lookup(&k(3)).unwrap();
            to_main.send(p as usize).unwrap();
            assert_eq!(from_main.recv().unwrap(), "churned");
            assert_eq!(read(p), 33);
            w.quiescent();
            to_main.send(0).unwrap();
            assert_eq!(from_main.recv().unwrap(), "done");
        })
    };
    let p = from_worker.recv().unwrap() as *mut u8;
    m.delete(&k(3)).unwrap();
    assert!(!churn_until_reused(&*m, p, 30));
    to_worker.send("churned").unwrap();
    from_worker.recv().unwrap();
    assert!(churn_until_reused(&*m, p, 30));
    to_worker.send("done").unwrap();
    worker.join().unwrap();
}
