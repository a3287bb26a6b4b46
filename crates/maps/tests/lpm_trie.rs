//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix match on IPv4 and IPv6 keys,
//! exact-prefix updates and deletes, post-order iteration, and the errno
//! cases of kernel/bpf/lpm_trie.c (`trie_alloc`, `trie_update_elem`,
//! `trie_delete_elem`, `trie_get_next_key`).

use std::sync::Arc;
use std::thread;

use rxdp_maps::flags::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_NOEXIST};
use rxdp_maps::{Domain, LpmTrie, Map, MapDef, create, create_in, map_type};

const EINVAL: i32 = -22;
const ENOENT: i32 = -2;
const EEXIST: i32 = -17;
const ENOSPC: i32 = -28;

fn def(key_size: u32, max_entries: u32) -> MapDef {
    MapDef {
        map_type: map_type::LPM_TRIE,
        key_size,
        value_size: 8,
        max_entries,
        flags: BPF_F_NO_PREALLOC,
        name: "lpm".into(),
    }
}

fn key(prefixlen: u32, data: &[u8]) -> Vec<u8> {
    let mut k = prefixlen.to_ne_bytes().to_vec();
    k.extend_from_slice(data);
    k
}

fn v4(prefixlen: u32, a: [u8; 4]) -> Vec<u8> {
    key(prefixlen, &a)
}

fn val(n: u64) -> [u8; 8] {
    n.to_ne_bytes()
}

fn get(m: &dyn Map, k: &[u8]) -> Option<u64> {
    m.lookup_copy(k)
        .ok()
        .map(|v| u64::from_ne_bytes(v.try_into().unwrap()))
}

/// Every key in `get_next_key` order, as (prefixlen, data).
fn walk(m: &dyn Map) -> Vec<(u32, Vec<u8>)> {
    rxdp_maps::dump(m)
        .unwrap()
        .into_iter()
        .map(|(k, _)| {
            (
                u32::from_ne_bytes(k[..4].try_into().unwrap()),
                k[4..].to_vec(),
            )
        })
        .collect()
}

#[test]
fn ipv4_longest_prefix_wins() {
    let m = create(&def(8, 16), 1).unwrap();
    m.update(&v4(8, [10, 0, 0, 0]), &val(8), BPF_ANY).unwrap();
    m.update(&v4(16, [10, 1, 0, 0]), &val(16), BPF_ANY).unwrap();
    m.update(&v4(24, [10, 1, 2, 0]), &val(24), BPF_ANY).unwrap();
    m.update(&v4(32, [10, 1, 2, 3]), &val(32), BPF_ANY).unwrap();
    let look = |a| get(&*m, &v4(32, a));
    assert_eq!(look([10, 1, 2, 3]), Some(32));
    assert_eq!(look([10, 1, 2, 4]), Some(24));
    assert_eq!(look([10, 1, 3, 1]), Some(16));
    assert_eq!(look([10, 200, 0, 0]), Some(8));
    assert_eq!(look([11, 0, 0, 0]), None);
    // The key's own prefix length bounds the match.
    assert_eq!(get(&*m, &v4(20, [10, 1, 2, 3])), Some(16));
    // Program lookups agree and return stable pointers.
    let p = m.lookup(&v4(32, [10, 1, 2, 9])).unwrap();
    assert_eq!(m.lookup(&v4(32, [10, 1, 2, 10])), Some(p));
    // Deleting the /24 falls back to the /16.
    m.delete(&v4(24, [10, 1, 2, 0])).unwrap();
    assert_eq!(look([10, 1, 2, 4]), Some(16));
    assert_eq!(look([10, 1, 2, 3]), Some(32));
    // A /0 matches everything.
    m.update(&v4(0, [0; 4]), &val(0), BPF_ANY).unwrap();
    assert_eq!(look([11, 0, 0, 0]), Some(0));
    let t = m.as_any().downcast_ref::<LpmTrie>().unwrap();
    assert_eq!((t.len(), t.max_prefixlen()), (4, 32));
}

