//! Maps pinned by name (`LIBBPF_PIN_BY_NAME`, tests/data/pinned.c):
//! objects loaded with one registry share them, and only them; a pinned
//! map whose definition differs fails the load naming the field, as
//! libbpf's `map_is_reuse_compat` does.

use rxdp_maps::{Domain, Registry};
use rxdp_xdp::{Engine, ObjectOpts, TestRunOpts, XdpObject};
use std::sync::Arc;

fn parse(name: &str) -> rxdp_object::Object {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    rxdp_object::parse(&std::fs::read(path).unwrap()).unwrap()
}

fn load(name: &str, registry: &Arc<Registry>) -> XdpObject {
    XdpObject::load_with_registry(parse(name), &ObjectOpts::default(), registry)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn count(obj: &XdpObject, map: &str) -> u64 {
    let v = obj
        .maps()
        .by_name(map)
        .unwrap()
        .map
        .lookup_copy(&0u32.to_ne_bytes())
        .unwrap();
    u64::from_ne_bytes(v.try_into().unwrap())
}

fn run(obj: &XdpObject) {
    let opts = TestRunOpts {
        engine: Engine::Checked,
        ..TestRunOpts::default()
    };
    let o = obj
        .program("count_shared")
        .unwrap()
        .test_run(&rxdp_xdp::sample::udp4(64), &opts)
        .unwrap();
    assert_eq!(o.retval, 2, "XDP_PASS");
}

#[test]
fn objects_loaded_with_one_registry_share_pinned_maps_only() {
    let registry = Arc::new(Registry::new(1, Domain::global()));
    let a = load("pinned.o", &registry);
    let b = load("pinned.o", &registry);
    assert_eq!(registry.names(), vec!["shared_counts".to_string()]);
    let shared = |o: &XdpObject| Arc::as_ptr(&o.maps().by_name("shared_counts").unwrap().map);
    assert!(std::ptr::addr_eq(shared(&a), shared(&b)), "one map");
    run(&a);
    run(&b);
    run(&b);
    assert_eq!(
        (count(&a, "shared_counts"), count(&b, "shared_counts")),
        (3, 3)
    );
    // The unpinned map and the global data are each object's own.
    assert_eq!(
        (count(&a, "private_counts"), count(&b, "private_counts")),
        (1, 2)
    );
    assert_eq!((count(&a, ".bss"), count(&b, ".bss")), (1, 2));
    // An update through one object is seen through the other.
    let m = &a.maps().by_name("shared_counts").unwrap().map;
    m.update_copy(&1u32.to_ne_bytes(), &9u64.to_ne_bytes(), 0)
        .unwrap();
    let seen = b
        .maps()
        .by_name("shared_counts")
        .unwrap()
        .map
        .lookup_copy(&1u32.to_ne_bytes())
        .unwrap();
    assert_eq!(seen, 9u64.to_ne_bytes());
    // Without a registry, nothing is shared.
    let c = XdpObject::load(parse("pinned.o"), &ObjectOpts::default()).unwrap();
    assert_eq!(count(&c, "shared_counts"), 0);
}

#[test]
fn a_mismatching_definition_fails_naming_the_field() {
    let registry = Arc::new(Registry::new(1, Domain::global()));
    let _a = load("pinned.o", &registry);
    let e = XdpObject::load_with_registry(
        parse("pinned_mismatch.o"),
        &ObjectOpts::default(),
        &registry,
    )
    .err()
    .expect("max_entries differs");
    let msg = e.to_string();
    assert!(msg.contains("map 'shared_counts'"), "{msg}");
    assert!(msg.contains("max_entries is 4"), "{msg}");
    assert!(msg.contains("asks for 8"), "{msg}");
    // Loaded first, the other definition pins its own map instead.
    let other = Arc::new(Registry::new(1, Domain::global()));
    load("pinned_mismatch.o", &other);
    assert!(
        XdpObject::load_with_registry(parse("pinned.o"), &ObjectOpts::default(), &other).is_err()
    );
}
