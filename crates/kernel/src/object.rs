//! An rxdp object ([`rxdp_object::Object`]) in the kernel: its maps
//! created through bpf(2) the way libbpf creates them before it loads the
//! object's programs, and the names the kernel accepts for its maps and
//! programs.

use crate::error::Error;
use crate::map::KernelMap;
use rxdp_object::MapDef;
use thiserror::Error;

/// A map of an object the kernel would not create or initialise.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("map {map}: {error}")]
pub struct MapCreateError {
    /// The map's name in the object ([`MapDef::name`]).
    pub map: String,
    /// What failed: `BPF_MAP_CREATE`, or the update that writes a global
    /// data map's initial bytes.
    pub error: Error,
}

/// The name the kernel accepts for an object named `name`: only ASCII
/// letters, digits, `_` and `.` are kept (so `.rodata` stays `.rodata`
/// and `my-map` becomes `mymap`), at most 15 bytes
/// (`BPF_OBJ_NAME_LEN` minus the terminating NUL).
pub fn obj_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .take(crate::consts::BPF_OBJ_NAME_LEN - 1)
        .collect()
}

/// Creates every map of `defs` (an object's [`rxdp_object::Object::maps`])
/// in the kernel with its type, key and value sizes, entries and flags,
/// named by [`obj_name`]; a global data map (`.rodata`, `.data`, `.bss`)
/// gets its initial bytes as element 0.
///
/// The maps come back in the order of `defs`, so that a map's index in
/// the object is its index in the result, which is what `lddw` with
/// `BPF_PSEUDO_MAP_IDX` refers to: the fds of the result, in order, are
/// the `fd_array` of [`crate::LoadOptions`]. Nothing else of the object is
/// applied: prog array and map-of-maps slots (`init_slots`) need the
/// programs and are left to the caller, inner maps, `numa_node` and
/// `map_extra` are not passed. On an error the maps created so far are
/// closed.
pub fn create_maps(defs: &[MapDef]) -> Result<Vec<KernelMap>, MapCreateError> {
    defs.iter()
        .map(|d| {
            let failed = |error| MapCreateError {
                map: d.name.clone(),
                error,
            };
            let m = KernelMap::create(
                d.map_type,
                d.key_size,
                d.value_size,
                d.max_entries,
                d.map_flags,
                &obj_name(&d.name),
            )
            .map_err(failed)?;
            if let Some(init) = &d.initial_value {
                m.update(&0u32.to_ne_bytes(), init, 0).map_err(failed)?;
            }
            Ok(m)
        })
        .collect()
}

/// Creates the maps an assembled program declares (`.map` lines,
/// [`rxdp_isa::asm::MapDecl`]) in the kernel, in declaration order (so that
/// their fds, in order, are the `fd_array` its `map[i]` loads refer to),
/// named by [`obj_name`]. On an error the maps created so far are closed.
pub fn create_asm_maps(decls: &[rxdp_isa::asm::MapDecl]) -> Result<Vec<KernelMap>, MapCreateError> {
    decls
        .iter()
        .map(|d| {
            KernelMap::create(
                d.map_type,
                d.key_size,
                d.value_size,
                d.max_entries,
                d.flags,
                &obj_name(&d.name),
            )
            .map_err(|error| MapCreateError {
                map: d.name.clone(),
                error,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Errno, sys};
    use rxdp_object::MapOrigin;

    #[test]
    fn names_keep_what_the_kernel_accepts() {
        assert_eq!(obj_name(".rodata"), ".rodata");
        assert_eq!(obj_name("my-map"), "mymap");
        assert_eq!(obj_name("xdp_prog_with_a_long_name"), "xdp_prog_with_a");
        assert_eq!(obj_name("é/ü"), "");
        for n in ["my-map", "xdp_prog_with_a_long_name", ".data.custom"] {
            assert!(sys::obj_name(&obj_name(n)).is_some(), "{n}");
        }
    }

    /// The maps of an example object, global data among them.
    fn example_maps() -> Vec<MapDef> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/c/xdp_subprog_global.o"
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        rxdp_object::parse(&bytes).unwrap().maps
    }

    #[test]
    fn creates_maps_in_order_with_initial_bytes() {
        let defs = example_maps();
        assert!(
            defs.iter().any(|d| d.origin == MapOrigin::GlobalData
                && d.initial_value
                    .as_ref()
                    .is_some_and(|v| v.iter().any(|b| *b != 0))),
            "the example has no initialised global data"
        );
        if let Err(e) = crate::available() {
            eprintln!("SKIPPED creates_maps_in_order_with_initial_bytes: {e}");
            return;
        }
        let maps = create_maps(&defs).unwrap();
        assert_eq!(maps.len(), defs.len());
        for (d, m) in defs.iter().zip(&maps) {
            assert_eq!(m.map_type(), d.map_type, "{}", d.name);
            assert_eq!(m.key_size(), d.key_size as usize, "{}", d.name);
            if let Some(init) = &d.initial_value {
                let got = m.lookup(&0u32.to_ne_bytes()).unwrap();
                assert_eq!(got.as_ref(), Some(init), "{}", d.name);
            }
        }
    }

    #[test]
    fn a_refused_map_is_named() {
        if let Err(e) = crate::available() {
            eprintln!("SKIPPED a_refused_map_is_named: {e}");
            return;
        }
        let mut defs = example_maps();
        let mut bad = defs[0].clone();
        bad.name = "bad-map".into();
        bad.key_size = 0;
        bad.map_type = crate::consts::map_type::BPF_MAP_TYPE_HASH;
        bad.initial_value = None;
        defs.push(bad);
        let err = create_maps(&defs).unwrap_err();
        assert_eq!(err.map, "bad-map");
        assert_eq!(err.error.errno(), Some(Errno::EINVAL));
        assert!(
            err.to_string().starts_with("map bad-map: BPF_MAP_CREATE"),
            "{err}"
        );
    }
}
