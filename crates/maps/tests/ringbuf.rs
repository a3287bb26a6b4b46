//! `BPF_MAP_TYPE_RINGBUF`: record layout, reserve/submit/discard/output,
//! query, wraparound, commit order and concurrent producers, after
//! kernel/bpf/ringbuf.c.

use std::sync::Arc;
use std::thread;

use rxdp_maps::ringbuf::{
    BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE, BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT,
};
use rxdp_maps::{Map, MapDef, Ring, RingBuf, create, map_type};

const EINVAL: i32 = -22;
const EAGAIN: i32 = -11;
const ENOTSUPP: i32 = -524;

fn def(max_entries: u32) -> MapDef {
    MapDef {
        map_type: map_type::RINGBUF,
        key_size: 0,
        value_size: 0,
        max_entries,
        flags: 0,
        name: "rb".into(),
    }
}

fn ring(size: u32) -> Arc<dyn Map> {
    create(&def(size), 1).unwrap()
}

fn rb(m: &dyn Map) -> &Ring {
    m.as_any().downcast_ref::<RingBuf>().unwrap().ring()
}

fn drain(r: &Ring) -> Vec<Vec<u8>> {
    let mut out = vec![];
    r.consume(|rec| out.push(rec.to_vec()));
    out
}

#[test]
fn creation_follows_ringbuf_map_alloc() {
    let bad = |d: MapDef| create(&d, 1).unwrap_err().errno();
    assert_eq!(bad(def(4096 * 3)), EINVAL);
    assert_eq!(bad(def(2048)), EINVAL);
    assert_eq!(bad(def(0)), EINVAL);
    assert_eq!(
        bad(MapDef {
            key_size: 4,
            ..def(4096)
        }),
        EINVAL
    );
    assert_eq!(
        bad(MapDef {
            value_size: 4,
            ..def(4096)
        }),
        EINVAL
    );
    assert_eq!(
        bad(MapDef {
            flags: 1,
            ..def(4096)
        }),
        EINVAL
    );
    let m = ring(4096);
    assert_eq!(m.update(&[], &[], 0).unwrap_err().errno(), ENOTSUPP);
    assert_eq!(m.delete(&[]).unwrap_err().errno(), ENOTSUPP);
    assert!(m.lookup(&[]).is_none());
    assert_eq!(rxdp_maps::dump(&*m).unwrap(), vec![]);
}

#[test]
fn record_header_layout_is_the_kernels() {
    let m = ring(8192);
    let r = rb(&*m);
    let p = r.reserve(5, 0).unwrap();
    // Busy, length 5, three meta pages before the data.
    assert_eq!(r.header_at(0), (5 | BPF_RINGBUF_BUSY_BIT, 3));
    assert_eq!(
        r.query(BPF_RB_PROD_POS),
        16,
        "8-byte header, 5 rounded to 8"
    );
    // SAFETY: `p` is a fresh 5-byte reservation.
    unsafe { std::ptr::copy_nonoverlapping(b"hello".as_ptr(), p, 5) };
    assert!(drain(r).is_empty(), "busy records are not consumed");
    // SAFETY: `p` is still reserved.
    assert!(std::ptr::eq(unsafe { Ring::of_sample(p) }, r));
    r.submit(p, 0).unwrap();
    assert_eq!(r.header_at(0), (5, 3));
    let q = r.reserve(0, 0).unwrap();
    r.discard(q, 0).unwrap();
    assert_eq!(r.header_at(16), (BPF_RINGBUF_DISCARD_BIT, 3));
    assert_eq!(r.query(BPF_RB_AVAIL_DATA), 24);
    assert_eq!(drain(r), vec![b"hello".to_vec()]);
    assert_eq!(r.query(BPF_RB_CONS_POS), 24);
    assert_eq!(r.query(BPF_RB_AVAIL_DATA), 0);
    assert_eq!(r.query(BPF_RB_RING_SIZE), 8192);
    assert_eq!(r.query(99), 0);
    // A record in the second data page has page offset 4.
    r.output(&[1; 4096 - 24 - 8], 0).unwrap();
    r.output(b"x", 0).unwrap();
    assert_eq!(r.header_at(4096), (1, 4));
    // Submitting twice, or a pointer that is no record, is refused.
    assert_eq!(r.submit(p, 0).unwrap_err().errno(), EINVAL);
    let mut local = [0u8; 16];
    assert_eq!(r.submit(local.as_mut_ptr(), 0).unwrap_err().errno(), EINVAL);
}

