//! The UAPI constants rxdp-kernel uses, with the values of
//! `include/uapi/linux/bpf.h` (Linux 6.18).
//!
//! They are plain `u32`/`u64` constants rather than enums because the
//! kernel's ABI is numbers: a caller may pass a program or map type this
//! list does not name, and the kernel is the judge.

/// `enum bpf_cmd`: the first argument of bpf(2).
pub mod cmd {
    /// Create a map; returns its fd.
    pub const BPF_MAP_CREATE: u32 = 0;
    /// Copy a map value out.
    pub const BPF_MAP_LOOKUP_ELEM: u32 = 1;
    /// Create or replace a map element.
    pub const BPF_MAP_UPDATE_ELEM: u32 = 2;
    /// Delete a map element.
    pub const BPF_MAP_DELETE_ELEM: u32 = 3;
    /// The key after a given key (or the first key for a NULL key).
    pub const BPF_MAP_GET_NEXT_KEY: u32 = 4;
    /// Verify and load a program; returns its fd.
    pub const BPF_PROG_LOAD: u32 = 5;
    /// Run a loaded program on a test input (`BPF_PROG_TEST_RUN`).
    pub const BPF_PROG_TEST_RUN: u32 = 10;
    /// Fill `struct bpf_prog_info` / `bpf_map_info` for an fd.
    pub const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
    /// Load BTF type information; returns its fd.
    pub const BPF_BTF_LOAD: u32 = 18;
}

/// `enum bpf_prog_type` (the ones an XDP runtime cares about).
pub mod prog_type {
    /// Socket filter.
    pub const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
    /// tc classifier (`cls_bpf`).
    pub const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
    /// tc action.
    pub const BPF_PROG_TYPE_SCHED_ACT: u32 = 4;
    /// XDP, the default of [`LoadOptions`](crate::LoadOptions).
    pub const BPF_PROG_TYPE_XDP: u32 = 6;
}

/// `enum bpf_map_type`.
pub mod map_type {
    /// Hash table.
    pub const BPF_MAP_TYPE_HASH: u32 = 1;
    /// Array indexed by a `u32`.
    pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
    /// Program array for tail calls.
    pub const BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
    /// Perf event array.
    pub const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
    /// Hash table with one value per possible CPU.
    pub const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
    /// Array with one value per possible CPU.
    pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
    /// Stack trace map.
    pub const BPF_MAP_TYPE_STACK_TRACE: u32 = 7;
    /// cgroup array.
    pub const BPF_MAP_TYPE_CGROUP_ARRAY: u32 = 8;
    /// Hash table with LRU eviction.
    pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
    /// Per-CPU hash table with LRU eviction.
    pub const BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
    /// Longest-prefix-match trie.
    pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
    /// Array of maps.
    pub const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
    /// Hash of maps.
    pub const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
    /// Device map for `bpf_redirect_map`.
    pub const BPF_MAP_TYPE_DEVMAP: u32 = 14;
    /// Socket map.
    pub const BPF_MAP_TYPE_SOCKMAP: u32 = 15;
    /// CPU map for `bpf_redirect_map`.
    pub const BPF_MAP_TYPE_CPUMAP: u32 = 16;
    /// AF_XDP socket map.
    pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;
    /// Socket hash.
    pub const BPF_MAP_TYPE_SOCKHASH: u32 = 18;
    /// Per-CPU cgroup storage.
    pub const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: u32 = 21;
    /// FIFO queue (no key).
    pub const BPF_MAP_TYPE_QUEUE: u32 = 22;
    /// LIFO stack (no key).
    pub const BPF_MAP_TYPE_STACK: u32 = 23;
    /// Device map keyed by ifindex.
    pub const BPF_MAP_TYPE_DEVMAP_HASH: u32 = 25;
    /// Ring buffer.
    pub const BPF_MAP_TYPE_RINGBUF: u32 = 27;
    /// Bloom filter.
    pub const BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;
}

/// Flags of `BPF_MAP_UPDATE_ELEM` (and `bpf_map_update_elem`).
pub mod update {
    /// Create a new element or update an existing one.
    pub const BPF_ANY: u64 = 0;
    /// Create a new element only if it did not exist.
    pub const BPF_NOEXIST: u64 = 1;
    /// Update an existing element only.
    pub const BPF_EXIST: u64 = 2;
    /// Take the element's spin lock while updating.
    pub const BPF_F_LOCK: u64 = 4;
}

