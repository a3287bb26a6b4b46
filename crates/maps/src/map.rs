//! The interface every map type implements: rxdp's `struct bpf_map_ops`.
//!
//! Two audiences use a map. Programs, through helpers, see pointers to
//! values and the current CPU's copy of per-CPU values; they never see a
//! Rust error, only the negative errno of [`MapError::errno`]. The control
//! plane, like `bpf(2)`, copies values in and out, and sees every CPU's copy
//! of a per-CPU value, one after another, each rounded up to 8 bytes.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::BPF_F_RDONLY;

/// A BPF map: one implementation per map type, shared by every program and
/// the control plane (`Arc<dyn Map>`), safe to use from several threads.
///
/// Keys and values given to the program-side operations must be exactly
/// `key_size` and `value_size` bytes (the verifier proves this for
/// programs); other lengths are refused with `-EINVAL`, never read past.
pub trait Map: Send + Sync + fmt::Debug {
    /// The definition the map was created from.
    fn def(&self) -> &MapDef;

    /// The number of CPUs (workers) a per-CPU map keeps values for; 1 for
    /// every other map.
    fn nr_cpus(&self) -> u32 {
        1
    }

    /// `bpf_map_lookup_elem` on CPU `cpu`: the address of the value for
    /// `key`, or `None` (a NULL for the program). For per-CPU maps the
    /// address is CPU `cpu`'s copy; other maps ignore `cpu`.
    ///
    /// The address stays valid, and keeps pointing at this element's value,
    /// while the element lives; arrays' elements live as long as the map.
    fn lookup_percpu(&self, key: &[u8], cpu: u32) -> Option<*mut u8>;

    /// `bpf_map_lookup_elem` as seen from CPU 0 (see [`Map::lookup_percpu`]).
    fn lookup(&self, key: &[u8]) -> Option<*mut u8> {
        self.lookup_percpu(key, 0)
    }

    /// `bpf_map_update_elem` from a program on CPU `cpu`: `value` is one
    /// value of `value_size` bytes. Per-CPU maps write CPU `cpu`'s copy
    /// only; a new per-CPU hash element starts with zero on other CPUs.
    fn update_percpu(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32)
    -> Result<(), MapError>;

    /// `bpf_map_update_elem` as from CPU 0 (see [`Map::update_percpu`]).
    fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.update_percpu(key, value, flags, 0)
    }

    /// `bpf_map_delete_elem`, from a program or the control plane.
    fn delete(&self, key: &[u8]) -> Result<(), MapError>;

    /// `BPF_MAP_DELETE_ELEM` from the control plane: [`Map::delete`] after
    /// `bpf(2)`'s permission check (`-EPERM` on a `BPF_F_RDONLY` map).
    fn delete_checked(&self, key: &[u8]) -> Result<(), MapError> {
        if self.def().flags & BPF_F_RDONLY != 0 {
            return Err(MapError::ReadOnly);
        }
        self.delete(key)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: writes the key after `key` into `next`
    /// (`key_size` bytes). `None`, or a key not in the map, gives the first
    /// key; the last key gives `-ENOENT`, as does an empty map.
    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError>;

    /// The size of a value as the control plane sees it: `value_size`, or
    /// for per-CPU maps `round_up(value_size, 8) * nr_cpus`.
    fn user_value_size(&self) -> usize {
        self.def().value_size as usize
    }

    /// `BPF_MAP_LOOKUP_ELEM`: a copy of the value for `key`
    /// ([`Map::user_value_size`] bytes), `-ENOENT` when it is missing.
    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError>;

    /// `BPF_MAP_LOOKUP_ELEM` with `flags`: `BPF_F_LOCK` copies the value
    /// under its `bpf_spin_lock` (`-EINVAL` when the value has none, as
    /// for any other flag); 0 is [`Map::lookup_copy`].
    fn lookup_copy_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        self.def().check_sys_lookup_flags(flags, false)?;
        self.lookup_copy(key)
    }

    /// The offset of the `bpf_spin_lock` in the map's values (the
    /// kernel's `btf_record.spin_lock_off`), `None` when they hold none.
    fn spin_lock_off(&self) -> Option<u32> {
        None
    }

    /// `BPF_MAP_UPDATE_ELEM`: stores `value` ([`Map::user_value_size`]
    /// bytes, every CPU's copy for per-CPU maps) under `key`.
    fn update_copy(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError>;

    /// The address of element 0's value for direct value access (`lddw` of
    /// `map_value[NAME]+off`, global data), or `None` where the kernel's
    /// `map_direct_value_addr` refuses: every map but a one-element array.
    fn direct_value_addr(&self) -> Option<u64> {
        None
    }

    /// `bpf_map_push_elem` (queue, stack, bloom filter): adds `value`.
    /// Other maps: `-EOPNOTSUPP` (the verifier refuses the call).
    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        let _ = (value, flags);
        Err(MapError::OpNotSupported)
    }

    /// `bpf_map_pop_elem` (queue, stack): moves the next value into `out`
    /// and removes it. Other maps: `-EOPNOTSUPP`.
    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        let _ = out;
        Err(MapError::OpNotSupported)
    }

    /// `bpf_map_peek_elem` (queue, stack): copies the next value into `out`
    /// without removing it; for a bloom filter, `out` is the value to test
    /// and the answer is `Ok` (maybe present) or `-ENOENT` (absent). Other
    /// maps: `-EOPNOTSUPP`.
    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        let _ = out;
        Err(MapError::OpNotSupported)
    }

    /// The tail-call path of a prog array (`bpf_tail_call`): the program
    /// at `index`, or `None` (the call falls through). Other maps: `None`.
    fn prog_at(&self, index: u32) -> Option<ProgRef> {
        let _ = index;
        None
    }

    /// `bpf_redirect_map`'s view of a redirect map: the ifindex of a
    /// devmap entry, the CPU of a cpumap entry, the socket handle of an
    /// xskmap entry; `None` for an empty entry and for other maps.
    fn redirect_target(&self, key: u32) -> Option<u32> {
        let _ = key;
        None
    }

    /// A map-in-map lookup from a program: the inner map stored under
    /// `key` (the program then uses it as a map). `None` when missing and
    /// for other maps.
    fn inner_map(&self, key: &[u8]) -> Option<Arc<dyn Map>> {
        let _ = key;
        None
    }

    /// For a map of maps, the template every inner map matches (what the
    /// verifier types an inner map pointer by).
    fn inner_template(&self) -> Option<&MapDef> {
        None
    }

    /// The concrete map, for type-specific fast paths (an array lookup that
    /// generated code inlines).
    fn as_any(&self) -> &dyn Any;
}

/// A program as a prog array holds it: opaque to the maps layer (which
/// knows nothing of programs), with the id the control plane sees in
/// lookups (the kernel's `prog->aux->id`).
#[derive(Clone)]
pub struct ProgRef {
    /// The program's id, what `BPF_MAP_LOOKUP_ELEM` returns.
    pub id: u32,
    /// Where compiled code entering the program by a tail call jumps, 0
    /// when the program has no native code (see
    /// [`crate::ProgArray::entries`]).
    pub tail_call_entry: u64,
    /// The program; the layer that stores it downcasts it.
    pub prog: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for ProgRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgRef")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
