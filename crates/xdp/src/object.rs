//! Loading a whole BPF object, as libbpf's `bpf_object__load` does: set
//! global variables, create every map (global data maps with their
//! initial bytes, `.rodata` read-only to programs), verify and prepare
//! every XDP program against the one shared map table, then fill the
//! prog arrays' initial slots.
//!
//! Programs of other types are kept by name but not loaded: rxdp runs
//! XDP programs only, and running one of them says so.
//!
//! Maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are shared
//! through a [`Registry`] when the object is loaded with one
//! ([`XdpObject::load_with_registry`]): the map pinned under the same
//! name is reused if its definition matches (libbpf's reuse rules; a
//! mismatch fails the load naming the field), else the new map is
//! pinned there. Global data maps are never pinned.

use crate::ctx::{Xdp, XdpAttach};
use crate::maps::MapTable;
use crate::program::{LoadError, XdpProgram};
use rxdp_maps::{CreateExtra, Domain, Map, MapDef, MapInMap, ProgArray, Registry};
use rxdp_object::secdef::{attach_type, prog_type};
use rxdp_object::{MapOrigin, Object, Pinning, SlotTarget};
use std::sync::Arc;
use thiserror::Error;

/// Why an object failed to load.
#[derive(Debug, Error)]
pub enum ObjectLoadError {
    /// A global variable could not be set.
    #[error("cannot set {section} variable '{name}'")]
    Var {
        /// Its section.
        section: String,
        /// Its name.
        name: String,
        /// Why.
        source: rxdp_object::ObjectError,
    },
    /// A map could not be created or initialised.
    #[error("map '{name}': {msg}")]
    Map {
        /// The map's name.
        name: String,
        /// Why.
        msg: String,
    },
    /// A program failed to load.
    #[error("program '{name}' (section {section}){source_line}")]
    Program {
        /// The program's name.
        name: String,
        /// Its ELF section.
        section: String,
        /// Where in the C source the rejected instruction came from, from
        /// the object's BTF line info (`", at file.c:12: text"`), or empty.
        source_line: String,
        /// Why.
        source: Box<LoadError>,
    },
    /// A prog array slot names a program that is not loaded.
    #[error("map '{map}' slot {index}: program '{prog}' is not loaded")]
    Slot {
        /// The prog array.
        map: String,
        /// The slot.
        index: u32,
        /// The program it names.
        prog: String,
    },
}

impl ObjectLoadError {
    /// The verifier's rejection of a program, with its log and
    /// statistics, when that is why the object failed to load.
    pub fn verify_error(&self) -> Option<&rxdp_verifier::VerifyError> {
        match self {
            ObjectLoadError::Program { source, .. } => source.verify_error(),
            _ => None,
        }
    }
}

/// How to load an object.
#[derive(Clone, Debug)]
pub struct ObjectOpts {
    /// CPUs (datapath workers) per-CPU maps hold values for.
    pub nr_cpus: u32,
    /// Global variables to set before verification: (section, name,
    /// value), as a skeleton sets `volatile const` knobs.
    pub vars: Vec<(String, String, Vec<u8>)>,
    /// How the verifier checks the programs.
    pub verifier: rxdp_verifier::Options,
}

impl Default for ObjectOpts {
    fn default() -> Self {
        ObjectOpts {
            nr_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            vars: Vec::new(),
            verifier: rxdp_verifier::Options::default(),
        }
    }
}

/// A loaded object: its maps and its XDP programs.
pub struct XdpObject {
    object: Object,
    maps: Arc<MapTable>,
    programs: Vec<(String, XdpProgram)>,
}

impl XdpObject {
    /// Loads `object`: every XDP program whose `autoload` is set, and
    /// every map.
    pub fn load(object: Object, opts: &ObjectOpts) -> Result<XdpObject, ObjectLoadError> {
        Self::load_inner(object, opts, None)
    }

