//! Program types as the verifier sees them: whether a context arrives in
//! `r1`, and which context accesses are valid and how they are rewritten
//! for the native context (the kernel's `is_valid_access` and
//! `convert_ctx_access` pair of `bpf_verifier_ops`).
//!
//! The verifier does not hard-code any program type; the XDP crate
//! implements [`ProgramType`] for `xdp_md`.

use crate::proto::HelperProto;
use rxdp_isa::Size;

/// How one valid context access is rewritten: the native offset and size
/// to access instead.
///
/// In user space the context holds 64-bit pointers where the kernel's UAPI
/// struct has 32-bit fields, so a 4-byte load of `xdp_md.data` becomes an
/// 8-byte load of the native struct's `data` (`native_size` `DW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxAccess {
    /// Offset of the field in the native context struct.
    pub native_off: i16,
    /// Size of the native access; loads are zero-extended.
    pub native_size: Size,
    /// What the loaded value is.
    pub field: CtxField,
}

/// What a context field holds, as the verifier types the register a load
/// of it fills (the kernel's `bpf_insn_access_aux.reg_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CtxField {
    /// A number.
    #[default]
    Scalar,
    /// The first packet byte (`PTR_TO_PACKET`).
    Packet,
    /// One past the last packet byte (`PTR_TO_PACKET_END`).
    PacketEnd,
    /// The first metadata byte (`PTR_TO_PACKET_META`).
    PacketMeta,
}

/// A BPF program type, as far as verification and fixup need it.
pub trait ProgramType {
    /// Short name for messages, e.g. "xdp".
    fn name(&self) -> &'static str;

    /// Whether `r1` holds a context at entry. False for raw-memory programs
    /// (such as the conformance suite's), where `r1` is a plain pointer and
    /// nothing is rewritten.
    fn has_context(&self) -> bool {
        true
    }

    /// Checks an access of `size` bytes at `off` in the context; returns
    /// how it is rewritten, or why it is invalid (in the kernel's words:
    /// "invalid bpf_context access off=%d size=%d").
    fn context_access(&self, off: i32, size: Size, write: bool) -> Result<CtxAccess, String>;

    /// The prototype of helper `id` if programs of this type may call it
    /// (the kernel's `get_func_proto`). None by default.
    fn helper_proto(&self, id: u32) -> Option<&'static HelperProto> {
        let _ = id;
        None
    }

    /// Whether programs of this type may read and write packet data
    /// through `data`/`data_end` (the kernel's `may_access_direct_pkt_data`).
    fn packet_access(&self) -> bool {
        self.has_context()
    }
}

/// The program type of raw-memory programs: `r1` is a plain pointer to a
/// memory block, there is no context and nothing is rewritten.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawMemory;

impl ProgramType for RawMemory {
    fn name(&self) -> &'static str {
        "raw-memory"
    }

    fn has_context(&self) -> bool {
        false
    }

    fn context_access(&self, off: i32, size: Size, _write: bool) -> Result<CtxAccess, String> {
        Err(format!(
            "invalid bpf_context access off={off} size={}: raw-memory programs have no context",
            size.bytes()
        ))
    }
}
