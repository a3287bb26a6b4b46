//! The XDP context: `struct xdp_md` as programs see it, and the native
//! context rxdp actually hands them.
//!
//! Programs are compiled against the UAPI `struct xdp_md`, six `__u32`
//! fields. Three of them are pointers (data, data_end, data_meta) that do
//! not fit in 32 bits in user space, so, like the kernel's
//! `xdp_convert_ctx_access`, the fixup layer rewrites every context load
//! into a load from [`XdpContext`], where the pointers are 64-bit. The
//! rules of which accesses are valid are the kernel's
//! `xdp_is_valid_access`: reads only, 4 bytes, aligned, inside the struct,
//! and `egress_ifindex` only for programs attached to a devmap.

use core::mem::offset_of;
use rxdp_isa::Size;
use rxdp_verifier::{CtxAccess, CtxField, HelperProto, ProgramType};

/// Offsets of the fields of the UAPI `struct xdp_md`.
pub mod xdp_md {
    /// `__u32 data`: start of the packet.
    pub const DATA: i32 = 0;
    /// `__u32 data_end`: one past the last packet byte.
    pub const DATA_END: i32 = 4;
    /// `__u32 data_meta`: start of the metadata area before `data`.
    pub const DATA_META: i32 = 8;
    /// `__u32 ingress_ifindex`: interface the frame arrived on.
    pub const INGRESS_IFINDEX: i32 = 12;
    /// `__u32 rx_queue_index`: receive queue the frame arrived on.
    pub const RX_QUEUE_INDEX: i32 = 16;
    /// `__u32 egress_ifindex`: interface of a devmap program's target.
    pub const EGRESS_IFINDEX: i32 = 20;
    /// `sizeof(struct xdp_md)`.
    pub const SIZE: i32 = 24;
}

/// The native context a program's `r1` points to: `struct xdp_md` with
/// full-width pointers. Its layout is the contract between this module's
/// [`Xdp::context_access`] rewrites and every engine.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpContext {
    /// Address of the first packet byte.
    pub data: u64,
    /// Address one past the last packet byte.
    pub data_end: u64,
    /// Address of the first metadata byte (`== data` when there is none).
    pub data_meta: u64,
    /// Interface index the frame was received on.
    pub ingress_ifindex: u32,
    /// Receive queue index the frame was received on.
    pub rx_queue_index: u32,
    /// Interface index of the devmap entry running the program.
    pub egress_ifindex: u32,
}

/// Where an XDP program is attached, which decides what it may read
/// (the kernel's `expected_attach_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpAttach {
    /// An interface's receive hook (`SEC("xdp")`).
    #[default]
    Interface,
    /// A devmap entry (`SEC("xdp/devmap")`): may read `egress_ifindex`.
    Devmap,
    /// A cpumap entry (`SEC("xdp/cpumap")`).
    Cpumap,
}

/// The XDP program type, as the verifier and fixup layers see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Xdp {
    /// Where the program is attached.
    pub attach: XdpAttach,
}

fn native(off: usize, size: Size) -> CtxAccess {
    CtxAccess {
        native_off: off as i16,
        native_size: size,
        field: CtxField::Scalar,
    }
}

fn pointer(off: usize, field: CtxField) -> CtxAccess {
    CtxAccess {
        field,
        ..native(off, Size::DW)
    }
}

impl ProgramType for Xdp {
    fn name(&self) -> &'static str {
        "xdp"
    }

    fn context_access(&self, off: i32, size: Size, write: bool) -> Result<CtxAccess, String> {
        let invalid = || format!("invalid bpf_context access off={off} size={}", size.bytes());
        if write || size != Size::W || !(0..xdp_md::SIZE).contains(&off) || off % 4 != 0 {
            return Err(invalid());
        }
        Ok(match off {
            xdp_md::DATA => pointer(offset_of!(XdpContext, data), CtxField::Packet),
            xdp_md::DATA_END => pointer(offset_of!(XdpContext, data_end), CtxField::PacketEnd),
            xdp_md::DATA_META => pointer(offset_of!(XdpContext, data_meta), CtxField::PacketMeta),
            xdp_md::INGRESS_IFINDEX => native(offset_of!(XdpContext, ingress_ifindex), Size::W),
            xdp_md::RX_QUEUE_INDEX => native(offset_of!(XdpContext, rx_queue_index), Size::W),
            xdp_md::EGRESS_IFINDEX if self.attach == XdpAttach::Devmap => {
                native(offset_of!(XdpContext, egress_ifindex), Size::W)
            }
            _ => return Err(invalid()),
        })
    }

    fn helper_proto(&self, id: u32) -> Option<&'static HelperProto> {
        crate::helpers::helper(id).and_then(|_| rxdp_verifier::proto::proto(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_fields_become_64_bit_loads() {
        let x = Xdp::default();
        assert_eq!(
            x.context_access(0, Size::W, false).unwrap(),
            pointer(0, CtxField::Packet)
        );
        assert_eq!(
            x.context_access(4, Size::W, false).unwrap(),
            pointer(8, CtxField::PacketEnd)
        );
        assert_eq!(
            x.context_access(8, Size::W, false).unwrap(),
            pointer(16, CtxField::PacketMeta)
        );
        assert_eq!(
            x.context_access(12, Size::W, false).unwrap(),
            native(24, Size::W)
        );
        assert_eq!(
            x.context_access(16, Size::W, false).unwrap(),
            native(28, Size::W)
        );
    }

    #[test]
    fn only_aligned_word_reads_inside_the_struct() {
        let x = Xdp::default();
        for (off, size, write) in [
            (0, Size::W, true),
            (0, Size::DW, false),
            (0, Size::H, false),
            (2, Size::W, false),
            (24, Size::W, false),
            (-4, Size::W, false),
            (20, Size::W, false),
        ] {
            let e = x.context_access(off, size, write).unwrap_err();
            assert!(e.contains("invalid bpf_context access"), "{e}");
        }
        let devmap = Xdp {
            attach: XdpAttach::Devmap,
        };
        assert_eq!(
            devmap.context_access(20, Size::W, false).unwrap(),
            native(32, Size::W)
        );
    }
}
