//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: handles by index, the kernel's flag
//! and errno cases (kernel/bpf/arraymap.c perf event fd arrays).

use rxdp_maps::flags::{
    BPF_ANY, BPF_EXIST, BPF_F_MMAPABLE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY_PROG, BPF_NOEXIST,
};
use rxdp_maps::{Map, MapDef, PerfEventArray, create, dump, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const E2BIG: i32 = -7;
const ENOTSUPP: i32 = -524;

fn def(value_size: u32, max_entries: u32, flags: u32) -> MapDef {
    MapDef {
        map_type: map_type::PERF_EVENT_ARRAY,
        key_size: 4,
        value_size,
        max_entries,
        flags,
        name: "events".into(),
    }
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

fn perf(m: &dyn Map) -> &PerfEventArray {
    m.as_any().downcast_ref::<PerfEventArray>().unwrap()
}

#[test]
fn slots_hold_any_handle_until_deleted() {
    let m = create(&def(4, 2, 0), 1).unwrap();
    assert_eq!(perf(&*m).event_at(0), None);
    // Any number is a handle, 0 included (fd 0 is a valid fd).
    m.update_copy(&k(0), &0u32.to_ne_bytes(), BPF_ANY).unwrap();
    m.update_copy(&k(1), &77u32.to_ne_bytes(), BPF_ANY).unwrap();
    assert_eq!(perf(&*m).event_at(0), Some(0));
    assert_eq!(perf(&*m).event_at(1), Some(77));
    assert_eq!(perf(&*m).event_at(2), None, "past the end");
    perf(&*m).set(1, 78, BPF_ANY).unwrap();
    assert_eq!(perf(&*m).event_at(1), Some(78), "replaced");
    m.delete(&k(1)).unwrap();
    assert_eq!(perf(&*m).event_at(1), None);
    assert_eq!(
        m.delete(&k(1)).unwrap_err().errno(),
        ENOENT,
        "already empty"
    );
    assert_eq!(m.delete(&k(2)).unwrap_err().errno(), E2BIG, "past the end");
}

#[test]
fn updates_take_bpf_any_only_and_lookups_are_refused() {
    let m = create(&def(4, 2, 0), 1).unwrap();
    let v = 5u32.to_ne_bytes();
    for flags in [BPF_NOEXIST, BPF_EXIST, 4] {
        assert_eq!(m.update_copy(&k(0), &v, flags).unwrap_err().errno(), EINVAL);
    }
    assert_eq!(
        m.update_copy(&k(2), &v, BPF_ANY).unwrap_err().errno(),
        E2BIG
    );
    assert_eq!(
        m.update_copy(&k(0), &[0; 8], BPF_ANY).unwrap_err().errno(),
        EINVAL
    );
    m.update_copy(&k(0), &v, BPF_ANY).unwrap();
    // No map_fd_sys_lookup_elem for perf event arrays: -ENOTSUPP.
    assert_eq!(m.lookup_copy(&k(0)).unwrap_err().errno(), ENOTSUPP);
    // Programs neither read nor write slots.
    assert_eq!(m.lookup(&k(0)), None);
    assert!(m.update(&k(0), &v, BPF_ANY).is_err());
    // Iteration visits every index; a dump has no readable values.
    let mut next = [0; 4];
    m.get_next_key(None, &mut next).unwrap();
    assert_eq!(next, k(0));
    m.get_next_key(Some(&k(0)), &mut next).unwrap();
    assert_eq!(next, k(1));
    assert_eq!(
        m.get_next_key(Some(&k(1)), &mut next).unwrap_err().errno(),
        ENOENT
    );
    assert_eq!(dump(&*m).unwrap(), vec![]);
}

#[test]
fn creation_checks_are_the_fd_arrays() {
    assert!(create(&def(4, 4, BPF_F_PRESERVE_ELEMS), 1).is_ok());
    for (d, what) in [
        (def(8, 4, 0), "value_size"),
        (def(4, 0, 0), "max_entries"),
        (def(4, 4, BPF_F_RDONLY_PROG), "BPF_F_RDONLY_PROG"),
        (def(4, 4, BPF_F_MMAPABLE), "0x400"),
    ] {
        let e = create(&d, 1).unwrap_err();
        assert_eq!(e.errno(), EINVAL, "{e}");
        assert!(e.to_string().contains(what), "{e}");
    }
    let mut d = def(4, 4, 0);
    d.key_size = 8;
    assert_eq!(create(&d, 1).unwrap_err().errno(), EINVAL);
}