/// `map_flags` of `BPF_MAP_CREATE`.
pub mod map_flags {
    /// Allocate hash elements on demand instead of up front.
    pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
    /// LRU: one LRU list per CPU instead of a common one.
    pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
    /// Honour `numa_node`.
    pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
    /// Read-only from the syscall side.
    pub const BPF_F_RDONLY: u32 = 1 << 3;
    /// Write-only from the syscall side.
    pub const BPF_F_WRONLY: u32 = 1 << 4;
    /// Zero-initialise hash map values.
    pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
    /// Read-only from programs.
    pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
    /// Write-only from programs.
    pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
    /// Array map whose memory can be mmap(2)ed.
    pub const BPF_F_MMAPABLE: u32 = 1 << 10;
    /// Inner maps may differ in `max_entries`.
    pub const BPF_F_INNER_MAP: u32 = 1 << 12;
}

/// `prog_flags` of `BPF_PROG_LOAD`.
pub mod prog_flags {
    /// Check alignment as on architectures without efficient unaligned
    /// access.
    pub const BPF_F_STRICT_ALIGNMENT: u32 = 1 << 0;
    /// Allow any alignment.
    pub const BPF_F_ANY_ALIGNMENT: u32 = 1 << 1;
    /// Randomise the upper 32 bits the verifier proves dead (testing).
    pub const BPF_F_TEST_RND_HI32: u32 = 1 << 2;
    /// Verifier internal test flag.
    pub const BPF_F_TEST_STATE_FREQ: u32 = 1 << 3;
    /// Sleepable program.
    pub const BPF_F_SLEEPABLE: u32 = 1 << 4;
    /// XDP program that understands multi-buffer frames.
    pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;
}

/// `log_level` bits of `BPF_PROG_LOAD`.
pub mod log_level {
    /// Log the verifier's path (errors and branch states).
    pub const BPF_LOG_LEVEL1: u32 = 1;
    /// Log every instruction's state.
    pub const BPF_LOG_LEVEL2: u32 = 2;
    /// Log the final statistics only.
    pub const BPF_LOG_STATS: u32 = 4;
    /// Fixed-size log: stop at the end of the buffer instead of rotating.
    pub const BPF_LOG_FIXED: u32 = 8;
}

/// `flags` of `BPF_PROG_TEST_RUN`.
pub mod test_run_flags {
    /// Run on the given CPU (not for XDP).
    pub const BPF_F_TEST_RUN_ON_CPU: u32 = 1 << 0;
    /// XDP: transmit/redirect the frames for real.
    pub const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;
}

/// `src` field values of `lddw` and `call` with kernel meanings.
pub mod pseudo {
    /// `lddw`: the immediate is a map fd.
    pub const BPF_PSEUDO_MAP_FD: u8 = 1;
    /// `lddw`: map fd and an offset into its value.
    pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
    /// `lddw`: index into `fd_array` (kernel >= 5.14).
    pub const BPF_PSEUDO_MAP_IDX: u8 = 5;
    /// `lddw`: index into `fd_array` and a value offset.
    pub const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;
    /// `call`: bpf-to-bpf call.
    pub const BPF_PSEUDO_CALL: u8 = 1;
}

/// XDP verdicts (`enum xdp_action`).
pub mod xdp_action {
    /// Error: drop and trace.
    pub const XDP_ABORTED: u32 = 0;
    /// Drop the frame.
    pub const XDP_DROP: u32 = 1;
    /// Pass the frame up the stack.
    pub const XDP_PASS: u32 = 2;
    /// Bounce the frame out of the same interface.
    pub const XDP_TX: u32 = 3;
    /// Redirect the frame (`bpf_redirect*`).
    pub const XDP_REDIRECT: u32 = 4;
}

/// Size of `prog_name` and `map_name`, terminating NUL included.
pub const BPF_OBJ_NAME_LEN: usize = 16;
/// Size of a program tag.
pub const BPF_TAG_SIZE: usize = 8;
/// Minimum frame size of an XDP test run (`ETH_HLEN`).
pub const ETH_HLEN: usize = 14;
/// Headroom the kernel reserves before an XDP test frame.
pub const XDP_PACKET_HEADROOM: usize = 256;
