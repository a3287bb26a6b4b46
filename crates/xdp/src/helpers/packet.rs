//! Helpers that move the packet's bounds or copy its bytes
//! (net/core/filter.c): `bpf_xdp_adjust_head`, `bpf_xdp_adjust_meta`,
//! `bpf_xdp_adjust_tail`, `bpf_xdp_get_buff_len`, `bpf_xdp_load_bytes`,
//! `bpf_xdp_store_bytes`.
//!
//! The bounds are the kernel's, for one linear frame:
//!
//! ```text
//! hard_start   +40 (sizeof(struct xdp_frame), kept for the frame's own
//!  │            │   descriptor when the packet is redirected)
//!  ▼            ▼
//!  ├────────────┼──── headroom ────┬──────────┬──────── packet ────────┬── tailroom ──┬─ skb_shared_info ─┤
//!                                data_meta   data                   data_end      hard_end
//! ```
//!
//! - head: `hard_start + 40 + metalen <= data <= data_end - ETH_HLEN`;
//!   the metadata moves with `data`.
//! - meta: `hard_start + 40 <= data_meta <= data`, and the metadata length
//!   a multiple of 4 of at most 255 bytes (`skb_shared_info.meta_len` is a
//!   `u8`), else `-EACCES`.
//! - tail: `data + ETH_HLEN <= data_end <= hard_end`; growth is zeroed.
//!
//! Measured against Linux 6.18's BPF_PROG_TEST_RUN (crates/rxdp/tests/
//! helpers_kernel.rs).

use super::Ctx;
use super::{XdpEnv, errno};
use crate::ctx::XdpContext;
use rxdp_interp::HelperError;
use rxdp_isa::helper_id as hid;

/// `ETH_HLEN`: the packet never shrinks below an Ethernet header.
pub const ETH_HLEN: u64 = 14;
/// `sizeof(struct xdp_frame)` on 64-bit kernels: headroom that
/// `bpf_xdp_adjust_head` and `bpf_xdp_adjust_meta` never hand out.
pub const XDP_FRAME_SIZE: u64 = 40;
/// The largest metadata area (`type_max(skb_shared_info.meta_len)`).
pub const META_MAX: u64 = 255;

/// errno values (include/uapi/asm-generic/errno-base.h).
pub(crate) mod e {
    /// Bad address.
    pub(crate) const EFAULT: i32 = 14;
    /// Permission denied.
    pub(crate) const EACCES: i32 = 13;
    /// Invalid argument.
    pub(crate) const EINVAL: i32 = 22;
}

impl XdpEnv<'_> {
    /// Checks that a helper's `ctx` argument is the run's context, as the
    /// kernel's verifier does (`ARG_PTR_TO_CTX`).
    pub(crate) fn check_ctx(&self, id: u32, arg: u64) -> Result<(), HelperError> {
        if arg == self.ctx as u64 {
            return Ok(());
        }
        Err(HelperError::Failed {
            id,
            reason: format!(
                "{}: argument 1 ({arg:#x}) is not the program's context",
                hid::helper_name(id as i32).unwrap_or("helper")
            ),
        })
    }
}

/// `long bpf_xdp_adjust_head(ctx, int delta)` (44).
pub fn adjust_head(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    env.check_ctx(hid::XDP_ADJUST_HEAD as u32, a[0])?;
    let delta = i64::from(a[1] as i32);
    let frame_end = env.frame.hard_start + XDP_FRAME_SIZE;
    let ctx = env.ctx_mut();
    let metalen = ctx.data - ctx.data_meta;
    let data = ctx.data.wrapping_add_signed(delta);
    if data < frame_end + metalen || data > ctx.data_end - ETH_HLEN {
        return Ok(errno(e::EINVAL));
    }
    let meta = ctx.data_meta.wrapping_add_signed(delta);
    if metalen > 0 {
        // SAFETY: the old and the new metadata area both lie between
        // `hard_start + 40` and `data_end`, inside the frame.
        unsafe {
            core::ptr::copy(
                core::ptr::with_exposed_provenance::<u8>(ctx.data_meta as usize),
                core::ptr::with_exposed_provenance_mut::<u8>(meta as usize),
                metalen as usize,
            );
        }
    }
    ctx.data_meta = meta;
    ctx.data = data;
    Ok(0)
}

