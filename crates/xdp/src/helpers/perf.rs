//! `bpf_perf_event_output` for XDP (net/core/filter.c
//! `bpf_xdp_event_output`): a record of the program's data followed by the
//! first bytes of the packet (the upper 32 bits of the flags,
//! `BPF_F_CTXLEN_MASK`) goes to the perf event array's entry for a CPU.
//! rxdp has no perf ring buffers: records go to the environment's sink,
//! for every slot of the array the control plane has set
//! ([`rxdp_maps::PerfEventArray`]).
//!
//! Errors, in the kernel's order (`bpf_xdp_event_output`,
//! `__bpf_perf_event_output`): flags outside the index and ctx-len
//! fields `-EINVAL`, more packet bytes than the packet has `-EFAULT`, an
//! index at or past `max_entries` `-E2BIG`, an empty slot `-ENOENT`. The
//! kernel also refuses an event opened on another CPU (`-EOPNOTSUPP`);
//! rxdp's slots hold no CPU, so any set slot takes records from any
//! worker.

use super::env::PerfEvent;
use super::packet::e;
use super::{Ctx, XdpEnv, errno};
use rxdp_interp::HelperError;
use rxdp_isa::helper_id as hid;
use rxdp_maps::PerfEventArray;

/// `BPF_F_INDEX_MASK`: the array index in the flags.
pub const BPF_F_INDEX_MASK: u64 = 0xffff_ffff;
/// `BPF_F_CURRENT_CPU`: the index of the current CPU.
pub const BPF_F_CURRENT_CPU: u64 = BPF_F_INDEX_MASK;
/// `BPF_F_CTXLEN_MASK`: packet bytes to append, in the upper half.
pub const BPF_F_CTXLEN_MASK: u64 = 0xfffff << 32;

/// `E2BIG`.
const E2BIG: i32 = 7;
/// `ENOENT`.
const ENOENT: i32 = 2;

/// `long bpf_perf_event_output(ctx, map, u64 flags, void *data, u64 size)`
/// (25).
pub fn perf_event_output(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::PERF_EVENT_OUTPUT as u32;
    env.check_ctx(id, a[0])?;
    let (_, m) = env.map(id, a[1])?;
    let def = m.map.def();
    let Some(events) = m.map.as_any().downcast_ref::<PerfEventArray>() else {
        return Err(HelperError::Failed {
            id,
            reason: format!(
                "bpf_perf_event_output: map '{}' is not a perf event array",
                m.name
            ),
        });
    };
    let data = env.read_arg(id, "data", a[3], a[4] as usize)?;
    let flags = a[2];
    if flags & !(BPF_F_CTXLEN_MASK | BPF_F_INDEX_MASK) != 0 {
        return Ok(errno(e::EINVAL));
    }
    let ctx = env.ctx();
    let pkt_len = (flags & BPF_F_CTXLEN_MASK) >> 32;
    if pkt_len > ctx.data_end - ctx.data {
        return Ok(errno(e::EFAULT));
    }
    let index = match flags & BPF_F_INDEX_MASK {
        BPF_F_CURRENT_CPU => env.cpu,
        i => i as u32,
    };
    if index >= def.max_entries {
        return Ok(errno(E2BIG));
    }
    if events.event_at(index).is_none() {
        return Ok(errno(ENOENT));
    }
    let mut record = data.to_vec();
    // SAFETY: `data..data + pkt_len` lies inside the packet (checked above).
    record.extend_from_slice(unsafe {
        core::slice::from_raw_parts(
            core::ptr::with_exposed_provenance::<u8>(ctx.data as usize),
            pkt_len as usize,
        )
    });
    env.world.sink.perf_event(PerfEvent {
        map: m.name.clone(),
        index,
        data: record,
    });
    Ok(0)
}
