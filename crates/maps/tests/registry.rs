//! Pinning: maps by name, and reuse of a pinned map under libbpf's
//! compatibility rule.

use std::sync::Arc;

use rxdp_maps::flags::{BPF_ANY, BPF_F_NO_PREALLOC};
use rxdp_maps::{Domain, MapDef, Registry, create, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const EEXIST: i32 = -17;

fn def(name: &str) -> MapDef {
    MapDef {
        map_type: map_type::HASH,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        flags: 0,
        name: name.into(),
    }
}

#[test]
fn pin_get_unpin() {
    let reg = Registry::new(2, &Domain::new());
    let m = create(&def("a"), 1).unwrap();
    reg.pin("a", Arc::clone(&m)).unwrap();
    assert_eq!(reg.pin("a", Arc::clone(&m)).unwrap_err().errno(), EEXIST);
    assert!(Arc::ptr_eq(&reg.get("a").unwrap(), &m));
    assert!(reg.get("b").is_none());
    assert_eq!(reg.names(), vec!["a".to_string()]);
    assert!(Arc::ptr_eq(&reg.unpin("a").unwrap(), &m));
    assert_eq!(reg.unpin("a").unwrap_err().errno(), ENOENT);
}

#[test]
fn get_or_create_reuses_a_compatible_pinned_map() {
    let reg = Registry::new(2, &Domain::new());
    let first = reg.get_or_create(&def("counts")).unwrap();
    first
        .update(&1u32.to_ne_bytes(), &9u64.to_ne_bytes(), BPF_ANY)
        .unwrap();
    let again = reg.get_or_create(&def("counts")).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(
        again.lookup_copy(&1u32.to_ne_bytes()).unwrap(),
        9u64.to_ne_bytes()
    );
    // Devmaps gain BPF_F_RDONLY_PROG at creation; reuse allows for it.
    let dev = MapDef {
        map_type: map_type::DEVMAP,
        value_size: 4,
        ..def("tx")
    };
    let d1 = reg.get_or_create(&dev).unwrap();
    assert!(Arc::ptr_eq(&d1, &reg.get_or_create(&dev).unwrap()));
}

#[test]
fn a_mismatch_names_the_first_differing_field() {
    let reg = Registry::new(1, &Domain::new());
    reg.get_or_create(&def("m")).unwrap();
    let cases = [
        (
            MapDef {
                map_type: map_type::ARRAY,
                ..def("m")
            },
            "type",
        ),
        (
            MapDef {
                key_size: 8,
                value_size: 4,
                ..def("m")
            },
            "key_size",
        ),
        (
            MapDef {
                value_size: 4,
                ..def("m")
            },
            "value_size",
        ),
        (
            MapDef {
                max_entries: 17,
                ..def("m")
            },
            "max_entries",
        ),
        (
            MapDef {
                flags: BPF_F_NO_PREALLOC,
                ..def("m")
            },
            "map_flags",
        ),
    ];
    for (wanted, field) in cases {
        let e = reg.get_or_create(&wanted).unwrap_err();
        assert_eq!(e.errno(), EINVAL);
        assert!(e.to_string().contains(&format!(": {field} is")), "{e}");
        assert!(e.to_string().contains("\"m\""), "{e}");
    }
}
