// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_drop: drop every frame.
 *
 * The smallest useful XDP program: the first thing anyone attaches to an
 * interface to check that XDP works there (the interface's RX counters keep
 * rising, nothing reaches the stack). No maps, no helpers.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
