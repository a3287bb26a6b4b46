// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_ipv6_exthdr: walk IPv6 extension header chains with bpf_loop.
 *
 * An IPv6 packet may carry any number of extension headers between the
 * fixed header and the transport header, each naming the next. A loop
 * whose trip count depends on packet contents is what bpf_loop is for:
 * the callback handles one header per iteration (hop-by-hop, routing,
 * fragment, destination options, AH) and stops at the first transport
 * header. The program drops
 *   - packets with a type 0 routing header (deprecated by RFC 5095: it
 *     lets a sender bounce traffic between hosts),
 *   - chains longer than MAX_EXT_HEADERS (a cheap DoS on parsers),
 *   - chains that run past the end of the frame,
 * and passes everything else, including all non-IPv6 traffic.
 *
 * The callback's context is a struct on the program's stack holding the
 * packet pointers and the walk state; the verifier follows the pointers
 * into the callback and checks every iteration's packet accesses.
 *
 * Map: exthdr_stats, a BPF_MAP_TYPE_PERCPU_ARRAY of counters (see enum
 * stat). Helpers: bpf_loop, bpf_map_lookup_elem.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_EXT_HEADERS 8
/* Furthest offset at which an extension header may start: keeps the
 * verifier's idea of the offset bounded. */
#define MAX_EXT_OFFSET 1024

enum stat { STAT_IPV6, STAT_DROP_RH0, STAT_DROP_LONG, STAT_DROP_TRUNC, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} exthdr_stats SEC(".maps");

enum walk_result { WALK_MORE, WALK_DONE, WALK_RH0, WALK_TRUNCATED };

/* The state bpf_loop hands to every iteration. */
struct walk {
	void *data;
	void *data_end;
	__u32 off;      /* offset of the header named by nexthdr */
	__u32 nexthdr;  /* protocol number of that header */
	__u32 result;   /* enum walk_result */
};

static __always_inline void count(__u32 stat)
{
	__u64 *value = bpf_map_lookup_elem(&exthdr_stats, &stat);

	if (value)
		*value += 1;
}

/* One iteration: step over one extension header. Returns 0 to continue,
 * 1 to stop (bpf_loop's contract). */
static long walk_one(__u32 index, struct walk *w)
{
	struct ipv6_opt_hdr *hdr;
	__u32 off = w->off;
	__u32 len;

	switch (w->nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
		break;
	default: /* a transport header (or no next header): the chain ends */
		w->result = WALK_DONE;
		return 1;
	}

	if (off > MAX_EXT_OFFSET) {
		w->result = WALK_TRUNCATED;
		return 1;
	}
	hdr = w->data + off;
	if ((void *)(hdr + 1) > w->data_end) {
		w->result = WALK_TRUNCATED;
		return 1;
	}

	if (w->nexthdr == IPPROTO_ROUTING) {
		struct ipv6_rt_hdr *rt = (void *)hdr;

		if ((void *)(rt + 1) > w->data_end) {
			w->result = WALK_TRUNCATED;
			return 1;
		}
		if (rt->type == 0) {
			w->result = WALK_RH0;
			return 1;
		}
	}

	if (w->nexthdr == IPPROTO_FRAGMENT)
		len = 8;                        /* fixed size, hdrlen reserved */
	else if (w->nexthdr == IPPROTO_AH)
		len = (hdr->hdrlen + 2) * 4;    /* RFC 4302: 4-octet units, minus 2 */
	else
		len = (hdr->hdrlen + 1) * 8;    /* RFC 8200: 8-octet units, minus 1 */
	if (w->data + off + len > w->data_end) {
		w->result = WALK_TRUNCATED;     /* the header itself is cut short */
		return 1;
	}

	w->nexthdr = hdr->nexthdr;
	w->off = off + len;
	return 0;
}

SEC("xdp")
int xdp_ipv6_exthdr(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h;
	struct walk w;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	ip6h = (void *)(eth + 1);
	if ((void *)(ip6h + 1) > data_end)
		return XDP_PASS;
	count(STAT_IPV6);

	w.data = data;
	w.data_end = data_end;
	w.off = sizeof(*eth) + sizeof(*ip6h);
	w.nexthdr = ip6h->nexthdr;
	w.result = WALK_MORE;
	bpf_loop(MAX_EXT_HEADERS + 1, walk_one, &w, 0);

	switch (w.result) {
	case WALK_DONE:
		return XDP_PASS;
	case WALK_RH0:
		count(STAT_DROP_RH0);
		return XDP_DROP;
	case WALK_TRUNCATED:
		count(STAT_DROP_TRUNC);
		return XDP_DROP;
	default: /* still inside the chain after MAX_EXT_HEADERS headers */
		count(STAT_DROP_LONG);
		return XDP_DROP;
	}
}

char LICENSE[] SEC("license") = "GPL";
