//! `BPF_MAP_TYPE_QUEUE` and `BPF_MAP_TYPE_STACK`, after
//! kernel/bpf/queue_stack_maps.c: order, overwrite with `BPF_EXIST`, and
//! the errno cases.

use std::sync::Arc;
use std::thread;

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_NOEXIST};
use rxdp_maps::{Map, MapDef, QueueStack, create, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const E2BIG: i32 = -7;

fn def(map_type: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type,
        key_size: 0,
        value_size: 4,
        max_entries,
        flags: 0,
        name: "qs".into(),
    }
}

fn pop(m: &dyn Map) -> Result<u32, i32> {
    let mut out = [0; 4];
    m.pop(&mut out).map_err(|e| e.errno())?;
    Ok(u32::from_ne_bytes(out))
}

fn peek(m: &dyn Map) -> Result<u32, i32> {
    let mut out = [0; 4];
    m.peek(&mut out).map_err(|e| e.errno())?;
    Ok(u32::from_ne_bytes(out))
}

#[test]
fn a_queue_is_fifo_and_overwrites_the_oldest() {
    let m = create(&def(map_type::QUEUE, 3), 1).unwrap();
    assert_eq!(pop(&*m), Err(ENOENT));
    assert_eq!(peek(&*m), Err(ENOENT));
    for i in 1..=3u32 {
        m.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
    }
    assert_eq!(
        m.push(&4u32.to_ne_bytes(), BPF_ANY).unwrap_err().errno(),
        E2BIG
    );
    m.push(&4u32.to_ne_bytes(), BPF_EXIST).unwrap();
    assert_eq!(peek(&*m), Ok(2));
    assert_eq!([pop(&*m), pop(&*m), pop(&*m)], [Ok(2), Ok(3), Ok(4)]);
    assert_eq!(pop(&*m), Err(ENOENT));
}

#[test]
fn a_stack_is_lifo_and_overwrites_the_oldest() {
    let m = create(&def(map_type::STACK, 3), 1).unwrap();
    for i in 1..=3u32 {
        m.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
    }
    m.push(&4u32.to_ne_bytes(), BPF_EXIST).unwrap();
    assert_eq!(peek(&*m), Ok(4));
    assert_eq!([pop(&*m), pop(&*m), pop(&*m)], [Ok(4), Ok(3), Ok(2)]);
    assert_eq!(pop(&*m), Err(ENOENT));
    let qs = m.as_any().downcast_ref::<QueueStack>().unwrap();
    assert!(qs.is_empty());
}

#[test]
fn flags_keys_and_creation_follow_the_kernel() {
    let m = create(&def(map_type::QUEUE, 2), 1).unwrap();
    assert_eq!(
        m.push(&1u32.to_ne_bytes(), BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        EINVAL
    );
    assert_eq!(m.push(&1u32.to_ne_bytes(), 4).unwrap_err().errno(), EINVAL);
    // The control plane's update pushes and lookup peeks.
    m.update_copy(&[], &7u32.to_ne_bytes(), BPF_ANY).unwrap();
    assert_eq!(m.lookup_copy(&[]).unwrap(), 7u32.to_ne_bytes());
    assert!(m.lookup(&[]).is_none());
    assert_eq!(m.delete(&[]).unwrap_err().errno(), EINVAL);
    assert_eq!(m.update(&[], &[0; 4], BPF_ANY).unwrap_err().errno(), EINVAL);
    assert_eq!(rxdp_maps::dump(&*m).unwrap(), vec![]);
    let bad = |d: MapDef| create(&d, 1).unwrap_err().errno();
    for t in [map_type::QUEUE, map_type::STACK] {
        assert_eq!(
            bad(MapDef {
                key_size: 4,
                ..def(t, 2)
            }),
            EINVAL
        );
        assert_eq!(
            bad(MapDef {
                value_size: 0,
                ..def(t, 2)
            }),
            EINVAL
        );
        assert_eq!(bad(def(t, 0)), EINVAL);
        assert_eq!(
            bad(MapDef {
                flags: 1,
                ..def(t, 2)
            }),
            EINVAL
        );
    }
}

#[test]
fn concurrent_pushers_and_poppers_lose_nothing() {
    let m = create(&def(map_type::QUEUE, 64), 1).unwrap();
    let pushers: Vec<_> = (0..2u32)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..5_000u32 {
                    let v = (t << 16 | i).to_ne_bytes();
                    while m.push(&v, BPF_ANY).is_err() {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let mut next = [0u32; 2];
    while next != [5_000, 5_000] {
        match pop(&*m) {
            Ok(v) => {
                let (t, i) = ((v >> 16) as usize, v & 0xffff);
                assert_eq!(i, next[t], "pusher {t} out of order");
                next[t] += 1;
            }
            Err(_) => thread::yield_now(),
        }
    }
    for p in pushers {
        p.join().unwrap();
    }
}
