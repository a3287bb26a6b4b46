// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_reflect: send every frame back out of the interface it came in on.
 *
 * Swaps the Ethernet source and destination addresses and returns XDP_TX.
 * For IPv4/UDP it also swaps the IP addresses and the UDP ports, so that a
 * UDP sender gets its datagram back as a reply (a packet-level echo, handy
 * for measuring round trips). Swapping two 16-bit-aligned fields inside the
 * same checksummed region leaves the ones'-complement sum unchanged, so
 * neither the IPv4 header checksum nor the UDP checksum (whose pseudo-header
 * holds both addresses) needs updating. Frames shorter than an Ethernet
 * header are dropped. No maps, no helpers.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __always_inline void swap_mac(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

SEC("xdp")
int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	swap_mac(eth);

	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_TX;
	struct iphdr *iph = (void *)(eth + 1);

	if ((void *)(iph + 1) > data_end || iph->ihl < 5 || iph->protocol != IPPROTO_UDP)
		return XDP_TX;
	struct udphdr *udph = (void *)iph + iph->ihl * 4;

	if ((void *)(udph + 1) > data_end)
		return XDP_TX;

	__be32 addr = iph->saddr;

	iph->saddr = iph->daddr;
	iph->daddr = addr;

	__be16 port = udph->source;

	udph->source = udph->dest;
	udph->dest = port;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
