// Test object for rxdp-object: global data (.data, .rodata, .bss,
// a custom .data.* section, string literals), volatile const knobs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

volatile const __u32 knob_ratio = 7;
volatile const __u8 knob_mode;
__u64 counter_data = 0x1122334455667788ULL;
__u64 counter_bss;
static __u32 static_data = 42;
__u32 custom_val SEC(".data.custom") = 5;

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	counter_bss++;
	counter_data += knob_ratio;
	static_data++;
	custom_val += knob_mode;
	bpf_printk("ratio %u", knob_ratio);
	return knob_mode ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
__u32 _version SEC("version") = 0x050a00;
