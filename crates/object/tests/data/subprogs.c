// Test object for rxdp-object: bpf-to-bpf calls to global and static
// functions in .text, a static function reached only from another
// subprogram, bpf_loop callbacks (function pointers), two programs in
// one section, and programs in xdp.frags and xdp/devmap sections.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline int leaf(int x)
{
	return x * 3 + 1;
}

static __noinline int mid(int x)
{
	if (x > 10)
		return leaf(x) + leaf(x + 1);
	return x;
}

__noinline int global_add(int a, int b)
{
	volatile int s = a + b;
	return s + mid(a);
}

static int loop_cb(__u32 index, void *ctx)
{
	int *sum = ctx;
	*sum += index;
	return 0;
}

static int loop_cb2(__u32 index, void *ctx)
{
	int *sum = ctx;
	*sum ^= index;
	return 0;
}

SEC("xdp")
int xdp_calls(struct xdp_md *ctx)
{
	int n = ctx->data_end - ctx->data;
	return global_add(n, 2) & 3;
}

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	int sum = 0;
	bpf_loop(10, loop_cb, &sum, 0);
	bpf_loop(5, loop_cb2, &sum, 0);
	return sum & 3;
}

SEC("xdp.frags")
int xdp_frags_prog(struct xdp_md *ctx)
{
	return mid(ctx->ingress_ifindex) ? XDP_PASS : XDP_DROP;
}

SEC("xdp/devmap")
int xdp_devmap_prog(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp.frags/cpumap")
int xdp_cpumap_prog(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_prog(struct __sk_buff *skb)
{
	return leaf(skb->len);
}

char _license[] SEC("license") = "GPL";
