// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_ringbuf_sample: send a sample of the traffic to user space.
 *
 * One packet in every `sample_every` (.rodata, default 64) is copied into
 * the ring buffer as a struct sample: a record kind, the ingress ifindex,
 * the frame length and the frame's first 32 bytes (all zero for a frame
 * shorter than that, which Ethernet never carries), reserved in place with bpf_ringbuf_reserve and
 * published with bpf_ringbuf_submit.
 * Every `summary_every` packets (.rodata, default 1024) a struct summary
 * (packets seen and sampled so far) is copied in from the stack with
 * bpf_ringbuf_output, and the reader is woken up at once (BPF_RB_FORCE_WAKEUP).
 * The record kind, the first field of both records, tells them apart.
 * Every packet passes.
 *
 * Map: events, a BPF_MAP_TYPE_RINGBUF of 256 KiB. Globals: .rodata knobs,
 * .bss counters (updated with atomic fetch-and-add: they are shared by all
 * CPUs). Helpers: bpf_ringbuf_reserve, bpf_ringbuf_submit,
 * bpf_ringbuf_output.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SAMPLE_BYTES 32

enum record_kind { RECORD_SAMPLE = 1, RECORD_SUMMARY = 2 };

struct sample {
	__u32 kind;
	__u32 ifindex;
	__u32 len;
	__u8 head[SAMPLE_BYTES];
};

struct summary {
	__u32 kind;
	__u32 pad;
	__u64 packets;
	__u64 sampled;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

volatile const __u32 sample_every = 64;
volatile const __u32 summary_every = 1024;

__u64 packets;
__u64 sampled;

static __always_inline void emit_sample(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sample *s;

	s = bpf_ringbuf_reserve(&events, sizeof(*s), 0);
	if (!s)
		return; /* ring full: the reader is behind, lose this sample */
	s->kind = RECORD_SAMPLE;
	s->ifindex = ctx->ingress_ifindex;
	s->len = data_end - data;
	/* Reserved ring memory is not zeroed: never leave bytes unwritten. */
	if (data + SAMPLE_BYTES <= data_end)
		__builtin_memcpy(s->head, data, SAMPLE_BYTES);
	else
		__builtin_memset(s->head, 0, SAMPLE_BYTES);
	bpf_ringbuf_submit(s, 0);
	__sync_fetch_and_add(&sampled, 1);
}

SEC("xdp")
int xdp_ringbuf_sample(struct xdp_md *ctx)
{
	__u64 seen = __sync_fetch_and_add(&packets, 1) + 1;

	if (sample_every && seen % sample_every == 0)
		emit_sample(ctx);

	if (summary_every && seen % summary_every == 0) {
		struct summary sum = {
			.kind = RECORD_SUMMARY,
			.packets = seen,
			.sampled = sampled,
		};

		bpf_ringbuf_output(&events, &sum, sizeof(sum), BPF_RB_FORCE_WAKEUP);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
