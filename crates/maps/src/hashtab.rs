//! `BPF_MAP_TYPE_HASH`, `BPF_MAP_TYPE_PERCPU_HASH`, `BPF_MAP_TYPE_LRU_HASH`
//! and `BPF_MAP_TYPE_LRU_PERCPU_HASH`, after the kernel's
//! kernel/bpf/hashtab.c.
//!
//! Semantics, as in the kernel: `BPF_NOEXIST` on an existing key fails with
//! `-EEXIST`, `BPF_EXIST` on a missing key with `-ENOENT`, a new key in a
//! map holding `max_entries` elements with `-E2BIG` (replacing an existing
//! key in a full map succeeds), deleting a missing key with `-ENOENT`.
//!
//! LRU maps never refuse for want of room: like `htab_lru_map_update_elem`,
//! an update takes a free element first, and when the map holds
//! `max_entries` elements that means evicting the least recently used one
//! (see the `lru` module), even when the update then replaces an existing
//! key or fails its flag check. A per-CPU LRU update with `BPF_EXIST`
//! takes no element (it can only write in place) and so evicts nothing.
//! Program lookups mark an LRU element used; control-plane lookups do not.
//!
//! Elements live in value slots of a `SlotPool`, whose addresses never
//! change, found through an index from key to slot under a reader-writer
//! lock. Updating an existing key of a plain (or LRU) hash map does what
//! the kernel does: it fills a fresh slot and swaps the index to it, so a
//! concurrent reader sees the old value or the new one, never half of
//! each. Per-CPU hash maps update in place, as the kernel does (each CPU
//! writes only its own copy).
//!
//! A plain hash map's values may hold a `bpf_spin_lock`
//! ([`HashTab::new_with_lock`]): updates never copy the caller's lock
//! word (a new element's lock starts free), an update with `BPF_F_LOCK`
//! of an existing element writes it in place under its lock, as
//! `htab_map_update_elem` does, and control-plane lookups read the lock
//! word as zero, copying under the lock with `BPF_F_LOCK`.
//!
//! Grace period: the slot of a deleted, replaced or evicted element is
//! reused only after every worker of the map's `rxdp_rcu::Domain` has
//! passed a quiescent point, so a value pointer a program holds stays
//! valid, and keeps this element's last value, until the end of its
//! worker's batch, as RCU-freed elements do in the kernel.
//!
//! Differences a program cannot see: slots are allocated in chunks as the
//! map fills rather than all at creation (`BPF_F_NO_PREALLOC` changes
//! nothing), and `get_next_key` walks keys in insertion order (a replaced
//! element keeps its place) where the kernel walks hash buckets. The
//! kernel's per-CPU LRU lists may evict before the map is full; rxdp's
//! single exact order evicts only when it is (`BPF_F_NO_COMMON_LRU` is
//! accepted and changes nothing, and does not round `max_entries` up to a
//! multiple of the CPU count as the kernel does).

use std::any::Any;
use std::collections::HashMap as IndexMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rxdp_rcu::Domain;

use crate::array::PCPU_MIN_UNIT_SIZE;
use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{
    BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_LOCK, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE, BPF_F_ZERO_SEED, BPF_NOEXIST,
};
use crate::lru::{LruList, LruNode};
use crate::map::Map;
use crate::map_type;
use crate::slots::{NoSlot, SlotPool};
use crate::spin_lock::SpinLockField;

/// The kernel's `KMALLOC_MAX_SIZE` on x86-64 (4 KiB pages, page order 10).
pub(crate) const KMALLOC_MAX_SIZE: u64 = 4 << 20;
/// The size of the kernel's `struct htab_elem` header on x86-64, which
/// `htab_map_alloc_check` subtracts from `KMALLOC_MAX_SIZE`.
const HTAB_ELEM_HEADER: u64 = 48;
/// "No slot" in the iteration links.
const NIL: u32 = u32::MAX;

/// A hash map: plain or per-CPU, with or without LRU eviction.
#[derive(Debug)]
pub struct HashTab {
    def: MapDef,
    percpu: bool,
    lru: bool,
    /// CPUs with their own copy: `nr_cpus` for per-CPU maps, else 1.
    planes: u32,
    /// The values' `bpf_spin_lock`, if they hold one (plain hash only).
    lock: Option<SpinLockField>,
    table: RwLock<Table>,
}

