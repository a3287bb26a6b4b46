// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_port_filter: drop TCP and UDP traffic to listed destination ports.
 *
 * Map: blocked_ports, a BPF_MAP_TYPE_HASH from destination port to action.
 *   key:   __u16, the port in HOST byte order (user space writes 53 for
 *          DNS; the program converts the header field with bpf_ntohs),
 *   value: __u8, the XDP action for that port: XDP_DROP (1) drops,
 *          XDP_PASS (2) lets it through (an explicit "allow" entry); any
 *          other value is treated as XDP_DROP.
 * Ports not in the map pass. Works for IPv4 (with IP options) and IPv6
 * (transport header right after the fixed header; extension headers are
 * not walked and such packets pass). Helper: bpf_map_lookup_elem.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} blocked_ports SEC(".maps");

SEC("xdp")
int xdp_port_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l4;
	__u8 proto;
	__u16 port;
	__u8 *action;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->ihl < 5)
			return XDP_PASS;
		/* Only the first fragment carries the ports. */
		if (iph->frag_off & bpf_htons(0x1fff))
			return XDP_PASS;
		proto = iph->protocol;
		l4 = (void *)iph + iph->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		return XDP_PASS;
	}

	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcph = l4;

		if ((void *)(tcph + 1) > data_end)
			return XDP_PASS;
		port = bpf_ntohs(tcph->dest);
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *udph = l4;

		if ((void *)(udph + 1) > data_end)
			return XDP_PASS;
		port = bpf_ntohs(udph->dest);
	} else {
		return XDP_PASS;
	}

	action = bpf_map_lookup_elem(&blocked_ports, &port);
	if (!action)
		return XDP_PASS;
	return *action == XDP_PASS ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
