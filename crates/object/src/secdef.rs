//! libbpf's `SEC()` grammar: which program type and expected attach type
//! an ELF section name stands for.
//!
//! One data table, in libbpf's order (tools/lib/bpf/libbpf.c,
//! `section_defs[]`), because the first match wins: `xdp.frags/devmap`
//! must be tried before `xdp.frags`, and `tc/ingress` before `tc`. Entry
//! forms, as libbpf matches them:
//!
//! - `name` matches exactly `name`;
//! - `name+` matches `name` or `name/anything`;
//! - `name/` matches any name starting with `name/`.
//!
//! The numbers are the kernel's UAPI (`enum bpf_prog_type`,
//! `enum bpf_attach_type` in include/uapi/linux/bpf.h). rxdp runs only
//! XDP programs, but every section libbpf knows is recognised and named,
//! so that an object mixing program types loads its XDP programs.

/// `enum bpf_prog_type` values used by the table.
pub mod prog_type {
    /// `BPF_PROG_TYPE_SOCKET_FILTER`
    pub const SOCKET_FILTER: u32 = 1;
    /// `BPF_PROG_TYPE_KPROBE`
    pub const KPROBE: u32 = 2;
    /// `BPF_PROG_TYPE_SCHED_CLS`
    pub const SCHED_CLS: u32 = 3;
    /// `BPF_PROG_TYPE_SCHED_ACT`
    pub const SCHED_ACT: u32 = 4;
    /// `BPF_PROG_TYPE_TRACEPOINT`
    pub const TRACEPOINT: u32 = 5;
    /// `BPF_PROG_TYPE_XDP`
    pub const XDP: u32 = 6;
    /// `BPF_PROG_TYPE_PERF_EVENT`
    pub const PERF_EVENT: u32 = 7;
    /// `BPF_PROG_TYPE_CGROUP_SKB`
    pub const CGROUP_SKB: u32 = 8;
    /// `BPF_PROG_TYPE_CGROUP_SOCK`
    pub const CGROUP_SOCK: u32 = 9;
    /// `BPF_PROG_TYPE_LWT_IN`
    pub const LWT_IN: u32 = 10;
    /// `BPF_PROG_TYPE_LWT_OUT`
    pub const LWT_OUT: u32 = 11;
    /// `BPF_PROG_TYPE_LWT_XMIT`
    pub const LWT_XMIT: u32 = 12;
    /// `BPF_PROG_TYPE_SOCK_OPS`
    pub const SOCK_OPS: u32 = 13;
    /// `BPF_PROG_TYPE_SK_SKB`
    pub const SK_SKB: u32 = 14;
    /// `BPF_PROG_TYPE_CGROUP_DEVICE`
    pub const CGROUP_DEVICE: u32 = 15;
    /// `BPF_PROG_TYPE_SK_MSG`
    pub const SK_MSG: u32 = 16;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`
    pub const RAW_TRACEPOINT: u32 = 17;
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`
    pub const CGROUP_SOCK_ADDR: u32 = 18;
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`
    pub const LWT_SEG6LOCAL: u32 = 19;
    /// `BPF_PROG_TYPE_LIRC_MODE2`
    pub const LIRC_MODE2: u32 = 20;
    /// `BPF_PROG_TYPE_SK_REUSEPORT`
    pub const SK_REUSEPORT: u32 = 21;
    /// `BPF_PROG_TYPE_FLOW_DISSECTOR`
    pub const FLOW_DISSECTOR: u32 = 22;
    /// `BPF_PROG_TYPE_CGROUP_SYSCTL`
    pub const CGROUP_SYSCTL: u32 = 23;
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`
    pub const RAW_TRACEPOINT_WRITABLE: u32 = 24;
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`
    pub const CGROUP_SOCKOPT: u32 = 25;
    /// `BPF_PROG_TYPE_TRACING`
    pub const TRACING: u32 = 26;
    /// `BPF_PROG_TYPE_STRUCT_OPS`
    pub const STRUCT_OPS: u32 = 27;
    /// `BPF_PROG_TYPE_EXT`
    pub const EXT: u32 = 28;
    /// `BPF_PROG_TYPE_LSM`
    pub const LSM: u32 = 29;
    /// `BPF_PROG_TYPE_SK_LOOKUP`
    pub const SK_LOOKUP: u32 = 30;
    /// `BPF_PROG_TYPE_SYSCALL`
    pub const SYSCALL: u32 = 31;
    /// `BPF_PROG_TYPE_NETFILTER`
    pub const NETFILTER: u32 = 32;

    /// The names `bpftool` gives the program types, by number.
    const NAMES: [&str; 33] = [
        "unspec",
        "socket_filter",
        "kprobe",
        "sched_cls",
        "sched_act",
        "tracepoint",
        "xdp",
        "perf_event",
        "cgroup_skb",
        "cgroup_sock",
        "lwt_in",
        "lwt_out",
        "lwt_xmit",
        "sock_ops",
        "sk_skb",
        "cgroup_device",
        "sk_msg",
        "raw_tracepoint",
        "cgroup_sock_addr",
        "lwt_seg6local",
        "lirc_mode2",
        "sk_reuseport",
        "flow_dissector",
        "cgroup_sysctl",
        "raw_tracepoint_writable",
        "cgroup_sockopt",
        "tracing",
        "struct_ops",
        "ext",
        "lsm",
        "sk_lookup",
        "syscall",
        "netfilter",
    ];

    /// The name of program type `ty` (`"xdp"` for 6), if it is one.
    pub fn name(ty: u32) -> Option<&'static str> {
        NAMES.get(ty as usize).copied()
    }
}

/// `enum bpf_attach_type` values used by the table.
pub mod attach_type {
    /// `BPF_CGROUP_INET_INGRESS`
    pub const CGROUP_INET_INGRESS: u32 = 0;
    /// `BPF_CGROUP_INET_EGRESS`
    pub const CGROUP_INET_EGRESS: u32 = 1;
    /// `BPF_CGROUP_INET_SOCK_CREATE`
    pub const CGROUP_INET_SOCK_CREATE: u32 = 2;
    /// `BPF_CGROUP_SOCK_OPS`
    pub const CGROUP_SOCK_OPS: u32 = 3;
    /// `BPF_SK_SKB_STREAM_PARSER`
    pub const SK_SKB_STREAM_PARSER: u32 = 4;
    /// `BPF_SK_SKB_STREAM_VERDICT`
    pub const SK_SKB_STREAM_VERDICT: u32 = 5;
    /// `BPF_CGROUP_DEVICE`
    pub const CGROUP_DEVICE: u32 = 6;
    /// `BPF_SK_MSG_VERDICT`
    pub const SK_MSG_VERDICT: u32 = 7;
    /// `BPF_CGROUP_INET4_BIND`
    pub const CGROUP_INET4_BIND: u32 = 8;
    /// `BPF_CGROUP_INET6_BIND`
    pub const CGROUP_INET6_BIND: u32 = 9;
    /// `BPF_CGROUP_INET4_CONNECT`
    pub const CGROUP_INET4_CONNECT: u32 = 10;
    /// `BPF_CGROUP_INET6_CONNECT`
    pub const CGROUP_INET6_CONNECT: u32 = 11;
    /// `BPF_CGROUP_INET4_POST_BIND`
    pub const CGROUP_INET4_POST_BIND: u32 = 12;
    /// `BPF_CGROUP_INET6_POST_BIND`
    pub const CGROUP_INET6_POST_BIND: u32 = 13;
    /// `BPF_CGROUP_UDP4_SENDMSG`
    pub const CGROUP_UDP4_SENDMSG: u32 = 14;
    /// `BPF_CGROUP_UDP6_SENDMSG`
    pub const CGROUP_UDP6_SENDMSG: u32 = 15;
    /// `BPF_LIRC_MODE2`
    pub const LIRC_MODE2: u32 = 16;
    /// `BPF_FLOW_DISSECTOR`
    pub const FLOW_DISSECTOR: u32 = 17;
    /// `BPF_CGROUP_SYSCTL`
    pub const CGROUP_SYSCTL: u32 = 18;
    /// `BPF_CGROUP_UDP4_RECVMSG`
    pub const CGROUP_UDP4_RECVMSG: u32 = 19;
    /// `BPF_CGROUP_UDP6_RECVMSG`
    pub const CGROUP_UDP6_RECVMSG: u32 = 20;
    /// `BPF_CGROUP_GETSOCKOPT`
    pub const CGROUP_GETSOCKOPT: u32 = 21;
    /// `BPF_CGROUP_SETSOCKOPT`
    pub const CGROUP_SETSOCKOPT: u32 = 22;
    /// `BPF_TRACE_RAW_TP`
    pub const TRACE_RAW_TP: u32 = 23;
    /// `BPF_TRACE_FENTRY`
    pub const TRACE_FENTRY: u32 = 24;
    /// `BPF_TRACE_FEXIT`
    pub const TRACE_FEXIT: u32 = 25;
    /// `BPF_MODIFY_RETURN`
    pub const MODIFY_RETURN: u32 = 26;
    /// `BPF_LSM_MAC`
    pub const LSM_MAC: u32 = 27;
    /// `BPF_TRACE_ITER`
    pub const TRACE_ITER: u32 = 28;
    /// `BPF_CGROUP_INET4_GETPEERNAME`
    pub const CGROUP_INET4_GETPEERNAME: u32 = 29;
    /// `BPF_CGROUP_INET6_GETPEERNAME`
    pub const CGROUP_INET6_GETPEERNAME: u32 = 30;
    /// `BPF_CGROUP_INET4_GETSOCKNAME`
    pub const CGROUP_INET4_GETSOCKNAME: u32 = 31;
    /// `BPF_CGROUP_INET6_GETSOCKNAME`
    pub const CGROUP_INET6_GETSOCKNAME: u32 = 32;
    /// `BPF_XDP_DEVMAP`: an XDP program run on redirect into a devmap.
    pub const XDP_DEVMAP: u32 = 33;
    /// `BPF_CGROUP_INET_SOCK_RELEASE`
    pub const CGROUP_INET_SOCK_RELEASE: u32 = 34;
    /// `BPF_XDP_CPUMAP`: an XDP program run on redirect into a cpumap.
    pub const XDP_CPUMAP: u32 = 35;
    /// `BPF_SK_LOOKUP`
    pub const SK_LOOKUP: u32 = 36;
    /// `BPF_XDP`
    pub const XDP: u32 = 37;
    /// `BPF_SK_REUSEPORT_SELECT`
    pub const SK_REUSEPORT_SELECT: u32 = 39;
    /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`
    pub const SK_REUSEPORT_SELECT_OR_MIGRATE: u32 = 40;
    /// `BPF_TRACE_KPROBE_MULTI`
    pub const TRACE_KPROBE_MULTI: u32 = 42;
    /// `BPF_LSM_CGROUP`
    pub const LSM_CGROUP: u32 = 43;
    /// `BPF_NETFILTER`
    pub const NETFILTER: u32 = 45;
    /// `BPF_TCX_INGRESS`
    pub const TCX_INGRESS: u32 = 46;
    /// `BPF_TCX_EGRESS`
    pub const TCX_EGRESS: u32 = 47;
    /// `BPF_TRACE_UPROBE_MULTI`
    pub const TRACE_UPROBE_MULTI: u32 = 48;
    /// `BPF_CGROUP_UNIX_CONNECT`
    pub const CGROUP_UNIX_CONNECT: u32 = 49;
    /// `BPF_CGROUP_UNIX_SENDMSG`
    pub const CGROUP_UNIX_SENDMSG: u32 = 50;
    /// `BPF_CGROUP_UNIX_RECVMSG`
    pub const CGROUP_UNIX_RECVMSG: u32 = 51;
    /// `BPF_CGROUP_UNIX_GETPEERNAME`
    pub const CGROUP_UNIX_GETPEERNAME: u32 = 52;
    /// `BPF_CGROUP_UNIX_GETSOCKNAME`
    pub const CGROUP_UNIX_GETSOCKNAME: u32 = 53;
    /// `BPF_NETKIT_PRIMARY`
    pub const NETKIT_PRIMARY: u32 = 54;
    /// `BPF_NETKIT_PEER`
    pub const NETKIT_PEER: u32 = 55;
}

