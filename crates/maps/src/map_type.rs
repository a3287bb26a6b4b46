//! The `BPF_MAP_TYPE_*` numbers of the kernel's `enum bpf_map_type`
//! (include/uapi/linux/bpf.h) and the names bpftool prints for them.
//!
//! The numbers are the uapi: object files and `bpf(2)` carry them, so they
//! are listed here whether or not rxdp implements the type yet. The order was
//! checked against the uapi header (up to `USER_RINGBUF` in the system's
//! `/usr/include/linux/bpf.h`, `CGRP_STORAGE`, `ARENA` and `INSN_ARRAY` in the
//! kernel tree).

/// `BPF_MAP_TYPE_UNSPEC`: reserved, never a valid map.
pub const UNSPEC: u32 = 0;
/// `BPF_MAP_TYPE_HASH`: hash table (kernel/bpf/hashtab.c).
pub const HASH: u32 = 1;
/// `BPF_MAP_TYPE_ARRAY`: preallocated array (kernel/bpf/arraymap.c).
pub const ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_PROG_ARRAY`: programs for tail calls.
pub const PROG_ARRAY: u32 = 3;
/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: perf event ring buffers.
pub const PERF_EVENT_ARRAY: u32 = 4;
/// `BPF_MAP_TYPE_PERCPU_HASH`: hash table with one value per CPU.
pub const PERCPU_HASH: u32 = 5;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`: array with one value per CPU.
pub const PERCPU_ARRAY: u32 = 6;
/// `BPF_MAP_TYPE_STACK_TRACE`: stack traces by id.
pub const STACK_TRACE: u32 = 7;
/// `BPF_MAP_TYPE_CGROUP_ARRAY`: cgroup file descriptors.
pub const CGROUP_ARRAY: u32 = 8;
/// `BPF_MAP_TYPE_LRU_HASH`: hash table with least-recently-used eviction.
pub const LRU_HASH: u32 = 9;
/// `BPF_MAP_TYPE_LRU_PERCPU_HASH`: LRU hash with one value per CPU.
pub const LRU_PERCPU_HASH: u32 = 10;
/// `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix-match trie.
pub const LPM_TRIE: u32 = 11;
/// `BPF_MAP_TYPE_ARRAY_OF_MAPS`: array whose values are maps.
pub const ARRAY_OF_MAPS: u32 = 12;
/// `BPF_MAP_TYPE_HASH_OF_MAPS`: hash whose values are maps.
pub const HASH_OF_MAPS: u32 = 13;
/// `BPF_MAP_TYPE_DEVMAP`: network devices for `bpf_redirect_map`.
pub const DEVMAP: u32 = 14;
/// `BPF_MAP_TYPE_SOCKMAP`: sockets by index.
pub const SOCKMAP: u32 = 15;
/// `BPF_MAP_TYPE_CPUMAP`: CPUs for `bpf_redirect_map`.
pub const CPUMAP: u32 = 16;
/// `BPF_MAP_TYPE_XSKMAP`: AF_XDP sockets for `bpf_redirect_map`.
pub const XSKMAP: u32 = 17;
/// `BPF_MAP_TYPE_SOCKHASH`: sockets by key.
pub const SOCKHASH: u32 = 18;
/// `BPF_MAP_TYPE_CGROUP_STORAGE`: per-cgroup storage (deprecated form).
pub const CGROUP_STORAGE: u32 = 19;
/// `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`: SO_REUSEPORT socket groups.
pub const REUSEPORT_SOCKARRAY: u32 = 20;
/// `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE`: per-cgroup, per-CPU storage.
pub const PERCPU_CGROUP_STORAGE: u32 = 21;
/// `BPF_MAP_TYPE_QUEUE`: FIFO queue.
pub const QUEUE: u32 = 22;
/// `BPF_MAP_TYPE_STACK`: LIFO stack.
pub const STACK: u32 = 23;
/// `BPF_MAP_TYPE_SK_STORAGE`: per-socket storage.
pub const SK_STORAGE: u32 = 24;
/// `BPF_MAP_TYPE_DEVMAP_HASH`: network devices by key.
pub const DEVMAP_HASH: u32 = 25;
/// `BPF_MAP_TYPE_STRUCT_OPS`: kernel struct_ops implementations.
pub const STRUCT_OPS: u32 = 26;
/// `BPF_MAP_TYPE_RINGBUF`: multi-producer ring buffer to user space.
pub const RINGBUF: u32 = 27;
/// `BPF_MAP_TYPE_INODE_STORAGE`: per-inode storage.
pub const INODE_STORAGE: u32 = 28;
/// `BPF_MAP_TYPE_TASK_STORAGE`: per-task storage.
pub const TASK_STORAGE: u32 = 29;
/// `BPF_MAP_TYPE_BLOOM_FILTER`: bloom filter.
pub const BLOOM_FILTER: u32 = 30;
/// `BPF_MAP_TYPE_USER_RINGBUF`: ring buffer from user space.
pub const USER_RINGBUF: u32 = 31;
/// `BPF_MAP_TYPE_CGRP_STORAGE`: per-cgroup storage.
pub const CGRP_STORAGE: u32 = 32;
/// `BPF_MAP_TYPE_ARENA`: sparse shared memory region.
pub const ARENA: u32 = 33;
/// `BPF_MAP_TYPE_INSN_ARRAY`: instruction offsets (newest kernels).
pub const INSN_ARRAY: u32 = 34;

