//! `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`, after the kernel's
//! kernel/bpf/arraymap.c.
//!
//! An array is preallocated and zeroed at creation: every index below
//! `max_entries` always exists, so `BPF_NOEXIST` fails with `-EEXIST`,
//! delete fails with `-EINVAL`, and an index past the end fails an update
//! with `-E2BIG` and a lookup with NULL. Keys are native-endian `u32`
//! indices. Element `i`'s value lives at `base + i * round_up(value_size, 8)`
//! for the whole life of the map, so generated code may compute it inline
//! ([`ArrayMap::plane_base`], [`ArrayMap::elem_size`]).
//!
//! A per-CPU array keeps one such array per CPU (worker); programs see
//! their own CPU's copy, the control plane all copies.
//!
//! A plain array's values may hold a `bpf_spin_lock` ([`ArrayMap::new_with_lock`]):
//! then updates never write the lock word, `BPF_F_LOCK` updates and
//! lookups copy under the lock, and control-plane lookups read the lock
//! word as zero (see the `spin_lock` module).

use std::any::Any;

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{
    BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_NUMA_NODE,
    BPF_NOEXIST,
};
use crate::map::Map;
use crate::map_type;
use crate::spin_lock::SpinLockField;
use crate::storage::ValueArena;

/// The kernel's `PCPU_MIN_UNIT_SIZE`: the largest per-CPU value (32 KiB).
pub(crate) const PCPU_MIN_UNIT_SIZE: usize = 32 << 10;

/// An array map, plain or per-CPU.
#[derive(Debug)]
pub struct ArrayMap {
    def: MapDef,
    /// CPUs with their own copy: `nr_cpus` for per-CPU arrays, else 1.
    planes: u32,
    percpu: bool,
    values: ValueArena,
    /// The values' `bpf_spin_lock`, if they hold one.
    lock: Option<SpinLockField>,
}

impl ArrayMap {
    /// Creates an array (`def.map_type` is `ARRAY` or `PERCPU_ARRAY`) with
    /// the kernel's `array_map_alloc_check` rules; `nr_cpus` matters for
    /// per-CPU arrays only.
    pub fn new(def: &MapDef, nr_cpus: u32) -> Result<Self, MapError> {
        Self::new_with_lock(def, nr_cpus, None)
    }

    /// [`ArrayMap::new`] for values holding a `bpf_spin_lock` at byte
    /// `spin_lock_off` (when `Some`): plain arrays only (`-EOPNOTSUPP`
    /// for per-CPU ones), the lock a 4-byte aligned word of the value.
    pub fn new_with_lock(
        def: &MapDef,
        nr_cpus: u32,
        spin_lock_off: Option<u32>,
    ) -> Result<Self, MapError> {
        let percpu = match def.map_type {
            map_type::ARRAY => false,
            map_type::PERCPU_ARRAY => true,
            other => {
                return Err(def.invalid(format!("{} is not an array", map_type::describe(other))));
            }
        };
        check_def(def, percpu, nr_cpus)?;
        let lock = spin_lock_off
            .map(|off| SpinLockField::new(def, off))
            .transpose()?;
        let planes = if percpu { nr_cpus } else { 1 };
        let entries = def.max_entries as usize;
        let oom = |bytes: u64| MapError::NoMemory {
            name: def.name.clone(),
            bytes,
        };
        let mut values = ValueArena::new(def.value_stride(), planes as usize, entries)
            .map_err(|e| oom(e.bytes))?;
        values.grow().map_err(|e| oom(e.bytes))?;
        Ok(Self {
            def: def.clone(),
            planes,
            percpu,
            values,
            lock,
        })
    }

    /// Bytes from one element's value to the next: `round_up(value_size, 8)`.
    pub fn elem_size(&self) -> usize {
        self.values.stride()
    }

    /// The address of element 0's value in CPU `cpu`'s copy (the only copy
    /// for plain arrays, whatever `cpu`); element `i` is at
    /// `plane_base + i * elem_size`. `None` for a CPU the map does not have.
    pub fn plane_base(&self, cpu: u32) -> Option<*mut u8> {
        self.values.slot_ptr(0, self.plane(cpu)?)
    }

    /// The plane holding CPU `cpu`'s values.
    fn plane(&self, cpu: u32) -> Option<usize> {
        match self.percpu {
            true if cpu < self.planes => Some(cpu as usize),
            true => None,
            false => Some(0),
        }
    }

    /// The index a key names, if the key is 4 bytes and below `max_entries`.
    fn index(&self, key: &[u8]) -> Option<usize> {
        let index = u32::from_ne_bytes(key.try_into().ok()?);
        (index < self.def.max_entries).then_some(index as usize)
    }

    /// The checks of `array_map_update_elem`, in the kernel's order: flags,
    /// then the index, then `BPF_NOEXIST`, then `BPF_F_LOCK`.
    fn check_update(&self, key: &[u8], flags: u64) -> Result<usize, MapError> {
        if flags & !BPF_F_LOCK > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        self.def.check_key(key)?;
        let index = self.index(key).ok_or_else(|| MapError::IndexOutOfRange {
            index: u32::from_ne_bytes(key.try_into().unwrap_or_default()),
            max_entries: self.def.max_entries,
        })?;
        if flags & BPF_NOEXIST != 0 {
            return Err(MapError::Exists);
        }
        if flags & BPF_F_LOCK != 0 && self.lock.is_none() {
            return Err(MapError::LockWithoutSpinLock);
        }
        Ok(index)
    }

