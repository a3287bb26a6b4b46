//! `BPF_MAP_TYPE_BLOOM_FILTER`, after kernel/bpf/bloom_filter.c: no false
//! negatives, a false-positive rate near the design's, and the errno
//! cases.

use std::sync::Arc;

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_F_ZERO_SEED};
use rxdp_maps::{BloomFilter, CreateExtra, Domain, Map, MapDef, create, create_with, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const EOPNOTSUPP: i32 = -95;

fn def(max_entries: u32, flags: u32) -> MapDef {
    MapDef {
        map_type: map_type::BLOOM_FILTER,
        key_size: 0,
        value_size: 8,
        max_entries,
        flags,
        name: "bloom".into(),
    }
}

fn bloom(max_entries: u32, hashes: u64) -> Arc<dyn Map> {
    let extra = CreateExtra {
        map_extra: hashes,
        inner_map: None,
        ..CreateExtra::default()
    };
    create_with(&def(max_entries, 0), 1, Domain::global(), &extra).unwrap()
}

#[test]
fn no_false_negatives_and_few_false_positives() {
    let m = bloom(1000, 0);
    let b = m.as_any().downcast_ref::<BloomFilter>().unwrap();
    assert_eq!(b.hashes(), 5, "map_extra 0 means 5 hashes");
    for i in 0..1000u64 {
        m.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
    }
    for i in 0..1000u64 {
        assert_eq!(m.peek(&mut i.to_ne_bytes()), Ok(()), "false negative {i}");
    }
    let false_positives = (1_000_000..1_010_000u64)
        .filter(|i| m.peek(&mut i.to_ne_bytes()).is_ok())
        .count();
    // 1000 values, 5 hashes, 8192 bits: about 1%; allow 5%.
    assert!(false_positives < 500, "{false_positives} false positives");
}

#[test]
fn an_empty_filter_has_nothing() {
    let m = bloom(16, 3);
    assert_eq!(m.peek(&mut [1; 8]).unwrap_err().errno(), ENOENT);
    m.update_copy(&[], &[1; 8], BPF_ANY).unwrap();
    assert_eq!(m.peek(&mut [1; 8]), Ok(()));
}

#[test]
fn zero_seed_filters_agree_bit_for_bit() {
    let a = create(&def(100, BPF_F_ZERO_SEED), 1).unwrap();
    let b = create(&def(100, BPF_F_ZERO_SEED), 1).unwrap();
    for i in 0..50u64 {
        a.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
        b.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
    }
    for i in 0..5000u64 {
        let mut v = i.to_ne_bytes();
        assert_eq!(a.peek(&mut v).is_ok(), b.peek(&mut v).is_ok(), "value {i}");
    }
}

#[test]
fn flags_and_creation_follow_the_kernel() {
    let m = bloom(16, 0);
    assert_eq!(m.push(&[0; 8], BPF_EXIST).unwrap_err().errno(), EINVAL);
    assert_eq!(m.push(&[0; 4], BPF_ANY).unwrap_err().errno(), EINVAL);
    assert_eq!(m.pop(&mut [0; 8]).unwrap_err().errno(), EOPNOTSUPP);
    assert_eq!(m.delete(&[]).unwrap_err().errno(), EOPNOTSUPP);
    assert!(m.lookup(&[]).is_none());
    let bad = |d: MapDef, extra: u64| {
        let extra = CreateExtra {
            map_extra: extra,
            inner_map: None,
            ..CreateExtra::default()
        };
        create_with(&d, 1, Domain::global(), &extra)
            .unwrap_err()
            .errno()
    };
    assert_eq!(bad(def(16, 0), 0x10), EINVAL);
    assert_eq!(
        bad(
            MapDef {
                key_size: 4,
                ..def(16, 0)
            },
            0
        ),
        EINVAL
    );
    assert_eq!(
        bad(
            MapDef {
                value_size: 0,
                ..def(16, 0)
            },
            0
        ),
        EINVAL
    );
    assert_eq!(bad(def(0, 0), 0), EINVAL);
    assert_eq!(bad(def(16, 1), 0), EINVAL);
    // map_extra belongs to bloom filters only.
    let hash = MapDef {
        map_type: map_type::HASH,
        key_size: 4,
        value_size: 4,
        max_entries: 4,
        flags: 0,
        name: "h".into(),
    };
    assert_eq!(bad(hash, 1), EINVAL);
    let b = bloom(1, 15);
    let b = b.as_any().downcast_ref::<BloomFilter>().unwrap();
    assert_eq!((b.hashes(), b.nr_bits()), (15, 64));
}
