//! `bpf_fib_lookup` and `bpf_check_mtu` (net/core/filter.c) against
//! routing and neighbour tables the user supplies, and the devices of the
//! runtime's [`super::HelperEnv`].
//!
//! The tables are one routing table per family (no policy rules: `tbid`,
//! `mark` and the L4 fields are ignored) with longest-prefix match, the
//! lower metric winning among equal prefixes, and a neighbour table of
//! resolved entries. The lookup follows `bpf_ipv4_fib_lookup` and
//! `bpf_ipv6_fib_lookup` for XDP (which check the MTU):
//!
//! 1. the ingress device (`ifindex`) must exist (`-ENODEV`) and forward
//!    (`BPF_FIB_LKUP_RET_FWD_DISABLED`), unless `BPF_FIB_LOOKUP_OUTPUT`;
//! 2. no route: `NOT_FWDED`; a blackhole, unreachable or prohibit route:
//!    its code;
//! 3. `tot_len` above the egress device's MTU: `FRAG_NEEDED`, with the MTU
//!    in `mtu_result`;
//! 4. `ifindex` becomes the egress device, `rt_metric` the route's metric,
//!    the destination its gateway if it has one; with
//!    `BPF_FIB_LOOKUP_SRC`, the source the route's preferred source
//!    (`NO_SRC_ADDR` if it has none);
//! 5. with `BPF_FIB_LOOKUP_SKIP_NEIGH`, success; else the next hop's
//!    neighbour entry gives `dmac` (`NO_NEIGH` without one) and the
//!    egress device `smac`.

use super::Ctx;
use super::packet::e;
use super::{XdpEnv, errno};
use rxdp_interp::HelperError;
use rxdp_isa::helper_id as hid;
use std::net::IpAddr;

/// `AF_INET`.
pub const AF_INET: u8 = 2;
/// `AF_INET6`.
pub const AF_INET6: u8 = 10;
/// `sizeof(struct bpf_fib_lookup)`.
pub const FIB_LOOKUP_SIZE: usize = 64;

/// `BPF_FIB_LOOKUP_*` flags.
pub mod flags {
    /// Skip policy rules: look up the main table directly.
    pub const DIRECT: u64 = 1 << 0;
    /// Do the lookup as for output (no forwarding check).
    pub const OUTPUT: u64 = 1 << 1;
    /// Do not resolve the neighbour.
    pub const SKIP_NEIGH: u64 = 1 << 2;
    /// Use the table id in `tbid` (with `DIRECT`).
    pub const TBID: u64 = 1 << 3;
    /// Report the source address the route would use.
    pub const SRC: u64 = 1 << 4;
    /// Use `mark` for policy routing.
    pub const MARK: u64 = 1 << 5;
    /// Every flag the helper accepts.
    pub const ALL: u64 = DIRECT | OUTPUT | SKIP_NEIGH | TBID | SRC | MARK;
}

/// `BPF_FIB_LKUP_RET_*`: the helper's non-negative results.
pub mod ret {
    /// Lookup successful: forward out of `ifindex` to `dmac`.
    pub const SUCCESS: u64 = 0;
    /// The destination is blackholed.
    pub const BLACKHOLE: u64 = 1;
    /// The destination is unreachable.
    pub const UNREACHABLE: u64 = 2;
    /// The destination is prohibited.
    pub const PROHIBIT: u64 = 3;
    /// The packet is not forwarded (no route, a local route).
    pub const NOT_FWDED: u64 = 4;
    /// Forwarding is disabled on the ingress device.
    pub const FWD_DISABLED: u64 = 5;
    /// The route needs an encapsulation.
    pub const UNSUPP_LWT: u64 = 6;
    /// No neighbour entry for the next hop.
    pub const NO_NEIGH: u64 = 7;
    /// The packet exceeds the egress MTU.
    pub const FRAG_NEEDED: u64 = 8;
    /// No source address could be derived.
    pub const NO_SRC_ADDR: u64 = 9;
}

/// `BPF_MTU_CHK_RET_*`: `bpf_check_mtu`'s non-negative results.
pub mod mtu_ret {
    /// The packet fits.
    pub const SUCCESS: u64 = 0;
    /// The packet exceeds the MTU.
    pub const FRAG_NEEDED: u64 = 1;
}

/// What a route does with matching packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// Forward out of `ifindex`, to `gateway` or (none) directly to the
    /// destination.
    Unicast {
        /// The egress device.
        ifindex: u32,
        /// The next hop, for a gateway route.
        gateway: Option<IpAddr>,
    },
    /// Local delivery (not forwarded).
    Local,
    /// Drop silently.
    Blackhole,
    /// Drop as unreachable.
    Unreachable,
    /// Drop as prohibited.
    Prohibit,
}

