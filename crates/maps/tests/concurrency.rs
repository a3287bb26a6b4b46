//! Several threads using one map at once, as datapath workers and the
//! control plane do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_NOEXIST};
use rxdp_maps::{Map, MapDef, create, map_type};

fn def(map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
        name: "c".into(),
    }
}

/// A value whose eight words all equal `word`: a torn copy shows up as
/// words that differ.
fn uniform(word: u64) -> Vec<u8> {
    (0..8).flat_map(|_| word.to_ne_bytes()).collect()
}

fn is_uniform(bytes: &[u8]) -> bool {
    bytes.chunks(8).all(|w| w == &bytes[..8])
}

#[test]
fn threads_insert_look_up_and_delete_their_own_keys() {
    let m = create(&def(map_type::HASH, 8, 64, 4096), 1).unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for round in 0..20u64 {
                    let keys = (0..200u64).map(|i| (t << 32 | i).to_ne_bytes());
                    for key in keys.clone() {
                        m.update(&key, &uniform(round), BPF_NOEXIST).unwrap();
                    }
                    for key in keys.clone() {
                        assert_eq!(m.lookup_copy(&key).unwrap(), uniform(round));
                        assert!(m.lookup(&key).is_some());
                    }
                    for key in keys {
                        m.delete(&key).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut next = [0; 8];
    assert_eq!(m.get_next_key(None, &mut next).unwrap_err().errno(), -2);
}

#[test]
fn readers_never_see_a_half_replaced_value() {
    let m = create(&def(map_type::HASH, 4, 64, 16), 1).unwrap();
    let key = 7u32.to_ne_bytes();
    m.update(&key, &uniform(0), BPF_ANY).unwrap();
    let writer = {
        let m = Arc::clone(&m);
        thread::spawn(move || {
            for word in 1..20_000u64 {
                m.update(&key, &uniform(word), BPF_EXIST).unwrap();
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for _ in 0..20_000 {
                    let value = m.lookup_copy(&key).unwrap();
                    assert!(is_uniform(&value), "torn value {value:?}");
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(m.lookup_copy(&key).unwrap(), uniform(19_999));
}

/// Programs on several workers bumping counters through lookup pointers,
/// as `__sync_fetch_and_add(&value, 1)` does.
fn bump(m: &dyn Map, cpu: u32, times: u64) {
    for i in 0..times {
        let key = ((i % 4) as u32).to_ne_bytes();
        let p = m.lookup_percpu(&key, cpu).unwrap();
        // SAFETY: array values live as long as the map, are 8-byte aligned
        // and 8 bytes long here; every thread accesses them atomically.
        let counter = unsafe { AtomicU64::from_ptr(p.cast::<u64>()) };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn counters_through_pointers_add_up() {
    let shared = create(&def(map_type::ARRAY, 4, 8, 4), 1).unwrap();
    let percpu = create(&def(map_type::PERCPU_ARRAY, 4, 8, 4), 4).unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|cpu| {
            let (shared, percpu) = (Arc::clone(&shared), Arc::clone(&percpu));
            thread::spawn(move || {
                bump(&*shared, cpu, 10_000);
                bump(&*percpu, cpu, 10_000);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for i in 0..4u32 {
        let key = i.to_ne_bytes();
        let total = u64::from_ne_bytes(shared.lookup_copy(&key).unwrap().try_into().unwrap());
        assert_eq!(total, 4 * 2_500);
        // Each of the 4 CPUs did 2,500 bumps of each key in its own copy.
        let all = percpu.lookup_copy(&key).unwrap();
        assert_eq!(all.len(), 32);
        for cpu in all.chunks(8) {
            assert_eq!(u64::from_ne_bytes(cpu.try_into().unwrap()), 2_500);
        }
    }
}
