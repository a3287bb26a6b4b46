//! `create`: dispatch on the map type and refusal of types rxdp does not
//! implement yet.

use rxdp_maps::{ArrayMap, HashTab, MapDef, create, map_type};

fn def(map_type: u32) -> MapDef {
    MapDef {
        map_type,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        flags: 0,
        name: "m".into(),
    }
}

#[test]
fn each_implemented_type_builds_its_map() {
    for t in [map_type::ARRAY, map_type::PERCPU_ARRAY] {
        let m = create(&def(t), 2).unwrap();
        assert!(m.as_any().downcast_ref::<ArrayMap>().is_some());
        assert_eq!(m.def(), &def(t));
    }
    for t in [map_type::HASH, map_type::PERCPU_HASH] {
        let m = create(&def(t), 2).unwrap();
        assert!(m.as_any().downcast_ref::<HashTab>().is_some());
    }
    assert_eq!(create(&def(map_type::ARRAY), 2).unwrap().nr_cpus(), 1);
    assert_eq!(create(&def(map_type::PERCPU_HASH), 2).unwrap().nr_cpus(), 2);
}

#[test]
fn unsupported_types_are_einval_with_the_type_named() {
    let e = create(&def(map_type::STACK_TRACE), 1).unwrap_err();
    assert_eq!(e.errno(), -22);
    assert_eq!(
        e.to_string(),
        "map type stack_trace (7) is not supported yet"
    );
    let e = create(&def(map_type::UNSPEC), 1).unwrap_err();
    assert_eq!(e.to_string(), "map type unspec (0) is not supported yet");
    let e = create(&def(1000), 1).unwrap_err();
    assert_eq!(e.errno(), -22);
    assert_eq!(
        e.to_string(),
        "map type unknown (1000) is not supported yet"
    );
}

#[test]
fn every_common_type_is_created_by_create() {
    let cases: [(u32, u32, u32, u32, u32); 12] = [
        (map_type::LRU_HASH, 4, 8, 4, 0),
        (map_type::LRU_PERCPU_HASH, 4, 8, 4, 0),
        (
            map_type::LPM_TRIE,
            8,
            8,
            4,
            rxdp_maps::flags::BPF_F_NO_PREALLOC,
        ),
        (map_type::PROG_ARRAY, 4, 4, 4, 0),
        (map_type::DEVMAP, 4, 4, 4, 0),
        (map_type::DEVMAP_HASH, 4, 8, 4, 0),
        (map_type::CPUMAP, 4, 4, 4, 0),
        (map_type::XSKMAP, 4, 4, 4, 0),
        (map_type::RINGBUF, 0, 0, 4096, 0),
        (map_type::QUEUE, 0, 8, 4, 0),
        (map_type::STACK, 0, 8, 4, 0),
        (map_type::BLOOM_FILTER, 0, 8, 4, 0),
    ];
    for (t, key_size, value_size, max_entries, flags) in cases {
        let d = MapDef {
            map_type: t,
            key_size,
            value_size,
            max_entries,
            flags,
            name: "m".into(),
        };
        let m = create(&d, 2).unwrap_or_else(|e| panic!("{}: {e}", map_type::describe(t)));
        assert_eq!(m.def().map_type, t);
    }
}
