// Test object for rxdp-object: a BTF map definition whose key size is
// given twice, differently; parsing must fail naming map and field.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__uint(key_size, 8);
	__type(key, __u32);
	__type(value, __u32);
} conflicted SEC(".maps");

SEC("xdp")
int xdp_badmap(struct xdp_md *ctx)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&conflicted, &k) ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "GPL";
