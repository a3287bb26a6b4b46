//! BPF maps with the kernel's semantics.
//!
//! Each map type is its own module behind one trait, [`Map`], as each is its
//! own file behind `struct bpf_map_ops` in the kernel's kernel/bpf:
//!
//! | module | map types | kernel file |
//! |---|---|---|
//! | [`array`](mod@array) | `ARRAY`, `PERCPU_ARRAY` | arraymap.c |
//! | [`hashtab`] (+ `lru`) | `HASH`, `PERCPU_HASH`, `LRU_HASH`, `LRU_PERCPU_HASH` | hashtab.c, bpf_lru_list.c |
//! | [`lpm_trie`] | `LPM_TRIE` | lpm_trie.c |
//! | [`prog_array`] | `PROG_ARRAY` | arraymap.c (fd arrays) |
//! | [`perf_event_array`] | `PERF_EVENT_ARRAY` | arraymap.c (fd arrays) |
//! | [`devmap`] | `DEVMAP`, `DEVMAP_HASH` | devmap.c |
//! | [`cpumap`] | `CPUMAP` | cpumap.c |
//! | [`xskmap`] | `XSKMAP` | net/xdp/xskmap.c |
//! | [`ringbuf`] | `RINGBUF` | ringbuf.c |
//! | [`queue_stack`] | `QUEUE`, `STACK` | queue_stack_maps.c |
//! | [`bloom_filter`] | `BLOOM_FILTER` | bloom_filter.c |
//! | [`map_in_map`] | `ARRAY_OF_MAPS`, `HASH_OF_MAPS` | map_in_map.c |
//!
//! [`create`] is `BPF_MAP_CREATE`: it checks a [`MapDef`] and builds the map
//! its type names; [`create_with`] adds `map_extra`, an inner-map
//! template and the offset of a `bpf_spin_lock` in the values
//! ([`spin_lock`]). [`Registry`] pins maps by name and reuses them as
//! libbpf does.
//!
//! Programs reach maps through helpers and get raw pointers to values,
//! which stay valid while the element lives; errors become the kernel's
//! negative errno values ([`MapError::errno`]). The control plane copies
//! values in and out. Type-specific paths are default methods of [`Map`]
//! (`push`/`pop`/`peek`, `prog_at`, `redirect_target`, `inner_map`) or
//! methods of the concrete type ([`Ring`], [`ProgArray::set`],
//! [`MapInMap::set`]) reached through [`Map::as_any`].
//!
//! Grace periods: every map lives in an [`rxdp_rcu::Domain`] (the global
//! one for [`create`], a given one for [`create_in`]). An element deleted
//! or replaced, a program removed from a prog array, an inner map removed
//! from a map of maps, is reclaimed only once every worker of the domain
//! has passed a quiescent point, so a pointer a program got in its batch
//! stays valid for the rest of the batch. A program run outside a worker
//! (test-run on the caller's thread) holds a [`Domain::read_lock`] guard
//! for the run.
//!
//! Per-CPU means per worker: per-CPU maps are created for a number of CPUs
//! (datapath workers) and index their values by the worker's CPU number.
//!
//! Adding a map type: a module with a type implementing [`Map`], whose
//! constructor makes the kernel's `map_alloc_check` checks for that type,
//! and one line in [`create_with`].

pub mod array;
pub mod bloom_filter;
pub mod cpumap;
pub mod def;
pub mod devmap;
mod entries;
pub mod error;
pub mod flags;
pub mod hashtab;
pub mod lpm_trie;
mod lru;
pub mod map;
pub mod map_in_map;
pub mod perf_event_array;
pub mod prog_array;
pub mod queue_stack;
pub mod registry;
pub mod ringbuf;
mod slots;
pub mod spin_lock;
mod storage;
pub mod xskmap;

/// The `BPF_MAP_TYPE_*` numbers and names, shared with the assembler.
pub use rxdp_isa::maptype as map_type;

use std::sync::Arc;

pub use rxdp_rcu::Domain;

pub use array::ArrayMap;
pub use bloom_filter::BloomFilter;
pub use cpumap::CpuMap;
pub use def::MapDef;
pub use devmap::DevMap;
pub use error::MapError;
pub use hashtab::HashTab;
pub use lpm_trie::LpmTrie;
pub use map::{Map, ProgRef};
pub use map_in_map::MapInMap;
pub use perf_event_array::PerfEventArray;
pub use prog_array::{PokeTracker, ProgArray};
pub use queue_stack::QueueStack;
pub use registry::Registry;
pub use ringbuf::{Ring, RingBuf};
pub use xskmap::XskMap;

/// `BPF_MAP_CREATE`: builds the map `def` describes, for `nr_cpus` CPUs
/// (workers; used by per-CPU maps only), in the global grace-period domain
/// ([`Domain::global`]); see [`create_in`].
pub fn create(def: &MapDef, nr_cpus: u32) -> Result<Arc<dyn Map>, MapError> {
    create_in(def, nr_cpus, Domain::global())
}

