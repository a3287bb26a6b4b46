//! Kernel semantics of `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`,
//! with expected results taken from kernel/bpf/arraymap.c and the
//! `bpf_map_update_elem` documentation in include/uapi/linux/bpf.h.

use rxdp_maps::flags::{
    BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY,
    BPF_NOEXIST,
};
use rxdp_maps::{ArrayMap, Map, MapDef, create, map_type};

const EINVAL: i32 = -22;
const E2BIG: i32 = -7;
const EEXIST: i32 = -17;
const ENOENT: i32 = -2;
const EPERM: i32 = -1;

fn def(map_type: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type,
        key_size: 4,
        value_size,
        max_entries,
        flags: 0,
        name: "arr".into(),
    }
}

fn array(value_size: u32, max_entries: u32) -> std::sync::Arc<dyn Map> {
    create(&def(map_type::ARRAY, value_size, max_entries), 1).unwrap()
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

/// Reads `len` bytes at a value pointer a lookup returned.
fn peek(p: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: `p` came from a lookup on a map that is still alive, and the
    // callers read no more than the element's rounded value size.
    unsafe { std::slice::from_raw_parts(p, len).to_vec() }
}

#[test]
fn elements_exist_zeroed_aligned_and_padded_to_eight() {
    let m = array(12, 4);
    let p0 = m.lookup(&k(0)).unwrap();
    let p1 = m.lookup(&k(1)).unwrap();
    assert_eq!(p0 as usize % 8, 0);
    // round_up(12, 8) = 16 bytes between elements.
    assert_eq!(p1 as usize - p0 as usize, 16);
    assert_eq!(peek(p0, 16), vec![0; 16]);
    assert_eq!(m.lookup_copy(&k(3)).unwrap(), vec![0; 12]);
}

#[test]
fn index_past_the_end_is_null_on_lookup_and_e2big_on_update() {
    let m = array(8, 4);
    assert!(m.lookup(&k(4)).is_none());
    assert!(m.lookup(&k(u32::MAX)).is_none());
    assert_eq!(
        m.update(&k(4), &[0; 8], BPF_ANY).unwrap_err().errno(),
        E2BIG
    );
    assert_eq!(m.lookup_copy(&k(4)).unwrap_err().errno(), ENOENT);
}

#[test]
fn update_flags_follow_the_kernel() {
    let m = array(8, 4);
    let v = 7u64.to_ne_bytes();
    assert_eq!(m.update(&k(1), &v, BPF_ANY), Ok(()));
    // Every element exists: BPF_EXIST succeeds, BPF_NOEXIST is -EEXIST.
    assert_eq!(m.update(&k(2), &v, BPF_EXIST), Ok(()));
    assert_eq!(
        m.update(&k(3), &v, BPF_NOEXIST).unwrap_err().errno(),
        EEXIST
    );
    // Unknown flags and NOEXIST|EXIST are -EINVAL.
    for bad in [3, 8, 1 << 32, BPF_F_LOCK | 3] {
        assert_eq!(
            m.update(&k(1), &v, bad).unwrap_err().errno(),
            EINVAL,
            "{bad}"
        );
    }
    // No spin lock in the value: BPF_F_LOCK is -EINVAL.
    assert_eq!(m.update(&k(1), &v, BPF_F_LOCK).unwrap_err().errno(), EINVAL);
    assert_eq!(m.lookup_copy(&k(3)).unwrap(), vec![0; 8]);
}

#[test]
fn update_check_order_matches_array_map_update_elem() {
    let m = array(8, 4);
    let v = [1; 8];
    // The index is checked before BPF_NOEXIST and BPF_F_LOCK.
    assert_eq!(m.update(&k(9), &v, BPF_NOEXIST).unwrap_err().errno(), E2BIG);
    assert_eq!(m.update(&k(9), &v, BPF_F_LOCK).unwrap_err().errno(), E2BIG);
    // From the control plane bpf(2) refuses BPF_F_LOCK before the map.
    assert_eq!(
        m.update_copy(&k(9), &v, BPF_F_LOCK).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(
        m.update_copy(&k(9), &v, BPF_ANY).unwrap_err().errno(),
        E2BIG
    );
}

#[test]
fn delete_is_einval() {
    let m = array(8, 4);
    assert_eq!(m.delete(&k(0)).unwrap_err().errno(), EINVAL);
    assert_eq!(m.delete(&k(99)).unwrap_err().errno(), EINVAL);
}

#[test]
fn values_written_by_update_or_through_pointers_are_seen_by_both() {
    let m = array(12, 2);
    m.update(&k(1), &[0xab; 12], BPF_ANY).unwrap();
    let p = m.lookup(&k(1)).unwrap();
    // value_size bytes copied, the padding stays zero.
    let mut expected = vec![0xab; 12];
    expected.extend([0; 4]);
    assert_eq!(peek(p, 16), expected);
    // SAFETY: `p` points at element 1's 16-byte slot in a live map.
    unsafe { p.write(0x11) };
    let mut copy = vec![0xab; 12];
    copy[0] = 0x11;
    assert_eq!(m.lookup_copy(&k(1)).unwrap(), copy);
    m.update_copy(&k(0), &[5; 12], BPF_EXIST).unwrap();
    assert_eq!(peek(m.lookup(&k(0)).unwrap(), 12), vec![5; 12]);
    // The pointer is the same after updates.
    assert_eq!(m.lookup(&k(1)), Some(p));
}

#[test]
fn control_plane_key_and_value_lengths_are_checked() {
    let m = array(8, 2);
    assert!(m.lookup(&[0; 3]).is_none());
    assert_eq!(m.lookup_copy(&[0; 8]).unwrap_err().errno(), EINVAL);
    assert_eq!(
        m.update_copy(&[0; 3], &[0; 8], 0).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(
        m.update_copy(&k(0), &[0; 7], 0).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(m.update(&k(0), &[0; 9], 0).unwrap_err().errno(), EINVAL);
}

#[test]
fn get_next_key_walks_every_index_once() {
    let m = array(4, 5);
    let mut next = [0; 4];
    let mut seen = vec![];
    let mut key: Option<[u8; 4]> = None;
    loop {
        match m.get_next_key(key.as_ref().map(|k| &k[..]), &mut next) {
            Ok(()) => {
                seen.push(u32::from_ne_bytes(next));
                key = Some(next);
            }
            Err(e) => {
                assert_eq!(e.errno(), ENOENT);
                break;
            }
        }
    }
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    // A key past the end restarts at 0; the last key is -ENOENT.
    m.get_next_key(Some(&k(77)), &mut next).unwrap();
    assert_eq!(next, k(0));
    assert_eq!(
        m.get_next_key(Some(&k(4)), &mut next).unwrap_err().errno(),
        ENOENT
    );
    m.get_next_key(Some(&k(2)), &mut next).unwrap();
    assert_eq!(next, k(3));
}

#[test]
fn direct_value_addr_only_for_one_element_arrays() {
    let global = array(64, 1);
    let addr = global.direct_value_addr().unwrap();
    assert_eq!(Some(addr as *mut u8), global.lookup(&k(0)));
    assert_eq!(array(8, 2).direct_value_addr(), None);
    let percpu = create(&def(map_type::PERCPU_ARRAY, 8, 1), 2).unwrap();
    assert_eq!(percpu.direct_value_addr(), None);
}

#[test]
fn fast_path_geometry_matches_lookup() {
    let m = array(20, 8);
    let arr = m.as_any().downcast_ref::<ArrayMap>().unwrap();
    assert_eq!(arr.elem_size(), 24);
    let base = arr.plane_base(0).unwrap() as usize;
    for i in 0..8 {
        assert_eq!(m.lookup(&k(i)).unwrap() as usize, base + i as usize * 24);
    }
}

#[test]
fn creation_checks_follow_array_map_alloc_check() {
    let bad = |d: MapDef, nr_cpus: u32| create(&d, nr_cpus).unwrap_err().errno();
    let a = || def(map_type::ARRAY, 8, 4);
    assert_eq!(bad(MapDef { key_size: 8, ..a() }, 1), EINVAL);
    assert_eq!(bad(MapDef { key_size: 0, ..a() }, 1), EINVAL);
    assert_eq!(
        bad(
            MapDef {
                value_size: 0,
                ..a()
            },
            1
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                max_entries: 0,
                ..a()
            },
            1
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                flags: 1 << 0,
                ..a()
            },
            1
        ),
        EINVAL,
        "NO_PREALLOC"
    );
    let rw = BPF_F_RDONLY_PROG | (1 << 8);
    assert_eq!(
        bad(MapDef { flags: rw, ..a() }, 1),
        EINVAL,
        "RDONLY_PROG|WRONLY_PROG"
    );
    assert!(
        create(
            &MapDef {
                flags: BPF_F_MMAPABLE,
                ..a()
            },
            1
        )
        .is_ok()
    );

    let p = || def(map_type::PERCPU_ARRAY, 8, 4);
    assert_eq!(
        bad(
            MapDef {
                flags: BPF_F_MMAPABLE,
                ..p()
            },
            2
        ),
        EINVAL
    );
    assert_eq!(bad(p(), 0), EINVAL, "no cpus");
    // round_up(value_size, 8) must not exceed PCPU_MIN_UNIT_SIZE (32 KiB).
    assert!(
        create(
            &MapDef {
                value_size: 32768,
                ..p()
            },
            2
        )
        .is_ok()
    );
    assert!(
        create(
            &MapDef {
                value_size: 32761,
                ..p()
            },
            2
        )
        .is_ok(),
        "rounds to 32768"
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
    let msg = create(&MapDef { key_size: 8, ..a() }, 1)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("key_size") && msg.contains("arr"), "{msg}");
}

#[test]
fn read_only_map_refuses_control_plane_writes_only() {
    let m = create(
        &MapDef {
            flags: BPF_F_RDONLY,
            ..def(map_type::ARRAY, 8, 2)
        },
        1,
    )
    .unwrap();
    assert_eq!(
        m.update_copy(&k(0), &[1; 8], BPF_ANY).unwrap_err().errno(),
        EPERM
    );
    assert_eq!(m.update(&k(0), &[1; 8], BPF_ANY), Ok(()));
    assert_eq!(m.lookup_copy(&k(0)).unwrap(), vec![1; 8]);
    assert_eq!(m.delete_checked(&k(0)).unwrap_err().errno(), EPERM);
    let wo = create(
        &MapDef {
            flags: BPF_F_WRONLY,
            ..def(map_type::ARRAY, 8, 2)
        },
        1,
    )
    .unwrap();
    assert_eq!(wo.lookup_copy(&k(0)).unwrap_err().errno(), EPERM);
}

#[test]
fn percpu_array_keeps_one_value_per_cpu() {
    let m = create(&def(map_type::PERCPU_ARRAY, 4, 3), 3).unwrap();
    assert_eq!(m.nr_cpus(), 3);
    // Each CPU's value rounded up to 8 bytes, three CPUs.
    assert_eq!(m.user_value_size(), 24);
    m.update_percpu(&k(1), &[1, 2, 3, 4], BPF_ANY, 1).unwrap();
    let mut expected = vec![0; 24];
    expected[8..12].copy_from_slice(&[1, 2, 3, 4]);
    assert_eq!(m.lookup_copy(&k(1)).unwrap(), expected);
    assert_eq!(peek(m.lookup_percpu(&k(1), 1).unwrap(), 4), [1, 2, 3, 4]);
    assert_eq!(peek(m.lookup_percpu(&k(1), 0).unwrap(), 4), [0; 4]);
    // CPUs' copies of one element are on different cache lines.
    let p0 = m.lookup_percpu(&k(1), 0).unwrap() as usize;
    let p1 = m.lookup_percpu(&k(1), 1).unwrap() as usize;
    assert!(p1.abs_diff(p0) >= 64);
    // The control plane writes every CPU's copy.
    let all: Vec<u8> = (0..24).collect();
    m.update_copy(&k(2), &all, BPF_ANY).unwrap();
    assert_eq!(m.lookup_copy(&k(2)).unwrap(), all);
    assert_eq!(
        peek(m.lookup_percpu(&k(2), 2).unwrap(), 4),
        [16, 17, 18, 19]
    );
    assert_eq!(
        m.update_copy(&k(2), &[0; 12], BPF_ANY).unwrap_err().errno(),
        EINVAL
    );
    // A CPU the map does not have.
    assert!(m.lookup_percpu(&k(0), 3).is_none());
    assert_eq!(
        m.update_percpu(&k(0), &[0; 4], BPF_ANY, 3)
            .unwrap_err()
            .errno(),
        EINVAL
    );
    assert_eq!(
        m.update_percpu(&k(0), &[0; 4], BPF_NOEXIST, 0)
            .unwrap_err()
            .errno(),
        EEXIST
    );
    assert_eq!(m.delete(&k(0)).unwrap_err().errno(), EINVAL);
}
