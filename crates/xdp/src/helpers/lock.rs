//! `bpf_spin_lock` and `bpf_spin_unlock` (kernel/bpf/helpers.c): a 4-byte
//! lock word inside a map value, taken by spinning, so that workers on
//! several threads exclude each other as CPUs do in the kernel. The
//! kernel's verifier pairs every lock with an unlock on each path and
//! allows no helper call in between; a checked run checks the lock word is
//! aligned, writable program memory.
//!
//! The lock protocol is the maps layer's ([`rxdp_maps::spin_lock`]), so
//! programs and control-plane `BPF_F_LOCK` updates and lookups exclude
//! each other.

use super::{Ctx, XdpEnv};
use rxdp_interp::HelperError;
use rxdp_isa::helper_id as hid;
use rxdp_maps::spin_lock;
use std::sync::atomic::AtomicU32;

fn lock_word<'m>(env: &XdpEnv<'m>, id: u32, addr: u64) -> Result<&'m AtomicU32, HelperError> {
    let bytes = env.write_arg(id, "lock", addr, 4)?;
    if !addr.is_multiple_of(4) {
        return Err(super::mem::bad_arg(
            id,
            "lock",
            addr,
            4,
            "is not 4-byte aligned",
        ));
    }
    // SAFETY: the 4 bytes are writable program memory (checked in checked
    // runs, proven by the verifier in fast runs), aligned for a u32, and
    // other threads touch them only atomically, through this same helper.
    Ok(unsafe { AtomicU32::from_ptr(bytes.as_mut_ptr().cast()) })
}

/// `long bpf_spin_lock(struct bpf_spin_lock *lock)` (93).
pub fn spin_lock(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let word = lock_word(env, hid::SPIN_LOCK as u32, a[0])?;
    spin_lock::lock(word);
    Ok(0)
}

/// `long bpf_spin_unlock(struct bpf_spin_lock *lock)` (94).
pub fn spin_unlock(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let word = lock_word(env, hid::SPIN_UNLOCK as u32, a[0])?;
    spin_lock::unlock(word);
    Ok(0)
}
