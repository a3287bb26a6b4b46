//! `bpf_redirect` and `bpf_redirect_map` (net/core/filter.c): they record
//! where the frame should go in the run's state (the kernel's per-CPU
//! `bpf_redirect_info`) and return `XDP_REDIRECT`, which the program then
//! returns as its verdict. The datapath (or test-run's output) reads the
//! target afterwards.

use super::Ctx;
use super::XdpEnv;
use crate::action::Action;
use rxdp_interp::HelperError;
use rxdp_isa::helper_id as hid;
use rxdp_maps::map_type;

/// `BPF_F_BROADCAST`: redirect to every device of a devmap.
pub const BPF_F_BROADCAST: u64 = 1 << 3;
/// `BPF_F_EXCLUDE_INGRESS`: with `BPF_F_BROADCAST`, skip the ingress device.
pub const BPF_F_EXCLUDE_INGRESS: u64 = 1 << 4;

/// The low flag bits of `bpf_redirect_map`: the action returned when the
/// key has no entry (`XDP_ABORTED`..`XDP_TX`).
const ACTION_MASK: u64 = 0x3;

/// Where a run redirected its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `bpf_redirect(ifindex, 0)`: out of that interface.
    Ifindex(u32),
    /// `bpf_redirect_map(map, key, flags)` on an entry that exists (or a
    /// broadcast).
    Map {
        /// The map's index in the program's map table.
        map: usize,
        /// Its `BPF_MAP_TYPE_*`: devmap (an interface), cpumap (a CPU),
        /// xskmap (an AF_XDP socket).
        map_type: u32,
        /// The key.
        key: u32,
        /// The entry's target (ifindex, CPU, socket), `None` for a
        /// broadcast whose key has no entry.
        target: Option<u32>,
        /// `BPF_F_BROADCAST` and `BPF_F_EXCLUDE_INGRESS`, as given.
        flags: u64,
    },
}

/// `long bpf_redirect(u32 ifindex, u64 flags)` (23), the XDP variant:
/// any flag makes it return `XDP_ABORTED` without redirecting.
pub fn redirect(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    if a[1] != 0 {
        return Ok(u64::from(Action::Aborted.retval()));
    }
    env.run.redirect = Some(Redirect::Ifindex(a[0] as u32));
    Ok(u64::from(Action::Redirect.retval()))
}

/// `long bpf_redirect_map(map, u64 key, u64 flags)` (51): `XDP_REDIRECT`
/// when `key` has an entry (or with `BPF_F_BROADCAST` on a devmap); else
/// the action in the flags' low two bits, forgetting any earlier target;
/// `XDP_ABORTED` for flags the map type does not take.
pub fn redirect_map(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::REDIRECT_MAP as u32;
    let (index, m) = env.map(id, a[0])?;
    let ty = m.map.def().map_type;
    let map_flags = match ty {
        map_type::DEVMAP | map_type::DEVMAP_HASH => BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS,
        map_type::CPUMAP | map_type::XSKMAP => 0,
        _ => {
            return Err(HelperError::Failed {
                id,
                reason: format!(
                    "bpf_redirect_map: map '{}' is a {}, not a devmap, cpumap or xskmap",
                    m.name,
                    rxdp_isa::maptype::describe(ty)
                ),
            });
        }
    };
    let flags = a[2];
    if flags & !(ACTION_MASK | map_flags) != 0 {
        return Ok(u64::from(Action::Aborted.retval()));
    }
    // The kernel's lookup takes a u32 key: the upper half is ignored.
    let key = a[1] as u32;
    let target = m.map.redirect_target(key);
    if target.is_none() && flags & BPF_F_BROADCAST == 0 {
        env.run.redirect = None;
        return Ok(flags & ACTION_MASK);
    }
    env.run.redirect = Some(Redirect::Map {
        map: index,
        map_type: ty,
        key,
        target,
        flags: flags & map_flags,
    });
    Ok(u64::from(Action::Redirect.retval()))
}
