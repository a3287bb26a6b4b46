// Test object for rxdp-object: a program in a section that is not one of
// libbpf's SEC() names; parsing must fail naming the section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("not_a_prog_type")
int odd(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
