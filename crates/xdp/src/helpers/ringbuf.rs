//! Ring buffer helpers (kernel/bpf/ringbuf.c): `bpf_ringbuf_output`,
//! `reserve`, `submit`, `discard`, `query`, on the maps crate's
//! [`rxdp_maps::RingBuf`]. A reserved record is granted to the program
//! (writable) and remembered in the run's state, so that submit and
//! discard accept only records this run reserved and not yet committed,
//! as the kernel's verifier ensures. When a commit wakes the consumer, the
//! environment's sink hears of it.

use super::{Ctx, XdpEnv};
use crate::maps::MapRef;
use rxdp_interp::{HelperError, Region, RegionKind};
use rxdp_isa::helper_id as hid;
use rxdp_maps::ringbuf::{Ring, RingBuf};

/// The ring of a map argument, or a helper error if it is no ring buffer.
fn ring(id: u32, m: &MapRef) -> Result<&Ring, HelperError> {
    m.map
        .as_any()
        .downcast_ref::<RingBuf>()
        .map(RingBuf::ring)
        .ok_or_else(|| HelperError::Failed {
            id,
            reason: format!(
                "{}: map '{}' is not a ring buffer",
                hid::helper_name(id as i32).unwrap_or("helper"),
                m.name
            ),
        })
}

/// Tells the sink if committing woke the consumer.
fn notify(env: &XdpEnv<'_>, m: &MapRef, wakeups_before: u64, ring: &Ring) {
    if ring.wakeups() != wakeups_before {
        env.world.sink.ringbuf_wakeup(&m.name);
    }
}

fn ret(r: Result<(), rxdp_maps::MapError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => i64::from(e.errno()) as u64,
    }
}

/// `long bpf_ringbuf_output(map, void *data, u64 size, u64 flags)` (130).
pub fn output(env: &mut XdpEnv<'_>, a: &[u64; 5], _: &mut Ctx<'_, '_>) -> Result<u64, HelperError> {
    let id = hid::RINGBUF_OUTPUT as u32;
    let (_, m) = env.map(id, a[0])?;
    let r = ring(id, m)?;
    let data = env.read_arg(id, "data", a[1], a[2] as usize)?;
    let before = r.wakeups();
    let res = r.output(data, a[3]);
    notify(env, m, before, r);
    Ok(ret(res))
}

/// `void *bpf_ringbuf_reserve(map, u64 size, u64 flags)` (131): a record
/// of `size` bytes, or NULL.
pub fn reserve(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    hc: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::RINGBUF_RESERVE as u32;
    let (index, m) = env.map(id, a[0])?;
    let Some(p) = ring(id, m)?.reserve(a[1], a[2]) else {
        return Ok(0);
    };
    let addr = p.expose_provenance() as u64;
    env.run.reserved.push((addr, index));
    env.grant(
        Region {
            start: addr,
            len: a[1],
            writable: true,
            kind: RegionKind::HelperMemory,
        },
        hc,
    );
    Ok(addr)
}

/// Commits a record this run reserved, with `submit` or `discard`.
fn commit(
    env: &mut XdpEnv<'_>,
    id: u32,
    a: &[u64; 5],
    op: fn(&Ring, *mut u8, u64) -> Result<(), rxdp_maps::MapError>,
) -> Result<u64, HelperError> {
    let Some(at) = env.run.reserved.iter().position(|&(addr, _)| addr == a[0]) else {
        return Err(HelperError::Failed {
            id,
            reason: format!(
                "{}: {:#x} is not a record this run reserved and has not committed",
                hid::helper_name(id as i32).unwrap_or("helper"),
                a[0]
            ),
        });
    };
    let (addr, index) = env.run.reserved.swap_remove(at);
    let Some(m) = env.maps.get(index) else {
        return Ok(0);
    };
    let r = ring(id, m)?;
    let before = r.wakeups();
    // Errors here are flags the kernel ignores; the helper returns void.
    let _ = op(
        r,
        core::ptr::with_exposed_provenance_mut(addr as usize),
        a[1],
    );
    notify(env, m, before, r);
    Ok(0)
}

/// `void bpf_ringbuf_submit(void *data, u64 flags)` (132).
pub fn submit(env: &mut XdpEnv<'_>, a: &[u64; 5], _: &mut Ctx<'_, '_>) -> Result<u64, HelperError> {
    commit(env, hid::RINGBUF_SUBMIT as u32, a, Ring::submit)
}

/// `void bpf_ringbuf_discard(void *data, u64 flags)` (133).
pub fn discard(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    commit(env, hid::RINGBUF_DISCARD as u32, a, Ring::discard)
}

/// `u64 bpf_ringbuf_query(map, u64 flags)` (134).
pub fn query(env: &mut XdpEnv<'_>, a: &[u64; 5], _: &mut Ctx<'_, '_>) -> Result<u64, HelperError> {
    let id = hid::RINGBUF_QUERY as u32;
    let (_, m) = env.map(id, a[0])?;
    Ok(ring(id, m)?.query(a[1]))
}
