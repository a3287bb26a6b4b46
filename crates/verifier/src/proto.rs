//! Helper prototypes as data: what each helper takes in `r1..r5` and what
//! it returns in `r0`, in the vocabulary of the kernel's `struct
//! bpf_func_proto` (`enum bpf_arg_type`, `enum bpf_return_type`).
//!
//! The verifier checks a call against its prototype alone; it knows no
//! helper by name. Which helpers a program type may call is the program
//! type's business ([`crate::ProgramType::helper_proto`]); this module
//! holds the prototypes of every helper rxdp knows, as the kernel declares
//! them (net/core/filter.c, kernel/bpf/helpers.c, kernel/bpf/ringbuf.c,
//! kernel/bpf/bpf_iter.c, kernel/trace/bpf_trace.c).

use rxdp_isa::helper_id as hid;

/// What one argument register must hold (the kernel's `bpf_arg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// The argument is not used (`ARG_DONTCARE`); the register is not read.
    None,
    /// Any initialised value (`ARG_ANYTHING`).
    Anything,
    /// A map pointer loaded with `lddw` (`ARG_CONST_MAP_PTR`).
    MapPtr,
    /// Pointer to `key_size` initialised bytes of the map of the preceding
    /// [`Arg::MapPtr`] (`ARG_PTR_TO_MAP_KEY`).
    MapKey,
    /// Pointer to `value_size` initialised bytes (`ARG_PTR_TO_MAP_VALUE`).
    MapValue,
    /// Pointer to `value_size` bytes the helper writes
    /// (`ARG_PTR_TO_MAP_VALUE | MEM_UNINIT`).
    MapValueUninit,
    /// The program's context (`ARG_PTR_TO_CTX`).
    Ctx,
    /// Pointer to memory of the size in the next argument
    /// (`ARG_PTR_TO_MEM` with its flags): stack, packet, map value or
    /// helper memory.
    Mem {
        /// The helper reads it: it must be initialised (no `MEM_UNINIT`).
        read: bool,
        /// The helper writes it: it must be writable (no `MEM_RDONLY`).
        write: bool,
        /// A null pointer is allowed, with a zero size (`PTR_MAYBE_NULL`).
        nullable: bool,
    },
    /// Pointer to memory of a size fixed by the prototype, read and
    /// written by the helper (`ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE`).
    FixedMem(u32),
    /// The size of the preceding memory argument: a bounded scalar
    /// (`ARG_CONST_SIZE`, or `ARG_CONST_SIZE_OR_ZERO` when `zero_ok`).
    Size {
        /// Whether zero is allowed.
        zero_ok: bool,
    },
    /// The size of memory the helper allocates and returns
    /// (`ARG_CONST_ALLOC_SIZE_OR_ZERO`): must be a known constant.
    AllocSize,
    /// A ring buffer record from `bpf_ringbuf_reserve`, released by the
    /// call (`ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`).
    RingbufRelease,
    /// A subprogram's address taken with `lddw rX, func[...]`
    /// (`ARG_PTR_TO_FUNC`): the callback.
    Func,
    /// Pointer to the stack, or null (`ARG_PTR_TO_STACK_OR_NULL`): the
    /// callback's context.
    StackOrNull,
    /// Pointer to a `struct bpf_spin_lock` inside a map value
    /// (`ARG_PTR_TO_SPIN_LOCK`).
    SpinLock,
    /// Pointer to a constant, NUL-terminated string in a read-only map
    /// (`ARG_PTR_TO_CONST_STR`).
    ConstStr,
}

/// What a helper returns in `r0` (the kernel's `bpf_return_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// A scalar (`RET_INTEGER`).
    Integer,
    /// Nothing the program may use (`RET_VOID`): `r0` is unreadable.
    Void,
    /// A pointer to a value of the map argument, or null
    /// (`RET_PTR_TO_MAP_VALUE_OR_NULL`); a map of maps yields its inner
    /// map pointer instead.
    MapValueOrNull,
    /// A ring buffer record of the size argument, or null, which must be
    /// submitted or discarded on every path
    /// (`RET_PTR_TO_RINGBUF_MEM_OR_NULL`, an acquired reference).
    RingbufOrNull,
}

