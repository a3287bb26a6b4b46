//! `BPF_MAP_TYPE_XSKMAP`: the AF_XDP sockets `bpf_redirect_map` delivers
//! frames to, after the kernel's net/xdp/xskmap.c.
//!
//! A value is a socket: in `bpf(2)` an fd, in rxdp an opaque `u32` handle
//! the xdp layer hands out; the map stores it and
//! [`Map::redirect_target`] returns it. A program lookup returns a pointer
//! to the stored handle (the kernel returns the socket), which stays
//! valid until a grace period after the entry is replaced or removed.
//!
//! Kernel rules kept: key_size 4, value_size 4, `max_entries` > 0, only
//! `BPF_F_NUMA_NODE`, `BPF_F_RDONLY` and `BPF_F_WRONLY` (`-EINVAL`);
//! updates: flags above `BPF_EXIST` `-EINVAL`, an index past the end
//! `-E2BIG`, `BPF_NOEXIST` on a set entry `-EEXIST`, `BPF_EXIST` on an
//! empty one `-ENOENT`; deletes past the end `-EINVAL`, of empty entries
//! success; control-plane lookups `-EOPNOTSUPP`.

use std::any::Any;
use std::sync::Arc;

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::entries::{Entries, key_u32};
use crate::error::MapError;
use crate::flags::{BPF_EXIST, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY, BPF_NOEXIST};
use crate::map::Map;
use crate::map_type;
use crate::prog_array::array_next_key;

/// An AF_XDP socket map.
#[derive(Debug)]
pub struct XskMap {
    def: MapDef,
    entries: Entries,
}

impl XskMap {
    /// Creates an xskmap in grace-period domain `domain`.
    pub fn new_in(def: &MapDef, domain: &Arc<Domain>) -> Result<Self, MapError> {
        if def.map_type != map_type::XSKMAP {
            return Err(def.invalid("not an xskmap"));
        }
        if def.max_entries == 0 || def.key_size != 4 || def.value_size != 4 {
            return Err(def.invalid(format!(
                "xskmap needs key_size 4, value_size 4 and max_entries > 0 (got {}, {}, {})",
                def.key_size, def.value_size, def.max_entries
            )));
        }
        def.check_flags(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)?;
        Ok(Self {
            def: def.clone(),
            entries: Entries::new(def, domain)?,
        })
    }

    fn update_elem(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        let index = key_u32(&self.def, key)?;
        MapDef::check_value(value, 4)?;
        if index >= self.def.max_entries {
            return Err(MapError::IndexOutOfRange {
                index,
                max_entries: self.def.max_entries,
            });
        }
        self.entries
            .insert(index, value, |exists, _| match (exists, flags) {
                (true, BPF_NOEXIST) => Err(MapError::Exists),
                (false, BPF_EXIST) => Err(MapError::NoEntry),
                _ => Ok(()),
            })
    }
}

impl Map for XskMap {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, key: &[u8], _cpu: u32) -> Option<*mut u8> {
        self.entries.ptr(key_u32(&self.def, key).ok()?)
    }

    fn update_percpu(&self, key: &[u8], value: &[u8], flags: u64, _: u32) -> Result<(), MapError> {
        self.update_elem(key, value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let index = key_u32(&self.def, key)?;
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
        array_next_key(&self.def, key, next)
    }

    fn lookup_copy(&self, _key: &[u8]) -> Result<Vec<u8>, MapError> {
        // xsk_map_lookup_elem_sys: sockets cannot be read back.
        Err(MapError::OpNotSupported)
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