    /// [`XdpObject::load`], with the maps pinned by name
    /// (`LIBBPF_PIN_BY_NAME`) taken from `registry` when pinned there
    /// with a matching definition, else created and pinned there (for
    /// the registry's CPUs and grace-period domain). Objects loaded with
    /// one registry share their pinned maps.
    pub fn load_with_registry(
        object: Object,
        opts: &ObjectOpts,
        registry: &Arc<Registry>,
    ) -> Result<XdpObject, ObjectLoadError> {
        Self::load_inner(object, opts, Some(registry))
    }

    fn load_inner(
        mut object: Object,
        opts: &ObjectOpts,
        registry: Option<&Arc<Registry>>,
    ) -> Result<XdpObject, ObjectLoadError> {
        for (section, name, value) in &opts.vars {
            object
                .set_global_var(section, name, value)
                .map_err(|source| ObjectLoadError::Var {
                    section: section.clone(),
                    name: name.clone(),
                    source,
                })?;
        }
        let maps = Arc::new(create_maps(&object, opts.nr_cpus, registry)?);
        let mut programs = Vec::new();
        for p in object
            .programs
            .iter()
            .filter(|p| p.prog_type == prog_type::XDP && p.autoload)
        {
            let err = |source: LoadError| ObjectLoadError::Program {
                name: p.name.clone(),
                section: p.section.clone(),
                source_line: source_line(p, &source),
                source: Box::new(source),
            };
            if let Err(e) = p.check_supported() {
                return Err(err(LoadError::Object(e)));
            }
            let xdp = Xdp {
                attach: match p.expected_attach_type {
                    attach_type::XDP_DEVMAP => XdpAttach::Devmap,
                    attach_type::XDP_CPUMAP => XdpAttach::Cpumap,
                    _ => XdpAttach::Interface,
                },
            };
            let prog = XdpProgram::load_with_maps(&p.insns, Arc::clone(&maps), xdp, &opts.verifier)
                .map_err(err)?;
            programs.push((p.name.clone(), prog));
        }
        let loaded = XdpObject {
            object,
            maps,
            programs,
        };
        loaded.fill_prog_arrays()?;
        Ok(loaded)
    }

    /// Puts what the definitions of prog arrays and maps of maps name into
    /// their initial slots (`.values = { [1] = &prog }`).
    fn fill_prog_arrays(&self) -> Result<(), ObjectLoadError> {
        for def in &self.object.maps {
            for slot in &def.init_slots {
                match &slot.target {
                    SlotTarget::Prog(prog) => self.set_prog_array(&def.name, slot.index, prog)?,
                    SlotTarget::Map(inner) => self.set_inner_map(&def.name, slot.index, *inner)?,
                }
            }
        }
        Ok(())
    }

    /// Puts map `inner` (an index into the object's maps) at `index` of
    /// the array of maps `map`.
    fn set_inner_map(&self, map: &str, index: u32, inner: usize) -> Result<(), ObjectLoadError> {
        let map_err = |msg: String| ObjectLoadError::Map {
            name: map.to_string(),
            msg,
        };
        let outer = self
            .maps
            .by_name(map)
            .ok_or_else(|| map_err("no such map".into()))?;
        let inner_ref = self
            .maps
            .get(inner)
            .ok_or_else(|| map_err(format!("slot {index}: no map {inner}")))?;
        let mim = outer
            .map
            .as_any()
            .downcast_ref::<MapInMap>()
            .ok_or_else(|| map_err("not a map of maps".into()))?;
        // The id a control-plane lookup reports: rxdp numbers an object's
        // maps by their index.
        mim.set(
            &index.to_ne_bytes(),
            inner as u32,
            Arc::clone(&inner_ref.map),
            0,
        )
        .map_err(|e| map_err(format!("slot {index}: {e}")))
    }