/// How a helper runs a callback subprogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Callback {
    /// `bpf_loop(nr, cb, ctx, flags)`: `cb(u64 index, void *ctx)`.
    Loop,
    /// `bpf_for_each_map_elem(map, cb, ctx, flags)`:
    /// `cb(struct bpf_map *map, key *k, value *v, void *ctx)`.
    ForEachMapElem,
}

/// One helper's prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HelperProto {
    /// `BPF_FUNC_*` id.
    pub id: u32,
    /// The kernel's name, with its `bpf_` prefix.
    pub name: &'static str,
    /// `r1..r5`.
    pub args: [Arg; 5],
    /// `r0`.
    pub ret: Ret,
    /// Whether the helper may move `data`/`data_end`
    /// (`bpf_helper_changes_pkt_data`): every packet pointer is invalid
    /// after the call.
    pub changes_pkt_data: bool,
    /// Whether the helper is `bpf_tail_call`.
    pub tail_call: bool,
    /// The callback the helper runs, if any.
    pub callback: Option<Callback>,
}

const N: Arg = Arg::None;

const fn p(id: i32, name: &'static str, args: [Arg; 5], ret: Ret) -> HelperProto {
    HelperProto {
        id: id as u32,
        name,
        args,
        ret,
        changes_pkt_data: false,
        tail_call: false,
        callback: None,
    }
}

const fn pkt(mut proto: HelperProto) -> HelperProto {
    proto.changes_pkt_data = true;
    proto
}

const fn cb(mut proto: HelperProto, callback: Callback) -> HelperProto {
    proto.callback = Some(callback);
    proto
}

use Arg::{Anything as Any, Ctx, MapKey, MapPtr, MapValue, Size};

/// `ARG_PTR_TO_MEM | MEM_RDONLY`, optionally `| PTR_MAYBE_NULL`.
const fn rd(nullable: bool) -> Arg {
    Arg::Mem {
        read: true,
        write: false,
        nullable,
    }
}

/// `ARG_PTR_TO_UNINIT_MEM`: the helper only writes.
const WR: Arg = Arg::Mem {
    read: false,
    write: true,
    nullable: false,
};

/// `ARG_PTR_TO_MEM`: the helper reads and writes.
const fn rw(nullable: bool) -> Arg {
    Arg::Mem {
        read: true,
        write: true,
        nullable,
    }
}
use Ret::{Integer, Void};