#[test]
fn flags_sizes_and_full_rings() {
    let m = ring(4096);
    let r = rb(&*m);
    assert!(r.reserve(8, 1).is_none(), "reserve takes no flags");
    assert!(r.reserve(4096, 0).is_none(), "can never fit");
    assert_eq!(r.output(b"a", 4).unwrap_err().errno(), EINVAL);
    let big = r.reserve(4000, 0).unwrap();
    // Producer may not get size - 1 bytes ahead of the consumer.
    assert!(r.reserve(100, 0).is_none());
    assert_eq!(r.output(&[0; 100], 0).unwrap_err().errno(), EAGAIN);
    r.submit(big, BPF_RB_NO_WAKEUP).unwrap();
    assert_eq!(drain(r).len(), 1);
    r.output(&[0; 100], 0).unwrap();
}

#[test]
fn records_wrap_around_contiguously() {
    let m = ring(4096);
    let r = rb(&*m);
    let mut seen = 0;
    for n in 0..20u8 {
        let rec: Vec<u8> = (0..1000u32).map(|i| n.wrapping_add(i as u8)).collect();
        r.output(&rec, 0).unwrap();
        let got = drain(r);
        assert_eq!(got, vec![rec], "record {n}");
        seen += 1;
    }
    assert_eq!(seen, 20);
    // 20 records of 1008 bytes: several started near the end and wrapped.
    assert_eq!(r.query(BPF_RB_PROD_POS), 20 * 1008);
}

#[test]
fn the_consumer_stops_at_the_oldest_busy_record() {
    let m = ring(4096);
    let r = rb(&*m);
    let a = r.reserve(8, 0).unwrap();
    let b = r.reserve(8, 0).unwrap();
    // SAFETY: both are fresh 8-byte reservations.
    unsafe {
        a.copy_from(b"AAAAAAAA".as_ptr(), 8);
        b.copy_from(b"BBBBBBBB".as_ptr(), 8);
    }
    r.submit(b, 0).unwrap();
    assert!(drain(r).is_empty());
    r.submit(a, 0).unwrap();
    assert_eq!(drain(r), vec![b"AAAAAAAA".to_vec(), b"BBBBBBBB".to_vec()]);
}

#[test]
fn wakeups_follow_the_flags() {
    let m = ring(4096);
    let r = rb(&*m);
    r.output(b"1", 0).unwrap();
    assert_eq!(r.wakeups(), 1, "consumer was caught up");
    r.output(b"2", 0).unwrap();
    assert_eq!(r.wakeups(), 1, "consumer already has work");
    r.output(b"3", BPF_RB_FORCE_WAKEUP).unwrap();
    assert_eq!(r.wakeups(), 2);
    drain(r);
    r.output(b"4", BPF_RB_NO_WAKEUP).unwrap();
    assert_eq!(r.wakeups(), 2);
}

#[test]
fn concurrent_producers_lose_nothing() {
    let m = ring(16384);
    let producers: Vec<_> = (0..3u32)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                let r = rb(&*m);
                for seq in 0..2000u32 {
                    let rec = [t.to_ne_bytes(), seq.to_ne_bytes()].concat();
                    while r.output(&rec, 0).is_err() {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let mut next = [0u32; 3];
    let r = rb(&*m);
    while next.iter().any(|&n| n < 2000) {
        r.consume(|rec| {
            let t = u32::from_ne_bytes(rec[..4].try_into().unwrap()) as usize;
            let seq = u32::from_ne_bytes(rec[4..].try_into().unwrap());
            assert_eq!(seq, next[t], "producer {t} out of order");
            next[t] += 1;
        });
        thread::yield_now();
    }
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(r.query(BPF_RB_AVAIL_DATA), 0);
}
