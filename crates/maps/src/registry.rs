//! Pinned maps: the per-runtime registry of maps by name, rxdp's bpffs.
//!
//! A map pinned under a name outlives the program that created it; an
//! object that declares a map with `LIBBPF_PIN_BY_NAME` reuses the pinned
//! one. [`Registry::get_or_create`] applies libbpf's reuse rule
//! (`map_is_reuse_compat`): the pinned map must have the same type, key
//! size, value size, `max_entries`, flags and `map_extra`, or the load
//! fails with `-EINVAL` naming the first field that differs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::BPF_F_RDONLY_PROG;
use crate::map::Map;
use crate::map_type;
use crate::{CreateExtra, create_with};

/// Maps pinned by name, with what new maps are created for (the
/// runtime's workers and grace-period domain).
#[derive(Debug)]
pub struct Registry {
    nr_cpus: u32,
    domain: Arc<Domain>,
    pinned: Mutex<BTreeMap<String, Pinned>>,
}

/// A pinned map and the `map_extra` it was created with.
#[derive(Debug, Clone)]
struct Pinned {
    map: Arc<dyn Map>,
    map_extra: u64,
}

impl Registry {
    /// An empty registry whose new maps have `nr_cpus` CPUs and live in
    /// grace-period domain `domain`.
    pub fn new(nr_cpus: u32, domain: &Arc<Domain>) -> Self {
        Self {
            nr_cpus,
            domain: Arc::clone(domain),
            pinned: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Pinned>> {
        // Nothing panics under the lock; the table stays consistent.
        self.pinned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pins `map` as `name`; `-EEXIST` when the name is taken.
    pub fn pin(&self, name: &str, map: Arc<dyn Map>) -> Result<(), MapError> {
        self.pin_with_extra(name, map, 0)
    }

    /// [`Registry::pin`] for a map created with `map_extra`.
    pub fn pin_with_extra(
        &self,
        name: &str,
        map: Arc<dyn Map>,
        map_extra: u64,
    ) -> Result<(), MapError> {
        let mut pinned = self.lock();
        if pinned.contains_key(name) {
            return Err(MapError::Exists);
        }
        pinned.insert(name.to_string(), Pinned { map, map_extra });
        Ok(())
    }

    /// The map pinned as `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Map>> {
        self.lock().get(name).map(|p| Arc::clone(&p.map))
    }

    /// Unpins `name` and returns its map (which lives on while anything
    /// holds it); `-ENOENT` when nothing is pinned there.
    pub fn unpin(&self, name: &str) -> Result<Arc<dyn Map>, MapError> {
        self.lock()
            .remove(name)
            .map(|p| p.map)
            .ok_or(MapError::NoEntry)
    }

    /// The pinned names, in order.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The map pinned as `def.name` if it is compatible with `def`, else a
    /// new map, pinned as `def.name`.
    pub fn get_or_create(&self, def: &MapDef) -> Result<Arc<dyn Map>, MapError> {
        self.get_or_create_with(def, &CreateExtra::default())
    }

    /// [`Registry::get_or_create`] with creation extras (`map_extra`, an
    /// inner-map template).
    pub fn get_or_create_with(
        &self,
        def: &MapDef,
        extra: &CreateExtra,
    ) -> Result<Arc<dyn Map>, MapError> {
        let mut pinned = self.lock();
        if let Some(p) = pinned.get(&def.name) {
            reuse_compat(&def.name, p.map.def(), p.map_extra, def, extra.map_extra)?;
            return Ok(Arc::clone(&p.map));
        }
        let map = create_with(def, self.nr_cpus, &self.domain, extra)?;
        pinned.insert(
            def.name.clone(),
            Pinned {
                map: Arc::clone(&map),
                map_extra: extra.map_extra,
            },
        );
        Ok(map)
    }
}

/// libbpf's `map_is_reuse_compat`, naming the first field that differs.
fn reuse_compat(
    name: &str,
    pinned: &MapDef,
    pinned_extra: u64,
    wanted: &MapDef,
    wanted_extra: u64,
) -> Result<(), MapError> {
    // Devmaps get BPF_F_RDONLY_PROG at creation; libbpf allows for it.
    let wanted_flags = match wanted.map_type {
        map_type::DEVMAP | map_type::DEVMAP_HASH => wanted.flags | BPF_F_RDONLY_PROG,
        _ => wanted.flags,
    };
    let fields = [
        ("type", pinned.map_type.into(), wanted.map_type.into()),
        ("key_size", pinned.key_size.into(), wanted.key_size.into()),
        (
            "value_size",
            pinned.value_size.into(),
            wanted.value_size.into(),
        ),
        (
            "max_entries",
            pinned.max_entries.into(),
            wanted.max_entries.into(),
        ),
        ("map_flags", pinned.flags.into(), wanted_flags.into()),
        ("map_extra", pinned_extra, wanted_extra),
    ];
    match fields.into_iter().find(|(_, p, w)| p != w) {
        None => Ok(()),
        Some((field, pinned, wanted)) => Err(MapError::PinMismatch {
            name: name.to_string(),
            field,
            pinned,
            wanted,
        }),
    }
}
