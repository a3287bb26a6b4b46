// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_lb: a small layer-4 load balancer that bounces packets to backends.
 *
 * IPv4 TCP and UDP packets addressed to the virtual IP (`vip`, .rodata,
 * network byte order; 0 balances every IPv4 TCP/UDP packet) are spread
 * over `nr_backends` (.rodata) backends by a hash of their 5-tuple, so
 * that every packet of a flow goes to the same backend. The chosen
 * backend's address becomes the destination IP, its MAC the destination
 * MAC, the old destination MAC (ours) the source MAC, and the frame goes
 * back out with XDP_TX (a one-armed balancer, the way Katran-style
 * balancers sit next to a router).
 *
 * Changing the destination address changes two checksums: the IPv4 header
 * checksum and the TCP/UDP checksum (its pseudo-header holds the
 * addresses). Both are updated incrementally (RFC 1624) from the
 * difference bpf_csum_diff computes between the old and new address; a
 * UDP checksum of 0 means "none" and stays 0, and a UDP checksum that
 * computes to 0 is sent as 0xffff (RFC 768).
 *
 * Map: backends, a BPF_MAP_TYPE_ARRAY of struct backend {addr, mac}; an
 * entry with addr 0 is unconfigured and its packets pass. The hash is
 * FNV-1a written out in C (no helper). Helpers: bpf_map_lookup_elem,
 * bpf_csum_diff.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_BACKENDS 64

struct backend {
	__be32 addr;              /* IPv4 address, network byte order */
	__u8 mac[ETH_ALEN];
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} backends SEC(".maps");

volatile const __be32 vip = 0;
volatile const __u32 nr_backends = 1;

#define FNV_OFFSET_BASIS 2166136261u
#define FNV_PRIME 16777619u

/* FNV-1a over the four bytes of a word, lowest address first. */
static __always_inline __u32 fnv1a_word(__u32 hash, __u32 word)
{
	for (int i = 0; i < 4; i++) {
		hash ^= (word >> (8 * i)) & 0xff;
		hash *= FNV_PRIME;
	}
	return hash;
}

/* The flow's hash: source and destination address, both ports, protocol. */
static __always_inline __u32 flow_hash(const struct iphdr *iph, __u32 ports)
{
	__u32 hash = FNV_OFFSET_BASIS;

	hash = fnv1a_word(hash, iph->saddr);
	hash = fnv1a_word(hash, iph->daddr);
	hash = fnv1a_word(hash, ports);
	hash ^= iph->protocol;
	hash *= FNV_PRIME;
	return hash;
}

/* Fold a 32-bit ones'-complement sum into the 16-bit checksum field. */
static __always_inline __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/* RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'), where bpf_csum_diff adds
 * ~m + m' to the seed ~HC. */
static __always_inline __u16 csum_replace4(__u16 check, __be32 from, __be32 to)
{
	__u32 seed = (__u16)~check;
	__s64 sum = bpf_csum_diff(&from, sizeof(from), &to, sizeof(to), seed);

	return csum_fold((__u32)sum);
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct backend *be;
	__u16 *l4_check;
	bool is_udp = false;
	__be32 old_daddr;
	__u32 ports, index, count = nr_backends;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl != 5)
		return XDP_PASS; /* IP options: leave to the slow path */
	if (vip && iph->daddr != vip)
		return XDP_PASS;
	if (iph->frag_off & bpf_htons(0x3fff))
		return XDP_PASS; /* fragments: no ports in most of them */

	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *tcph = (void *)(iph + 1);

		if ((void *)(tcph + 1) > data_end)
			return XDP_PASS;
		ports = *(__u32 *)tcph; /* source and destination port */
		l4_check = &tcph->check;
	} else if (iph->protocol == IPPROTO_UDP) {
		struct udphdr *udph = (void *)(iph + 1);

		if ((void *)(udph + 1) > data_end)
			return XDP_PASS;
		ports = *(__u32 *)udph;
		l4_check = udph->check ? &udph->check : NULL;
		is_udp = true;
	} else {
		return XDP_PASS;
	}

	if (count == 0 || count > MAX_BACKENDS)
		return XDP_PASS;
	index = flow_hash(iph, ports) % count;
	be = bpf_map_lookup_elem(&backends, &index);
	if (!be || !be->addr)
		return XDP_PASS;

	old_daddr = iph->daddr;
	iph->daddr = be->addr;
	iph->check = csum_replace4(iph->check, old_daddr, be->addr);
	if (l4_check) {
		__u16 check = csum_replace4(*l4_check, old_daddr, be->addr);

		*l4_check = (is_udp && check == 0) ? 0xffff : check;
	}

	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