    /// Writes one CPU's value `src` into element `index`: all of it, or,
    /// when the values hold a spin lock, all but the lock word, under the
    /// lock for `BPF_F_LOCK` (`array_map_update_elem`).
    fn store(&self, index: usize, plane: usize, src: &[u8], flags: u64) {
        let (Some(lock), Some(dst)) = (self.lock, self.values.slot_ptr(index, plane)) else {
            self.values.write(index, plane, src);
            return;
        };
        // SAFETY: `dst` is element `index`'s value, which lives as long as
        // the map; `src` is at most `value_size` bytes (checked by callers).
        unsafe {
            match flags & BPF_F_LOCK {
                0 => lock.copy_in(dst, src),
                _ => lock.copy_in_locked(dst, src),
            }
        }
    }
}

/// The kernel's `array_map_alloc_check`.
pub(crate) fn check_def(def: &MapDef, percpu: bool, nr_cpus: u32) -> Result<(), MapError> {
    if def.max_entries == 0 {
        return Err(def.invalid("max_entries is 0"));
    }
    if def.key_size != 4 {
        return Err(def.invalid(format!("key_size is {}, arrays need 4", def.key_size)));
    }
    if def.value_size == 0 {
        return Err(def.invalid("value_size is 0"));
    }
    // Only plain arrays may be mmap()ed or be inner-map templates; a NUMA
    // node makes no sense for per-CPU memory.
    let allowed = match percpu {
        false => BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_INNER_MAP,
        true => BPF_F_ACCESS_MASK,
    };
    def.check_flags(allowed)?;
    if def.value_size > i32::MAX as u32 {
        return Err(def.too_big(format!("value_size {} exceeds INT_MAX", def.value_size)));
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

impl Map for ArrayMap {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn nr_cpus(&self) -> u32 {
        self.planes
    }

    fn lookup_percpu(&self, key: &[u8], cpu: u32) -> Option<*mut u8> {
        self.values.slot_ptr(self.index(key)?, self.plane(cpu)?)
    }

    fn update_percpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: u32,
    ) -> Result<(), MapError> {
        let index = self.check_update(key, flags)?;
        MapDef::check_value(value, self.def.value_size as usize)?;
        let plane = self.plane(cpu).ok_or(MapError::BadCpu {
            cpu,
            nr_cpus: self.planes,
        })?;
        self.store(index, plane, value, flags);
        Ok(())
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::ArrayDelete)
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        self.def.check_key(next)?;
        let next_index = match key {
            None => 0,
            Some(key) => {
                self.def.check_key(key)?;
                match self.index(key) {
                    // A missing key restarts the walk.
                    None => 0,
                    Some(i) if i + 1 == self.def.max_entries as usize => {
                        return Err(MapError::NoEntry);
                    }
                    Some(i) => i as u32 + 1,
                }
            }
        };
        next.copy_from_slice(&next_index.to_ne_bytes());
        Ok(())
    }

    fn user_value_size(&self) -> usize {
        match self.percpu {
            true => self.elem_size() * self.planes as usize,
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
        let index = self.index(key).ok_or(MapError::NoEntry)?;
        let mut out = vec![0; self.user_value_size()];
        // Per-CPU copies are whole 8-byte-rounded slots, one per CPU, as
        // the kernel's `bpf_percpu_array_copy`; a plain array's value is
        // `value_size` bytes.
        let chunk = if self.percpu {
            self.elem_size()
        } else {
            out.len()
        };
        for (cpu, dst) in out.chunks_mut(chunk).enumerate() {
            match (self.lock, self.values.slot_ptr(index, cpu)) {
                // SAFETY: `src` is element `index`'s value, live as long as
                // the map; `dst` is `value_size` bytes (a plain array's).
                (Some(lock), Some(src)) => unsafe {
                    lock.copy_out(src, dst, flags & BPF_F_LOCK != 0)
                },
                _ => {
                    self.values.read(index, cpu, dst);
                }
            }
        }
        Ok(out)
    }

    fn update_copy(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update_lock(flags, self.lock.is_some())?;
        let index = self.check_update(key, flags)?;
        MapDef::check_value(value, self.user_value_size())?;
        let chunk = if self.percpu {
            self.elem_size()
        } else {
            value.len()
        };
        for (cpu, src) in value.chunks(chunk).enumerate() {
            self.store(index, cpu, src, flags);
        }
        Ok(())
    }

    fn spin_lock_off(&self) -> Option<u32> {
        self.lock.map(SpinLockField::off)
    }

    fn direct_value_addr(&self) -> Option<u64> {
        // The kernel's array_map_direct_value_addr: plain arrays with one
        // element (.data, .rodata, .bss) only.
        if self.percpu || self.def.max_entries != 1 {
            return None;
        }
        self.plane_base(0).map(|p| p as u64)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