/// [`create`] in grace-period domain `domain`: the map reclaims deleted
/// elements, and drops replaced programs and inner maps, once the workers
/// of `domain` have passed quiescent points.
///
/// Fails with the kernel's errors: `-EINVAL` for an unknown or not yet
/// implemented map type (the message names it) or a definition the type's
/// `map_alloc_check` refuses, `-E2BIG` for sizes too large, `-ENOMEM` when
/// memory cannot be had.
pub fn create_in(
    def: &MapDef,
    nr_cpus: u32,
    domain: &Arc<Domain>,
) -> Result<Arc<dyn Map>, MapError> {
    create_with(def, nr_cpus, domain, &CreateExtra::default())
}

/// What `BPF_MAP_CREATE` takes beyond a [`MapDef`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateExtra {
    /// `map_extra`: a bloom filter's number of hash functions (low 4
    /// bits); must be 0 for other maps.
    pub map_extra: u64,
    /// The inner-map template of an array or hash of maps (the kernel's
    /// `inner_map_fd`).
    pub inner_map: Option<MapDef>,
    /// The offset of the `bpf_spin_lock` in the values, which the kernel
    /// finds in the value's BTF (`btf_value_type_id`): plain arrays and
    /// hash maps only (`-EOPNOTSUPP` for other types), a 4-byte aligned
    /// word inside the value (`-EINVAL`).
    pub spin_lock_off: Option<u32>,
}

/// [`create_in`] with the attributes of [`CreateExtra`]. A map of maps
/// without a template fails with `-EBADF`, as a bad `inner_map_fd` does;
/// `map_extra` on a map other than a bloom filter with `-EINVAL`; a spin
/// lock in the values of a map other than a plain array or hash map with
/// `-EOPNOTSUPP`.
pub fn create_with(
    def: &MapDef,
    nr_cpus: u32,
    domain: &Arc<Domain>,
    extra: &CreateExtra,
) -> Result<Arc<dyn Map>, MapError> {
    if extra.map_extra != 0 && def.map_type != map_type::BLOOM_FILTER {
        return Err(MapError::InvalidDef {
            name: def.name.clone(),
            reason: "map_extra is for bloom filters only".into(),
        });
    }
    let lock = extra.spin_lock_off;
    if lock.is_some() && !matches!(def.map_type, map_type::ARRAY | map_type::HASH) {
        return Err(MapError::SpinLockNotAllowed {
            name: def.name.clone(),
            map_type: def.map_type,
        });
    }
    Ok(match def.map_type {
        map_type::ARRAY | map_type::PERCPU_ARRAY => {
            Arc::new(ArrayMap::new_with_lock(def, nr_cpus, lock)?)
        }
        map_type::HASH | map_type::PERCPU_HASH | map_type::LRU_HASH | map_type::LRU_PERCPU_HASH => {
            Arc::new(HashTab::new_with_lock(def, nr_cpus, domain, lock)?)
        }
        map_type::PERF_EVENT_ARRAY => Arc::new(PerfEventArray::new(def)?),
        map_type::LPM_TRIE => Arc::new(LpmTrie::new_in(def, domain)?),
        map_type::PROG_ARRAY => Arc::new(ProgArray::new_in(def, domain)?),
        map_type::DEVMAP | map_type::DEVMAP_HASH => Arc::new(DevMap::new_in(def, domain)?),
        map_type::CPUMAP => Arc::new(CpuMap::new_in(def, nr_cpus, domain)?),
        map_type::XSKMAP => Arc::new(XskMap::new_in(def, domain)?),
        map_type::RINGBUF => Arc::new(RingBuf::new(def)?),
        map_type::QUEUE | map_type::STACK => Arc::new(QueueStack::new(def)?),
        map_type::BLOOM_FILTER => Arc::new(BloomFilter::new(def, extra.map_extra)?),
        map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS => {
            let template = extra.inner_map.as_ref().ok_or(MapError::BadHandle {
                what: "inner map template",
                value: 0,
            })?;
            Arc::new(MapInMap::new_in(def, template, domain)?)
        }
        map_type => return Err(MapError::UnsupportedType { map_type }),
    })
}

/// One element as the control plane sees it: (key, value).
pub type Entry = (Vec<u8>, Vec<u8>);

/// Every element of `map` as (key, value) pairs in iteration order, the
/// values as the control plane sees them (per-CPU maps: every CPU's value,
/// each rounded up to 8 bytes). An element deleted during the walk is
/// skipped, as are elements whose values the control plane cannot read
/// (a perf event array's, `-ENOTSUPP`). Maps without keys (ring buffers,
/// queues, stacks, bloom filters) dump as empty.
pub fn dump(map: &dyn Map) -> Result<Vec<Entry>, MapError> {
    if map.def().key_size == 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut key: Option<Vec<u8>> = None;
    let mut next = vec![0u8; map.def().key_size as usize];
    loop {
        match map.get_next_key(key.as_deref(), &mut next) {
            Ok(()) => {}
            Err(MapError::NoEntry) => return Ok(out),
            Err(e) => return Err(e),
        }
        match map.lookup_copy(&next) {
            Ok(v) => out.push((next.clone(), v)),
            Err(MapError::NoEntry | MapError::NotSupp) => {}
            Err(e) => return Err(e),
        }
        key = Some(next.clone());
    }
}
