//! Map type numbers (`enum bpf_map_type`) and their names.
//!
//! The numbers are the kernel's UAPI (`include/uapi/linux/bpf.h`, in
//! declaration order); the short names are the enumerator names without
//! the `BPF_MAP_TYPE_` prefix, lower-cased, as `bpftool` prints them.
//! The assembler's `.map` directive and the object loader both name map
//! types through this table.

/// `BPF_MAP_TYPE_UNSPEC`
pub const UNSPEC: u32 = 0;
/// `BPF_MAP_TYPE_HASH`
pub const HASH: u32 = 1;
/// `BPF_MAP_TYPE_ARRAY`
pub const ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_PROG_ARRAY`
pub const PROG_ARRAY: u32 = 3;
/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`
pub const PERF_EVENT_ARRAY: u32 = 4;
/// `BPF_MAP_TYPE_PERCPU_HASH`
pub const PERCPU_HASH: u32 = 5;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`
pub const PERCPU_ARRAY: u32 = 6;
/// `BPF_MAP_TYPE_STACK_TRACE`
pub const STACK_TRACE: u32 = 7;
/// `BPF_MAP_TYPE_CGROUP_ARRAY`
pub const CGROUP_ARRAY: u32 = 8;
/// `BPF_MAP_TYPE_LRU_HASH`
pub const LRU_HASH: u32 = 9;
/// `BPF_MAP_TYPE_LRU_PERCPU_HASH`
pub const LRU_PERCPU_HASH: u32 = 10;
/// `BPF_MAP_TYPE_LPM_TRIE`
pub const LPM_TRIE: u32 = 11;
/// `BPF_MAP_TYPE_ARRAY_OF_MAPS`
pub const ARRAY_OF_MAPS: u32 = 12;
/// `BPF_MAP_TYPE_HASH_OF_MAPS`
pub const HASH_OF_MAPS: u32 = 13;
/// `BPF_MAP_TYPE_DEVMAP`
pub const DEVMAP: u32 = 14;
/// `BPF_MAP_TYPE_SOCKMAP`
pub const SOCKMAP: u32 = 15;
/// `BPF_MAP_TYPE_CPUMAP`
pub const CPUMAP: u32 = 16;
/// `BPF_MAP_TYPE_XSKMAP`
pub const XSKMAP: u32 = 17;
/// `BPF_MAP_TYPE_SOCKHASH`
pub const SOCKHASH: u32 = 18;
/// `BPF_MAP_TYPE_CGROUP_STORAGE` (later `CGROUP_STORAGE_DEPRECATED`)
pub const CGROUP_STORAGE: u32 = 19;
/// `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`
pub const REUSEPORT_SOCKARRAY: u32 = 20;
/// `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE`
pub const PERCPU_CGROUP_STORAGE: u32 = 21;
/// `BPF_MAP_TYPE_QUEUE`
pub const QUEUE: u32 = 22;
/// `BPF_MAP_TYPE_STACK`
pub const STACK: u32 = 23;
/// `BPF_MAP_TYPE_SK_STORAGE`
pub const SK_STORAGE: u32 = 24;
/// `BPF_MAP_TYPE_DEVMAP_HASH`
pub const DEVMAP_HASH: u32 = 25;
/// `BPF_MAP_TYPE_STRUCT_OPS`
pub const STRUCT_OPS: u32 = 26;
/// `BPF_MAP_TYPE_RINGBUF`
pub const RINGBUF: u32 = 27;
/// `BPF_MAP_TYPE_INODE_STORAGE`
pub const INODE_STORAGE: u32 = 28;
/// `BPF_MAP_TYPE_TASK_STORAGE`
pub const TASK_STORAGE: u32 = 29;
/// `BPF_MAP_TYPE_BLOOM_FILTER`
pub const BLOOM_FILTER: u32 = 30;
/// `BPF_MAP_TYPE_USER_RINGBUF`
pub const USER_RINGBUF: u32 = 31;
/// `BPF_MAP_TYPE_CGRP_STORAGE`
pub const CGRP_STORAGE: u32 = 32;
/// `BPF_MAP_TYPE_ARENA`
pub const ARENA: u32 = 33;
/// `BPF_MAP_TYPE_INSN_ARRAY`
pub const INSN_ARRAY: u32 = 34;

/// Short names by type number.
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

/// The short name of map type `ty` (`"lru_hash"` for 9), if it is one.
pub fn map_type_name(ty: u32) -> Option<&'static str> {
    NAMES.get(ty as usize).copied()
}

/// The number of the map type called `name`: the short name (`hash`) or
/// the UAPI enumerator (`BPF_MAP_TYPE_HASH`), in any case.
pub fn map_type_by_name(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let short = lower.strip_prefix("bpf_map_type_").unwrap_or(&lower);
    NAMES.iter().position(|n| *n == short).map(|i| i as u32)
}

/// A printable form of map type `ty` for messages: `lpm_trie (11)`, or
/// `unknown (99)` for a number outside the kernel's enum.
pub fn describe(ty: u32) -> String {
    format!("{} ({ty})", map_type_name(ty).unwrap_or("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_agree() {
        let pairs = [
            ("hash", HASH, 1),
            ("array", ARRAY, 2),
            ("prog_array", PROG_ARRAY, 3),
            ("percpu_hash", PERCPU_HASH, 5),
            ("percpu_array", PERCPU_ARRAY, 6),
            ("lru_hash", LRU_HASH, 9),
            ("lru_percpu_hash", LRU_PERCPU_HASH, 10),
            ("lpm_trie", LPM_TRIE, 11),
            ("array_of_maps", ARRAY_OF_MAPS, 12),
            ("hash_of_maps", HASH_OF_MAPS, 13),
            ("devmap", DEVMAP, 14),
            ("cpumap", CPUMAP, 16),
            ("xskmap", XSKMAP, 17),
            ("queue", QUEUE, 22),
            ("stack", STACK, 23),
            ("devmap_hash", DEVMAP_HASH, 25),
            ("ringbuf", RINGBUF, 27),
            ("bloom_filter", BLOOM_FILTER, 30),
            ("user_ringbuf", USER_RINGBUF, 31),
            ("arena", ARENA, 33),
        ];
        for (name, konst, num) in pairs {
            assert_eq!(konst, num, "{name}");
            assert_eq!(map_type_by_name(name), Some(num), "{name}");
            let upper = format!("BPF_MAP_TYPE_{}", name.to_ascii_uppercase());
            assert_eq!(map_type_by_name(&upper), Some(num), "{upper}");
            assert_eq!(map_type_name(num), Some(name));
        }
        assert_eq!(map_type_by_name("hashmap"), None);
        assert_eq!(map_type_name(INSN_ARRAY + 1), None);
        assert_eq!(describe(LPM_TRIE), "lpm_trie (11)");
        assert_eq!(describe(99), "unknown (99)");
    }
}
