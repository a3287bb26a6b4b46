// Packet counters guarded by a bpf_spin_lock in the map
// value: the program takes the lock, counts, and releases it; the
// control plane reads and writes the value with BPF_F_LOCK.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct stats {
	struct bpf_spin_lock lock;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} plain SEC(".maps");

SEC("xdp")
int count(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct stats *s = bpf_map_lookup_elem(&stats, &key);

	if (!s)
		return XDP_ABORTED;
	__u32 len = ctx->data_end - ctx->data;
	volatile __u64 *bytes = &s->bytes;

	bpf_spin_lock(&s->lock);
	s->packets++;
	/* One byte at a time (packets up to 256 bytes), so that a reader
	 * that does not take the lock sees the counters disagree. */
	for (__u32 i = 0; i < 256 && i < len; i++)
		*bytes += 1;
	bpf_spin_unlock(&s->lock);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
