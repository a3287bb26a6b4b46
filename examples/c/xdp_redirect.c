// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_redirect: forward every frame to another interface.
 *
 * Map: tx_port, a BPF_MAP_TYPE_DEVMAP; user space stores the egress
 * ifindex in slot 0 (key __u32 0, value __u32 ifindex). The program calls
 * bpf_redirect_map(&tx_port, 0, XDP_PASS): the low bits of the flags are
 * the action returned when slot 0 is empty, so until it is configured
 * frames go up the stack instead of being dropped. Redirected frames are
 * counted per CPU in redirect_stats[0]. Helpers: bpf_redirect_map,
 * bpf_map_lookup_elem.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} redirect_stats SEC(".maps");

SEC("xdp")
int xdp_redirect_devmap(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *count;
	long action;

	action = bpf_redirect_map(&tx_port, 0, XDP_PASS);
	if (action == XDP_REDIRECT) {
		count = bpf_map_lookup_elem(&redirect_stats, &key);
		if (count)
			*count += 1;
	}
	return action;
}

char LICENSE[] SEC("license") = "GPL";
