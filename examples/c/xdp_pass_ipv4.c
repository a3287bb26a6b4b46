// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_pass_ipv4: let IPv4 through, drop everything else.
 *
 * Accepts untagged IPv4 and IPv4 inside one VLAN tag (802.1Q or 802.1ad);
 * drops IPv6, ARP, frames with two or more tags, and frames too short to
 * hold the headers they announce. No maps, no helpers: only direct packet
 * access with the bounds checks the verifier demands.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The 4 bytes a VLAN tag inserts after the MAC addresses (the UAPI headers
 * do not export struct vlan_hdr). */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

SEC("xdp")
int xdp_pass_ipv4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	proto = eth->h_proto;
	l3 = eth + 1;

	/* One tag at most: the inner type must then be IPv4 itself. */
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vlan = l3;

		if ((void *)(vlan + 1) > data_end)
			return XDP_DROP;
		proto = vlan->h_vlan_encapsulated_proto;
		l3 = vlan + 1;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return XDP_DROP;

	/* An IPv4 frame must at least hold a version-4 header. */
	struct iphdr *iph = l3;

	if ((void *)(iph + 1) > data_end || iph->version != 4)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