/// What else a section name says about its programs (libbpf's
/// `enum sec_def_flags`, the parts that matter to a loader).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SecFlags {
    /// The program may sleep (`.s` sections): loaded with
    /// `BPF_F_SLEEPABLE`.
    pub sleepable: bool,
    /// The XDP program handles multi-buffer frames (`xdp.frags*`): loaded
    /// with `BPF_F_XDP_HAS_FRAGS`.
    pub xdp_frags: bool,
    /// The attach target is named by BTF (fentry, lsm, iter, ...).
    pub attach_btf: bool,
}

/// One entry of the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecDef {
    /// The entry as libbpf writes it (`"xdp.frags/devmap"`, `"kprobe+"`,
    /// `"fentry+"`).
    pub pattern: &'static str,
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// `enum bpf_attach_type` given as `expected_attach_type` at load.
    pub expected_attach_type: u32,
    /// Further properties.
    pub flags: SecFlags,
}

impl SecDef {
    /// Whether `section` (without a leading `?`) matches this entry, by
    /// libbpf's rules for exact, `+` and `/` entries.
    pub fn matches(&self, section: &str) -> bool {
        if let Some(prefix) = self.pattern.strip_suffix('+') {
            match section.strip_prefix(prefix) {
                Some(rest) => rest.is_empty() || rest.starts_with('/'),
                None => false,
            }
        } else if self.pattern.ends_with('/') {
            section.starts_with(self.pattern)
        } else {
            section == self.pattern
        }
    }
}

