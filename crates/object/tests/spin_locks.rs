//! The `bpf_spin_lock` offsets the loader finds in the value types of a
//! clang object's maps (tests/data/spin_locks.c).

mod common;

use common::data;

#[test]
fn value_types_give_the_lock_offsets_the_c_source_declares() {
    let obj = rxdp_object::parse(&data("spin_locks.o")).unwrap();
    let off = |name: &str| {
        obj.maps
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no map {name}"))
            .spin_lock_off
    };
    assert_eq!(off("lock_at_0"), Some(0));
    assert_eq!(off("lock_at_8"), Some(8));
    assert_eq!(off("nested_lock"), Some(8), "4 (struct inner) + 4");
    assert_eq!(off("typedef_value"), Some(4));
    assert_eq!(off("const_member"), None, "a const lock is no lock");
    assert_eq!(off("no_lock"), None);
}
