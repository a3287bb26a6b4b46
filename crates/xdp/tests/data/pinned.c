// A map pinned by name: two objects loaded with one registry share it.
// The program counts packets in slot 0.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} private_counts SEC(".maps");

/* Global data, which is never pinned. */
__u64 runs;

SEC("xdp")
int count_shared(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *n = bpf_map_lookup_elem(&shared_counts, &key);

	runs++;
	if (n)
		__sync_fetch_and_add(n, 1);
	n = bpf_map_lookup_elem(&private_counts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
