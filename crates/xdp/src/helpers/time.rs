//! Helpers that read the machine rather than the packet: clocks
//! (kernel/bpf/helpers.c `bpf_ktime_get_ns`, `bpf_ktime_get_boot_ns`,
//! `bpf_jiffies64`), randomness (`bpf_get_prandom_u32`) and identity
//! (`bpf_get_smp_processor_id`, `bpf_get_numa_node_id`). Their answers
//! come from the runtime's [`super::HelperEnv`], so a deterministic
//! environment makes them repeatable.

use super::Ctx;
use super::XdpEnv;
use rxdp_interp::HelperError;

/// `u64 bpf_ktime_get_ns(void)` (5): `CLOCK_MONOTONIC`.
pub fn ktime_get_ns(
    env: &mut XdpEnv<'_>,
    _: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    Ok(env.world.clock.monotonic_ns())
}

/// `u64 bpf_ktime_get_boot_ns(void)` (125): `CLOCK_BOOTTIME`.
pub fn ktime_get_boot_ns(
    env: &mut XdpEnv<'_>,
    _: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    Ok(env.world.clock.boot_ns())
}

/// `u64 bpf_jiffies64(void)` (118).
pub fn jiffies64(
    env: &mut XdpEnv<'_>,
    _: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    Ok(env.world.clock.jiffies64())
}

/// `u32 bpf_get_prandom_u32(void)` (7): the runner's generator.
pub fn get_prandom_u32(
    env: &mut XdpEnv<'_>,
    _: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    Ok(u64::from(env.run.prandom.next_u32()))
}

/// `u32 bpf_get_smp_processor_id(void)` (8): the worker's index.
pub fn get_smp_processor_id(
    env: &mut XdpEnv<'_>,
    _: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    Ok(u64::from(env.cpu))
}

/// `long bpf_get_numa_node_id(void)` (42).
pub fn get_numa_node_id(
    env: &mut XdpEnv<'_>,
    _: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    Ok(u64::from(env.world.numa_node))
}
