//! `BPF_MAP_TYPE_DEVMAP` and `BPF_MAP_TYPE_DEVMAP_HASH`: the devices
//! `bpf_redirect_map` sends frames to, after the kernel's
//! kernel/bpf/devmap.c.
//!
//! A value is `struct bpf_devmap_val { u32 ifindex; union { int fd; u32 id;
//! } bpf_prog; }`, or just its 4-byte ifindex (`value_size` 4 or 8). rxdp
//! stores the value as given and [`Map::redirect_target`] returns its
//! ifindex; a program to run on redirected frames is recorded by number
//! (the xdp layer resolves it) and does not run here. The maps layer knows
//! no devices, so any non-zero ifindex is accepted.
//!
//! Kernel rules kept: key_size 4, value_size 4 or 8, `max_entries` > 0,
//! only `BPF_F_NUMA_NODE`, `BPF_F_RDONLY` and `BPF_F_WRONLY` at creation
//! (`-EINVAL`), and `BPF_F_RDONLY_PROG` is added, since programs see the
//! value through a pointer. DEVMAP is an array: `BPF_NOEXIST` is
//! `-EEXIST`, an index past the end `-E2BIG` (delete: `-EINVAL`), ifindex
//! 0 empties the entry (with a program fd: `-EINVAL`), delete of an empty
//! entry succeeds, and iteration visits every index. DEVMAP_HASH refuses
//! ifindex 0 (`-EINVAL`), a new key in a full map (`-E2BIG`), deleting a
//! missing key (`-ENOENT`), and accepts `BPF_EXIST` on a missing key, as
//! `__dev_map_hash_update_elem` does.

use std::any::Any;
use std::sync::Arc;

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::entries::{Entries, key_u32};
use crate::error::MapError;
use crate::flags::{
    BPF_EXIST, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_NOEXIST,
};
use crate::map::Map;
use crate::map_type;
use crate::prog_array::array_next_key;

/// A device map, array- or hash-shaped.
#[derive(Debug)]
pub struct DevMap {
    def: MapDef,
    hash: bool,
    entries: Entries,
}

/// A parsed `struct bpf_devmap_val`.
struct DevmapVal {
    ifindex: u32,
    prog_fd: i32,
}

impl DevMap {
    /// Creates a devmap or devmap_hash in grace-period domain `domain`.
    pub fn new_in(def: &MapDef, domain: &Arc<Domain>) -> Result<Self, MapError> {
        let hash = match def.map_type {
            map_type::DEVMAP => false,
            map_type::DEVMAP_HASH => true,
            _ => return Err(def.invalid("not a devmap")),
        };
        check_redirect_def(def, BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)?;
        let mut def = def.clone();
        def.flags |= BPF_F_RDONLY_PROG;
        Ok(Self {
            entries: Entries::new(&def, domain)?,
            def,
            hash,
        })
    }

    /// The number of devices stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no device is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn parse(&self, value: &[u8]) -> Result<DevmapVal, MapError> {
        MapDef::check_value(value, self.def.value_size as usize)?;
        let word = |at: usize| {
            value
                .get(at..at + 4)
                .map(|w| w.try_into().unwrap_or_default())
        };
        Ok(DevmapVal {
            ifindex: word(0).map(u32::from_ne_bytes).unwrap_or(0),
            prog_fd: word(4).map(i32::from_ne_bytes).unwrap_or(0),
        })
    }

    fn update_elem(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        let index = key_u32(&self.def, key)?;
        let val = self.parse(value)?;
        if self.hash {
            return self.hash_update(index, value, &val, flags);
        }
        if index >= self.def.max_entries {
            return Err(MapError::IndexOutOfRange {
                index,
                max_entries: self.def.max_entries,
            });
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        if val.ifindex == 0 {
            if val.prog_fd > 0 {
                return Err(MapError::Invalid(
                    "a program fd on a devmap entry without a device",
                ));
            }
            self.entries.remove(index);
            return Ok(());
        }
        self.entries.insert(index, value, |_, _| Ok(()))
    }

    fn hash_update(
        &self,
        key: u32,
        value: &[u8],
        val: &DevmapVal,
        flags: u64,
    ) -> Result<(), MapError> {
        if val.ifindex == 0 {
            return Err(MapError::Invalid("ifindex 0 in a devmap_hash"));
        }
        let max_entries = self.def.max_entries;
        self.entries.insert(key, value, |exists, len| {
            if exists && flags & BPF_NOEXIST != 0 {
                return Err(MapError::Exists);
            }
            if !exists && len >= max_entries as usize {
                return Err(MapError::Full { max_entries });
            }
            Ok(())
        })
    }
}

/// The creation checks the redirect maps share: key_size 4, value_size 4
/// or 8, `max_entries` > 0, flags within `allowed`.
pub(crate) fn check_redirect_def(def: &MapDef, allowed: u32) -> Result<(), MapError> {
    if def.max_entries == 0 {
        return Err(def.invalid("max_entries is 0"));
    }
    if def.key_size != 4 {
        return Err(def.invalid(format!("key_size is {}, expected 4", def.key_size)));
    }
    if def.value_size != 4 && def.value_size != 8 {
        return Err(def.invalid(format!("value_size is {}, expected 4 or 8", def.value_size)));
    }
    def.check_flags(allowed)
}

impl Map for DevMap {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, key: &[u8], _cpu: u32) -> Option<*mut u8> {
        self.entries.ptr(key_u32(&self.def, key).ok()?)
    }

    fn update_percpu(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        _cpu: u32,
    ) -> Result<(), MapError> {
        self.update_elem(key, value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let index = key_u32(&self.def, key)?;
        if self.hash {
            return match self.entries.remove(index) {
                true => Ok(()),
                false => Err(MapError::NoEntry),
            };
        }
        if index >= self.def.max_entries {
            return Err(MapError::BadIndex {
                index,
                max_entries: self.def.max_entries,
            });
        }
        self.entries.remove(index);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        if !self.hash {
            return array_next_key(&self.def, key, next);
        }
        self.def.check_key(next)?;
        let key = key.map(|k| key_u32(&self.def, k)).transpose()?;
        let found = self.entries.next_key(key).ok_or(MapError::NoEntry)?;
        next.copy_from_slice(&found.to_ne_bytes());
        Ok(())
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.def.check_sys_lookup()?;
        let index = key_u32(&self.def, key)?;
        self.entries.copy(index).ok_or(MapError::NoEntry)
    }

    fn update_copy(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        self.update_elem(key, value, flags)
    }

    fn redirect_target(&self, key: u32) -> Option<u32> {
        self.entries.first_word(key)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
