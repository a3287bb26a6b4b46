// Test object for rxdp-object: a program that libbpf does not load by
// default (SEC("?xdp")), a static subprogram placed in the program's own
// section, and static maps in .maps (referenced through the section
// symbol, the offset in the instruction's immediate).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hidden SEC(".maps"), hidden2 SEC(".maps");

static __noinline __attribute__((section("xdp"))) int local_helper(int x)
{
	return x + 7;
}

SEC("xdp")
int xdp_local_call(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&hidden, &k);
	if (v)
		*v += 1;
	v = bpf_map_lookup_elem(&hidden2, &k);
	if (v)
		*v += 2;
	return local_helper(ctx->rx_queue_index) & 3;
}

SEC("?xdp")
int xdp_optional(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
