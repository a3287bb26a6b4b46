//! `BPF_MAP_TYPE_LRU_HASH` and `BPF_MAP_TYPE_LRU_PERCPU_HASH`: eviction of
//! the least recently used element, and the flag and errno cases of
//! kernel/bpf/hashtab.c (`htab_map_alloc_check`,
//! `htab_lru_map_update_elem`, `__htab_lru_percpu_map_update_elem`).

use std::sync::Arc;
use std::thread;

use rxdp_maps::flags::{
    BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE,
    BPF_NOEXIST,
};
use rxdp_maps::{HashTab, Map, MapDef, create, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const EEXIST: i32 = -17;
const ENOTSUPP: i32 = -524;

fn def(map_type: u32, max_entries: u32, flags: u32) -> MapDef {
    MapDef {
        map_type,
        key_size: 4,
        value_size: 8,
        max_entries,
        flags,
        name: "lru".into(),
    }
}

fn lru(max_entries: u32) -> Arc<dyn Map> {
    create(&def(map_type::LRU_HASH, max_entries, 0), 1).unwrap()
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

fn v(i: u64) -> [u8; 8] {
    i.to_ne_bytes()
}

/// The keys present, sorted.
fn keys(m: &dyn Map) -> Vec<u32> {
    let mut out: Vec<u32> = rxdp_maps::dump(m)
        .unwrap()
        .into_iter()
        .map(|(k, _)| u32::from_ne_bytes(k.try_into().unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn a_full_map_evicts_the_least_recently_used() {
    let m = lru(3);
    for i in 1..=3 {
        m.update(&k(i), &v(i.into()), BPF_NOEXIST).unwrap();
    }
    // Program lookup of 1 makes 2 the least recently used.
    assert!(m.lookup(&k(1)).is_some());
    m.update(&k(4), &v(4), BPF_NOEXIST).unwrap();
    assert_eq!(keys(&*m), [1, 3, 4]);
    // A control-plane lookup does not count as a use: 3 goes next.
    m.lookup_copy(&k(3)).unwrap();
    m.update(&k(5), &v(5), BPF_ANY).unwrap();
    assert_eq!(keys(&*m), [1, 4, 5]);
    // 1's last use (the lookup) is older than the insertions of 4 and 5.
    m.update(&k(6), &v(6), BPF_ANY).unwrap();
    assert_eq!(keys(&*m), [4, 5, 6]);
}

#[test]
fn lookups_in_any_order_give_exact_lru_order() {
    let m = lru(4);
    for i in 0..4 {
        m.update(&k(i), &v(0), BPF_ANY).unwrap();
    }
    // Uses: 3, 1, 0, 2 (oldest to newest).
    for i in [3, 1, 0, 2] {
        m.lookup(&k(i)).unwrap();
    }
    let mut evicted = vec![];
    for new in 10..14 {
        let before = keys(&*m);
        m.update(&k(new), &v(0), BPF_ANY).unwrap();
        let after = keys(&*m);
        evicted.extend(before.into_iter().filter(|key| !after.contains(key)));
    }
    assert_eq!(evicted, [3, 1, 0, 2]);
}

#[test]
fn never_e2big_many_more_keys_than_entries() {
    let m = lru(10);
    for i in 0..1000 {
        m.update(&k(i), &v(i.into()), BPF_NOEXIST).unwrap();
    }
    assert_eq!(keys(&*m), (990..1000).collect::<Vec<_>>());
    let h = m.as_any().downcast_ref::<HashTab>().unwrap();
    assert_eq!(h.len(), 10);
}

#[test]
fn a_full_map_evicts_before_looking_at_the_key_as_the_kernel_does() {
    // htab_lru_map_update_elem pops a free element (evicting) before
    // check_flags, so a failing or replacing update in a full map still
    // evicts the least recently used element.
    let m = lru(3);
    for i in 1..=3 {
        m.update(&k(i), &v(1), BPF_ANY).unwrap();
    }
    assert_eq!(
        m.update(&k(9), &v(9), BPF_EXIST).unwrap_err().errno(),
        ENOENT
    );
    assert_eq!(keys(&*m), [2, 3]);
    m.update(&k(4), &v(4), BPF_ANY).unwrap();
    assert_eq!(
        m.update(&k(4), &v(4), BPF_NOEXIST).unwrap_err().errno(),
        EEXIST
    );
    assert_eq!(keys(&*m), [3, 4]);
    m.update(&k(5), &v(5), BPF_ANY).unwrap();
    m.update(&k(4), &v(44), BPF_EXIST).unwrap();
    assert_eq!(keys(&*m), [4, 5]);
    assert_eq!(m.lookup_copy(&k(4)).unwrap(), v(44));
}

#[test]
fn percpu_lru_bpf_exist_updates_in_place_without_evicting() {
    let m = create(&def(map_type::LRU_PERCPU_HASH, 2, 0), 2).unwrap();
    m.update_percpu(&k(1), &v(1), BPF_ANY, 0).unwrap();
    m.update_percpu(&k(2), &v(2), BPF_ANY, 1).unwrap();
    let p = m.lookup_percpu(&k(1), 1).unwrap();
    m.update_percpu(&k(1), &v(7), BPF_EXIST, 1).unwrap();
    assert_eq!(keys(&*m), [1, 2]);
    assert_eq!(m.lookup_percpu(&k(1), 1), Some(p), "updated in place");
    let all = m.lookup_copy(&k(1)).unwrap();
    assert_eq!(all, [v(1), v(7)].concat());
    // 1 was used last (the BPF_EXIST update counts): 2 is evicted.
    m.update_percpu(&k(3), &v(3), BPF_ANY, 0).unwrap();
    assert_eq!(keys(&*m), [1, 3]);
    assert_eq!(m.nr_cpus(), 2);
}

#[test]
fn creation_and_update_flags_follow_the_kernel() {
    let bad = |d: MapDef| create(&d, 2).unwrap_err().errno();
    assert_eq!(bad(def(map_type::LRU_HASH, 4, BPF_F_NO_PREALLOC)), ENOTSUPP);
    assert_eq!(
        bad(def(map_type::LRU_PERCPU_HASH, 4, BPF_F_NO_PREALLOC)),
        ENOTSUPP
    );
    assert_eq!(bad(def(map_type::HASH, 4, BPF_F_NO_COMMON_LRU)), EINVAL);
    assert_eq!(
        bad(def(
            map_type::LRU_HASH,
            4,
            BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE
        )),
        EINVAL
    );
    assert_eq!(bad(def(map_type::LRU_HASH, 0, 0)), EINVAL);
    assert!(create(&def(map_type::LRU_HASH, 4, BPF_F_NO_COMMON_LRU), 2).is_ok());
    assert!(create(&def(map_type::LRU_HASH, 4, BPF_F_NUMA_NODE), 2).is_ok());
    let m = lru(4);
    assert_eq!(
        m.update(&k(1), &v(1), BPF_F_LOCK).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(m.update(&k(1), &v(1), 3).unwrap_err().errno(), EINVAL);
    assert_eq!(m.delete(&k(1)).unwrap_err().errno(), ENOENT);
}

#[test]
fn workers_looking_up_and_inserting_at_once() {
    let m = lru(64);
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..5_000u32 {
                    let key = k(t * 100_000 + i % 200);
                    if let Some(p) = m.lookup(&key) {
                        // SAFETY: the value is 8 bytes and 8-aligned; value
                        // memory stays mapped while the map lives (this
                        // thread holds it), so even a slot reused after
                        // eviction reads as some element's bytes.
                        let _ = unsafe { p.cast::<u64>().read_volatile() };
                    } else {
                        m.update(&key, &v(i.into()), BPF_ANY).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(keys(&*m).len(), 64);
}
