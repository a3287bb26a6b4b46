// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_tailcall: a parser split into three programs chained by tail calls.
 *
 *   xdp_entry (L2)  parses Ethernet (and one VLAN tag), reserves packet
 *                   metadata with bpf_xdp_adjust_meta and records the L3
 *                   protocol and offset there, then tail calls
 *   xdp_l3          which parses IPv4 or IPv6, records the L4 protocol and
 *                   offset in the metadata, then tail calls
 *   xdp_l4          which parses TCP or UDP and gives the final verdict:
 *                   drop telnet (TCP port 23) and UDP discard (port 9),
 *                   pass the rest.
 * A stage that has nothing to do, or whose tail call fails (empty slot),
 * returns XDP_PASS. The metadata stays in front of the packet, so a TC
 * program or AF_XDP reader later sees what the parser learned.
 *
 * Maps:
 *   jump_table: BPF_MAP_TYPE_PROG_ARRAY of 2 slots, filled statically in
 *     the object with libbpf's initial-values syntax ([STAGE_L3] = xdp_l3,
 *     [STAGE_L4] = xdp_l4): the loader inserts the programs after loading
 *     them, so no user-space setup is needed.
 *   stage_stats: BPF_MAP_TYPE_PERCPU_ARRAY, packets seen by each stage.
 * Helpers: bpf_xdp_adjust_meta, bpf_tail_call, bpf_map_lookup_elem.
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

/* What the stages hand each other, kept in the XDP metadata area just
 * before the packet (its size must be a multiple of 4). */
struct pkt_meta {
	__be16 l3_proto; /* EtherType, network byte order */
	__u16 l3_off;    /* offset of the IP header from ctx->data */
	__u16 l4_off;    /* offset of the transport header */
	__u8 l4_proto;   /* IPPROTO_* */
	__u8 stage;      /* the last stage that wrote here */
};

enum stage { STAGE_L3, STAGE_L4, STAGE_ENTRY, STAGE_MAX };

struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

int xdp_l3(struct xdp_md *ctx);
int xdp_l4(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} jump_table SEC(".maps") = {
	.values = {
		[STAGE_L3] = (void *)&xdp_l3,
		[STAGE_L4] = (void *)&xdp_l4,
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAGE_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stage_stats SEC(".maps");

static __always_inline void count_stage(__u32 stage)
{
	__u64 *count = bpf_map_lookup_elem(&stage_stats, &stage);

	if (count)
		*count += 1;
}

/* The metadata written by an earlier stage, or NULL if there is none. */
static __always_inline struct pkt_meta *get_meta(struct xdp_md *ctx)
{
	struct pkt_meta *meta = (void *)(long)ctx->data_meta;

	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return NULL;
	return meta;
}

SEC("xdp")
int xdp_entry(struct xdp_md *ctx)
{
	struct pkt_meta *meta;
	struct ethhdr *eth;
	void *data, *data_end;
	__be16 proto;
	__u16 off = sizeof(struct ethhdr);

	count_stage(STAGE_ENTRY);
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct pkt_meta)))
		return XDP_PASS; /* the driver has no metadata support */

	/* adjust_meta invalidated every packet pointer: reload them. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	meta = get_meta(ctx);
	if (!meta)
		return XDP_PASS;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vlan = (void *)(eth + 1);

		if ((void *)(vlan + 1) > data_end)
			return XDP_PASS;
		proto = vlan->h_vlan_encapsulated_proto;
		off += sizeof(struct vlan_hdr);
	}

	meta->l3_proto = proto;
	meta->l3_off = off;
	meta->l4_off = 0;
	meta->l4_proto = 0;
	meta->stage = STAGE_ENTRY;
	bpf_tail_call(ctx, &jump_table, STAGE_L3);
	return XDP_PASS;
}

SEC("xdp")
int xdp_l3(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pkt_meta *meta = get_meta(ctx);
	__u16 off;

	count_stage(STAGE_L3);
	if (!meta)
		return XDP_PASS;
	off = meta->l3_off;
	if (off > 64) /* Ethernet plus one tag: keeps the verifier's range small */
		return XDP_PASS;

	if (meta->l3_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data + off;

		if ((void *)(iph + 1) > data_end || iph->ihl < 5)
			return XDP_PASS;
		if (iph->frag_off & bpf_htons(0x1fff))
			return XDP_PASS; /* no ports in a non-first fragment */
		meta->l4_proto = iph->protocol;
		meta->l4_off = off + iph->ihl * 4;
	} else if (meta->l3_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = data + off;

		if ((void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		meta->l4_proto = ip6h->nexthdr;
		meta->l4_off = off + sizeof(*ip6h);
	} else {
		return XDP_PASS;
	}
	meta->stage = STAGE_L3;
	bpf_tail_call(ctx, &jump_table, STAGE_L4);
	return XDP_PASS;
}

SEC("xdp")
int xdp_l4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pkt_meta *meta = get_meta(ctx);
	__u16 off;

	count_stage(STAGE_L4);
	if (!meta)
		return XDP_PASS;
	meta->stage = STAGE_L4;
	off = meta->l4_off;
	if (off > 128) /* Ethernet, one tag and the longest IPv4 header */
		return XDP_PASS;

	if (meta->l4_proto == IPPROTO_TCP) {
		struct tcphdr *tcph = data + off;

		if ((void *)(tcph + 1) > data_end)
			return XDP_PASS;
		if (tcph->dest == bpf_htons(23))
			return XDP_DROP;
	} else if (meta->l4_proto == IPPROTO_UDP) {
		struct udphdr *udph = data + off;

		if ((void *)(udph + 1) > data_end)
			return XDP_PASS;
		if (udph->dest == bpf_htons(9))
			return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
