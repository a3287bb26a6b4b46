// An XDP program the verifier must reject: it writes to the context,
// which XDP programs may only read.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int write_ctx(struct xdp_md *ctx)
{
	ctx->rx_queue_index = 7;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
