//! `BPF_MAP_TYPE_CPUMAP`: the CPUs `bpf_redirect_map` hands frames to,
//! after the kernel's kernel/bpf/cpumap.c. In rxdp a CPU is a worker.
//!
//! A key is a CPU number; a value is `struct bpf_cpumap_val { u32 qsize;
//! union { int fd; u32 id; } bpf_prog; }` or its 4-byte `qsize`. A
//! `qsize` of 0 empties the entry; [`Map::redirect_target`] returns the
//! CPU of a non-empty entry. A program to run on the target CPU is
//! recorded by number for the xdp layer.
//!
//! Kernel rules kept: key_size 4, value_size 4 or 8, `max_entries` > 0,
//! only `BPF_F_NUMA_NODE` (`-EINVAL`), and `max_entries` at most `NR_CPUS`
//! (`-E2BIG`) at creation; updates take `BPF_ANY` or `BPF_EXIST`
//! (`BPF_NOEXIST`: `-EEXIST`), an index past the end is `-E2BIG`, a
//! `qsize` over 16384 `-EOVERFLOW`, a CPU that is not a worker `-ENODEV`;
//! deletes past the end are `-EINVAL`, and succeed on empty entries.
//! Programs cannot look entries up (the verifier allows only
//! `bpf_redirect_map`); the control plane can.

use std::any::Any;
use std::sync::Arc;

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::devmap::check_redirect_def;
use crate::entries::{Entries, key_u32};
use crate::error::MapError;
use crate::flags::{BPF_EXIST, BPF_F_NUMA_NODE, BPF_NOEXIST};
use crate::map::Map;
use crate::map_type;
use crate::prog_array::array_next_key;

/// The kernel's `NR_CPUS` of common distribution builds, the most entries
/// a cpumap may have.
pub const NR_CPUS: u32 = 8192;
/// The largest `qsize` the kernel accepts.
const QSIZE_MAX: u32 = 16384;

/// A CPU map.
#[derive(Debug)]
pub struct CpuMap {
    def: MapDef,
    nr_cpus: u32,
    entries: Entries,
}

impl CpuMap {
    /// Creates a cpumap for `nr_cpus` workers in grace-period domain
    /// `domain`.
    pub fn new_in(def: &MapDef, nr_cpus: u32, domain: &Arc<Domain>) -> Result<Self, MapError> {
        if def.map_type != map_type::CPUMAP {
            return Err(def.invalid("not a cpumap"));
        }
        check_redirect_def(def, BPF_F_NUMA_NODE)?;
        if def.max_entries > NR_CPUS {
            return Err(def.too_big(format!(
                "max_entries {} > NR_CPUS {NR_CPUS}",
                def.max_entries
            )));
        }
        Ok(Self {
            def: def.clone(),
            nr_cpus,
            entries: Entries::new(def, domain)?,
        })
    }

    fn update_elem(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        let cpu = key_u32(&self.def, key)?;
        MapDef::check_value(value, self.def.value_size as usize)?;
        if cpu >= self.def.max_entries {
            return Err(MapError::IndexOutOfRange {
                index: cpu,
                max_entries: self.def.max_entries,
            });
        }
        if flags == BPF_NOEXIST {
            return Err(MapError::Exists);
        }
        let qsize = u32::from_ne_bytes(value[..4].try_into().unwrap_or_default());
        if qsize > QSIZE_MAX {
            return Err(MapError::QueueTooLarge { qsize });
        }
        if cpu >= self.nr_cpus {
            return Err(MapError::NoSuchCpu {
                cpu,
                nr_cpus: self.nr_cpus,
            });
        }
        if qsize == 0 {
            self.entries.remove(cpu);
            return Ok(());
        }
        self.entries.insert(cpu, value, |_, _| Ok(()))
    }
}

impl Map for CpuMap {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, _key: &[u8], _cpu: u32) -> Option<*mut u8> {
        // Programs only redirect through a cpumap.
        None
    }

    fn update_percpu(&self, key: &[u8], value: &[u8], flags: u64, _: u32) -> Result<(), MapError> {
        self.update_elem(key, value, flags)
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let cpu = key_u32(&self.def, key)?;
        if cpu >= self.def.max_entries {
            return Err(MapError::BadIndex {
                index: cpu,
                max_entries: self.def.max_entries,
            });
        }
        self.entries.remove(cpu);
        Ok(())
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        array_next_key(&self.def, key, next)
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.def.check_sys_lookup()?;
        let cpu = key_u32(&self.def, key)?;
        self.entries.copy(cpu).ok_or(MapError::NoEntry)
    }

    fn update_copy(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        self.update_elem(key, value, flags)
    }

    fn redirect_target(&self, key: u32) -> Option<u32> {
        self.entries.contains(key).then_some(key)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
