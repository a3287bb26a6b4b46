// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_subprog_global: bpf-to-bpf calls and global variables.
 *
 * A UDP/TCP port blocker written the way a libbpf skeleton user writes it:
 * the configuration is in `const volatile` globals (.rodata, set by user
 * space before load and then frozen, so the verifier sees constants) and
 * the statistics are plain globals (.bss and .data, read by user space
 * through the mmap'ed maps libbpf creates for those sections).
 *
 *   .rodata  blocked_port  destination port to drop, host order (0: none)
 *            drop_ipv6     non-zero drops all IPv6
 *            ewma_weight   smoothing of the average frame length (signed,
 *                          16 bits: a sign-extending load where the CPU
 *                          version has one)
 *   .bss     packets, dropped   counters, zero at load
 *            avg_len       moving average of the frame length
 *   .data    seen_ipv6      IPv6 packet counter with a non-zero initial
 *                           value (1), so a test can tell that the loader
 *                           copied the section's initial image
 *
 * Calls: the program calls static __noinline functions (subprograms the
 * verifier checks in the caller's context: update_avg_len, parse_l3,
 * parse_l4) and a global function (port_verdict, verified once, independently of its callers,
 * from its BTF signature). No maps besides the global-data ones; no
 * helpers.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

volatile const __u16 blocked_port = 0;
volatile const __u8 drop_ipv6 = 0;
volatile const __s16 ewma_weight = 8;

__u64 packets;
__u64 dropped;
__u64 seen_ipv6 = 1;
__s64 avg_len;

/* Where the transport header starts and which protocol it is. */
struct l4_info {
	__u32 off;
	__u32 proto;
};

/* Parse IPv4 or IPv6 behind the Ethernet header; fill *info. Returns 0 on
 * success, -1 if the packet is not IP or is truncated. A static
 * subprogram: the verifier follows packet pointers into it. */
static __noinline int parse_l3(struct ethhdr *eth, void *data_end, struct l4_info *info)
{
	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->ihl < 5)
			return -1;
		info->proto = iph->protocol;
		info->off = sizeof(*eth) + iph->ihl * 4;
		return 0;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		seen_ipv6++;
		info->proto = ip6h->nexthdr;
		info->off = sizeof(*eth) + sizeof(*ip6h);
		return 0;
	}
	return -1;
}

/* The destination port (host order) of a TCP or UDP header at data + off,
 * or 0 if there is none. TCP and UDP both start with the source and
 * destination ports, so one 4-byte bounds check serves both. */
static __noinline __u32 parse_l4(void *data, void *data_end, struct l4_info *info)
{
	__u32 off = info->off;
	struct udphdr *ports;

	if (info->proto != IPPROTO_TCP && info->proto != IPPROTO_UDP)
		return 0;
	if (off > 128)
		return 0;
	ports = data + off;
	if ((void *)&ports->dest + sizeof(ports->dest) > data_end)
		return 0;
	return bpf_ntohs(ports->dest);
}

/* Signed 64-bit division. BPF CPU version 4 has an instruction for it
 * (sdiv); older versions only divide unsigned, so divide the magnitudes
 * and fix the sign. */
static __always_inline __s64 sdiv64(__s64 a, __s64 b)
{
#if __BPF_CPU_VERSION__ >= 4
	return a / b;
#else
	__u64 q = (__u64)(a < 0 ? -a : a) / (__u64)(b < 0 ? -b : b);

	return (a < 0) != (b < 0) ? -(__s64)q : (__s64)q;
#endif
}

/* avg += (len - avg) / weight: the difference is negative for a frame
 * shorter than the average, hence the signed division. Not atomic: two
 * CPUs may lose an update, which a moving average tolerates. */
static __noinline void update_avg_len(__s64 len)
{
	__s64 avg = avg_len;

	if (ewma_weight <= 0)
		return;
	avg_len = avg + sdiv64(len - avg, ewma_weight);
}

/* The verdict for a destination port. A global function: it is verified
 * on its own, with only scalar arguments, and may be replaced (freplace). */
__noinline int port_verdict(__u32 port)
{
	if (blocked_port && port == blocked_port) {
		__sync_fetch_and_add(&dropped, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp")
int xdp_subprog_global(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct l4_info info = {};

	__sync_fetch_and_add(&packets, 1);
	update_avg_len(data_end - data);
	if (parse_l3(data, data_end, &info) < 0)
		return XDP_PASS;
	if (drop_ipv6 && ((struct ethhdr *)data)->h_proto == bpf_htons(ETH_P_IPV6)) {
		__sync_fetch_and_add(&dropped, 1);
		return XDP_DROP;
	}
	return port_verdict(parse_l4(data, data_end, &info));
}

char LICENSE[] SEC("license") = "GPL";