/// Where an update's value comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A program's `value_size` bytes for one CPU's copy (plane).
    OneCpu { value: &'a [u8], plane: usize },
    /// The control plane's buffer: `value_size` bytes for a plain map, every
    /// CPU's 8-byte-rounded copy for a per-CPU map.
    AllCpus(&'a [u8]),
}

/// What a slot holds, beside its value.
#[derive(Debug, Default)]
struct SlotMeta {
    /// The element's key; empty while the slot is free.
    key: Box<[u8]>,
    /// The slots before and after this one in iteration order.
    prev: u32,
    next: u32,
    /// Recency, for LRU maps.
    lru: LruNode,
}

/// The mutable state behind the lock.
#[derive(Debug)]
struct Table {
    /// Key to slot, for every live element.
    index: IndexMap<Box<[u8]>, u32>,
    /// One entry per slot handed out so far (live, retired or free).
    slots: Vec<SlotMeta>,
    /// Ends of the iteration list of live slots.
    head: u32,
    tail: u32,
    /// Value memory and slot reuse after grace periods.
    pool: SlotPool,
    /// Recency order, for LRU maps.
    lru: Option<LruList>,
}

impl HashTab {
    /// Creates a hash map (`def.map_type` is `HASH`, `PERCPU_HASH`,
    /// `LRU_HASH` or `LRU_PERCPU_HASH`) in the global grace-period domain,
    /// with the kernel's `htab_map_alloc_check` rules; `nr_cpus` matters
    /// for per-CPU maps only.
    pub fn new(def: &MapDef, nr_cpus: u32) -> Result<Self, MapError> {
        Self::new_in(def, nr_cpus, Domain::global())
    }

    /// [`HashTab::new`] in grace-period domain `domain`: slots of deleted
    /// elements are reused once its workers have passed quiescent points.
    pub fn new_in(def: &MapDef, nr_cpus: u32, domain: &Arc<Domain>) -> Result<Self, MapError> {
        Self::new_with_lock(def, nr_cpus, domain, None)
    }

    /// [`HashTab::new_in`] for values holding a `bpf_spin_lock` at byte
    /// `spin_lock_off` (when `Some`): plain hash maps only
    /// (`-EOPNOTSUPP` for per-CPU and LRU ones, as `map_check_btf`), the
    /// lock a 4-byte aligned word of the value.
    pub fn new_with_lock(
        def: &MapDef,
        nr_cpus: u32,
        domain: &Arc<Domain>,
        spin_lock_off: Option<u32>,
    ) -> Result<Self, MapError> {
        let (percpu, lru) = match def.map_type {
            map_type::HASH => (false, false),
            map_type::PERCPU_HASH => (true, false),
            map_type::LRU_HASH => (false, true),
            map_type::LRU_PERCPU_HASH => (true, true),
            other => {
                return Err(def.invalid(format!("{} is not a hash map", map_type::describe(other))));
            }
        };
        check_def(def, percpu, lru, nr_cpus)?;
        let lock = spin_lock_off
            .map(|off| SpinLockField::new(def, off))
            .transpose()?;
        let planes = if percpu { nr_cpus } else { 1 };
        let pool = SlotPool::new(def.value_stride(), planes as usize, def.max_entries, domain)
            .map_err(|e| MapError::NoMemory {
                name: def.name.clone(),
                bytes: e.bytes,
            })?;
        Ok(Self {
            def: def.clone(),
            percpu,
            lru,
            planes,
            lock,
            table: RwLock::new(Table {
                index: IndexMap::new(),
                slots: Vec::new(),
                head: NIL,
                tail: NIL,
                pool,
                lru: lru.then(LruList::default),
            }),
        })
    }

    /// The number of elements in the map.
    pub fn len(&self) -> usize {
        self.read().index.len()
    }

    /// Whether the map has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> RwLockReadGuard<'_, Table> {
        // No code panics while holding the lock; if one did, the table is
        // still consistent between operations, so poisoning is ignored.
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The checks of `htab_map_update_elem` that come before the element
    /// is looked up: unknown flags, then `BPF_F_LOCK`.
    fn check_flags(&self, flags: u64) -> Result<(), MapError> {
        // Per-CPU and LRU maps accept no BPF_F_LOCK at all
        // (`map_flags > BPF_EXIST`).
        let lock_ok = if self.percpu || self.lru {
            0
        } else {
            BPF_F_LOCK
        };
        if flags & !lock_ok > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        if flags & BPF_F_LOCK != 0 && self.lock.is_none() {
            return Err(MapError::LockWithoutSpinLock);
        }
        Ok(())
    }

    /// A `BPF_F_LOCK` update of an existing element: the value is written
    /// in place under its lock. `None` when the key is missing (the
    /// update then creates the element as any other does).
    fn update_locked(
        &self,
        key: &[u8],
        src: Source<'_>,
        flags: u64,
    ) -> Option<Result<(), MapError>> {
        let lock = self.lock?;
        let table = self.read();
        let slot = *table.index.get(key)?;
        if flags & !BPF_F_LOCK == BPF_NOEXIST {
            return Some(Err(MapError::Exists));
        }
        let value = match src {
            Source::OneCpu { value, .. } | Source::AllCpus(value) => value,
        };
        let dst = table.pool.values().slot_ptr(slot as usize, 0)?;
        // SAFETY: `dst` is the live element's value (the table's read lock
        // keeps it from being retired meanwhile); `value` is `value_size`
        // bytes (a plain map's, checked by the callers).
        unsafe { lock.copy_in_locked(dst, value) };
        Some(Ok(()))
    }

    /// The common body of program and control-plane updates.
    fn update_elem(&self, key: &[u8], src: Source<'_>, flags: u64) -> Result<(), MapError> {
        self.def.check_key(key)?;
        if flags & BPF_F_LOCK != 0
            && let Some(done) = self.update_locked(key, src, flags)
        {
            return done;
        }
        let mut table = self.write();
        let table = &mut *table;
        // An LRU update takes a free element before it looks at the key,
        // evicting when there is none; a per-CPU one only when it may
        // create the element.
        if self.lru && (!self.percpu || flags != BPF_EXIST) {
            table.make_room(self.def.max_entries);
        }
        let old = table.index.get(key).copied();
        match (old, flags & !BPF_F_LOCK) {
            (Some(_), BPF_NOEXIST) => return Err(MapError::Exists),
            (None, BPF_EXIST) => return Err(MapError::NoEntry),
            _ => {}
        }
        match old {
            // The element appeared since `update_locked` looked.
            Some(slot) if flags & BPF_F_LOCK != 0 => {
                let dst = table.pool.values().slot_ptr(slot as usize, 0);
                if let (
                    Some(lock),
                    Some(dst),
                    Source::AllCpus(value) | Source::OneCpu { value, .. },
                ) = (self.lock, dst, src)
                {
                    // SAFETY: as in `update_locked`, under the write lock.
                    unsafe { lock.copy_in_locked(dst, value) };
                }
                Ok(())
            }
            Some(slot) if self.percpu => {
                table.write_value(slot, src, false, None);
                if let Some(lru) = &table.lru {
                    lru.touch(&table.slots[slot as usize].lru);
                }
                Ok(())
            }
            Some(old) => {
                let new = self.alloc_slot(table)?;
                table.write_value(new, src, true, self.lock);
                table.replace(old, new);
                Ok(())
            }
            None => {
                if table.index.len() >= self.def.max_entries as usize {
                    return Err(MapError::Full {
                        max_entries: self.def.max_entries,
                    });
                }
                let new = self.alloc_slot(table)?;
                table.write_value(new, src, true, self.lock);
                table.link(new, key);
                Ok(())
            }
        }
    }

    /// A slot for a new element, with metadata.
    fn alloc_slot(&self, table: &mut Table) -> Result<u32, MapError> {
        let slot = table
            .pool
            .alloc()
            .map_err(|NoSlot { bytes }| MapError::NoMemory {
                name: self.def.name.clone(),
                bytes,
            })?;
        if slot as usize == table.slots.len() {
            table.slots.push(SlotMeta::default());
        }
        Ok(slot)
    }

    /// The plane for CPU `cpu`: its own for per-CPU maps, else the only one.
    fn plane(&self, cpu: u32) -> Result<usize, MapError> {
        match self.percpu {
            true if cpu < self.planes => Ok(cpu as usize),
            true => Err(MapError::BadCpu {
                cpu,
                nr_cpus: self.planes,
            }),
            false => Ok(0),
        }
    }
}

impl Table {
    /// Writes an update's value into `slot`. A fresh slot is zeroed first,
    /// so a per-CPU element a program creates reads zero on other CPUs, as
    /// the kernel's `pcpu_init_value` does, and a value's spin lock
    /// (`lock`), which is never copied from the update, starts free.
    fn write_value(&self, slot: u32, src: Source<'_>, fresh: bool, lock: Option<SpinLockField>) {
        let slot = slot as usize;
        let values = self.pool.values();
        if fresh {
            values.zero(slot);
        }
        let value = match src {
            Source::OneCpu { value, .. } | Source::AllCpus(value) => value,
        };
        if let (Some(lock), Some(dst)) = (lock, values.slot_ptr(slot, 0)) {
            // SAFETY: `dst` is the slot's value, not yet visible to anyone
            // else; maps with locks are plain, so `value` is `value_size`
            // bytes.
            unsafe { lock.copy_in(dst, value) };
            return;
        }
        match src {
            Source::OneCpu { value, plane } => {
                values.write(slot, plane, value);
            }
            Source::AllCpus(buf) => {
                // Whole 8-byte-rounded copies per CPU, as the kernel's
                // `pcpu_copy_value` (a plain map's buffer is one value).
                for (plane, src) in buf.chunks(values.stride()).enumerate() {
                    values.write(slot, plane, src);
                }
            }
        }
    }

    /// LRU maps: evicts the least recently used element while the map
    /// holds `max_entries` or more.
    fn make_room(&mut self, max_entries: u32) {
        while self.index.len() >= max_entries as usize {
            let Some(lru) = self.lru.as_mut() else { return };
            let slots = &self.slots;
            let Some(victim) = lru.victim(|s| &slots[s as usize].lru) else {
                return;
            };
            self.unlink(victim);
        }
    }

    /// Adds a new element in `slot` at the end of the iteration order.
    fn link(&mut self, slot: u32, key: &[u8]) {
        let tail = self.tail;
        let meta = &mut self.slots[slot as usize];
        meta.key = key.into();
        meta.prev = tail;
        meta.next = NIL;
        if let Some(lru) = self.lru.as_mut() {
            lru.insert(slot, &mut meta.lru);
        }
        match tail {
            NIL => self.head = slot,
            t => self.slots[t as usize].next = slot,
        }
        self.tail = slot;
        self.index.insert(key.into(), slot);
    }

    /// Unlinks the element in `slot` and retires the slot.
    fn unlink(&mut self, slot: u32) {
        let meta = std::mem::take(&mut self.slots[slot as usize]);
        if let Some(lru) = self.lru.as_mut() {
            lru.remove(&meta.lru);
        }
        self.index.remove(&meta.key);
        self.set_next(meta.prev, meta.next);
        self.set_prev(meta.next, meta.prev);
        self.pool.retire(slot);
    }

    /// Moves the element in `old` to `new` (already holding the new value):
    /// same key, same place in the iteration order, most recently used;
    /// retires `old`.
    fn replace(&mut self, old: u32, new: u32) {
        let mut meta = std::mem::take(&mut self.slots[old as usize]);
        self.set_next(meta.prev, new);
        self.set_prev(meta.next, new);
        if let Some(entry) = self.index.get_mut(&meta.key) {
            *entry = new;
        }
        if let Some(lru) = self.lru.as_mut() {
            lru.remove(&meta.lru);
            lru.insert(new, &mut meta.lru);
        }
        self.slots[new as usize] = meta;
        self.pool.retire(old);
    }

    /// Points `slot`'s forward link (or the head) at `next`.
    fn set_next(&mut self, slot: u32, next: u32) {
        match slot {
            NIL => self.head = next,
            s => self.slots[s as usize].next = next,
        }
    }

    /// Points `slot`'s backward link (or the tail) at `prev`.
    fn set_prev(&mut self, slot: u32, prev: u32) {
        match slot {
            NIL => self.tail = prev,
            s => self.slots[s as usize].prev = prev,
        }
    }

    /// The key of the live element in `slot`.
    fn key_of(&self, slot: u32) -> &[u8] {
        &self.slots[slot as usize].key
    }
}

/// The kernel's `htab_map_alloc_check`, in its order.
fn check_def(def: &MapDef, percpu: bool, lru: bool, nr_cpus: u32) -> Result<(), MapError> {
    def.check_flags(
        BPF_F_NO_PREALLOC
            | BPF_F_NO_COMMON_LRU
            | BPF_F_NUMA_NODE
            | BPF_F_ACCESS_MASK
            | BPF_F_ZERO_SEED,
    )?;
    let percpu_lru = def.flags & BPF_F_NO_COMMON_LRU != 0;
    if !lru && percpu_lru {
        return Err(def.invalid("BPF_F_NO_COMMON_LRU is for LRU maps only"));
    }
    if lru && def.flags & BPF_F_NO_PREALLOC != 0 {
        return Err(def.not_supported("LRU maps are always preallocated (BPF_F_NO_PREALLOC)"));
    }
    // A NUMA node makes no sense for per-CPU memory.
    if def.flags & BPF_F_NUMA_NODE != 0 && (percpu || percpu_lru) {
        return Err(def.invalid("BPF_F_NUMA_NODE with per-CPU values or LRU lists"));
    }
    if def.max_entries == 0 {
        return Err(def.invalid("max_entries is 0"));
    }
    if def.key_size == 0 {
        return Err(def.invalid("key_size is 0"));
    }
    if def.value_size == 0 {
        return Err(def.invalid("value_size is 0"));
    }
    if u64::from(def.key_size) + u64::from(def.value_size) >= KMALLOC_MAX_SIZE - HTAB_ELEM_HEADER {
        return Err(def.too_big(format!(
            "key_size {} + value_size {} too large for one element",
            def.key_size, def.value_size
        )));
    }
    if percpu && def.value_stride() > PCPU_MIN_UNIT_SIZE {
        return Err(def.too_big(format!(
            "per-CPU value_size {} exceeds {PCPU_MIN_UNIT_SIZE}",
            def.value_size
        )));
    }
    if percpu && nr_cpus == 0 {
        return Err(def.invalid("a per-CPU map needs at least one CPU"));
    }
    Ok(())
}

impl Map for HashTab {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn nr_cpus(&self) -> u32 {
        self.planes
    }

    fn lookup_percpu(&self, key: &[u8], cpu: u32) -> Option<*mut u8> {
        let plane = self.plane(cpu).ok()?;
        let table = self.read();
        let slot = *table.index.get(key)?;
        if let Some(lru) = &table.lru {
            lru.touch(&table.slots[slot as usize].lru);
        }
        table.pool.values().slot_ptr(slot as usize, plane)
    }

    fn update_percpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: u32,
    ) -> Result<(), MapError> {
        self.check_flags(flags)?;
        MapDef::check_value(value, self.def.value_size as usize)?;
        let plane = self.plane(cpu)?;
        self.update_elem(key, Source::OneCpu { value, plane }, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.def.check_key(key)?;
        let mut table = self.write();
        let slot = *table.index.get(key).ok_or(MapError::NoEntry)?;
        table.unlink(slot);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        self.def.check_key(next)?;
        if let Some(key) = key {
            self.def.check_key(key)?;
        }
        let table = self.read();
        // A missing key restarts the walk from the first element.
        let slot = match key.and_then(|k| table.index.get(k)) {
            Some(&slot) => table.slots[slot as usize].next,
            None => table.head,
        };
        if slot == NIL {
            return Err(MapError::NoEntry);
        }
        next.copy_from_slice(table.key_of(slot));
        Ok(())
    }

    fn user_value_size(&self) -> usize {
        match self.percpu {
            true => self.def.value_stride() * self.planes as usize,
            false => self.def.value_size as usize,
        }
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.lookup_copy_flags(key, 0)
    }

    fn lookup_copy_flags(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        self.def
            .check_sys_lookup_flags(flags, self.lock.is_some())?;
        self.def.check_key(key)?;
        let mut out = vec![0; self.user_value_size()];
        let stride = self.def.value_stride();
        let table = self.read();
        let slot = *table.index.get(key).ok_or(MapError::NoEntry)? as usize;
        for (plane, dst) in out.chunks_mut(stride).enumerate() {
            match (self.lock, table.pool.values().slot_ptr(slot, plane)) {
                // SAFETY: `src` is the live element's value (the read lock
                // keeps it); `dst` is `value_size` bytes (a plain map's).
                (Some(lock), Some(src)) => unsafe {
                    lock.copy_out(src, dst, flags & BPF_F_LOCK != 0)
                },
                _ => {
                    table.pool.values().read(slot, plane, dst);
                }
            }
        }
        Ok(out)
    }

    fn spin_lock_off(&self) -> Option<u32> {
        self.lock.map(SpinLockField::off)
    }

    fn update_copy(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update_lock(flags, self.lock.is_some())?;
        self.check_flags(flags)?;
        MapDef::check_value(value, self.user_value_size())?;
        self.update_elem(key, Source::AllCpus(value), flags)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
