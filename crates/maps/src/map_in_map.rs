//! `BPF_MAP_TYPE_ARRAY_OF_MAPS` and `BPF_MAP_TYPE_HASH_OF_MAPS`: maps whose
//! values are other maps, after the kernel's kernel/bpf/map_in_map.c with
//! arraymap.c and hashtab.c.
//!
//! An outer map is created with an inner-map *template* (the kernel's
//! `inner_map_fd`); every map stored must match it as
//! `bpf_map_meta_equal` checks: same type, key size, value size and flags,
//! and, for array templates without `BPF_F_INNER_MAP`, the same
//! `max_entries` (`-EINVAL`, naming the first field that differs). A
//! template may not itself be a map-in-map (`-ENOTSUPP`).
//!
//! The control plane stores maps with [`MapInMap::set`] (a map and the id
//! `BPF_MAP_LOOKUP_ELEM` returns for it; raw values are `-EBADF`). A
//! program's lookup returns a pointer to the stored `Arc<dyn Map>` (the
//! kernel returns the inner `struct bpf_map *`), which the helper layer
//! reads as `*const Arc<dyn Map>`; [`Map::inner_map`] gives the same map as
//! a clone. A replaced or removed inner map, and the pointer to it, stay
//! valid until a grace period has passed.
//!
//! Array of maps: 4-byte index keys, updates with `BPF_ANY` only
//! (`-EINVAL`), `-E2BIG` past the end, deleting an empty index `-ENOENT`,
//! iteration over every index. Hash of maps: the hash map's flags
//! (`BPF_NOEXIST` `-EEXIST`, `BPF_EXIST` `-ENOENT`, a new key in a full map
//! `-E2BIG`), keys iterated in byte order.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{
    BPF_ANY, BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE, BPF_F_ZERO_SEED, BPF_NOEXIST,
};
use crate::map::Map;
use crate::map_type;
use crate::prog_array::{array_next_key, check_fd_array_def, fd_array_index};

/// An array or hash of maps.
#[derive(Debug)]
pub struct MapInMap {
    def: MapDef,
    template: MapDef,
    hash: bool,
    domain: Arc<Domain>,
    entries: RwLock<BTreeMap<Box<[u8]>, Box<Inner>>>,
}

/// A stored inner map. Boxed so that the `Arc` programs point at keeps
/// its address until the entry is reclaimed.
#[derive(Debug)]
struct Inner {
    /// The `Arc` first: the pointer programs get is the `Inner`'s.
    map: Arc<dyn Map>,
    id: u32,
}

impl MapInMap {
    /// Creates an array or hash of maps whose inner maps must match
    /// `template`, in grace-period domain `domain`.
    pub fn new_in(def: &MapDef, template: &MapDef, domain: &Arc<Domain>) -> Result<Self, MapError> {
        let hash = match def.map_type {
            map_type::ARRAY_OF_MAPS => false,
            map_type::HASH_OF_MAPS => true,
            _ => return Err(def.invalid("not a map of maps")),
        };
        if matches!(
            template.map_type,
            map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS
        ) {
            return Err(def.not_supported("an inner map may not itself hold maps"));
        }
        match hash {
            false => check_fd_array_def(def)?,
            true => check_fd_htab_def(def)?,
        }
        Ok(Self {
            def: def.clone(),
            template: template.clone(),
            hash,
            domain: Arc::clone(domain),
            entries: RwLock::new(BTreeMap::new()),
        })
    }

