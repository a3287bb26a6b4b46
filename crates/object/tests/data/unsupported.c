// Test object for rxdp-object: a CO-RE field access and a kfunc call,
// which rxdp cannot run; the object must still parse and the programs
// carry an "unsupported" marker naming what they need.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct xdp_md___local {
	__u32 data;
	__u32 data_end;
} __attribute__((preserve_access_index));

extern int bpf_dynptr_from_xdp(struct xdp_md *x, __u64 flags, void *ptr) __ksym;

SEC("xdp")
int xdp_core(struct xdp_md *ctx)
{
	struct xdp_md___local *l = (void *)ctx;
	return l->data_end > l->data ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_kfunc(struct xdp_md *ctx)
{
	char buf[16];
	return bpf_dynptr_from_xdp(ctx, 0, buf) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdp_plain(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
