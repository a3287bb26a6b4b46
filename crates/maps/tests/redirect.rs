//! The redirect maps: DEVMAP, DEVMAP_HASH, CPUMAP and XSKMAP, with the
//! flag and errno cases of kernel/bpf/devmap.c, kernel/bpf/cpumap.c and
//! net/xdp/xskmap.c.

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_NOEXIST};
use rxdp_maps::{MapDef, create, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const E2BIG: i32 = -7;
const EEXIST: i32 = -17;
const ENODEV: i32 = -19;
const EOVERFLOW: i32 = -75;
const EOPNOTSUPP: i32 = -95;

fn def(map_type: u32, value_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type,
        key_size: 4,
        value_size,
        max_entries,
        flags: 0,
        name: "redir".into(),
    }
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

/// A `struct bpf_devmap_val` / `bpf_cpumap_val`.
fn val8(first: u32, prog: i32) -> Vec<u8> {
    [first.to_ne_bytes(), prog.to_ne_bytes()].concat()
}

#[test]
fn devmap_stores_ifindexes_as_an_array() {
    let m = create(&def(map_type::DEVMAP, 8, 4), 1).unwrap();
    assert_ne!(m.def().flags & BPF_F_RDONLY_PROG, 0, "programs read only");
    assert_eq!(m.redirect_target(1), None);
    m.update_copy(&k(1), &val8(7, 0), BPF_ANY).unwrap();
    assert_eq!(m.redirect_target(1), Some(7));
    let p = m.lookup(&k(1)).unwrap();
    // SAFETY: a devmap value is 8 bytes; the map is alive.
    assert_eq!(unsafe { p.cast::<u32>().read() }, 7);
    assert_eq!(m.lookup_copy(&k(1)).unwrap(), val8(7, 0));
    assert_eq!(
        m.update_copy(&k(1), &val8(8, 0), BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        EEXIST
    );
    m.update_copy(&k(2), &val8(8, 0), BPF_EXIST).unwrap();
    assert_eq!(
        m.update_copy(&k(4), &val8(8, 0), BPF_ANY)
            .unwrap_err()
            .errno(),
        E2BIG
    );
    assert_eq!(
        m.update_copy(&k(0), &val8(8, 0), 4).unwrap_err().errno(),
        EINVAL
    );
    // ifindex 0 empties the entry; with a program it is refused.
    assert_eq!(
        m.update_copy(&k(2), &val8(0, 3), BPF_ANY)
            .unwrap_err()
            .errno(),
        EINVAL
    );
    m.update_copy(&k(2), &val8(0, 0), BPF_ANY).unwrap();
    assert_eq!(m.redirect_target(2), None);
    assert_eq!(m.lookup_copy(&k(2)).unwrap_err().errno(), ENOENT);
    // Deleting an empty entry succeeds; past the end is -EINVAL.
    m.delete(&k(3)).unwrap();
    m.delete(&k(1)).unwrap();
    assert_eq!(m.redirect_target(1), None);
    assert_eq!(m.delete(&k(4)).unwrap_err().errno(), EINVAL);
    // Iteration visits every index.
    let mut next = [0; 4];
    m.get_next_key(Some(&k(0)), &mut next).unwrap();
    assert_eq!(next, k(1));
    let e = m.get_next_key(Some(&k(3)), &mut next).unwrap_err();
    assert_eq!(e.errno(), ENOENT);
}

#[test]
fn devmap_hash_is_keyed_and_bounded() {
    let m = create(&def(map_type::DEVMAP_HASH, 4, 2), 1).unwrap();
    m.update_copy(&k(100), &5u32.to_ne_bytes(), BPF_EXIST)
        .unwrap();
    m.update_copy(&k(7), &6u32.to_ne_bytes(), BPF_NOEXIST)
        .unwrap();
    assert_eq!(m.redirect_target(100), Some(5));
    assert_eq!(
        m.update_copy(&k(7), &6u32.to_ne_bytes(), BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        EEXIST
    );
    assert_eq!(
        m.update_copy(&k(8), &6u32.to_ne_bytes(), BPF_ANY)
            .unwrap_err()
            .errno(),
        E2BIG
    );
    m.update_copy(&k(7), &9u32.to_ne_bytes(), BPF_ANY).unwrap();
    assert_eq!(m.redirect_target(7), Some(9));
    assert_eq!(
        m.update_copy(&k(7), &0u32.to_ne_bytes(), BPF_ANY)
            .unwrap_err()
            .errno(),
        EINVAL
    );
    let keys: Vec<Vec<u8>> = rxdp_maps::dump(&*m)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys.len(), 2);
    m.delete(&k(100)).unwrap();
    assert_eq!(m.delete(&k(100)).unwrap_err().errno(), ENOENT);
}

#[test]
fn devmap_creation_checks() {
    let bad = |d: MapDef| create(&d, 1).unwrap_err().errno();
    for t in [map_type::DEVMAP, map_type::DEVMAP_HASH] {
        assert_eq!(bad(def(t, 6, 4)), EINVAL);
        assert_eq!(bad(def(t, 4, 0)), EINVAL);
        assert_eq!(
            bad(MapDef {
                key_size: 8,
                ..def(t, 4, 4)
            }),
            EINVAL
        );
        assert_eq!(
            bad(MapDef {
                flags: BPF_F_MMAPABLE,
                ..def(t, 4, 4)
            }),
            EINVAL
        );
    }
}

#[test]
fn cpumap_entries_name_worker_cpus() {
    let m = create(&def(map_type::CPUMAP, 8, 8), 4).unwrap();
    m.update_copy(&k(2), &val8(192, 0), BPF_ANY).unwrap();
    assert_eq!(m.redirect_target(2), Some(2));
    assert_eq!(m.redirect_target(3), None);
    assert!(m.lookup(&k(2)).is_none(), "programs only redirect");
    assert_eq!(m.lookup_copy(&k(2)).unwrap(), val8(192, 0));
    assert_eq!(
        m.update_copy(&k(2), &val8(1, 0), BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        EEXIST
    );
    assert_eq!(
        m.update_copy(&k(8), &val8(1, 0), BPF_ANY)
            .unwrap_err()
            .errno(),
        E2BIG
    );
    assert_eq!(
        m.update_copy(&k(5), &val8(1, 0), BPF_ANY)
            .unwrap_err()
            .errno(),
        ENODEV
    );
    assert_eq!(
        m.update_copy(&k(1), &val8(16385, 0), BPF_ANY)
            .unwrap_err()
            .errno(),
        EOVERFLOW
    );
    m.update_copy(&k(2), &val8(0, 0), BPF_EXIST).unwrap();
    assert_eq!(m.redirect_target(2), None);
    assert_eq!(m.delete(&k(9)).unwrap_err().errno(), EINVAL);
    m.delete(&k(1)).unwrap();
    let bad = |d: MapDef| create(&d, 4).unwrap_err().errno();
    assert_eq!(bad(def(map_type::CPUMAP, 4, 8193)), E2BIG);
    assert_eq!(bad(def(map_type::CPUMAP, 12, 4)), EINVAL);
}

#[test]
fn xskmap_stores_socket_handles() {
    let m = create(&def(map_type::XSKMAP, 4, 4), 1).unwrap();
    assert_eq!(
        m.update_copy(&k(0), &k(11), BPF_EXIST).unwrap_err().errno(),
        ENOENT
    );
    m.update_copy(&k(0), &k(11), BPF_NOEXIST).unwrap();
    assert_eq!(
        m.update_copy(&k(0), &k(12), BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        EEXIST
    );
    m.update_copy(&k(0), &k(12), BPF_EXIST).unwrap();
    assert_eq!(m.redirect_target(0), Some(12));
    assert!(m.lookup(&k(0)).is_some());
    assert_eq!(m.lookup_copy(&k(0)).unwrap_err().errno(), EOPNOTSUPP);
    assert_eq!(
        m.update_copy(&k(4), &k(1), BPF_ANY).unwrap_err().errno(),
        E2BIG
    );
    m.delete(&k(0)).unwrap();
    m.delete(&k(0)).unwrap();
    assert_eq!(m.redirect_target(0), None);
    assert_eq!(m.delete(&k(4)).unwrap_err().errno(), EINVAL);
    assert_eq!(
        create(&def(map_type::XSKMAP, 8, 4), 1).unwrap_err().errno(),
        EINVAL
    );
}