    /// The inner-map template.
    pub fn template(&self) -> &MapDef {
        &self.template
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<Box<[u8]>, Box<Inner>>> {
        // Nothing panics under the lock; the table stays consistent.
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<Box<[u8]>, Box<Inner>>> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `map` (known to the control plane as `id`) under `key`
    /// (`BPF_MAP_UPDATE_ELEM` with a map fd). The map it replaces is
    /// dropped after a grace period.
    pub fn set(&self, key: &[u8], id: u32, map: Arc<dyn Map>, flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        self.check_update(key, flags)?;
        check_compatible(&self.template, map.def())?;
        let mut entries = self.write();
        let exists = entries.contains_key(key);
        if self.hash {
            match (exists, flags) {
                (true, BPF_NOEXIST) => return Err(MapError::Exists),
                (false, BPF_EXIST) => return Err(MapError::NoEntry),
                (false, _) if entries.len() >= self.def.max_entries as usize => {
                    return Err(MapError::Full {
                        max_entries: self.def.max_entries,
                    });
                }
                _ => {}
            }
        }
        let old = entries.insert(key.into(), Box::new(Inner { map, id }));
        drop(entries);
        self.drop_later(old);
        Ok(())
    }

    /// The flag and key checks before an update looks at the entries.
    fn check_update(&self, key: &[u8], flags: u64) -> Result<(), MapError> {
        if !self.hash {
            if flags != BPF_ANY {
                return Err(MapError::BadFlags { flags });
            }
            fd_array_index(&self.def, key)?;
            return Ok(());
        }
        if flags & !BPF_F_LOCK > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        if flags & BPF_F_LOCK != 0 {
            return Err(MapError::LockWithoutSpinLock);
        }
        self.def.check_key(key)
    }

    /// Drops an entry no longer in the table after a grace period.
    fn drop_later(&self, old: Option<Box<Inner>>) {
        if let Some(old) = old {
            self.domain.defer(Box::new(move || drop(old)));
        }
    }

    /// The error for a raw value where a map reference is needed.
    fn raw_value(value: &[u8]) -> MapError {
        MapError::BadHandle {
            what: "map",
            value: value.try_into().map(u32::from_ne_bytes).unwrap_or_default(),
        }
    }
}

/// The kernel's `fd_htab_map_alloc_check`: a 4-byte value, then the hash
/// map checks (no LRU or per-CPU flags).
fn check_fd_htab_def(def: &MapDef) -> Result<(), MapError> {
    if def.value_size != 4 {
        return Err(def.invalid(format!(
            "value_size is {}, a hash of maps needs 4",
            def.value_size
        )));
    }
    def.check_flags(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED)?;
    if def.max_entries == 0 || def.key_size == 0 {
        return Err(def.invalid("max_entries and key_size must not be 0"));
    }
    Ok(())
}

/// `bpf_map_meta_equal` and `array_map_meta_equal`: `inner` may be stored
/// in a map whose template is `template`.
pub fn check_compatible(template: &MapDef, inner: &MapDef) -> Result<(), MapError> {
    let differs = |field, expected: u32, got: u32| {
        (expected != got).then_some(MapError::InnerMapMismatch {
            field,
            expected: expected.into(),
            got: got.into(),
        })
    };
    let is_array = matches!(template.map_type, map_type::ARRAY | map_type::PERCPU_ARRAY);
    let check_max = is_array && template.flags & BPF_F_INNER_MAP == 0;
    let first = differs("map_type", template.map_type, inner.map_type)
        .or_else(|| differs("key_size", template.key_size, inner.key_size))
        .or_else(|| differs("value_size", template.value_size, inner.value_size))
        .or_else(|| differs("map_flags", template.flags, inner.flags))
        .or_else(|| {
            check_max
                .then(|| differs("max_entries", template.max_entries, inner.max_entries))
                .flatten()
        });
    first.map_or(Ok(()), Err)
}

impl Map for MapInMap {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, key: &[u8], _cpu: u32) -> Option<*mut u8> {
        let entries = self.read();
        let inner: &Inner = entries.get(key)?;
        Some(std::ptr::from_ref(&inner.map).cast_mut().cast())
    }

    fn update_percpu(&self, _: &[u8], value: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        Err(Self::raw_value(value))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        if !self.hash {
            fd_array_index(&self.def, key)?;
        } else {
            self.def.check_key(key)?;
        }
        let old = self.write().remove(key);
        if old.is_none() {
            return Err(MapError::NoEntry);
        }
        self.drop_later(old);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        if !self.hash {
            return array_next_key(&self.def, key, next);
        }
        self.def.check_key(next)?;
        let entries = self.read();
        let found = match key.filter(|k| entries.contains_key(*k)) {
            Some(k) => entries
                .range::<[u8], _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                .next(),
            None => entries.iter().next(),
        };
        next.copy_from_slice(found.ok_or(MapError::NoEntry)?.0);
        Ok(())
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.def.check_sys_lookup()?;
        self.def.check_key(key)?;
        let id = self.read().get(key).map(|i| i.id);
        Ok(id.ok_or(MapError::NoEntry)?.to_ne_bytes().to_vec())
    }

    fn update_copy(&self, _key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        Err(Self::raw_value(value))
    }

    fn inner_map(&self, key: &[u8]) -> Option<Arc<dyn Map>> {
        self.read().get(key).map(|i| Arc::clone(&i.map))
    }

    fn inner_template(&self) -> Option<&MapDef> {
        Some(&self.template)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
