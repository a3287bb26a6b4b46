// Test object for rxdp-object: BTF-defined maps of several kinds, a
// prog array with initial values, a map of maps with an inner map
// definition, pinning, and map references from code.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct flow_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
};

typedef const volatile struct flow_key flow_key_t;

struct counters {
	__u64 packets;
	__u64 bytes[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, flow_key_t);
	__type(value, struct counters);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 100);
	__type(value, __u32);
	__uint(map_extra, 3);
	__uint(numa_node, 0);
} bloom SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

int tail_a(struct xdp_md *ctx);
int tail_b(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct xdp_md *));
} jmp_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_a, [3] = (void *)&tail_b },
};

SEC("xdp")
int tail_a(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int tail_b(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_maps(struct xdp_md *ctx)
{
	struct flow_key key = {};
	struct counters *c;
	__u32 idx = 0;
	__u64 *v;

	c = bpf_map_lookup_elem(&flows, &key);
	if (c)
		c->packets++;
	v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		*v += 1;
	bpf_tail_call(ctx, &jmp_table, 1);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