/// Names indexed by type number, as bpftool prints them.
const NAMES: [&str; 35] = [
    "unspec",
    "hash",
    "array",
    "prog_array",
    "perf_event_array",
    "percpu_hash",
    "percpu_array",
    "stack_trace",
    "cgroup_array",
    "lru_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "array_of_maps",
    "hash_of_maps",
    "devmap",
    "sockmap",
    "cpumap",
    "xskmap",
    "sockhash",
    "cgroup_storage",
    "reuseport_sockarray",
    "percpu_cgroup_storage",
    "queue",
    "stack",
    "sk_storage",
    "devmap_hash",
    "struct_ops",
    "ringbuf",
    "inode_storage",
    "task_storage",
    "bloom_filter",
    "user_ringbuf",
    "cgrp_storage",
    "arena",
    "insn_array",
];

/// The name of map type `map_type` (`"hash"`, `"percpu_array"`, ...), or
/// `None` for a number the kernel does not define.
pub fn name(map_type: u32) -> Option<&'static str> {
    NAMES.get(map_type as usize).copied()
}

/// The map type number for a bpftool-style name (`"lru_hash"`), the inverse
/// of [`name`].
pub fn from_name(name: &str) -> Option<u32> {
    NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|i| u32::try_from(i).ok())
}

/// A printable form of `map_type` for messages: `lpm_trie (11)`, or
/// `unknown (99)` for numbers outside the kernel's enum.
pub fn describe(map_type: u32) -> String {
    format!("{} ({map_type})", name(map_type).unwrap_or("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers, written out from the uapi enum, not from the table.
    #[test]
    fn numbers_match_the_uapi_enum() {
        let expected = [
            (HASH, "hash", 1),
            (ARRAY, "array", 2),
            (PERCPU_HASH, "percpu_hash", 5),
            (PERCPU_ARRAY, "percpu_array", 6),
            (LRU_HASH, "lru_hash", 9),
            (LPM_TRIE, "lpm_trie", 11),
            (DEVMAP, "devmap", 14),
            (CPUMAP, "cpumap", 16),
            (XSKMAP, "xskmap", 17),
            (QUEUE, "queue", 22),
            (DEVMAP_HASH, "devmap_hash", 25),
            (RINGBUF, "ringbuf", 27),
            (BLOOM_FILTER, "bloom_filter", 30),
            (USER_RINGBUF, "user_ringbuf", 31),
            (CGRP_STORAGE, "cgrp_storage", 32),
            (ARENA, "arena", 33),
        ];
        for (constant, n, number) in expected {
            assert_eq!(constant, number, "{n}");
            assert_eq!(name(number), Some(n));
            assert_eq!(from_name(n), Some(number));
        }
    }

    #[test]
    fn unknown_numbers_have_no_name() {
        assert_eq!(name(35), None);
        assert_eq!(name(u32::MAX), None);
        assert_eq!(from_name("nope"), None);
        assert_eq!(describe(11), "lpm_trie (11)");
        assert_eq!(describe(99), "unknown (99)");
    }
}
