//! Kernel semantics of `BPF_MAP_TYPE_HASH` and `BPF_MAP_TYPE_PERCPU_HASH`,
//! with expected results taken from kernel/bpf/hashtab.c and the
//! `bpf_map_update_elem` documentation in include/uapi/linux/bpf.h.

use std::collections::HashSet;
use std::sync::Arc;

use rxdp_maps::flags::{
    BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE, BPF_NOEXIST,
};
use rxdp_maps::{HashTab, Map, MapDef, create, map_type};

const EINVAL: i32 = -22;
const E2BIG: i32 = -7;
const EEXIST: i32 = -17;
const ENOENT: i32 = -2;

fn def(map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
        name: "h".into(),
    }
}

fn hash(max_entries: u32) -> Arc<dyn Map> {
    create(&def(map_type::HASH, 8, 16, max_entries), 1).unwrap()
}

fn k(i: u64) -> [u8; 8] {
    i.to_ne_bytes()
}

fn v(i: u64) -> [u8; 16] {
    let mut out = [0; 16];
    out[..8].copy_from_slice(&i.to_ne_bytes());
    out[8..].copy_from_slice(&(!i).to_ne_bytes());
    out
}

/// Reads `len` bytes at a value pointer a lookup returned.
fn peek(p: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: `p` came from a lookup on a live map whose element has not
    // been deleted or replaced since, and `len` is at most its value size.
    unsafe { std::slice::from_raw_parts(p, len).to_vec() }
}

/// Every key `get_next_key` visits from the start, in order.
fn walk(m: &dyn Map) -> Vec<[u8; 8]> {
    let mut keys = vec![];
    let mut next = [0; 8];
    let mut key: Option<[u8; 8]> = None;
    while m
        .get_next_key(key.as_ref().map(|k| &k[..]), &mut next)
        .is_ok()
    {
        keys.push(next);
        key = Some(next);
    }
    keys
}

