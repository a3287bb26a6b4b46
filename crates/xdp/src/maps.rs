//! The maps a loaded program uses, and how programs reach them.
//!
//! A `lddw rX, map[i]` is rewritten by the fixup layer into the address of
//! the `i`-th [`MapRef`] here, so that helpers receive one thin pointer per
//! map, as kernel helpers receive a `struct bpf_map *`. The table is boxed
//! so those addresses never move while the program lives.

use rxdp_jit::x86_64::MapHeader;
use rxdp_maps::{Map, MapDef, ProgArray};
use rxdp_verifier::{MapInfo, MapResolver};
use std::sync::Arc;

/// What a map pointer in a program register points to. It starts with
/// the [`MapHeader`] compiled code reads (a prog array's entry table).
#[repr(C)]
pub struct MapRef {
    /// What compiled code reads of the map.
    header: MapHeader,
    /// The map.
    pub map: Arc<dyn Map>,
    /// The name it was declared with (for messages and dumps).
    pub name: String,
    /// Whether programs may write its values (false for `.rodata`).
    pub writable: bool,
}

// SAFETY: the only field that is not `Send`/`Sync` by itself is the
// header's `table`, a pointer into the prog array `map` owns (which lives
// as long as `map`) that is only read, through atomics.
unsafe impl Send for MapRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for MapRef {}

/// The maps of one program, in declaration order.
#[derive(Default)]
pub struct MapTable {
    #[expect(
        clippy::vec_box,
        reason = "programs hold each MapRef's address: it must not move when the table grows"
    )]
    maps: Vec<Box<MapRef>>,
}

impl MapTable {
    /// An empty table.
    pub fn new() -> MapTable {
        MapTable::default()
    }

    /// Adds a map; its index is the number of maps added before it.
    pub fn push(&mut self, name: &str, map: Arc<dyn Map>, writable: bool) {
        let table = map
            .as_any()
            .downcast_ref::<ProgArray>()
            .map_or(core::ptr::null(), ProgArray::entries);
        self.maps.push(Box::new(MapRef {
            header: MapHeader {
                max_entries: map.def().max_entries,
                reserved: 0,
                table,
            },
            map,
            name: name.to_string(),
            writable,
        }));
    }

    /// The maps, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &MapRef> {
        self.maps.iter().map(|m| &**m)
    }

    /// The map a program register's value points to, if it is one of
    /// this table's map pointers.
    pub fn by_addr(&self, addr: u64) -> Option<&MapRef> {
        self.maps
            .iter()
            .map(|m| &**m)
            .find(|m| core::ptr::from_ref(*m) as u64 == addr)
    }

    /// [`MapTable::by_addr`] with the map's index.
    pub fn by_addr_indexed(&self, addr: u64) -> Option<(usize, &MapRef)> {
        self.maps
            .iter()
            .map(|m| &**m)
            .enumerate()
            .find(|(_, m)| core::ptr::from_ref(*m) as u64 == addr)
    }

    /// Map `i`.
    pub fn get(&self, i: usize) -> Option<&MapRef> {
        self.maps.get(i).map(|m| &**m)
    }

    /// The map with this name.
    pub fn by_name(&self, name: &str) -> Option<&MapRef> {
        self.iter().find(|m| m.name == name)
    }

    /// The definition of map `i`.
    pub fn def(&self, i: usize) -> Option<&MapDef> {
        self.maps.get(i).map(|m| m.map.def())
    }
}

impl MapResolver for MapTable {
    fn resolve(&self, index: u32, value_off: Option<u32>) -> Result<u64, String> {
        let m = self.maps.get(index as usize).ok_or_else(|| {
            format!(
                "map index {index} out of range: the program has {} maps",
                self.maps.len()
            )
        })?;
        let Some(off) = value_off else {
            return Ok(core::ptr::from_ref(&**m) as u64);
        };
        let def = m.map.def();
        let base = m.map.direct_value_addr().ok_or_else(|| {
            format!(
                "map '{}' has no direct value access: only array maps do",
                m.name
            )
        })?;
        if off >= def.value_size {
            return Err(format!(
                "direct value offset of {off} is not allowed: map '{}' has values of {} bytes",
                m.name, def.value_size
            ));
        }
        Ok(base + u64::from(off))
    }

    fn map_info(&self, index: u32) -> Option<MapInfo> {
        self.maps.get(index as usize).map(|m| map_info(m))
    }
}

/// What the verifier needs to know of one map.
fn map_info(m: &MapRef) -> MapInfo {
    let def = m.map.def();
    MapInfo {
        name: m.name.clone(),
        map_type: def.map_type,
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries: def.max_entries,
        flags: def.flags,
        readonly: !m.writable,
        spin_lock_off: m.map.spin_lock_off(),
        inner: m.map.inner_template().map(|def| {
            Box::new(MapInfo {
                map_type: def.map_type,
                key_size: def.key_size,
                value_size: def.value_size,
                max_entries: def.max_entries,
                flags: def.flags,
                ..MapInfo::default()
            })
        }),
    }
}
