//! Flag bits of the map uapi: the `flags` argument of `bpf_map_update_elem`
//! and the `map_flags` given at creation (include/uapi/linux/bpf.h).

/// `BPF_ANY`: create a new element or update an existing one.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create a new element only if it did not exist.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update an existing element only.
pub const BPF_EXIST: u64 = 2;
/// `BPF_F_LOCK`: update under the value's `bpf_spin_lock`.
pub const BPF_F_LOCK: u64 = 4;

/// `BPF_F_NO_PREALLOC`: hash maps allocate elements on update.
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// `BPF_F_NO_COMMON_LRU`: LRU maps keep one LRU list per CPU.
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
/// `BPF_F_NUMA_NODE`: `numa_node` is set at creation.
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
/// `BPF_F_RDONLY`: the control plane may only read the map.
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// `BPF_F_WRONLY`: the control plane may only write the map.
pub const BPF_F_WRONLY: u32 = 1 << 4;
/// `BPF_F_STACK_BUILD_ID`: stack trace maps store build ids.
pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
/// `BPF_F_ZERO_SEED`: hash maps use a zero hash seed (testing only).
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
/// `BPF_F_RDONLY_PROG`: programs may only read the map.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`: programs may only write the map.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// `BPF_F_CLONE`: clone the map's storage for sk_storage.
pub const BPF_F_CLONE: u32 = 1 << 9;
/// `BPF_F_MMAPABLE`: the array may be mmap()ed.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `BPF_F_PRESERVE_ELEMS`: perf event arrays keep elements on close.
pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
/// `BPF_F_INNER_MAP`: an array usable as an inner map of any size.
pub const BPF_F_INNER_MAP: u32 = 1 << 12;

/// `BPF_F_ACCESS_MASK`: the access-restriction bits.
pub const BPF_F_ACCESS_MASK: u32 =
    BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;