#[test]
fn update_flags_follow_check_flags() {
    let m = hash(4);
    assert!(m.lookup(&k(1)).is_none());
    // BPF_EXIST on a missing key: -ENOENT, nothing created.
    assert_eq!(
        m.update(&k(1), &v(1), BPF_EXIST).unwrap_err().errno(),
        ENOENT
    );
    assert!(m.lookup(&k(1)).is_none());
    assert_eq!(m.update(&k(1), &v(1), BPF_NOEXIST), Ok(()));
    // BPF_NOEXIST on an existing key: -EEXIST, value unchanged.
    assert_eq!(
        m.update(&k(1), &v(2), BPF_NOEXIST).unwrap_err().errno(),
        EEXIST
    );
    assert_eq!(m.lookup_copy(&k(1)).unwrap(), v(1));
    assert_eq!(m.update(&k(1), &v(3), BPF_EXIST), Ok(()));
    assert_eq!(m.lookup_copy(&k(1)).unwrap(), v(3));
    assert_eq!(m.update(&k(1), &v(4), BPF_ANY), Ok(()));
    assert_eq!(peek(m.lookup(&k(1)).unwrap(), 16), v(4));
    for bad in [3, 8, 1 << 40, BPF_F_LOCK | 3] {
        assert_eq!(
            m.update(&k(1), &v(5), bad).unwrap_err().errno(),
            EINVAL,
            "{bad}"
        );
    }
    assert_eq!(
        m.update(&k(1), &v(5), BPF_F_LOCK).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(
        m.update_copy(&k(1), &v(5), BPF_F_LOCK).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(m.lookup_copy(&k(1)).unwrap(), v(4));
}

#[test]
fn full_map_refuses_new_keys_but_replaces_existing_ones() {
    let m = hash(3);
    for i in 0..3 {
        m.update(&k(i), &v(i), BPF_ANY).unwrap();
    }
    assert_eq!(m.update(&k(9), &v(9), BPF_ANY).unwrap_err().errno(), E2BIG);
    assert_eq!(
        m.update(&k(9), &v(9), BPF_NOEXIST).unwrap_err().errno(),
        E2BIG
    );
    // BPF_EXIST on a missing key is -ENOENT before the map is found full.
    assert_eq!(
        m.update(&k(9), &v(9), BPF_EXIST).unwrap_err().errno(),
        ENOENT
    );
    for _ in 0..10 {
        assert_eq!(m.update(&k(1), &v(11), BPF_ANY), Ok(()));
        assert_eq!(m.update(&k(2), &v(12), BPF_EXIST), Ok(()));
    }
    assert_eq!(m.lookup_copy(&k(1)).unwrap(), v(11));
    assert_eq!(m.delete(&k(0)), Ok(()));
    assert_eq!(m.update(&k(9), &v(9), BPF_NOEXIST), Ok(()));
    let hash = m.as_any().downcast_ref::<HashTab>().unwrap();
    assert_eq!(hash.len(), 3);
}

#[test]
fn delete_of_a_missing_key_is_enoent() {
    let m = hash(4);
    assert_eq!(m.delete(&k(5)).unwrap_err().errno(), ENOENT);
    m.update(&k(5), &v(5), BPF_ANY).unwrap();
    assert_eq!(m.delete(&k(5)), Ok(()));
    assert!(m.lookup(&k(5)).is_none());
    assert_eq!(m.lookup_copy(&k(5)).unwrap_err().errno(), ENOENT);
    assert_eq!(m.delete(&k(5)).unwrap_err().errno(), ENOENT);
    assert_eq!(m.delete_checked(&k(5)).unwrap_err().errno(), ENOENT);
    assert_eq!(m.delete(&[0; 4]).unwrap_err().errno(), EINVAL);
}

#[test]
fn addresses_stay_put_across_other_updates_and_many_inserts() {
    let m = hash(10_000);
    m.update(&k(u64::MAX), &v(42), BPF_ANY).unwrap();
    let p = m.lookup(&k(u64::MAX)).unwrap();
    let mut pointers = vec![];
    for i in 0..9_000 {
        m.update(&k(i), &v(i), BPF_NOEXIST).unwrap();
        pointers.push(m.lookup(&k(i)).unwrap());
    }
    for i in (0..9_000).step_by(3) {
        m.delete(&k(i)).unwrap();
    }
    for i in 20_000..20_500 {
        m.update(&k(i), &v(i), BPF_ANY).unwrap();
    }
    for i in (1..9_000).step_by(3) {
        m.update(&k(i), &v(i + 1), BPF_EXIST).unwrap();
    }
    assert_eq!(m.lookup(&k(u64::MAX)), Some(p));
    assert_eq!(peek(p, 16), v(42));
    // Elements never updated themselves kept their addresses and values.
    for i in (2..9_000).step_by(3) {
        assert_eq!(m.lookup(&k(i)), Some(pointers[i as usize]));
        assert_eq!(peek(pointers[i as usize], 16), v(i));
    }
    // Values are 8-byte aligned and distinct.
    let live: HashSet<usize> = walk(&*m)
        .iter()
        .map(|key| m.lookup(key).unwrap() as usize)
        .collect();
    assert_eq!(live.len(), 1 + 6_000 + 500);
    assert!(live.iter().all(|p| p % 8 == 0));
}

#[test]
fn a_program_pointer_writes_the_element() {
    let m = hash(2);
    m.update(&k(7), &v(0), BPF_ANY).unwrap();
    let p = m.lookup(&k(7)).unwrap();
    // SAFETY: `p` points at the live element's 16-byte value.
    unsafe { p.cast::<u64>().write(99) };
    let mut expected = v(0);
    expected[..8].copy_from_slice(&99u64.to_ne_bytes());
    assert_eq!(m.lookup_copy(&k(7)).unwrap(), expected);
}

#[test]
fn get_next_key_visits_every_key_once() {
    let m = hash(100);
    let mut next = [0; 8];
    assert_eq!(m.get_next_key(None, &mut next).unwrap_err().errno(), ENOENT);
    let keys: HashSet<[u8; 8]> = (0..100).map(|i| k(i * 7919)).collect();
    for key in &keys {
        m.update(key, &v(1), BPF_ANY).unwrap();
    }
    let walked = walk(&*m);
    assert_eq!(walked.len(), 100);
    assert_eq!(walked.iter().copied().collect::<HashSet<_>>(), keys);
    // A missing key restarts at the first key; the last key is -ENOENT.
    m.get_next_key(Some(&k(1)), &mut next).unwrap();
    assert_eq!(next, walked[0]);
    let last = walked[99];
    assert_eq!(
        m.get_next_key(Some(&last), &mut next).unwrap_err().errno(),
        ENOENT
    );
    assert_eq!(
        m.get_next_key(Some(&[0; 3]), &mut next)
            .unwrap_err()
            .errno(),
        EINVAL
    );
}

#[test]
fn walk_survives_replacing_and_deleting_visited_keys() {
    let m = hash(50);
    for i in 0..50 {
        m.update(&k(i), &v(i), BPF_ANY).unwrap();
    }
    // Replace each key as it is visited: the walk still sees each once.
    let mut seen = vec![];
    let mut next = [0; 8];
    let mut key: Option<[u8; 8]> = None;
    while m
        .get_next_key(key.as_ref().map(|k| &k[..]), &mut next)
        .is_ok()
    {
        m.update(&next, &v(1000), BPF_EXIST).unwrap();
        seen.push(next);
        key = Some(next);
    }
    assert_eq!(seen.len(), 50);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 50);
    // The usual delete-all loop: get the next key, then delete the current.
    let mut deleted = 0;
    let mut key: Option<[u8; 8]> = None;
    loop {
        let more = m
            .get_next_key(key.as_ref().map(|k| &k[..]), &mut next)
            .is_ok();
        if let Some(cur) = key {
            m.delete(&cur).unwrap();
            deleted += 1;
        }
        if !more {
            break;
        }
        key = Some(next);
    }
    assert_eq!(deleted, 50);
    assert!(walk(&*m).is_empty());
}

#[test]
fn creation_checks_follow_htab_map_alloc_check() {
    let bad = |d: MapDef, nr_cpus: u32| create(&d, nr_cpus).unwrap_err().errno();
    let h = || def(map_type::HASH, 8, 16, 4);
    assert_eq!(bad(MapDef { key_size: 0, ..h() }, 1), EINVAL);
    assert_eq!(
        bad(
            MapDef {
                value_size: 0,
                ..h()
            },
            1
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                max_entries: 0,
                ..h()
            },
            1
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                flags: BPF_F_NO_COMMON_LRU,
                ..h()
            },
            1
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                flags: BPF_F_MMAPABLE,
                ..h()
            },
            1
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                value_size: 4 << 20,
                ..h()
            },
            1
        ),
        E2BIG
    );
    assert!(
        create(
            &MapDef {
                flags: BPF_F_NO_PREALLOC,
                ..h()
            },
            1
        )
        .is_ok()
    );
    assert!(
        create(
            &MapDef {
                key_size: 3,
                value_size: 1,
                ..h()
            },
            1
        )
        .is_ok()
    );

    let p = || def(map_type::PERCPU_HASH, 8, 16, 4);
    assert_eq!(
        bad(
            MapDef {
                flags: BPF_F_NUMA_NODE,
                ..p()
            },
            2
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                value_size: 32769,
                ..p()
            },
            2
        ),
        E2BIG
    );
    assert_eq!(bad(p(), 0), EINVAL);
}

