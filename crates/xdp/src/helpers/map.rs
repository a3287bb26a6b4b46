//! Map helpers: lookup, update, delete (kernel/bpf/helpers.c), push, pop
//! and peek for queues, stacks and bloom filters, and the per-CPU lookup
//! of another CPU's value. Errors are the map's negative errno.

use super::Ctx;
use super::XdpEnv;
use rxdp_interp::{HelperError, Region, RegionKind};
use rxdp_isa::helper_id as hid;
use rxdp_maps::MapError;

/// `void *bpf_map_lookup_elem(map, key)` (1): the value for `key` on this
/// CPU, or NULL. The value is granted to the program, read-only for
/// read-only maps.
pub fn lookup_elem(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    hc: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::MAP_LOOKUP_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let def = m.map.def();
    let key = env.read_arg(id, "key", a[1], def.key_size as usize)?;
    Ok(match m.map.lookup_percpu(key, env.cpu) {
        Some(p) => grant_value(env, p, def.value_size, m.writable, hc),
        None => 0,
    })
}

fn grant_value(
    env: &mut XdpEnv<'_>,
    p: *mut u8,
    size: u32,
    writable: bool,
    hc: &mut Ctx<'_, '_>,
) -> u64 {
    let start = p.expose_provenance() as u64;
    env.grant(
        Region {
            start,
            len: u64::from(size),
            writable,
            kind: RegionKind::MapValue,
        },
        hc,
    );
    start
}

/// `long bpf_map_update_elem(map, key, value, flags)` (2).
pub fn update_elem(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::MAP_UPDATE_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let def = m.map.def();
    let key = env.read_arg(id, "key", a[1], def.key_size as usize)?;
    let value = env.read_arg(id, "value", a[2], def.value_size as usize)?;
    Ok(ret(m.map.update_percpu(key, value, a[3], env.cpu)))
}

/// `long bpf_map_delete_elem(map, key)` (3).
pub fn delete_elem(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::MAP_DELETE_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let key = env.read_arg(id, "key", a[1], m.map.def().key_size as usize)?;
    Ok(ret(m.map.delete(key)))
}

/// `long bpf_map_push_elem(map, value, flags)` (87): queue, stack, bloom
/// filter; `BPF_EXIST` on a full queue or stack drops the oldest value.
pub fn push_elem(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::MAP_PUSH_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let value = env.read_arg(id, "value", a[1], m.map.def().value_size as usize)?;
    Ok(ret(m.map.push(value, a[2])))
}

/// `long bpf_map_pop_elem(map, value)` (88): queue, stack.
pub fn pop_elem(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::MAP_POP_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let out = env.write_arg(id, "value", a[1], m.map.def().value_size as usize)?;
    Ok(ret(m.map.pop(out)))
}

/// `long bpf_map_peek_elem(map, value)` (89): queue, stack (copies the
/// next value out), bloom filter (tests the value: 0 or `-ENOENT`).
pub fn peek_elem(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::MAP_PEEK_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let size = m.map.def().value_size as usize;
    // A bloom filter only reads the value; queues and stacks write it.
    let bloom = m.map.def().map_type == rxdp_maps::map_type::BLOOM_FILTER;
    let r = if bloom {
        let mut copy = env.read_arg(id, "value", a[1], size)?.to_vec();
        m.map.peek(&mut copy)
    } else {
        m.map.peek(env.write_arg(id, "value", a[1], size)?)
    };
    Ok(ret(r))
}

/// `void *bpf_map_lookup_percpu_elem(map, key, cpu)` (195): CPU `cpu`'s
/// value of a per-CPU map, or NULL when `cpu` is not one of the map's.
pub fn lookup_percpu_elem(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    hc: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::MAP_LOOKUP_PERCPU_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let def = m.map.def();
    if !is_percpu(def.map_type) {
        return Err(HelperError::Failed {
            id,
            reason: format!(
                "bpf_map_lookup_percpu_elem: map '{}' is not a per-CPU map",
                m.name
            ),
        });
    }
    let key = env.read_arg(id, "key", a[1], def.key_size as usize)?;
    let cpu = a[2] as u32;
    if cpu >= m.map.nr_cpus() {
        return Ok(0);
    }
    Ok(match m.map.lookup_percpu(key, cpu) {
        Some(p) => grant_value(env, p, def.value_size, m.writable, hc),
        None => 0,
    })
}

/// Whether programs see one value per CPU in maps of this type.
fn is_percpu(map_type: u32) -> bool {
    use rxdp_maps::map_type::{LRU_PERCPU_HASH, PERCPU_ARRAY, PERCPU_HASH};
    matches!(map_type, PERCPU_HASH | PERCPU_ARRAY | LRU_PERCPU_HASH)
}

/// A map operation's result as the helper returns it: 0 or the map's
/// negative errno.
fn ret(r: Result<(), MapError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => i64::from(e.errno()) as u64,
    }
}
