//! Helpers that call back into the program (kernel/bpf/bpf_iter.c,
//! kernel/bpf/helpers.c): `bpf_loop` and `bpf_for_each_map_elem`. The
//! interpreter runs each callback in a new frame ([`rxdp_interp::HelperCtx::call`]);
//! `bpf_tail_call` is the interpreter's own (see
//! [`rxdp_interp::Env::tail_call_target`]), listed here for the load check.

use super::packet::e;
use super::{Ctx, XdpEnv, errno};
use rxdp_interp::{HelperError, Region, RegionKind};
use rxdp_isa::helper_id as hid;
use rxdp_maps::map_type;

/// `BPF_MAX_LOOPS`: the most iterations one `bpf_loop` runs.
pub const BPF_MAX_LOOPS: u64 = 1 << 23;

/// `E2BIG`.
const E2BIG: i32 = 7;

/// `long bpf_tail_call(ctx, prog_array, index)` (12): never called here,
/// the interpreter runs tail calls itself.
pub fn tail_call(
    _: &mut XdpEnv<'_>,
    _: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    Err(HelperError::Failed {
        id: hid::TAIL_CALL as u32,
        reason: "bpf_tail_call reached the helper table: the interpreter runs tail calls".into(),
    })
}

/// `long bpf_loop(u32 nr_loops, callback, void *callback_ctx, u64 flags)`
/// (181): calls `callback(i, callback_ctx)` for `i` from 0 until it
/// returns non-zero or `nr_loops` calls are made; returns the number of
/// calls. `-EINVAL` for flags, `-E2BIG` above [`BPF_MAX_LOOPS`].
pub fn bpf_loop<'a>(
    env: &mut XdpEnv<'a>,
    a: &[u64; 5],
    hc: &mut Ctx<'_, 'a>,
) -> Result<u64, HelperError> {
    if a[3] != 0 {
        return Ok(errno(e::EINVAL));
    }
    let nr_loops = u64::from(a[0] as u32);
    if nr_loops > BPF_MAX_LOOPS {
        return Ok(errno(E2BIG));
    }
    for i in 0..nr_loops {
        // SAFETY: the arguments are those of bpf_loop's callback
        // prototype, the index and the program's own callback_ctx.
        let ret = unsafe { hc.call(env, a[1], [i, a[2], 0, 0, 0]) }?;
        if ret != 0 {
            return Ok(i + 1);
        }
    }
    Ok(nr_loops)
}

/// `long bpf_for_each_map_elem(map, callback, void *callback_ctx, u64
/// flags)` (164): calls `callback(map, &key, &value, callback_ctx)` for
/// each element (arrays, hashes and their per-CPU and LRU forms; this
/// CPU's value for per-CPU maps) until it returns non-zero; returns the
/// number of calls. `-EINVAL` for flags.
///
/// The keys are those present when the walk starts (an element the
/// callback deletes is skipped, one it adds is not visited). Each key is
/// handed over in memory of its own that stays valid, read-only, for the
/// rest of the run.
pub fn for_each_map_elem<'a>(
    env: &mut XdpEnv<'a>,
    a: &[u64; 5],
    hc: &mut Ctx<'_, 'a>,
) -> Result<u64, HelperError> {
    let id = hid::FOR_EACH_MAP_ELEM as u32;
    let (_, m) = env.map(id, a[0])?;
    let def = m.map.def();
    match def.map_type {
        map_type::ARRAY
        | map_type::PERCPU_ARRAY
        | map_type::HASH
        | map_type::PERCPU_HASH
        | map_type::LRU_HASH
        | map_type::LRU_PERCPU_HASH => {}
        t => {
            return Err(HelperError::Failed {
                id,
                reason: format!(
                    "bpf_for_each_map_elem: map '{}' is a {}, which cannot be walked",
                    m.name,
                    rxdp_isa::maptype::describe(t)
                ),
            });
        }
    }
    if a[3] != 0 {
        return Ok(errno(e::EINVAL));
    }
    let keys = snapshot_keys(&*m.map);
    let mut calls = 0;
    for key in keys {
        let Some(value) = m.map.lookup_percpu(&key, env.cpu) else {
            continue;
        };
        let key_addr = env.run.keep(key);
        let value_addr = value.expose_provenance() as u64;
        env.grant(
            Region {
                start: key_addr,
                len: u64::from(def.key_size),
                writable: false,
                kind: RegionKind::HelperMemory,
            },
            hc,
        );
        env.grant(
            Region {
                start: value_addr,
                len: u64::from(def.value_size),
                writable: m.writable,
                kind: RegionKind::MapValue,
            },
            hc,
        );
        calls += 1;
        // SAFETY: the arguments are those of the callback prototype: the
        // map the program passed, a key and a value of that map's sizes
        // (valid for the run), and the program's own callback_ctx.
        let ret = unsafe { hc.call(env, a[1], [a[0], key_addr, value_addr, a[2], 0]) }?;
        if ret != 0 {
            break;
        }
    }
    Ok(calls)
}

/// Every key of `map`, in its iteration order, at most `max_entries`.
fn snapshot_keys(map: &dyn rxdp_maps::Map) -> Vec<Vec<u8>> {
    let def = map.def();
    let mut keys = Vec::new();
    let mut next = vec![0u8; def.key_size as usize];
    let mut prev: Option<Vec<u8>> = None;
    while keys.len() < def.max_entries as usize
        && map.get_next_key(prev.as_deref(), &mut next).is_ok()
    {
        keys.push(next.clone());
        prev = Some(next.clone());
    }
    keys
}
