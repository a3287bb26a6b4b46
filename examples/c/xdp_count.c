// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_count: count packets and bytes per IP protocol, pass everything.
 *
 * Map: proto_stats, a BPF_MAP_TYPE_PERCPU_ARRAY of 256 entries keyed by the
 * IP protocol number (IPv4 protocol field, or IPv6 next header field of the
 * fixed header; extension headers are not walked, so e.g. a fragment
 * header counts under 44). Each CPU has its own slot, so the updates need
 * no atomics; user space sums the per-CPU values. Non-IP frames are not
 * counted. Helper: bpf_map_lookup_elem.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct proto_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct proto_counter);
} proto_stats SEC(".maps");

SEC("xdp")
int xdp_count_proto(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct proto_counter *counter;
	__u32 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return XDP_PASS;
		proto = iph->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		proto = ip6h->nexthdr;
	} else {
		return XDP_PASS;
	}

	counter = bpf_map_lookup_elem(&proto_stats, &proto);
	if (!counter) /* cannot happen for a key < 256, but the verifier asks */
		return XDP_PASS;
	counter->packets++;
	counter->bytes += data_end - data;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
