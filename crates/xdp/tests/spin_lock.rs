//! A clang object whose hash map values hold a `bpf_spin_lock`
//! (tests/data/spin_lock.c): the loader finds the lock in the value's
//! BTF, the program counts under it, and the control plane's
//! `BPF_F_LOCK` updates and lookups exclude the program as the kernel's
//! do (they copy everything but the lock word, under the lock).

use rxdp_maps::Map;
use rxdp_maps::flags::{BPF_ANY, BPF_F_LOCK};
use rxdp_xdp::{Engine, ObjectOpts, TestRunOpts, XdpObject};
use std::sync::Arc;

const EINVAL: i32 = -22;

fn object() -> XdpObject {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/spin_lock.o"
    ))
    .unwrap();
    let object = rxdp_object::parse(&bytes).unwrap();
    XdpObject::load(object, &ObjectOpts::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn map(obj: &XdpObject, name: &str) -> Arc<dyn Map> {
    Arc::clone(&obj.maps().by_name(name).unwrap().map)
}

/// `struct stats { lock; packets; bytes }` with the lock word `lock`.
fn stats(lock: u32, packets: u64, bytes: u64) -> Vec<u8> {
    let mut v = lock.to_ne_bytes().to_vec();
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&packets.to_ne_bytes());
    v.extend_from_slice(&bytes.to_ne_bytes());
    v
}

fn read(v: &[u8]) -> (u32, u64, u64) {
    let word = |at: usize| u64::from_ne_bytes(v[at..at + 8].try_into().unwrap());
    (
        u32::from_ne_bytes(v[..4].try_into().unwrap()),
        word(8),
        word(16),
    )
}

#[test]
fn lock_updates_and_lookups_skip_the_lock_word() {
    let obj = object();
    let m = map(&obj, "stats");
    assert_eq!(m.spin_lock_off(), Some(0));
    let key = 0u32.to_ne_bytes();
    // The caller's lock word is never stored.
    m.update_copy(&key, &stats(0xdead_beef, 10, 1000), BPF_F_LOCK)
        .unwrap();
    let p = m.lookup(&key).unwrap();
    // SAFETY: the element is live and its value 24 bytes long.
    let raw = unsafe { std::slice::from_raw_parts(p, 24) };
    assert_eq!(read(raw), (0, 10, 1000));
    let pkt = rxdp_xdp::sample::udp4(64);
    let opts = TestRunOpts {
        engine: Engine::Checked,
        repeat: 3,
        ..TestRunOpts::default()
    };
    let o = obj.program("count").unwrap().test_run(&pkt, &opts).unwrap();
    assert_eq!(o.retval, 2, "XDP_PASS");
    let v = m.lookup_copy_flags(&key, BPF_F_LOCK).unwrap();
    assert_eq!(read(&v), (0, 13, 1000 + 3 * pkt.len() as u64));
    // A map whose value has no lock refuses the flag both ways.
    let plain = map(&obj, "plain");
    assert_eq!(plain.spin_lock_off(), None);
    let e = plain.update_copy(&key, &[0; 8], BPF_F_LOCK).unwrap_err();
    assert_eq!(e.errno(), EINVAL);
    let e = plain.lookup_copy_flags(&key, BPF_F_LOCK).unwrap_err();
    assert_eq!(e.errno(), EINVAL);
    plain.update_copy(&key, &[1; 8], BPF_ANY).unwrap();
}

#[test]
fn locked_reads_never_see_half_an_update() {
    // The program keeps bytes == packets * len under the lock, adding
    // the bytes one at a time; a reader taking the lock must always see
    // that hold (one that does not sees it broken), and so must the
    // program after a writer that also takes it.
    let obj = Arc::new(object());
    let m = map(&obj, "stats");
    let key = 0u32.to_ne_bytes();
    m.update_copy(&key, &stats(0, 0, 0), BPF_ANY).unwrap();
    let pkt = rxdp_xdp::sample::udp4(100);
    let len = pkt.len() as u64;
    let runner = {
        let obj = Arc::clone(&obj);
        std::thread::spawn(move || {
            let opts = TestRunOpts {
                engine: Engine::Checked,
                repeat: 3000,
                ..TestRunOpts::default()
            };
            obj.program("count").unwrap().test_run(&pkt, &opts).unwrap();
        })
    };
    let mut reads = 0;
    while !runner.is_finished() || reads == 0 {
        let (lock, packets, bytes) = read(&m.lookup_copy_flags(&key, BPF_F_LOCK).unwrap());
        assert_eq!((lock, bytes), (0, packets * len), "torn read");
        // Reset under the lock now and then: the invariant still holds.
        if reads % 64 == 0 {
            m.update_copy(&key, &stats(1, 0, 0), BPF_F_LOCK).unwrap();
        }
        reads += 1;
    }
    runner.join().unwrap();
    let (_, packets, bytes) = read(&m.lookup_copy_flags(&key, BPF_F_LOCK).unwrap());
    assert_eq!(bytes, packets * len);
}

#[test]
fn a_lock_in_a_value_of_another_map_type_fails_the_load() {
    // The object's hash map as an LRU hash: the kernel's map_check_btf
    // refuses spin locks there (-EOPNOTSUPP), and so does rxdp.
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/spin_lock.o"
    ))
    .unwrap();
    let mut object = rxdp_object::parse(&bytes).unwrap();
    let stats = object.maps.iter_mut().find(|m| m.name == "stats").unwrap();
    stats.map_type = rxdp_maps::map_type::LRU_HASH;
    let e = XdpObject::load(object, &ObjectOpts::default())
        .err()
        .expect("refused");
    let msg = e.to_string();
    assert!(msg.contains("map 'stats'"), "{msg}");
    assert!(msg.contains("bpf_spin_lock"), "{msg}");
}
