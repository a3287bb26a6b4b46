//! `BPF_MAP_TYPE_PROG_ARRAY`: program references, the tail-call read path,
//! the kernel's flag and errno cases (kernel/bpf/arraymap.c fd arrays), and
//! a removed program kept alive until a grace period has passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_F_RDONLY_PROG, BPF_NOEXIST};
use rxdp_maps::{Domain, Map, MapDef, ProgArray, ProgRef, create, create_in, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const E2BIG: i32 = -7;
const EBADF: i32 = -9;

fn def(max_entries: u32) -> MapDef {
    MapDef {
        map_type: map_type::PROG_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries,
        flags: 0,
        name: "jmp".into(),
    }
}

/// A stand-in program that counts its drops.
struct Prog {
    name: &'static str,
    drops: Arc<AtomicUsize>,
}

impl Drop for Prog {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn prog(id: u32, name: &'static str, drops: &Arc<AtomicUsize>) -> ProgRef {
    ProgRef {
        id,
        tail_call_entry: 0x1000 * u64::from(id),
        prog: Arc::new(Prog {
            name,
            drops: Arc::clone(drops),
        }),
    }
}

fn name_at(m: &dyn Map, i: u32) -> Option<&'static str> {
    let p = m.prog_at(i)?;
    Some(p.prog.downcast_ref::<Prog>().unwrap().name)
}

#[test]
fn set_read_and_clear_entries() {
    let drops = Arc::new(AtomicUsize::new(0));
    let m = create(&def(4), 1).unwrap();
    let pa = m.as_any().downcast_ref::<ProgArray>().unwrap();
    assert_eq!(name_at(&*m, 1), None);
    pa.set(1, prog(7, "one", &drops), BPF_ANY).unwrap();
    assert_eq!(name_at(&*m, 1), Some("one"));
    assert_eq!(name_at(&*m, 4), None, "past the end falls through");
    // Programs cannot read a prog array; the control plane sees ids.
    assert!(m.lookup(&1u32.to_ne_bytes()).is_none());
    assert_eq!(
        m.lookup_copy(&1u32.to_ne_bytes()).unwrap(),
        7u32.to_ne_bytes()
    );
    assert_eq!(
        m.lookup_copy(&0u32.to_ne_bytes()).unwrap_err().errno(),
        ENOENT
    );
    // Iteration visits every index.
    assert_eq!(rxdp_maps::dump(&*m).unwrap().len(), 1);
    let mut next = [0; 4];
    m.get_next_key(Some(&2u32.to_ne_bytes()), &mut next)
        .unwrap();
    assert_eq!(next, 3u32.to_ne_bytes());
    pa.clear(1).unwrap();
    assert_eq!(name_at(&*m, 1), None);
    assert_eq!(pa.clear(1).unwrap_err().errno(), ENOENT);
}

#[test]
fn flags_and_errnos_follow_the_kernel() {
    let drops = Arc::new(AtomicUsize::new(0));
    let m = create(&def(2), 1).unwrap();
    let pa = m.as_any().downcast_ref::<ProgArray>().unwrap();
    for flags in [BPF_NOEXIST, BPF_EXIST] {
        let e = pa.set(0, prog(1, "x", &drops), flags).unwrap_err();
        assert_eq!(e.errno(), EINVAL);
    }
    assert_eq!(
        pa.set(2, prog(1, "x", &drops), BPF_ANY)
            .unwrap_err()
            .errno(),
        E2BIG
    );
    assert_eq!(m.delete(&9u32.to_ne_bytes()).unwrap_err().errno(), E2BIG);
    // Raw values name no program.
    let e = m.update_copy(&0u32.to_ne_bytes(), &5u32.to_ne_bytes(), BPF_ANY);
    assert_eq!(e.unwrap_err().errno(), EBADF);
    let bad = |d: MapDef| create(&d, 1).unwrap_err().errno();
    assert_eq!(
        bad(MapDef {
            value_size: 8,
            ..def(2)
        }),
        EINVAL
    );
    assert_eq!(
        bad(MapDef {
            key_size: 8,
            ..def(2)
        }),
        EINVAL
    );
    assert_eq!(
        bad(MapDef {
            flags: BPF_F_RDONLY_PROG,
            ..def(2)
        }),
        EINVAL
    );
    assert_eq!(bad(def(0)), EINVAL);
}

#[test]
fn a_replaced_program_lives_until_the_grace_period() {
    let drops = Arc::new(AtomicUsize::new(0));
    let domain = Domain::new();
    let m = create_in(&def(2), 1, &domain).unwrap();
    let pa = m.as_any().downcast_ref::<ProgArray>().unwrap();
    pa.set(0, prog(1, "old", &drops), BPF_ANY).unwrap();
    let worker = domain.register();
    pa.set(0, prog(2, "new", &drops), BPF_ANY).unwrap();
    assert_eq!(name_at(&*m, 0), Some("new"));
    domain.collect();
    assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped inside the batch");
    worker.quiescent();
    domain.collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    pa.clear(0).unwrap();
    drop(worker);
    domain.barrier();
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn the_entry_table_follows_updates_and_deletes() {
    let a = ProgArray::new_in(&def(3), &Domain::new()).unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let entry = |i: usize| {
        // SAFETY: the table has `max_entries` entries and lives with `a`.
        unsafe { &*a.entries().add(i) }.load(Ordering::Acquire)
    };
    assert_eq!((entry(0), entry(1), entry(2)), (0, 0, 0));
    a.set(1, prog(7, "seven", &drops), 0).unwrap();
    assert_eq!((entry(0), entry(1), entry(2)), (0, 0x7000, 0));
    a.set(1, prog(8, "eight", &drops), 0).unwrap();
    assert_eq!(entry(1), 0x8000);
    a.clear(1).unwrap();
    assert_eq!(entry(1), 0);
    assert!(a.set(3, prog(9, "nine", &drops), 0).is_err());
}
