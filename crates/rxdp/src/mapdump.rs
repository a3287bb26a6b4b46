//! Printing maps after a run: as text, or as the `maps` member of
//! `test-run --json` (`{"NAME": [{"key": HEX, "value": HEX}]}`, per-CPU
//! maps with `"values": [HEX, ...]`, one per CPU).

use crate::input::hex;
use rxdp_maps::{Map, MapError};
use rxdp_xdp::MapTable;

/// One element: its key and its value, or one value per CPU.
type Element = (Vec<u8>, Vec<Vec<u8>>);

/// A map's elements as the control plane sees them, each value split per
/// CPU for per-CPU maps.
fn elements(map: &dyn Map) -> Result<Vec<Element>, MapError> {
    let cpus = map.nr_cpus().max(1) as usize;
    Ok(rxdp_maps::dump(map)?
        .into_iter()
        .map(|(k, v)| {
            let per = v.len() / cpus;
            let values = if cpus > 1 {
                v.chunks(per.max(1)).map(<[u8]>::to_vec).collect()
            } else {
                vec![v]
            };
            (k, values)
        })
        .collect())
}

/// Whether a map has elements to list (ring buffers and maps without keys
/// have none).
fn listable(map: &dyn Map) -> bool {
    map.def().key_size > 0
}

/// Prints every map as text.
pub(crate) fn print_map_dump(maps: &MapTable) -> Result<(), MapError> {
    for m in maps.iter() {
        let d = m.map.def();
        println!(
            "map {} ({}, key {} B, value {} B, {} entries max):",
            m.name,
            rxdp_maps::map_type::describe(d.map_type),
            d.key_size,
            d.value_size,
            d.max_entries
        );
        if !listable(&*m.map) {
            println!("  (no elements to list)");
            continue;
        }
        for (k, values) in elements(&*m.map)? {
            let vs: Vec<String> = values.iter().map(|v| hex(v)).collect();
            if values.len() == 1 {
                println!("  key {}  value {}", hex(&k), vs[0]);
            } else {
                println!("  key {}  values [{}]", hex(&k), vs.join(", "));
            }
        }
    }
    Ok(())
}

/// Every map as JSON.
pub(crate) fn map_dump_json(maps: &MapTable) -> Result<serde_json::Value, MapError> {
    let mut out = serde_json::Map::new();
    for m in maps.iter() {
        let mut list = Vec::new();
        if listable(&*m.map) {
            for (k, values) in elements(&*m.map)? {
                list.push(if m.map.nr_cpus() > 1 {
                    serde_json::json!({"key": hex(&k), "values": values.iter().map(|v| hex(v)).collect::<Vec<_>>()})
                } else {
                    serde_json::json!({"key": hex(&k), "value": hex(&values[0])})
                });
            }
        }
        out.insert(m.name.clone(), serde_json::Value::Array(list));
    }
    Ok(serde_json::Value::Object(out))
}
