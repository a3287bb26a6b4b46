// Test object for rxdp-object: a legacy SEC("maps") map definition
// (struct bpf_map_def) as old samples and iproute2 wrote them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def_legacy {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def_legacy counts SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 256,
};

struct bpf_map_def_legacy seen SEC("maps") = {
	.type = BPF_MAP_TYPE_LRU_HASH,
	.key_size = 8,
	.value_size = 4,
	.max_entries = 64,
	.map_flags = 0,
};

SEC("xdp")
int xdp_legacy(struct xdp_md *ctx)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		(*v)++;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