/// One route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The destination prefix's address (its family selects the table).
    pub dst: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
    /// What to do.
    pub kind: RouteKind,
    /// The metric (`fib_priority`); lower wins among equal prefixes.
    pub metric: u32,
    /// The preferred source address (`BPF_FIB_LOOKUP_SRC`).
    pub src: Option<IpAddr>,
}

/// One resolved neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// The device it is reached through.
    pub ifindex: u32,
    /// Its IP address.
    pub addr: IpAddr,
    /// Its MAC address.
    pub mac: [u8; 6],
}

/// The routing and neighbour tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fib {
    /// The routes, both families.
    pub routes: Vec<Route>,
    /// The neighbours.
    pub neighbours: Vec<Neighbour>,
}

fn bits(a: IpAddr) -> (u128, u32) {
    match a {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn in_prefix(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    let ((a, width), (n, nwidth)) = (bits(addr), bits(net));
    if width != nwidth || u32::from(len) > width {
        return false;
    }
    let shift = width - u32::from(len);
    shift == width || (a >> shift) == (n >> shift)
}

impl Fib {
    /// The best route to `dst`: the longest prefix, then the lowest metric.
    pub fn route(&self, dst: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| in_prefix(dst, r.dst, r.prefix_len))
            .min_by_key(|r| (core::cmp::Reverse(r.prefix_len), r.metric))
    }

    /// The neighbour `addr` on device `ifindex`.
    pub fn neighbour(&self, ifindex: u32, addr: IpAddr) -> Option<&Neighbour> {
        self.neighbours
            .iter()
            .find(|n| n.ifindex == ifindex && n.addr == addr)
    }
}

/// `struct bpf_fib_lookup` field offsets.
mod off {
    pub(super) const FAMILY: usize = 0;
    pub(super) const TOT_LEN: usize = 6;
    pub(super) const IFINDEX: usize = 8;
    pub(super) const RT_METRIC: usize = 12;
    pub(super) const SRC: usize = 16;
    pub(super) const DST: usize = 32;
    pub(super) const VLAN: usize = 48;
    pub(super) const SMAC: usize = 52;
    pub(super) const DMAC: usize = 58;
}

fn read_addr(p: &[u8], at: usize, family: u8) -> IpAddr {
    if family == AF_INET {
        let b: [u8; 4] = p[at..at + 4].try_into().unwrap_or_default();
        IpAddr::from(b)
    } else {
        let b: [u8; 16] = p[at..at + 16].try_into().unwrap_or_default();
        IpAddr::from(b)
    }
}

fn write_addr(p: &mut [u8], at: usize, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => p[at..at + 4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => p[at..at + 16].copy_from_slice(&v6.octets()),
    }
}

/// `long bpf_fib_lookup(ctx, struct bpf_fib_lookup *params, int plen, u32
/// flags)` (69); see the module documentation.
pub fn fib_lookup(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::FIB_LOOKUP as u32;
    env.check_ctx(id, a[0])?;
    // The verifier proves `params` is `plen` writable bytes before the
    // helper looks at `plen`; a checked run does the same.
    let plen = a[2] as i32;
    let p = env.write_arg(id, "params", a[1], plen.max(0) as usize)?;
    if plen < FIB_LOOKUP_SIZE as i32 {
        return Ok(errno(e::EINVAL));
    }
    let fl = u64::from(a[3] as u32);
    if fl & !flags::ALL != 0 {
        return Ok(errno(e::EINVAL));
    }
    Ok(lookup(&env.world, &mut p[..FIB_LOOKUP_SIZE], fl))
}

/// The lookup on a `struct bpf_fib_lookup`, updating it in place.
pub fn lookup(world: &super::HelperEnv, p: &mut [u8], fl: u64) -> u64 {
    let family = p[off::FAMILY];
    if family != AF_INET && family != AF_INET6 {
        return errno(EAFNOSUPPORT);
    }
    let ifindex = u32::from_ne_bytes(
        p[off::IFINDEX..off::IFINDEX + 4]
            .try_into()
            .unwrap_or_default(),
    );
    let Some(ingress) = world.devices.get(ifindex) else {
        return errno(ENODEV);
    };
    if fl & flags::OUTPUT == 0 && !ingress.forwarding {
        return ret::FWD_DISABLED;
    }
    let dst = read_addr(p, off::DST, family);
    let Some(route) = world.fib.route(dst) else {
        return ret::NOT_FWDED;
    };
    let (out_ifindex, gateway) = match route.kind {
        RouteKind::Unicast { ifindex, gateway } => (ifindex, gateway),
        RouteKind::Local => return ret::NOT_FWDED,
        RouteKind::Blackhole => return ret::BLACKHOLE,
        RouteKind::Unreachable => return ret::UNREACHABLE,
        RouteKind::Prohibit => return ret::PROHIBIT,
    };
    let Some(egress) = world.devices.get(out_ifindex) else {
        return ret::NOT_FWDED;
    };
    let tot_len = u16::from_ne_bytes([p[off::TOT_LEN], p[off::TOT_LEN + 1]]);
    let mtu = egress.mtu;
    if u32::from(tot_len) > mtu {
        p[off::TOT_LEN..off::TOT_LEN + 2].copy_from_slice(&(mtu as u16).to_ne_bytes());
        return ret::FRAG_NEEDED;
    }
    p[off::RT_METRIC..off::RT_METRIC + 4].copy_from_slice(&route.metric.to_ne_bytes());
    p[off::IFINDEX..off::IFINDEX + 4].copy_from_slice(&out_ifindex.to_ne_bytes());
    if fl & flags::SRC != 0 {
        match route.src {
            Some(src) => write_addr(p, off::SRC, src),
            None => return ret::NO_SRC_ADDR,
        }
    }
    let next_hop = gateway.unwrap_or(dst);
    write_addr(p, off::DST, next_hop);
    if fl & flags::SKIP_NEIGH == 0 {
        let Some(n) = world.fib.neighbour(out_ifindex, next_hop) else {
            return ret::NO_NEIGH;
        };
        p[off::DMAC..off::DMAC + 6].copy_from_slice(&n.mac);
        p[off::SMAC..off::SMAC + 6].copy_from_slice(&egress.mac);
    }
    // bpf_fib_set_fwd_params: no VLAN, the MTU reported.
    p[off::VLAN..off::VLAN + 4].fill(0);
    p[off::TOT_LEN..off::TOT_LEN + 2].copy_from_slice(&(mtu as u16).to_ne_bytes());
    ret::SUCCESS
}

/// `EAFNOSUPPORT`.
const EAFNOSUPPORT: i32 = 97;
/// `ENODEV`.
const ENODEV: i32 = 19;

/// `long bpf_check_mtu(ctx, u32 ifindex, u32 *mtu_len, s32 len_diff, u64
/// flags)` (163), the XDP variant: whether the packet (or an L3 length of
/// `*mtu_len`, when non-zero), grown by `len_diff`, fits device `ifindex`
/// (0: the ingress device); `*mtu_len` becomes the device's MTU. Any flag
/// is `-EINVAL`; an unknown device `-ENODEV`.
pub fn check_mtu(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::CHECK_MTU as u32;
    env.check_ctx(id, a[0])?;
    let mtu_len = env.write_arg(id, "mtu_len", a[2], 4)?;
    if a[4] != 0 {
        return Ok(errno(e::EINVAL));
    }
    let ifindex = match a[1] as u32 {
        0 => env.ctx().ingress_ifindex,
        i => i,
    };
    let Some(dev) = env.world.devices.get(ifindex) else {
        return Ok(errno(ENODEV));
    };
    let ctx = env.ctx();
    let asked = u32::from_ne_bytes(mtu_len[..4].try_into().unwrap_or_default());
    // The kernel does this in `int`: lengths wrap as 32-bit values.
    let mut len = (ctx.data_end - ctx.data) as i32;
    if asked != 0 {
        len = (asked as i32).wrapping_add(dev.hard_header_len as i32);
    }
    len = len.wrapping_add(a[3] as i32);
    let dev_len = (dev.mtu as i32).wrapping_add(dev.hard_header_len as i32);
    mtu_len[..4].copy_from_slice(&dev.mtu.to_ne_bytes());
    Ok(if len > dev_len {
        mtu_ret::FRAG_NEEDED
    } else {
        mtu_ret::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_then_lowest_metric() {
        let r = |dst: &str, len, metric, ifindex| Route {
            dst: dst.parse().unwrap(),
            prefix_len: len,
            kind: RouteKind::Unicast {
                ifindex,
                gateway: None,
            },
            metric,
            src: None,
        };
        let fib = Fib {
            routes: vec![
                r("0.0.0.0", 0, 0, 1),
                r("10.0.0.0", 8, 5, 2),
                r("10.0.0.0", 8, 1, 3),
                r("10.1.0.0", 16, 9, 4),
                r("::", 0, 0, 5),
            ],
            neighbours: vec![],
        };
        let via = |a: &str| match fib.route(a.parse().unwrap()).unwrap().kind {
            RouteKind::Unicast { ifindex, .. } => ifindex,
            _ => 0,
        };
        assert_eq!(via("10.1.2.3"), 4);
        assert_eq!(via("10.2.0.1"), 3);
        assert_eq!(via("192.168.0.1"), 1);
        assert_eq!(via("2001:db8::1"), 5);
    }
}
