// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_firewall: drop packets whose source address falls in a blocked
 * prefix, IPv4 or IPv6, and count the drops.
 *
 * Maps:
 *   deny_v4, deny_v6: BPF_MAP_TYPE_LPM_TRIE, longest-prefix match on the
 *     source address. Key: prefix length in bits, then the address in
 *     network byte order (the layout the kernel's LPM trie requires).
 *     Value: struct rule_stats, the number of packets this rule dropped,
 *     updated atomically (the value is shared by all CPUs). The kernel
 *     requires BPF_F_NO_PREALLOC for LPM tries.
 *   drop_stats: BPF_MAP_TYPE_PERCPU_ARRAY, [0] IPv4 and [1] IPv6 drops.
 * Helper: bpf_map_lookup_elem. Everything not matched passes.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct lpm_key_v4 {
	__u32 prefixlen;
	__be32 addr;
};

struct lpm_key_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct rule_stats {
	__u64 drops;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key_v4);
	__type(value, struct rule_stats);
} deny_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key_v6);
	__type(value, struct rule_stats);
} deny_v6 SEC(".maps");

enum { STAT_V4, STAT_V6, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drop_stats SEC(".maps");

/* Count a drop against the matching rule and the per-family total. */
static __always_inline int drop(struct rule_stats *rule, __u32 family)
{
	__u64 *total;

	__sync_fetch_and_add(&rule->drops, 1);
	total = bpf_map_lookup_elem(&drop_stats, &family);
	if (total)
		*total += 1;
	return XDP_DROP;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct rule_stats *rule;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);
		struct lpm_key_v4 key;

		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
		/* A full-length key: the trie finds the longest stored prefix. */
		key.prefixlen = 32;
		key.addr = iph->saddr;
		rule = bpf_map_lookup_elem(&deny_v4, &key);
		if (rule)
			return drop(rule, STAT_V4);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);
		struct lpm_key_v6 key;

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		key.prefixlen = 128;
		__builtin_memcpy(key.addr, &ip6h->saddr, sizeof(key.addr));
		rule = bpf_map_lookup_elem(&deny_v6, &key);
		if (rule)
			return drop(rule, STAT_V6);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