/// Every helper prototype rxdp knows.
pub const PROTOS: &[HelperProto] = &[
    p(
        hid::MAP_LOOKUP_ELEM,
        "bpf_map_lookup_elem",
        [MapPtr, MapKey, N, N, N],
        Ret::MapValueOrNull,
    ),
    p(
        hid::MAP_UPDATE_ELEM,
        "bpf_map_update_elem",
        [MapPtr, MapKey, MapValue, Any, N],
        Integer,
    ),
    p(
        hid::MAP_DELETE_ELEM,
        "bpf_map_delete_elem",
        [MapPtr, MapKey, N, N, N],
        Integer,
    ),
    p(
        hid::MAP_PUSH_ELEM,
        "bpf_map_push_elem",
        [MapPtr, MapValue, Any, N, N],
        Integer,
    ),
    p(
        hid::MAP_POP_ELEM,
        "bpf_map_pop_elem",
        [MapPtr, Arg::MapValueUninit, N, N, N],
        Integer,
    ),
    p(
        hid::MAP_PEEK_ELEM,
        "bpf_map_peek_elem",
        [MapPtr, Arg::MapValueUninit, N, N, N],
        Integer,
    ),
    p(
        hid::MAP_LOOKUP_PERCPU_ELEM,
        "bpf_map_lookup_percpu_elem",
        [MapPtr, MapKey, Any, N, N],
        Ret::MapValueOrNull,
    ),
    p(hid::KTIME_GET_NS, "bpf_ktime_get_ns", [N; 5], Integer),
    p(
        hid::KTIME_GET_BOOT_NS,
        "bpf_ktime_get_boot_ns",
        [N; 5],
        Integer,
    ),
    p(hid::JIFFIES64, "bpf_jiffies64", [N; 5], Integer),
    p(hid::GET_PRANDOM_U32, "bpf_get_prandom_u32", [N; 5], Integer),
    p(
        hid::GET_SMP_PROCESSOR_ID,
        "bpf_get_smp_processor_id",
        [N; 5],
        Integer,
    ),
    p(
        hid::GET_NUMA_NODE_ID,
        "bpf_get_numa_node_id",
        [N; 5],
        Integer,
    ),
    pkt(p(
        hid::XDP_ADJUST_HEAD,
        "bpf_xdp_adjust_head",
        [Ctx, Any, N, N, N],
        Integer,
    )),
    pkt(p(
        hid::XDP_ADJUST_META,
        "bpf_xdp_adjust_meta",
        [Ctx, Any, N, N, N],
        Integer,
    )),
    pkt(p(
        hid::XDP_ADJUST_TAIL,
        "bpf_xdp_adjust_tail",
        [Ctx, Any, N, N, N],
        Integer,
    )),
    p(
        hid::XDP_GET_BUFF_LEN,
        "bpf_xdp_get_buff_len",
        [Ctx, N, N, N, N],
        Integer,
    ),
    p(
        hid::XDP_LOAD_BYTES,
        "bpf_xdp_load_bytes",
        [Ctx, Any, WR, Size { zero_ok: false }, N],
        Integer,
    ),
    p(
        hid::XDP_STORE_BYTES,
        "bpf_xdp_store_bytes",
        [Ctx, Any, rd(false), Size { zero_ok: false }, N],
        Integer,
    ),
    p(
        hid::CSUM_DIFF,
        "bpf_csum_diff",
        [
            rd(true),
            Size { zero_ok: true },
            rd(true),
            Size { zero_ok: true },
            Any,
        ],
        Integer,
    ),
    p(hid::REDIRECT, "bpf_redirect", [Any, Any, N, N, N], Integer),
    p(
        hid::REDIRECT_MAP,
        "bpf_redirect_map",
        [MapPtr, Any, Any, N, N],
        Integer,
    ),
    p(
        hid::TRACE_PRINTK,
        "bpf_trace_printk",
        // Variadic: the kernel checks only the format and its size; the
        // helper reads r3..r5 as the format says, checking memory itself.
        [rd(false), Size { zero_ok: false }, N, N, N],
        Integer,
    ),
    p(
        hid::SNPRINTF,
        "bpf_snprintf",
        [
            rw(true),
            Size { zero_ok: true },
            Arg::ConstStr,
            rd(true),
            Size { zero_ok: true },
        ],
        Integer,
    ),
    p(
        hid::CHECK_MTU,
        "bpf_check_mtu",
        [Ctx, Any, Arg::FixedMem(4), Any, Any],
        Integer,
    ),
    p(
        hid::FIB_LOOKUP,
        "bpf_fib_lookup",
        [Ctx, rw(false), Size { zero_ok: false }, Any, N],
        Integer,
    ),
    HelperProto {
        tail_call: true,
        ..p(
            hid::TAIL_CALL,
            "bpf_tail_call",
            [Ctx, MapPtr, Any, N, N],
            Integer,
        )
    },
    p(
        hid::RINGBUF_OUTPUT,
        "bpf_ringbuf_output",
        [MapPtr, rd(false), Size { zero_ok: true }, Any, N],
        Integer,
    ),
    p(
        hid::RINGBUF_RESERVE,
        "bpf_ringbuf_reserve",
        [MapPtr, Arg::AllocSize, Any, N, N],
        Ret::RingbufOrNull,
    ),
    p(
        hid::RINGBUF_SUBMIT,
        "bpf_ringbuf_submit",
        [Arg::RingbufRelease, Any, N, N, N],
        Void,
    ),
    p(
        hid::RINGBUF_DISCARD,
        "bpf_ringbuf_discard",
        [Arg::RingbufRelease, Any, N, N, N],
        Void,
    ),
    p(
        hid::RINGBUF_QUERY,
        "bpf_ringbuf_query",
        [MapPtr, Any, N, N, N],
        Integer,
    ),
    p(
        hid::PERF_EVENT_OUTPUT,
        "bpf_perf_event_output",
        [Ctx, MapPtr, Any, rd(false), Size { zero_ok: true }],
        Integer,
    ),
    p(
        hid::SPIN_LOCK,
        "bpf_spin_lock",
        [Arg::SpinLock, N, N, N, N],
        Void,
    ),
    p(
        hid::SPIN_UNLOCK,
        "bpf_spin_unlock",
        [Arg::SpinLock, N, N, N, N],
        Void,
    ),
    cb(
        p(
            hid::LOOP,
            "bpf_loop",
            [Any, Arg::Func, Arg::StackOrNull, Any, N],
            Integer,
        ),
        Callback::Loop,
    ),
    cb(
        p(
            hid::FOR_EACH_MAP_ELEM,
            "bpf_for_each_map_elem",
            [MapPtr, Arg::Func, Arg::StackOrNull, Any, N],
            Integer,
        ),
        Callback::ForEachMapElem,
    ),
];

