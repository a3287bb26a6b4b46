//! `BPF_F_LOCK` on maps whose values hold a `bpf_spin_lock`: updates and
//! lookups copy under the lock and never carry the lock word, as the
//! kernel's `copy_map_value_locked` and `check_and_init_map_value` do;
//! maps without a lock refuse the flag, and only plain arrays and hash
//! maps may hold one (syscall.c `map_check_btf`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};
use rxdp_maps::{CreateExtra, Domain, Map, MapDef, create_with, map_type, spin_lock};

const EINVAL: i32 = -22;
const EEXIST: i32 = -17;
const ENOENT: i32 = -2;
const EOPNOTSUPP: i32 = -95;

/// Values of `struct { u32 pad; struct bpf_spin_lock lock; u64 n; }`:
/// the lock at offset 4.
const LOCK_OFF: usize = 4;

fn def(map_type: u32) -> MapDef {
    MapDef {
        map_type,
        key_size: 4,
        value_size: 16,
        max_entries: 4,
        flags: 0,
        name: "locked".into(),
    }
}

fn locked(map_type: u32) -> Arc<dyn Map> {
    let extra = CreateExtra {
        spin_lock_off: Some(LOCK_OFF as u32),
        ..CreateExtra::default()
    };
    create_with(&def(map_type), 1, Domain::global(), &extra).unwrap()
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

/// A value whose every byte is `b`, lock word included.
fn val(b: u8) -> Vec<u8> {
    vec![b; 16]
}

/// `val(b)` as a lookup returns it: the lock word zero.
fn seen(b: u8) -> Vec<u8> {
    let mut v = val(b);
    v[LOCK_OFF..LOCK_OFF + 4].fill(0);
    v
}

/// The lock word of `key`'s value, as a program sees it.
fn word(m: &dyn Map, key: u32) -> &AtomicU32 {
    let p = m.lookup(&k(key)).unwrap();
    // SAFETY: the value is 8-byte aligned and lives as long as the map
    // (arrays) or until deleted (not done while the reference is used).
    unsafe { AtomicU32::from_ptr(p.add(LOCK_OFF).cast()) }
}

#[test]
fn updates_never_write_the_lock_word_and_lookups_read_it_as_zero() {
    for t in [map_type::ARRAY, map_type::HASH] {
        let m = locked(t);
        assert_eq!(m.spin_lock_off(), Some(LOCK_OFF as u32));
        m.update_copy(&k(1), &val(7), BPF_ANY).unwrap();
        assert_eq!(
            word(&*m, 1).load(Ordering::Relaxed),
            0,
            "{t}: lock not copied"
        );
        assert_eq!(m.lookup_copy(&k(1)).unwrap(), seen(7));
        m.update_copy(&k(1), &val(8), BPF_F_LOCK).unwrap();
        assert_eq!(m.lookup_copy_flags(&k(1), BPF_F_LOCK).unwrap(), seen(8));
        // A program holding the lock sees it kept across a plain update.
        word(&*m, 1).store(1, Ordering::Relaxed);
        if t == map_type::ARRAY {
            m.update_copy(&k(1), &val(9), BPF_ANY).unwrap();
            assert_eq!(word(&*m, 1).load(Ordering::Relaxed), 1, "array: lock kept");
        }
        assert_eq!(
            m.lookup_copy(&k(1)).unwrap()[LOCK_OFF..LOCK_OFF + 4],
            [0; 4]
        );
        word(&*m, 1).store(0, Ordering::Relaxed);
    }
}

#[test]
fn lock_updates_wait_for_a_program_holding_the_lock() {
    for t in [map_type::ARRAY, map_type::HASH] {
        let m = locked(t);
        m.update_copy(&k(0), &val(1), BPF_ANY).unwrap();
        // The "program" takes the value's lock with the helpers' protocol.
        spin_lock::lock(word(&*m, 0));
        let writer = {
            let m = Arc::clone(&m);
            std::thread::spawn(move || m.update_copy(&k(0), &val(2), BPF_F_LOCK).unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            m.lookup_copy(&k(0)).unwrap(),
            seen(1),
            "{t}: waited for the lock"
        );
        spin_lock::unlock(word(&*m, 0));
        writer.join().unwrap();
        assert_eq!(m.lookup_copy_flags(&k(0), BPF_F_LOCK).unwrap(), seen(2));
        assert_eq!(word(&*m, 0).load(Ordering::Relaxed), 0, "released");
    }
}

#[test]
fn hash_lock_updates_keep_the_flag_rules() {
    let m = locked(map_type::HASH);
    assert_eq!(
        m.update_copy(&k(3), &val(1), BPF_F_LOCK | BPF_EXIST)
            .unwrap_err()
            .errno(),
        ENOENT
    );
    // A missing key is created as by any update.
    m.update_copy(&k(3), &val(1), BPF_F_LOCK | BPF_NOEXIST)
        .unwrap();
    assert_eq!(
        m.update_copy(&k(3), &val(2), BPF_F_LOCK | BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        EEXIST
    );
    // An existing element is written in place: a program's pointer sees it.
    let p = m.lookup(&k(3)).unwrap();
    m.update_copy(&k(3), &val(2), BPF_F_LOCK | BPF_EXIST)
        .unwrap();
    assert_eq!(m.lookup(&k(3)), Some(p));
    // SAFETY: the element is live; 16 bytes at an 8-aligned address.
    let bytes = unsafe { std::slice::from_raw_parts(p, 16) };
    assert_eq!(bytes, &seen(2)[..]);
    // A program update with BPF_F_LOCK takes the same path.
    m.update(&k(3), &val(3), BPF_F_LOCK).unwrap();
    assert_eq!(bytes, &seen(3)[..]);
    assert_eq!(
        m.lookup_copy_flags(&k(9), BPF_F_LOCK).unwrap_err().errno(),
        ENOENT
    );
}

#[test]
fn lock_flags_need_a_lock_and_only_arrays_and_hashes_hold_one() {
    let plain = create_with(
        &def(map_type::HASH),
        1,
        Domain::global(),
        &CreateExtra::default(),
    )
    .unwrap();
    plain.update_copy(&k(0), &val(1), BPF_ANY).unwrap();
    assert_eq!(plain.spin_lock_off(), None);
    assert_eq!(
        plain
            .update_copy(&k(0), &val(1), BPF_F_LOCK)
            .unwrap_err()
            .errno(),
        EINVAL
    );
    assert_eq!(
        plain
            .lookup_copy_flags(&k(0), BPF_F_LOCK)
            .unwrap_err()
            .errno(),
        EINVAL
    );
    // Lookups take BPF_F_LOCK only.
    let m = locked(map_type::ARRAY);
    assert_eq!(
        m.lookup_copy_flags(&k(0), BPF_EXIST).unwrap_err().errno(),
        EINVAL
    );
    for t in [
        map_type::PERCPU_ARRAY,
        map_type::PERCPU_HASH,
        map_type::LRU_HASH,
        map_type::LRU_PERCPU_HASH,
        map_type::QUEUE,
    ] {
        let extra = CreateExtra {
            spin_lock_off: Some(0),
            ..CreateExtra::default()
        };
        let e = create_with(&def(t), 2, Domain::global(), &extra).unwrap_err();
        assert_eq!(e.errno(), EOPNOTSUPP, "{t}: {e}");
        assert!(e.to_string().contains("bpf_spin_lock"), "{e}");
    }
    for off in [2, 14, 16] {
        let extra = CreateExtra {
            spin_lock_off: Some(off),
            ..CreateExtra::default()
        };
        let e = create_with(&def(map_type::ARRAY), 1, Domain::global(), &extra).unwrap_err();
        assert_eq!(e.errno(), EINVAL, "offset {off}: {e}");
    }
}