#[test]
fn odd_key_and_value_sizes_round_trip() {
    let m = create(&def(map_type::HASH, 3, 5, 8), 1).unwrap();
    m.update(&[1, 2, 3], &[9, 8, 7, 6, 5], BPF_ANY).unwrap();
    assert_eq!(m.lookup_copy(&[1, 2, 3]).unwrap(), [9, 8, 7, 6, 5]);
    assert_eq!(m.lookup(&[1, 2, 3]).unwrap() as usize % 8, 0);
    assert_eq!(
        m.update(&[1, 2], &[0; 5], BPF_ANY).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(
        m.update(&[1, 2, 3], &[0; 8], BPF_ANY).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(m.direct_value_addr(), None);
}

#[test]
fn percpu_hash_new_element_from_a_program_is_zero_on_other_cpus() {
    let m = create(&def(map_type::PERCPU_HASH, 4, 4, 8), 3).unwrap();
    assert_eq!(m.user_value_size(), 24);
    let key = 5u32.to_ne_bytes();
    m.update_percpu(&key, &[1, 1, 1, 1], BPF_ANY, 1).unwrap();
    let mut expected = vec![0; 24];
    expected[8..12].copy_from_slice(&[1; 4]);
    assert_eq!(m.lookup_copy(&key).unwrap(), expected);
    // An existing element: only the updating CPU's copy changes, in place.
    let p2 = m.lookup_percpu(&key, 2).unwrap();
    m.update_percpu(&key, &[2, 2, 2, 2], BPF_EXIST, 2).unwrap();
    expected[16..20].copy_from_slice(&[2; 4]);
    assert_eq!(m.lookup_copy(&key).unwrap(), expected);
    assert_eq!(m.lookup_percpu(&key, 2), Some(p2));
    assert_eq!(peek(p2, 4), [2; 4]);
    assert_eq!(peek(m.lookup_percpu(&key, 0).unwrap(), 4), [0; 4]);
    assert!(m.lookup_percpu(&key, 3).is_none());
    assert_eq!(
        m.update_percpu(&key, &[0; 4], BPF_ANY, 3)
            .unwrap_err()
            .errno(),
        EINVAL
    );
}

#[test]
fn percpu_hash_control_plane_writes_every_cpu() {
    let m = create(&def(map_type::PERCPU_HASH, 4, 4, 2), 2).unwrap();
    let key = 1u32.to_ne_bytes();
    let all = [1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0];
    m.update_copy(&key, &all, BPF_NOEXIST).unwrap();
    assert_eq!(m.lookup_copy(&key).unwrap(), all);
    assert_eq!(peek(m.lookup_percpu(&key, 1).unwrap(), 4), [5, 6, 7, 8]);
    assert_eq!(
        m.update_copy(&key, &all, BPF_NOEXIST).unwrap_err().errno(),
        EEXIST
    );
    assert_eq!(
        m.update_copy(&key, &all[..8], BPF_ANY).unwrap_err().errno(),
        EINVAL
    );
    // No spin lock in per-CPU values either.
    assert_eq!(
        m.update(&key, &[0; 4], BPF_F_LOCK).unwrap_err().errno(),
        EINVAL
    );
    m.update_copy(&2u32.to_ne_bytes(), &all, BPF_ANY).unwrap();
    let e = m
        .update_copy(&3u32.to_ne_bytes(), &all, BPF_ANY)
        .unwrap_err();
    assert_eq!(e.errno(), E2BIG);
    assert_eq!(m.delete(&key), Ok(()));
    assert_eq!(m.delete(&key).unwrap_err().errno(), ENOENT);
}