/// `long bpf_xdp_adjust_meta(ctx, int delta)` (54).
pub fn adjust_meta(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    env.check_ctx(hid::XDP_ADJUST_META as u32, a[0])?;
    let delta = i64::from(a[1] as i32);
    let frame_end = env.frame.hard_start + XDP_FRAME_SIZE;
    let ctx = env.ctx_mut();
    let meta = ctx.data_meta.wrapping_add_signed(delta);
    if meta < frame_end || meta > ctx.data {
        return Ok(errno(e::EINVAL));
    }
    let metalen = ctx.data - meta;
    if !metalen.is_multiple_of(4) || metalen > META_MAX {
        return Ok(errno(e::EACCES));
    }
    ctx.data_meta = meta;
    Ok(0)
}

/// `long bpf_xdp_adjust_tail(ctx, int delta)` (65).
pub fn adjust_tail(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    env.check_ctx(hid::XDP_ADJUST_TAIL as u32, a[0])?;
    let delta = i64::from(a[1] as i32);
    let hard_end = env.frame.hard_end;
    let ctx = env.ctx_mut();
    let end = ctx.data_end.wrapping_add_signed(delta);
    if end > hard_end || end < ctx.data + ETH_HLEN {
        return Ok(errno(e::EINVAL));
    }
    if delta > 0 {
        // Growth exposes bytes an earlier packet left: zero them, as the
        // kernel does so that no old data leaks.
        // SAFETY: `data_end..end` lies below `hard_end`, inside the frame.
        unsafe {
            core::ptr::write_bytes(
                core::ptr::with_exposed_provenance_mut::<u8>(ctx.data_end as usize),
                0,
                delta as usize,
            );
        }
    }
    ctx.data_end = end;
    Ok(0)
}

/// `u64 bpf_xdp_get_buff_len(ctx)` (188): the packet's length (rxdp frames
/// have no fragments).
pub fn get_buff_len(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    env.check_ctx(hid::XDP_GET_BUFF_LEN as u32, a[0])?;
    let ctx = env.ctx();
    Ok(ctx.data_end - ctx.data)
}

/// The packet range `[data + offset, data + offset + len)` the kernel's
/// `bpf_xdp_pointer` allows, or its errno.
fn packet_range(ctx: &XdpContext, offset: u32, len: u32) -> Result<u64, i32> {
    if offset > 0xffff || len > 0xffff {
        return Err(e::EFAULT);
    }
    if u64::from(offset) + u64::from(len) > ctx.data_end - ctx.data {
        return Err(e::EINVAL);
    }
    Ok(ctx.data + u64::from(offset))
}

/// `long bpf_xdp_load_bytes(ctx, u32 offset, void *buf, u32 len)` (189).
pub fn load_bytes(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::XDP_LOAD_BYTES as u32;
    env.check_ctx(id, a[0])?;
    let (offset, len) = (a[1] as u32, a[3] as u32);
    let buf = env.write_arg(id, "buf", a[2], len as usize)?.as_mut_ptr();
    let src = match packet_range(env.ctx(), offset, len) {
        Ok(p) => p,
        Err(e) => return Ok(errno(e)),
    };
    // SAFETY: `src..src + len` is inside the packet; `buf` was checked
    // (checked runs) or proven (fast runs) writable for `len` bytes. The
    // two may overlap (a program may load into its own packet), so this
    // is a memmove.
    unsafe {
        core::ptr::copy(
            core::ptr::with_exposed_provenance::<u8>(src as usize),
            buf,
            len as usize,
        );
    }
    Ok(0)
}

/// `long bpf_xdp_store_bytes(ctx, u32 offset, void *buf, u32 len)` (190).
pub fn store_bytes(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::XDP_STORE_BYTES as u32;
    env.check_ctx(id, a[0])?;
    let (offset, len) = (a[1] as u32, a[3] as u32);
    let buf = env.read_arg(id, "buf", a[2], len as usize)?.as_ptr();
    let dst = match packet_range(env.ctx(), offset, len) {
        Ok(p) => p,
        Err(e) => return Ok(errno(e)),
    };
    // SAFETY: as in `load_bytes`, in the other direction.
    unsafe {
        core::ptr::copy(
            buf,
            core::ptr::with_exposed_provenance_mut::<u8>(dst as usize),
            len as usize,
        );
    }
    Ok(0)
}
