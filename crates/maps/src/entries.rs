//! Small fixed-size values keyed by a `u32`, each in its own slot: the
//! storage of the redirect maps (devmap, devmap_hash, cpumap, xskmap).
//!
//! Programs may look these values up and keep the pointer for the rest of
//! their run, so an entry that is replaced or removed keeps its slot, with
//! its old contents, until a grace period has passed (see `slots`), as the
//! kernel frees a `bpf_dtab_netdev` with `call_rcu`. Keys are kept in
//! order, which gives `get_next_key` of the hash-shaped devmap_hash.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::error::MapError;
use crate::slots::{NoSlot, SlotPool};

/// Keyed values with grace-period reuse of their slots.
#[derive(Debug)]
pub(crate) struct Entries {
    name: String,
    value_size: usize,
    table: RwLock<Table>,
}

#[derive(Debug)]
struct Table {
    /// Key to slot.
    keys: BTreeMap<u32, u32>,
    pool: SlotPool,
}

impl Entries {
    /// Storage for up to `def.max_entries` values of `def.value_size`.
    pub(crate) fn new(def: &MapDef, domain: &Arc<Domain>) -> Result<Self, MapError> {
        let pool = SlotPool::new(def.value_stride(), 1, def.max_entries, domain).map_err(|e| {
            MapError::NoMemory {
                name: def.name.clone(),
                bytes: e.bytes,
            }
        })?;
        Ok(Self {
            name: def.name.clone(),
            value_size: def.value_size as usize,
            table: RwLock::new(Table {
                keys: BTreeMap::new(),
                pool,
            }),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Table> {
        // Nothing panics under the lock; the table stays consistent.
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.read().keys.len()
    }

    /// Whether `key` has an entry.
    pub(crate) fn contains(&self, key: u32) -> bool {
        self.read().keys.contains_key(&key)
    }

    /// The address of `key`'s value.
    pub(crate) fn ptr(&self, key: u32) -> Option<*mut u8> {
        let table = self.read();
        let slot = *table.keys.get(&key)?;
        table.pool.values().slot_ptr(slot as usize, 0)
    }

    /// A copy of `key`'s value.
    pub(crate) fn copy(&self, key: u32) -> Option<Vec<u8>> {
        let table = self.read();
        let slot = *table.keys.get(&key)?;
        let mut out = vec![0; self.value_size];
        table.pool.values().read(slot as usize, 0, &mut out);
        Some(out)
    }

    /// The first native-endian `u32` of `key`'s value (an ifindex, a
    /// socket handle), without allocating.
    pub(crate) fn first_word(&self, key: u32) -> Option<u32> {
        let table = self.read();
        let slot = *table.keys.get(&key)?;
        let mut word = [0; 4];
        table.pool.values().read(slot as usize, 0, &mut word);
        Some(u32::from_ne_bytes(word))
    }

    /// Stores `value` under `key` in a fresh slot; the old value, if any,
    /// is retired. `admit` sees whether the key exists and the number of
    /// entries, and may refuse.
    pub(crate) fn insert(
        &self,
        key: u32,
        value: &[u8],
        admit: impl FnOnce(bool, usize) -> Result<(), MapError>,
    ) -> Result<(), MapError> {
        let mut table = self.write();
        admit(table.keys.contains_key(&key), table.keys.len())?;
        let slot = table
            .pool
            .alloc()
            .map_err(|NoSlot { bytes }| MapError::NoMemory {
                name: self.name.clone(),
                bytes,
            })?;
        table.pool.values().zero(slot as usize);
        table.pool.values().write(slot as usize, 0, value);
        if let Some(old) = table.keys.insert(key, slot) {
            table.pool.retire(old);
        }
        Ok(())
    }

    /// Removes `key`'s entry; whether there was one.
    pub(crate) fn remove(&self, key: u32) -> bool {
        let mut table = self.write();
        match table.keys.remove(&key) {
            Some(slot) => {
                table.pool.retire(slot);
                true
            }
            None => false,
        }
    }

    /// The smallest key after `key` (the first key when `key` is `None` or
    /// has no entry).
    pub(crate) fn next_key(&self, key: Option<u32>) -> Option<u32> {
        let table = self.read();
        match key.filter(|k| table.keys.contains_key(k)) {
            Some(k) => table.keys.range(k + 1..).next().map(|(&k, _)| k),
            None => table.keys.keys().next().copied(),
        }
    }
}

/// A 4-byte key as a `u32`.
pub(crate) fn key_u32(def: &MapDef, key: &[u8]) -> Result<u32, MapError> {
    def.check_key(key)?;
    Ok(u32::from_ne_bytes(key.try_into().unwrap_or_default()))
}