const NONE: SecFlags = SecFlags {
    sleepable: false,
    xdp_frags: false,
    attach_btf: false,
};
const SLEEPABLE: SecFlags = SecFlags {
    sleepable: true,
    ..NONE
};
const FRAGS: SecFlags = SecFlags {
    xdp_frags: true,
    ..NONE
};
const BTF: SecFlags = SecFlags {
    attach_btf: true,
    ..NONE
};
const BTF_SLEEPABLE: SecFlags = SecFlags {
    attach_btf: true,
    sleepable: true,
    ..NONE
};

const fn def(pattern: &'static str, prog_type: u32, attach: u32, flags: SecFlags) -> SecDef {
    SecDef {
        pattern,
        prog_type,
        expected_attach_type: attach,
        flags,
    }
}

use attach_type as a;
use prog_type as p;

/// libbpf's section table, in its matching order.
pub static SECTION_DEFS: &[SecDef] = &[
    def("socket", p::SOCKET_FILTER, 0, NONE),
    def(
        "sk_reuseport/migrate",
        p::SK_REUSEPORT,
        a::SK_REUSEPORT_SELECT_OR_MIGRATE,
        NONE,
    ),
    def(
        "sk_reuseport",
        p::SK_REUSEPORT,
        a::SK_REUSEPORT_SELECT,
        NONE,
    ),
    def("kprobe+", p::KPROBE, 0, NONE),
    def("uprobe+", p::KPROBE, 0, NONE),
    def("uprobe.s+", p::KPROBE, 0, SLEEPABLE),
    def("kretprobe+", p::KPROBE, 0, NONE),
    def("uretprobe+", p::KPROBE, 0, NONE),
    def("uretprobe.s+", p::KPROBE, 0, SLEEPABLE),
    def("kprobe.multi+", p::KPROBE, a::TRACE_KPROBE_MULTI, NONE),
    def("kretprobe.multi+", p::KPROBE, a::TRACE_KPROBE_MULTI, NONE),
    def("uprobe.multi+", p::KPROBE, a::TRACE_UPROBE_MULTI, NONE),
    def("uretprobe.multi+", p::KPROBE, a::TRACE_UPROBE_MULTI, NONE),
    def(
        "uprobe.multi.s+",
        p::KPROBE,
        a::TRACE_UPROBE_MULTI,
        SLEEPABLE,
    ),
    def(
        "uretprobe.multi.s+",
        p::KPROBE,
        a::TRACE_UPROBE_MULTI,
        SLEEPABLE,
    ),
    def("ksyscall+", p::KPROBE, 0, NONE),
    def("kretsyscall+", p::KPROBE, 0, NONE),
    def("usdt+", p::KPROBE, 0, NONE),
    def("usdt.s+", p::KPROBE, 0, SLEEPABLE),
    def("tc/ingress", p::SCHED_CLS, a::TCX_INGRESS, NONE),
    def("tc/egress", p::SCHED_CLS, a::TCX_EGRESS, NONE),
    def("tcx/ingress", p::SCHED_CLS, a::TCX_INGRESS, NONE),
    def("tcx/egress", p::SCHED_CLS, a::TCX_EGRESS, NONE),
    def("tc", p::SCHED_CLS, 0, NONE),
    def("classifier", p::SCHED_CLS, 0, NONE),
    def("action", p::SCHED_ACT, 0, NONE),
    def("netkit/primary", p::SCHED_CLS, a::NETKIT_PRIMARY, NONE),
    def("netkit/peer", p::SCHED_CLS, a::NETKIT_PEER, NONE),
    def("tracepoint+", p::TRACEPOINT, 0, NONE),
    def("tp+", p::TRACEPOINT, 0, NONE),
    def("raw_tracepoint+", p::RAW_TRACEPOINT, 0, NONE),
    def("raw_tp+", p::RAW_TRACEPOINT, 0, NONE),
    def("raw_tracepoint.w+", p::RAW_TRACEPOINT_WRITABLE, 0, NONE),
    def("raw_tp.w+", p::RAW_TRACEPOINT_WRITABLE, 0, NONE),
    def("tp_btf+", p::TRACING, a::TRACE_RAW_TP, BTF),
    def("fentry+", p::TRACING, a::TRACE_FENTRY, BTF),
    def("fmod_ret+", p::TRACING, a::MODIFY_RETURN, BTF),
    def("fexit+", p::TRACING, a::TRACE_FEXIT, BTF),
    def("fentry.s+", p::TRACING, a::TRACE_FENTRY, BTF_SLEEPABLE),
    def("fmod_ret.s+", p::TRACING, a::MODIFY_RETURN, BTF_SLEEPABLE),
    def("fexit.s+", p::TRACING, a::TRACE_FEXIT, BTF_SLEEPABLE),
    def("freplace+", p::EXT, 0, BTF),
    def("lsm+", p::LSM, a::LSM_MAC, BTF),
    def("lsm.s+", p::LSM, a::LSM_MAC, BTF_SLEEPABLE),
    def("lsm_cgroup+", p::LSM, a::LSM_CGROUP, BTF),
    def("iter+", p::TRACING, a::TRACE_ITER, BTF),
    def("iter.s+", p::TRACING, a::TRACE_ITER, BTF_SLEEPABLE),
    def("syscall", p::SYSCALL, 0, SLEEPABLE),
    def("xdp.frags/devmap", p::XDP, a::XDP_DEVMAP, FRAGS),
    def("xdp/devmap", p::XDP, a::XDP_DEVMAP, NONE),
    def("xdp.frags/cpumap", p::XDP, a::XDP_CPUMAP, FRAGS),
    def("xdp/cpumap", p::XDP, a::XDP_CPUMAP, NONE),
    def("xdp.frags", p::XDP, a::XDP, FRAGS),
    def("xdp", p::XDP, a::XDP, NONE),
    def("perf_event", p::PERF_EVENT, 0, NONE),
    def("lwt_in", p::LWT_IN, 0, NONE),
    def("lwt_out", p::LWT_OUT, 0, NONE),
    def("lwt_xmit", p::LWT_XMIT, 0, NONE),
    def("lwt_seg6local", p::LWT_SEG6LOCAL, 0, NONE),
    def("sockops", p::SOCK_OPS, a::CGROUP_SOCK_OPS, NONE),
    def(
        "sk_skb/stream_parser",
        p::SK_SKB,
        a::SK_SKB_STREAM_PARSER,
        NONE,
    ),
    def(
        "sk_skb/stream_verdict",
        p::SK_SKB,
        a::SK_SKB_STREAM_VERDICT,
        NONE,
    ),
    def("sk_skb", p::SK_SKB, 0, NONE),
    def("sk_msg", p::SK_MSG, a::SK_MSG_VERDICT, NONE),
    def("lirc_mode2", p::LIRC_MODE2, a::LIRC_MODE2, NONE),
    def("flow_dissector", p::FLOW_DISSECTOR, a::FLOW_DISSECTOR, NONE),
    def(
        "cgroup_skb/ingress",
        p::CGROUP_SKB,
        a::CGROUP_INET_INGRESS,
        NONE,
    ),
    def(
        "cgroup_skb/egress",
        p::CGROUP_SKB,
        a::CGROUP_INET_EGRESS,
        NONE,
    ),
    def("cgroup/skb", p::CGROUP_SKB, 0, NONE),
    def(
        "cgroup/sock_create",
        p::CGROUP_SOCK,
        a::CGROUP_INET_SOCK_CREATE,
        NONE,
    ),
    def(
        "cgroup/sock_release",
        p::CGROUP_SOCK,
        a::CGROUP_INET_SOCK_RELEASE,
        NONE,
    ),
    def(
        "cgroup/sock",
        p::CGROUP_SOCK,
        a::CGROUP_INET_SOCK_CREATE,
        NONE,
    ),
    def(
        "cgroup/post_bind4",
        p::CGROUP_SOCK,
        a::CGROUP_INET4_POST_BIND,
        NONE,
    ),
    def(
        "cgroup/post_bind6",
        p::CGROUP_SOCK,
        a::CGROUP_INET6_POST_BIND,
        NONE,
    ),
    def(
        "cgroup/bind4",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET4_BIND,
        NONE,
    ),
    def(
        "cgroup/bind6",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET6_BIND,
        NONE,
    ),
    def(
        "cgroup/connect4",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET4_CONNECT,
        NONE,
    ),
    def(
        "cgroup/connect6",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET6_CONNECT,
        NONE,
    ),
    def(
        "cgroup/connect_unix",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UNIX_CONNECT,
        NONE,
    ),
    def(
        "cgroup/sendmsg4",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UDP4_SENDMSG,
        NONE,
    ),
    def(
        "cgroup/sendmsg6",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UDP6_SENDMSG,
        NONE,
    ),
    def(
        "cgroup/sendmsg_unix",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UNIX_SENDMSG,
        NONE,
    ),
    def(
        "cgroup/recvmsg4",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UDP4_RECVMSG,
        NONE,
    ),
    def(
        "cgroup/recvmsg6",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UDP6_RECVMSG,
        NONE,
    ),
    def(
        "cgroup/recvmsg_unix",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UNIX_RECVMSG,
        NONE,
    ),
    def(
        "cgroup/getpeername4",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET4_GETPEERNAME,
        NONE,
    ),
    def(
        "cgroup/getpeername6",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET6_GETPEERNAME,
        NONE,
    ),
    def(
        "cgroup/getpeername_unix",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UNIX_GETPEERNAME,
        NONE,
    ),
    def(
        "cgroup/getsockname4",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET4_GETSOCKNAME,
        NONE,
    ),
    def(
        "cgroup/getsockname6",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_INET6_GETSOCKNAME,
        NONE,
    ),
    def(
        "cgroup/getsockname_unix",
        p::CGROUP_SOCK_ADDR,
        a::CGROUP_UNIX_GETSOCKNAME,
        NONE,
    ),
    def("cgroup/sysctl", p::CGROUP_SYSCTL, a::CGROUP_SYSCTL, NONE),
    def(
        "cgroup/getsockopt",
        p::CGROUP_SOCKOPT,
        a::CGROUP_GETSOCKOPT,
        NONE,
    ),
    def(
        "cgroup/setsockopt",
        p::CGROUP_SOCKOPT,
        a::CGROUP_SETSOCKOPT,
        NONE,
    ),
    def("cgroup/dev", p::CGROUP_DEVICE, a::CGROUP_DEVICE, NONE),
    def("struct_ops+", p::STRUCT_OPS, 0, NONE),
    def("struct_ops.s+", p::STRUCT_OPS, 0, SLEEPABLE),
    def("sk_lookup", p::SK_LOOKUP, a::SK_LOOKUP, NONE),
    def("netfilter", p::NETFILTER, a::NETFILTER, NONE),
];