#[test]
fn ipv6_longest_prefix_wins() {
    let m = create(&def(20, 16), 1).unwrap();
    let addr =
        |words: [u16; 8]| -> Vec<u8> { words.iter().flat_map(|w| w.to_be_bytes()).collect() };
    let db8 = addr([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
    let db8_1 = addr([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0]);
    m.update(&key(0, &[0; 16]), &val(0), BPF_ANY).unwrap();
    m.update(&key(32, &db8), &val(32), BPF_ANY).unwrap();
    m.update(&key(48, &db8_1), &val(48), BPF_ANY).unwrap();
    let host = addr([0x2001, 0xdb8, 1, 0, 0, 0, 0, 1]);
    assert_eq!(get(&*m, &key(128, &host)), Some(48));
    let other = addr([0x2001, 0xdb8, 2, 0, 0, 0, 0, 1]);
    assert_eq!(get(&*m, &key(128, &other)), Some(32));
    let far = addr([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(get(&*m, &key(128, &far)), Some(0));
    m.update(&key(128, &host), &val(128), BPF_ANY).unwrap();
    assert_eq!(get(&*m, &key(128, &host)), Some(128));
    assert_eq!(
        m.update(&key(129, &host), &val(1), BPF_ANY)
            .unwrap_err()
            .errno(),
        EINVAL
    );
}

#[test]
fn get_next_key_is_post_order_as_in_the_kernel() {
    // The example of trie_get_next_key's comment in lpm_trie.c.
    let m = create(&def(8, 16), 1).unwrap();
    for (len, a) in [
        (16, [192, 168, 0, 0]),
        (24, [192, 168, 0, 0]),
        (24, [192, 168, 1, 0]),
        (24, [192, 168, 128, 0]),
    ] {
        m.update(&v4(len, a), &val(1), BPF_NOEXIST).unwrap();
    }
    let order = walk(&*m);
    let want: Vec<(u32, Vec<u8>)> = vec![
        (24, vec![192, 168, 0, 0]),
        (24, vec![192, 168, 1, 0]),
        (24, vec![192, 168, 128, 0]),
        (16, vec![192, 168, 0, 0]),
    ];
    assert_eq!(order, want);
    // A key not in the trie (or an invalid one) restarts from the first.
    let mut next = [0u8; 8];
    m.get_next_key(Some(&v4(24, [1, 2, 3, 0])), &mut next)
        .unwrap();
    assert_eq!(next.to_vec(), v4(24, [192, 168, 0, 0]));
    m.get_next_key(Some(&v4(99, [192, 168, 0, 0])), &mut next)
        .unwrap();
    assert_eq!(next.to_vec(), v4(24, [192, 168, 0, 0]));
    // After the last: -ENOENT; an empty trie too.
    let last = m.get_next_key(Some(&v4(16, [192, 168, 0, 0])), &mut next);
    assert_eq!(last.unwrap_err().errno(), ENOENT);
    let empty = create(&def(8, 4), 1).unwrap();
    assert_eq!(
        empty.get_next_key(None, &mut next).unwrap_err().errno(),
        ENOENT
    );
}

#[test]
fn update_and_delete_errnos_follow_the_kernel() {
    let m = create(&def(8, 2), 1).unwrap();
    let a = v4(24, [10, 0, 0, 0]);
    let b = v4(24, [10, 0, 1, 0]);
    assert_eq!(
        m.update(&a, &val(1), BPF_EXIST).unwrap_err().errno(),
        ENOENT
    );
    m.update(&a, &val(1), BPF_NOEXIST).unwrap();
    assert_eq!(
        m.update(&a, &val(2), BPF_NOEXIST).unwrap_err().errno(),
        EEXIST
    );
    m.update(&a, &val(2), BPF_EXIST).unwrap();
    assert_eq!(get(&*m, &a), Some(2));
    assert_eq!(
        m.update(&a, &val(3), BPF_F_LOCK).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(m.update(&a, &val(3), 3).unwrap_err().errno(), EINVAL);
    m.update(&b, &val(4), BPF_ANY).unwrap();
    // Full: a new prefix is -ENOSPC; replacing one still works. The
    // intermediate /23 joining a and b is not an element.
    let c = v4(8, [10, 0, 0, 0]);
    assert_eq!(m.update(&c, &val(5), BPF_ANY).unwrap_err().errno(), ENOSPC);
    let im = v4(23, [10, 0, 0, 0]);
    assert_eq!(m.update(&im, &val(5), BPF_ANY).unwrap_err().errno(), ENOSPC);
    m.update(&b, &val(6), BPF_ANY).unwrap();
    assert_eq!(m.delete(&im).unwrap_err().errno(), ENOENT);
    assert_eq!(m.delete(&c).unwrap_err().errno(), ENOENT);
    assert_eq!(
        m.delete(&v4(33, [10, 0, 0, 0])).unwrap_err().errno(),
        EINVAL
    );
    m.delete(&a).unwrap();
    assert_eq!(m.delete(&a).unwrap_err().errno(), ENOENT);
    assert_eq!(get(&*m, &v4(32, [10, 0, 0, 1])), None);
    assert_eq!(get(&*m, &v4(32, [10, 0, 1, 1])), Some(6));
    m.update(&c, &val(5), BPF_ANY).unwrap();
    assert_eq!(walk(&*m).len(), 2);
    // Wrong key lengths are -EINVAL.
    assert_eq!(m.delete(&[0; 4]).unwrap_err().errno(), EINVAL);
}

#[test]
fn creation_follows_trie_alloc() {
    let bad = |d: MapDef| create(&d, 1).unwrap_err().errno();
    assert_eq!(
        bad(MapDef {
            flags: 0,
            ..def(8, 4)
        }),
        EINVAL
    );
    assert_eq!(bad(def(4, 4)), EINVAL);
    assert_eq!(bad(def(261, 4)), EINVAL);
    assert_eq!(bad(def(8, 0)), EINVAL);
    assert_eq!(
        bad(MapDef {
            value_size: 0,
            ..def(8, 4)
        }),
        EINVAL
    );
    assert!(create(&def(5, 4), 1).is_ok());
    assert!(create(&def(260, 4), 1).is_ok());
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The longest stored prefix covering `addr`, by brute force.
fn model_lookup(stored: &[(u32, u32, u64)], addr: u32) -> Option<u64> {
    let mask = |len: u32| if len == 0 { 0 } else { u32::MAX << (32 - len) };
    stored
        .iter()
        .filter(|(len, net, _)| addr & mask(*len) == *net)
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, _, v)| *v)
}

#[test]
fn random_prefixes_agree_with_a_brute_force_model() {
    let m = create(&def(8, 4096), 1).unwrap();
    let trie = m.as_any().downcast_ref::<LpmTrie>().unwrap();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut stored: Vec<(u32, u32, u64)> = vec![];
    for step in 0..2_000u64 {
        // Few distinct networks so that prefixes nest and collide.
        let len = [0, 4, 8, 12, 16, 20, 24, 28, 32][(rng.next() % 9) as usize];
        let addr = (rng.next() as u32) & 0xf0f0_f0f0;
        let net = if len == 0 {
            0
        } else {
            addr & (u32::MAX << (32 - len))
        };
        let k = v4(len, net.to_be_bytes());
        if rng.next().is_multiple_of(3) {
            let had = stored.iter().position(|&(l, n, _)| (l, n) == (len, net));
            let r = m.delete(&k);
            match had {
                Some(i) => {
                    r.unwrap();
                    stored.remove(i);
                }
                None => assert_eq!(r.unwrap_err().errno(), ENOENT),
            }
        } else {
            m.update(&k, &val(step), BPF_ANY).unwrap();
            stored.retain(|&(l, n, _)| (l, n) != (len, net));
            stored.push((len, net, step));
        }
        assert_eq!(trie.len(), stored.len(), "step {step}");
        let probe = rng.next() as u32 & 0xf0f0_f0f0 | rng.next() as u32 & 0x0101_0101;
        assert_eq!(
            get(&*m, &v4(32, probe.to_be_bytes())),
            model_lookup(&stored, probe),
            "step {step} probe {probe:#x}"
        );
    }
    // Iteration visits every prefix once, each before any prefix that
    // contains it.
    let order = walk(&*m);
    assert_eq!(order.len(), stored.len());
    for (i, (len, data)) in order.iter().enumerate() {
        let net = u32::from_be_bytes(data[..].try_into().unwrap());
        for (later_len, later) in &order[i + 1..] {
            let later = u32::from_be_bytes(later[..].try_into().unwrap());
            let contains = |outer_len: u32, outer: u32, inner: u32| {
                outer_len == 0 || (outer ^ inner) >> (32 - outer_len) == 0
            };
            assert!(
                !(*later_len > *len && contains(*len, net, later)),
                "{later:#x}/{later_len} after its container {net:#x}/{len}"
            );
        }
    }
}

#[test]
fn a_replaced_value_stays_for_the_reader_until_its_quiescent_point() {
    let domain = Domain::new();
    let m = create_in(&def(8, 4), 1, &domain).unwrap();
    let k = v4(16, [10, 1, 0, 0]);
    m.update(&k, &val(1), BPF_ANY).unwrap();
    let worker = domain.register();
    let p = m.lookup(&v4(32, [10, 1, 2, 3])).unwrap();
    for n in 2..20 {
        m.update(&k, &val(n), BPF_ANY).unwrap();
    }
    m.delete(&k).unwrap();
    // SAFETY: an 8-byte value pointer from a lookup; the map is alive and
    // the worker has not passed a quiescent point since.
    assert_eq!(unsafe { p.cast::<u64>().read() }, 1);
    worker.quiescent();
}

#[test]
fn concurrent_lookups_and_updates() {
    let m = create(&def(8, 1024), 1).unwrap();
    m.update(&v4(0, [0; 4]), &val(0), BPF_ANY).unwrap();
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let m = Arc::clone(&m);
            thread::spawn(move || {
                for i in 0..500u32 {
                    let k = v4(24, [t, (i >> 8) as u8, i as u8, 0]);
                    m.update(&k, &val(u64::from(i)), BPF_ANY).unwrap();
                    let probe = v4(32, [t, (i >> 8) as u8, i as u8, 7]);
                    assert_eq!(get(&*m, &probe), Some(u64::from(i)));
                    if i % 2 == 0 {
                        m.delete(&k).unwrap();
                        assert_eq!(get(&*m, &probe), Some(0));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(walk(&*m).len(), 1 + 4 * 250);
}