/// Whether helper `helper` may take a map of type `map_type` (the
/// kernel's `check_map_func_compatibility`, both directions: some maps
/// serve only certain helpers, some helpers take only certain maps).
pub fn map_compatible(helper: u32, map_type: u32) -> bool {
    use rxdp_isa::maptype as m;
    let h = helper as i32;
    let by_map: Option<&[i32]> = match map_type {
        m::PROG_ARRAY => Some(&[hid::TAIL_CALL]),
        m::PERF_EVENT_ARRAY => Some(&[hid::PERF_EVENT_OUTPUT]),
        m::RINGBUF => Some(&[
            hid::RINGBUF_OUTPUT,
            hid::RINGBUF_RESERVE,
            hid::RINGBUF_QUERY,
        ]),
        m::DEVMAP | m::DEVMAP_HASH | m::XSKMAP => Some(&[hid::REDIRECT_MAP, hid::MAP_LOOKUP_ELEM]),
        m::CPUMAP => Some(&[hid::REDIRECT_MAP]),
        m::ARRAY_OF_MAPS | m::HASH_OF_MAPS => Some(&[hid::MAP_LOOKUP_ELEM]),
        m::QUEUE | m::STACK => Some(&[hid::MAP_PUSH_ELEM, hid::MAP_POP_ELEM, hid::MAP_PEEK_ELEM]),
        m::BLOOM_FILTER => Some(&[hid::MAP_PUSH_ELEM, hid::MAP_PEEK_ELEM]),
        _ => None,
    };
    if by_map.is_some_and(|allowed| !allowed.contains(&h)) {
        return false;
    }
    let by_helper: Option<&[u32]> = match h {
        hid::TAIL_CALL => Some(&[m::PROG_ARRAY]),
        hid::PERF_EVENT_OUTPUT => Some(&[m::PERF_EVENT_ARRAY]),
        hid::RINGBUF_OUTPUT | hid::RINGBUF_RESERVE | hid::RINGBUF_QUERY => Some(&[m::RINGBUF]),
        hid::REDIRECT_MAP => Some(&[m::DEVMAP, m::DEVMAP_HASH, m::CPUMAP, m::XSKMAP]),
        hid::MAP_POP_ELEM => Some(&[m::QUEUE, m::STACK]),
        hid::MAP_PUSH_ELEM | hid::MAP_PEEK_ELEM => Some(&[m::QUEUE, m::STACK, m::BLOOM_FILTER]),
        hid::MAP_LOOKUP_PERCPU_ELEM => Some(&[m::PERCPU_ARRAY, m::PERCPU_HASH, m::LRU_PERCPU_HASH]),
        hid::FOR_EACH_MAP_ELEM => Some(&[
            m::HASH,
            m::LRU_HASH,
            m::ARRAY,
            m::PERCPU_HASH,
            m::LRU_PERCPU_HASH,
            m::PERCPU_ARRAY,
        ]),
        _ => None,
    };
    by_helper.is_none_or(|allowed| allowed.contains(&map_type))
}

/// The prototype of helper `id`, if rxdp knows it.
pub fn proto(id: u32) -> Option<&'static HelperProto> {
    PROTOS.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_kernels() {
        for p in PROTOS {
            assert_eq!(hid::helper_name(p.id as i32), Some(p.name), "{p:?}");
        }
    }

    #[test]
    fn sizes_follow_memory_and_memory_is_followed_by_sizes() {
        for p in PROTOS {
            for (i, a) in p.args.iter().enumerate() {
                let next = p.args.get(i + 1);
                if matches!(a, Arg::Mem { .. }) {
                    assert!(matches!(next, Some(Arg::Size { .. })), "{p:?}");
                }
                if matches!(a, Arg::Size { .. }) {
                    let prev = &p.args[i - 1];
                    assert!(matches!(prev, Arg::Mem { .. }), "{p:?}");
                }
            }
        }
    }
}
