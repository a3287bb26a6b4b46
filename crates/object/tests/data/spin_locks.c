// Test object for rxdp-object: map values with and without a
// struct bpf_spin_lock, to check the offsets the loader finds.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct at_start {
	struct bpf_spin_lock lock;
	__u64 packets;
	__u64 bytes;
};

struct after_u64 {
	__u64 a;
	struct bpf_spin_lock lock;
	__u32 b;
};

struct inner {
	__u32 y;
	struct bpf_spin_lock l;
};

struct nested {
	__u32 x;
	struct inner in;
};

typedef struct {
	__u32 pad;
	struct bpf_spin_lock lock;
} typedefed_t;

/* The kernel matches a member's own type: a const lock is no lock. */
struct const_lock {
	__u32 pad;
	const struct bpf_spin_lock lock;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct at_start);
} lock_at_0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct after_u64);
} lock_at_8 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct nested);
} nested_lock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, typedefed_t);
} typedef_value SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct const_lock);
} const_member SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} no_lock SEC(".maps");

SEC("xdp")
int xdp_locks(struct xdp_md *ctx)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&lock_at_0, &k) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
