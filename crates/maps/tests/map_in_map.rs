//! `BPF_MAP_TYPE_ARRAY_OF_MAPS` and `BPF_MAP_TYPE_HASH_OF_MAPS`: inner maps
//! through lookups, the template compatibility check of
//! kernel/bpf/map_in_map.c, flags, and grace-period reclaim.

use std::sync::Arc;

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_F_INNER_MAP, BPF_NOEXIST};
use rxdp_maps::{CreateExtra, Domain, Map, MapDef, MapInMap, create, create_with, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const E2BIG: i32 = -7;
const EEXIST: i32 = -17;
const EBADF: i32 = -9;
const ENOTSUPP: i32 = -524;

fn inner_def(max_entries: u32, flags: u32) -> MapDef {
    MapDef {
        map_type: map_type::ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries,
        flags,
        name: "inner".into(),
    }
}

fn outer(map_type: u32, key_size: u32, template: MapDef, domain: &Arc<Domain>) -> Arc<dyn Map> {
    let def = MapDef {
        map_type,
        key_size,
        value_size: 4,
        max_entries: 2,
        flags: 0,
        name: "outer".into(),
    };
    let extra = CreateExtra {
        map_extra: 0,
        inner_map: Some(template),
        ..CreateExtra::default()
    };
    create_with(&def, 1, domain, &extra).unwrap()
}

fn mim(m: &dyn Map) -> &MapInMap {
    m.as_any().downcast_ref::<MapInMap>().unwrap()
}

#[test]
fn array_of_maps_returns_inner_maps() {
    let domain = Domain::new();
    let m = outer(map_type::ARRAY_OF_MAPS, 4, inner_def(4, 0), &domain);
    let inner = create(&inner_def(4, 0), 1).unwrap();
    inner
        .update(&1u32.to_ne_bytes(), &42u64.to_ne_bytes(), BPF_ANY)
        .unwrap();
    let key = 1u32.to_ne_bytes();
    assert!(m.inner_map(&key).is_none());
    mim(&*m).set(&key, 77, Arc::clone(&inner), BPF_ANY).unwrap();
    let got = m.inner_map(&key).unwrap();
    assert!(Arc::ptr_eq(&got, &inner));
    // A program lookup points at the stored map.
    let p = m.lookup(&key).unwrap().cast::<Arc<dyn Map>>();
    // SAFETY: map-in-map lookups point at an Arc<dyn Map> that stays valid
    // until a grace period after removal; nothing was removed.
    let via_ptr = unsafe { &*p };
    assert_eq!(
        via_ptr.lookup_copy(&1u32.to_ne_bytes()).unwrap(),
        42u64.to_ne_bytes()
    );
    assert_eq!(m.lookup_copy(&key).unwrap(), 77u32.to_ne_bytes());
    // Errnos: BPF_ANY only, past the end, empty deletes, raw values.
    let other = create(&inner_def(4, 0), 1).unwrap();
    for flags in [BPF_NOEXIST, BPF_EXIST] {
        let e = mim(&*m)
            .set(&key, 1, Arc::clone(&other), flags)
            .unwrap_err();
        assert_eq!(e.errno(), EINVAL);
    }
    let past = 2u32.to_ne_bytes();
    assert_eq!(
        mim(&*m)
            .set(&past, 1, Arc::clone(&other), BPF_ANY)
            .unwrap_err()
            .errno(),
        E2BIG
    );
    assert_eq!(m.delete(&0u32.to_ne_bytes()).unwrap_err().errno(), ENOENT);
    assert_eq!(
        m.update_copy(&key, &3u32.to_ne_bytes(), BPF_ANY)
            .unwrap_err()
            .errno(),
        EBADF
    );
    m.delete(&key).unwrap();
    assert!(m.inner_map(&key).is_none());
}

#[test]
fn inner_maps_must_match_the_template() {
    let domain = Domain::new();
    let m = outer(map_type::ARRAY_OF_MAPS, 4, inner_def(4, 0), &domain);
    let key = 0u32.to_ne_bytes();
    let set = |d: MapDef| mim(&*m).set(&key, 1, create(&d, 1).unwrap(), BPF_ANY);
    let e = set(inner_def(8, 0)).unwrap_err();
    assert_eq!(e.errno(), EINVAL);
    assert!(e.to_string().contains("max_entries"), "{e}");
    let e = set(MapDef {
        value_size: 16,
        ..inner_def(4, 0)
    })
    .unwrap_err();
    assert!(e.to_string().contains("value_size"), "{e}");
    let e = set(MapDef {
        map_type: map_type::HASH,
        ..inner_def(4, 0)
    })
    .unwrap_err();
    assert!(e.to_string().contains("map_type"), "{e}");
    set(inner_def(4, 0)).unwrap();
    // BPF_F_INNER_MAP templates accept any max_entries.
    let any = outer(
        map_type::ARRAY_OF_MAPS,
        4,
        inner_def(4, BPF_F_INNER_MAP),
        &domain,
    );
    let big = create(&inner_def(100, BPF_F_INNER_MAP), 1).unwrap();
    mim(&*any).set(&key, 1, big, BPF_ANY).unwrap();
    // Nesting is refused; so is a missing template.
    let nested = MapDef {
        map_type: map_type::ARRAY_OF_MAPS,
        value_size: 4,
        ..inner_def(2, 0)
    };
    let extra = CreateExtra {
        map_extra: 0,
        inner_map: Some(nested.clone()),
        ..CreateExtra::default()
    };
    assert_eq!(
        create_with(&nested, 1, &domain, &extra)
            .unwrap_err()
            .errno(),
        ENOTSUPP
    );
    assert_eq!(create(&nested, 1).unwrap_err().errno(), EBADF);
}

#[test]
fn hash_of_maps_has_hash_flags() {
    let domain = Domain::new();
    let m = outer(map_type::HASH_OF_MAPS, 8, inner_def(4, 0), &domain);
    let inner = || create(&inner_def(4, 0), 1).unwrap();
    let h = mim(&*m);
    let k = |i: u64| i.to_ne_bytes();
    assert_eq!(
        h.set(&k(5), 1, inner(), BPF_EXIST).unwrap_err().errno(),
        ENOENT
    );
    h.set(&k(5), 1, inner(), BPF_NOEXIST).unwrap();
    assert_eq!(
        h.set(&k(5), 1, inner(), BPF_NOEXIST).unwrap_err().errno(),
        EEXIST
    );
    h.set(&k(9), 2, inner(), BPF_ANY).unwrap();
    assert_eq!(
        h.set(&k(7), 3, inner(), BPF_ANY).unwrap_err().errno(),
        E2BIG
    );
    h.set(&k(9), 4, inner(), BPF_EXIST).unwrap();
    let keys: Vec<Vec<u8>> = rxdp_maps::dump(&*m)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec![k(5).to_vec(), k(9).to_vec()]);
    assert_eq!(m.lookup_copy(&k(9)).unwrap(), 4u32.to_ne_bytes());
    m.delete(&k(5)).unwrap();
    assert_eq!(m.delete(&k(5)).unwrap_err().errno(), ENOENT);
}

#[test]
fn a_removed_inner_map_lives_until_the_grace_period() {
    let domain = Domain::new();
    let m = outer(map_type::ARRAY_OF_MAPS, 4, inner_def(4, 0), &domain);
    let inner = create(&inner_def(4, 0), 1).unwrap();
    let key = 0u32.to_ne_bytes();
    mim(&*m).set(&key, 1, Arc::clone(&inner), BPF_ANY).unwrap();
    let worker = domain.register();
    let p = m.lookup(&key).unwrap().cast::<Arc<dyn Map>>();
    m.delete(&key).unwrap();
    domain.collect();
    assert_eq!(Arc::strong_count(&inner), 2, "still held for the reader");
    // SAFETY: the worker has not passed a quiescent point since the lookup.
    assert!(Arc::ptr_eq(unsafe { &*p }, &inner));
    worker.quiescent();
    domain.collect();
    assert_eq!(Arc::strong_count(&inner), 1);
}