    /// Puts program `prog` of this object at `index` of prog array `map`.
    pub fn set_prog_array(&self, map: &str, index: u32, prog: &str) -> Result<(), ObjectLoadError> {
        let slot_err = || ObjectLoadError::Slot {
            map: map.to_string(),
            index,
            prog: prog.to_string(),
        };
        let map_err = |msg: String| ObjectLoadError::Map {
            name: map.to_string(),
            msg,
        };
        let p = self.program(prog).ok_or_else(slot_err)?;
        let m = self
            .maps
            .by_name(map)
            .ok_or_else(|| map_err("no such map".into()))?;
        let array = m
            .map
            .as_any()
            .downcast_ref::<ProgArray>()
            .ok_or_else(|| map_err("not a prog array".into()))?;
        array
            .set(index, p.prog_ref(), 0)
            .map_err(|e| map_err(e.to_string()))
    }

    /// The object as parsed (after global variables were set).
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// The maps, indexed as the object's.
    pub fn maps(&self) -> &Arc<MapTable> {
        &self.maps
    }

    /// The loaded program called `name`.
    pub fn program(&self, name: &str) -> Option<&XdpProgram> {
        self.programs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }

    /// The loaded programs in object order, by name.
    pub fn programs(&self) -> impl Iterator<Item = (&str, &XdpProgram)> {
        self.programs.iter().map(|(n, p)| (n.as_str(), p))
    }
}

/// `", at FILE:LINE: TEXT"` (or without the text, when the object's BTF
/// has none) for the C source line of the instruction a
/// verifier error names, when the object has line info for it.
fn source_line(p: &rxdp_object::Program, e: &LoadError) -> String {
    let LoadError::Verify(v) = e else {
        return String::new();
    };
    v.pc.and_then(|pc| p.line_of(pc))
        .map(|l| match l.text.trim() {
            "" => format!(", at {}:{}", l.file, l.line),
            text => format!(", at {}:{}: {text}", l.file, l.line),
        })
        .unwrap_or_default()
}

/// Creates (or, pinned by name in `registry`, reuses) map `d`: its
/// value's spin lock, `map_extra` and inner-map template go to
/// `BPF_MAP_CREATE`.
fn create_map(
    d: &rxdp_object::MapDef,
    nr_cpus: u32,
    registry: Option<&Arc<Registry>>,
) -> Result<Arc<dyn Map>, rxdp_maps::MapError> {
    let extra = CreateExtra {
        map_extra: d.map_extra,
        inner_map: d.inner.as_deref().map(map_def),
        spin_lock_off: d.spin_lock_off,
    };
    let mut def = map_def(d);
    // libbpf's map_set_def_max_entries: a perf event array without a
    // size gets one slot per CPU.
    if def.map_type == rxdp_maps::map_type::PERF_EVENT_ARRAY && def.max_entries == 0 {
        def.max_entries = nr_cpus;
    }
    match registry {
        Some(registry) if d.pinning == Pinning::ByName => registry.get_or_create_with(&def, &extra),
        _ => rxdp_maps::create_with(&def, nr_cpus, Domain::global(), &extra),
    }
}

/// The maps layer's definition of an object's map.
fn map_def(d: &rxdp_object::MapDef) -> MapDef {
    MapDef {
        map_type: d.map_type,
        key_size: d.key_size,
        value_size: d.value_size,
        max_entries: d.max_entries,
        flags: d.map_flags,
        name: d.name.clone(),
    }
}

/// Creates the object's maps in index order, global data with its
/// initial bytes; maps pinned by name come from `registry` when there
/// is one.
fn create_maps(
    object: &Object,
    nr_cpus: u32,
    registry: Option<&Arc<Registry>>,
) -> Result<MapTable, ObjectLoadError> {
    let mut table = MapTable::new();
    for d in &object.maps {
        let err = |msg: String| ObjectLoadError::Map {
            name: d.name.clone(),
            msg,
        };
        let map = create_map(d, nr_cpus, registry).map_err(|e| err(e.to_string()))?;
        if let Some(init) = &d.initial_value {
            debug_assert_eq!(d.origin, MapOrigin::GlobalData);
            map.update_copy(&0u32.to_ne_bytes(), init, 0)
                .map_err(|e| err(format!("cannot write its initial value: {e}")))?;
        }
        table.push(&d.name, map, !d.readonly);
    }
    Ok(table)
}
