//! Builders for test programs written as `Insn` values, and a program type
//! with the XDP context layout.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use rxdp_isa::{AluOp, AtomicOp, CallKind, Cond, Insn, Operand, Pseudo, Reg, Size, Width};
use rxdp_verifier::{CtxAccess, ProgramType};

/// Register `n`.
pub(crate) fn r(n: u8) -> Reg {
    Reg::new(n).expect("register number")
}

/// `dst = imm`
pub(crate) fn mov_imm(dst: u8, imm: i32) -> Insn {
    alu_imm(AluOp::Mov, dst, imm)
}

/// `dst = src`
pub(crate) fn mov(dst: u8, src: u8) -> Insn {
    alu(AluOp::Mov, dst, src)
}

/// `dst op= imm` (64-bit)
pub(crate) fn alu_imm(op: AluOp, dst: u8, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: r(dst),
        src: Operand::Imm(imm),
    }
}

/// `dst op= src` (64-bit)
pub(crate) fn alu(op: AluOp, dst: u8, src: u8) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: r(dst),
        src: Operand::Reg(r(src)),
    }
}

/// `dst = *(size *)(src + off)`
pub(crate) fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Ldx {
        size,
        signed: false,
        dst: r(dst),
        src: r(src),
        off,
    }
}

/// `*(size *)(dst + off) = src`
pub(crate) fn stx(size: Size, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Stx {
        size,
        dst: r(dst),
        src: r(src),
        off,
    }
}

/// `*(size *)(dst + off) = imm`
pub(crate) fn st(size: Size, dst: u8, off: i16, imm: i32) -> Insn {
    Insn::St {
        size,
        dst: r(dst),
        off,
        imm,
    }
}

/// `lock *(size *)(dst + off) += src`
pub(crate) fn atomic_add(size: Size, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Atomic {
        size,
        op: AtomicOp::Add,
        fetch: false,
        dst: r(dst),
        src: r(src),
        off,
    }
}

/// `if dst == imm goto +off`
pub(crate) fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
    jmp_imm(Cond::Eq, dst, imm, off)
}

/// `if dst cond imm goto +off`
pub(crate) fn jmp_imm(cond: Cond, dst: u8, imm: i32, off: i16) -> Insn {
    Insn::Jmp {
        width: Width::W64,
        cond,
        dst: r(dst),
        src: Operand::Imm(imm),
        off,
    }
}

/// `goto +off`
pub(crate) fn ja(off: i32) -> Insn {
    Insn::Ja { off, long: false }
}

/// bpf-to-bpf call of `pc + 1 + off`
pub(crate) fn call_local(off: i32) -> Insn {
    Insn::Call(CallKind::Local(off))
}

/// Helper call by id.
pub(crate) fn call_helper(id: i32) -> Insn {
    Insn::Call(CallKind::Helper(id))
}

/// `exit`
pub(crate) fn exit() -> Insn {
    Insn::Exit
}

/// Both slots of a `lddw`.
pub(crate) fn lddw(dst: u8, pseudo: Pseudo, imm: u64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: r(dst),
            pseudo,
            imm,
        },
        Insn::LdImm64Hi,
    ]
}

/// A program from slots and `lddw` pairs.
pub(crate) fn prog<const N: usize>(parts: [Vec<Insn>; N]) -> Vec<Insn> {
    parts.concat()
}

/// The test's XDP program type: `struct xdp_md` is six `u32` fields
/// (data, data_end, data_meta, ingress_ifindex, rx_queue_index,
/// egress_ifindex); only aligned 4-byte reads are valid (the kernel's
/// `__is_valid_xdp_access`). The native context holds data, data_end and
/// data_meta as `u64` at 0, 8, 16 and the three indices as `u32` at 24,
/// 28, 32.
pub(crate) struct XdpTest;

impl ProgramType for XdpTest {
    fn name(&self) -> &'static str {
        "xdp"
    }

    fn context_access(&self, off: i32, size: Size, write: bool) -> Result<CtxAccess, String> {
        let invalid = || format!("invalid bpf_context access off={off} size={}", size.bytes());
        if write || !(0..24).contains(&off) || size != Size::W || off % 4 != 0 {
            return Err(invalid());
        }
        let (native_off, native_size) = match off {
            0 => (0, Size::DW),
            4 => (8, Size::DW),
            8 => (16, Size::DW),
            12 => (24, Size::W),
            16 => (28, Size::W),
            _ => (32, Size::W),
        };
        Ok(CtxAccess {
            native_off,
            native_size,
            field: Default::default(),
        })
    }
}