/// The table entry for section `name`, after dropping libbpf's `?`
/// prefix (which only turns autoload off).
pub fn find_sec_def(name: &str) -> Option<&'static SecDef> {
    let name = name.strip_prefix('?').unwrap_or(name);
    SECTION_DEFS.iter().find(|d| d.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_type_names() {
        assert_eq!(prog_type::name(prog_type::XDP), Some("xdp"));
        assert_eq!(
            prog_type::name(prog_type::SOCKET_FILTER),
            Some("socket_filter")
        );
        assert_eq!(prog_type::name(prog_type::NETFILTER), Some("netfilter"));
        assert_eq!(prog_type::name(prog_type::NETFILTER + 1), None);
    }

    fn lookup(name: &str) -> (u32, u32, &'static str) {
        let d = find_sec_def(name).unwrap_or_else(|| panic!("{name} not found"));
        (d.prog_type, d.expected_attach_type, d.pattern)
    }

    #[test]
    fn xdp_family() {
        assert_eq!(lookup("xdp"), (6, 37, "xdp"));
        assert_eq!(lookup("xdp.frags"), (6, 37, "xdp.frags"));
        assert_eq!(lookup("xdp/devmap"), (6, 33, "xdp/devmap"));
        assert_eq!(lookup("xdp.frags/devmap"), (6, 33, "xdp.frags/devmap"));
        assert_eq!(lookup("xdp/cpumap"), (6, 35, "xdp/cpumap"));
        assert_eq!(lookup("xdp.frags/cpumap"), (6, 35, "xdp.frags/cpumap"));
        assert!(find_sec_def("xdp.frags").unwrap().flags.xdp_frags);
        assert!(!find_sec_def("xdp").unwrap().flags.xdp_frags);
        // "xdp" is an exact entry: "xdp/foo" and "xdpfoo" are not programs.
        assert!(find_sec_def("xdp/foo").is_none());
        assert!(find_sec_def("xdpfoo").is_none());
        // Old libbpf's "xdp_devmap/" spelling is gone from the table.
        assert!(find_sec_def("xdp_devmap/x").is_none());
    }

    #[test]
    fn other_types_and_grammar() {
        assert_eq!(lookup("socket"), (1, 0, "socket"));
        assert_eq!(lookup("tc"), (3, 0, "tc"));
        assert_eq!(lookup("tc/ingress"), (3, 46, "tc/ingress"));
        assert_eq!(lookup("classifier"), (3, 0, "classifier"));
        // '+' entries: exact or with a '/' separator, nothing else.
        assert_eq!(lookup("kprobe/do_sys_open"), (2, 0, "kprobe+"));
        assert_eq!(lookup("kprobe"), (2, 0, "kprobe+"));
        assert!(find_sec_def("kprobex").is_none());
        assert_eq!(lookup("kprobe.multi/foo*"), (2, 42, "kprobe.multi+"));
        assert_eq!(
            lookup("tracepoint/syscalls/sys_enter"),
            (5, 0, "tracepoint+")
        );
        assert_eq!(lookup("raw_tp/sched_switch"), (17, 0, "raw_tp+"));
        assert_eq!(lookup("fentry/tcp_connect"), (26, 24, "fentry+"));
        assert_eq!(lookup("fexit.s/foo"), (26, 25, "fexit.s+"));
        assert!(find_sec_def("fexit.s/foo").unwrap().flags.sleepable);
        assert_eq!(lookup("lsm/file_open"), (29, 27, "lsm+"));
        assert_eq!(lookup("cgroup_skb/ingress"), (8, 0, "cgroup_skb/ingress"));
        assert_eq!(lookup("cgroup/sock"), (9, 2, "cgroup/sock"));
        assert_eq!(
            lookup("sk_skb/stream_parser"),
            (14, 4, "sk_skb/stream_parser")
        );
        assert_eq!(lookup("sk_skb"), (14, 0, "sk_skb"));
        assert_eq!(lookup("struct_ops/dctcp_init"), (27, 0, "struct_ops+"));
        assert_eq!(lookup("syscall"), (31, 0, "syscall"));
        assert_eq!(lookup("netfilter"), (32, 45, "netfilter"));
        // '?' only disables autoload.
        assert_eq!(lookup("?xdp"), (6, 37, "xdp"));
        assert!(find_sec_def("license").is_none());
    }

    #[test]
    fn every_pattern_matches_itself_first_or_a_listed_predecessor() {
        // A pattern shadowed by an earlier entry could never be selected.
        for (i, d) in SECTION_DEFS.iter().enumerate() {
            let name = d.pattern.trim_end_matches('+');
            let name = if name.ends_with('/') {
                format!("{name}x")
            } else {
                name.to_owned()
            };
            let first = SECTION_DEFS.iter().position(|e| e.matches(&name)).unwrap();
            assert_eq!(
                first, i,
                "{} is shadowed by {}",
                d.pattern, SECTION_DEFS[first].pattern
            );
        }
    }
}
