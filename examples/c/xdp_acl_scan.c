// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_acl_scan: a first-match access control list, walked with
 * bpf_for_each_map_elem.
 *
 * The rules live in order in an array map, like an iptables chain: each
 * rule matches an IP protocol (0: any) and a destination port range (host
 * order, inclusive; 0-0: any port), and says XDP_DROP or XDP_PASS. The
 * program parses IPv4 TCP/UDP, then bpf_for_each_map_elem calls match_rule
 * on each element in index order until one matches (the callback returns
 * 1 to stop). A matching rule's hit counter is incremented atomically in
 * the map value itself, so `bpftool map dump` shows per-rule hits. A rule
 * with action 0 (XDP_ABORTED, i.e. an all-zero unconfigured slot) is
 * skipped. No match: XDP_PASS. Non-IPv4 or non-TCP/UDP traffic passes.
 *
 * Map: acl, a BPF_MAP_TYPE_ARRAY of 16 struct acl_rule. Helper:
 * bpf_for_each_map_elem.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct acl_rule {
	__u8 proto;      /* IPPROTO_TCP, IPPROTO_UDP, or 0 for both */
	__u8 action;     /* XDP_DROP or XDP_PASS; 0 = empty slot */
	__u16 port_lo;   /* destination port range, host order */
	__u16 port_hi;
	__u16 pad;
	__u64 hits;      /* packets this rule decided */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct acl_rule);
} acl SEC(".maps");

/* What the scan looks for and what it found. */
struct acl_query {
	__u32 proto;
	__u32 port;
	__u32 verdict;
};

static long match_rule(void *map, __u32 *key, struct acl_rule *rule,
		       struct acl_query *q)
{
	if (rule->action == 0)
		return 0;
	if (rule->proto && rule->proto != q->proto)
		return 0;
	if ((rule->port_lo || rule->port_hi) &&
	    (q->port < rule->port_lo || q->port > rule->port_hi))
		return 0;
	__sync_fetch_and_add(&rule->hits, 1);
	q->verdict = rule->action == XDP_DROP ? XDP_DROP : XDP_PASS;
	return 1; /* first match wins */
}

SEC("xdp")
int xdp_acl_scan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct udphdr *ports; /* TCP and UDP both start with the two ports */
	struct acl_query q;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || iph->ihl < 5)
		return XDP_PASS;
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (iph->frag_off & bpf_htons(0x1fff))
		return XDP_PASS;
	ports = (void *)iph + iph->ihl * 4;
	if ((void *)&ports->dest + sizeof(ports->dest) > data_end)
		return XDP_PASS;

	q.proto = iph->protocol;
	q.port = bpf_ntohs(ports->dest);
	q.verdict = XDP_PASS;
	bpf_for_each_map_elem(&acl, match_rule, &q, 0);
	return q.verdict;
}

char LICENSE[] SEC("license") = "GPL";
