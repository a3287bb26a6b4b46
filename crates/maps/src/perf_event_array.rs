//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: where `bpf_perf_event_output` sends
//! records, after the kernel's perf event fd array in
//! kernel/bpf/arraymap.c.
//!
//! Keys are `u32` indices below `max_entries`, usually one per CPU; a
//! value is a perf event. In `bpf(2)` the value is a perf event fd; rxdp
//! has no perf events, so the value is an opaque handle that names where
//! the records of that slot go, and any number is accepted (as devmap
//! ifindexes are). The helper layer reads a slot with
//! [`PerfEventArray::event_at`].
//!
//! As in the kernel: `key_size` and `value_size` must be 4, `max_entries`
//! non-zero, the creation flags within `BPF_F_NUMA_NODE`, the
//! control-plane access flags and `BPF_F_PRESERVE_ELEMS` (`-EINVAL`;
//! `BPF_F_RDONLY_PROG`/`BPF_F_WRONLY_PROG` too, as for every fd array).
//! Updates take `BPF_ANY` only (`-EINVAL`), an index past the end is
//! `-E2BIG`, deleting an empty slot is `-ENOENT`, and iteration visits
//! every index. Programs cannot look slots up (NULL) or update them; a
//! control-plane lookup is `-ENOTSUPP`, since the kernel's perf event
//! array has no `map_fd_sys_lookup_elem`. The kernel empties the slots
//! when the file that set them is closed unless `BPF_F_PRESERVE_ELEMS`;
//! rxdp has no such files, and slots stay until deleted.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{
    BPF_ANY, BPF_F_ACCESS_MASK, BPF_F_NUMA_NODE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY_PROG,
    BPF_F_WRONLY_PROG,
};
use crate::map::Map;
use crate::map_type;
use crate::prog_array::{array_next_key, fd_array_index};

/// A slot's word when it holds an event: this bit above the handle.
const PRESENT: u64 = 1 << 32;

/// A perf event array.
#[derive(Debug)]
pub struct PerfEventArray {
    def: MapDef,
    /// One word per index: 0 when empty, else [`PRESENT`] | handle, so
    /// the datapath reads a slot with one atomic load.
    slots: Box<[AtomicU64]>,
}

impl PerfEventArray {
    /// Creates a perf event array with the kernel's
    /// `fd_array_map_alloc_check` and `array_map_alloc_check` rules.
    pub fn new(def: &MapDef) -> Result<Self, MapError> {
        if def.map_type != map_type::PERF_EVENT_ARRAY {
            return Err(def.invalid("not a perf event array"));
        }
        check_def(def)?;
        let slots = (0..def.max_entries).map(|_| AtomicU64::new(0)).collect();
        Ok(Self {
            def: def.clone(),
            slots,
        })
    }

    /// The event handle at `index`, or `None` for an empty slot or an
    /// index past the end: what `bpf_perf_event_output` looks at.
    pub fn event_at(&self, index: u32) -> Option<u32> {
        let word = self.slots.get(index as usize)?.load(Ordering::Acquire);
        (word & PRESENT != 0).then_some(word as u32)
    }

    /// Puts event `handle` at `index` (`BPF_MAP_UPDATE_ELEM` with a perf
    /// event fd, flags `BPF_ANY` only).
    pub fn set(&self, index: u32, handle: u32, flags: u64) -> Result<(), MapError> {
        self.update_copy(&index.to_ne_bytes(), &handle.to_ne_bytes(), flags)
    }
}

/// The creation checks, in the kernel's order.
fn check_def(def: &MapDef) -> Result<(), MapError> {
    if def.value_size != 4 {
        return Err(def.invalid(format!(
            "value_size is {}, a perf event array needs 4",
            def.value_size
        )));
    }
    if def.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) != 0 {
        return Err(def.invalid("BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG on an fd array"));
    }
    if def.max_entries == 0 {
        return Err(def.invalid("max_entries is 0"));
    }
    if def.key_size != 4 {
        return Err(def.invalid(format!("key_size is {}, arrays need 4", def.key_size)));
    }
    def.check_flags(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS)
}

impl Map for PerfEventArray {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, _key: &[u8], _cpu: u32) -> Option<*mut u8> {
        // fd_array_map_lookup_elem: programs may not read an fd array.
        None
    }

    fn update_percpu(&self, _: &[u8], _: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        // Programs cannot update perf event arrays (the verifier refuses it).
        Err(MapError::OpNotSupported)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let i = fd_array_index(&self.def, key)?;
        match self.slots[i].swap(0, Ordering::AcqRel) {
            0 => Err(MapError::NoEntry),
            _ => Ok(()),
        }
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        array_next_key(&self.def, key, next)
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.def.check_sys_lookup()?;
        self.def.check_key(key)?;
        Err(MapError::NotSupp)
    }

    fn update_copy(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        if flags != BPF_ANY {
            return Err(MapError::BadFlags { flags });
        }
        let i = fd_array_index(&self.def, key)?;
        MapDef::check_value(value, 4)?;
        let handle = u32::from_ne_bytes(value.try_into().unwrap_or_default());
        self.slots[i].store(PRESENT | u64::from(handle), Ordering::Release);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
