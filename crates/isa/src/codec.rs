//! Decoding 8-byte little-endian slots into [`Insn`]s and encoding them back.
//!
//! Decoding is strict: a reserved field that is not zero, an unknown opcode
//! or a register above r10 is an error naming the slot, as the kernel's
//! `bpf_check` rejects them before verification proper.

use crate::insn::{
    AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width,
};
use crate::opcode::{self, alu, atomic, class, jmp, mode, size};
use thiserror::Error;

/// The five fields of one 8-byte instruction slot, as on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct RawInsn {
    /// The opcode byte.
    pub code: u8,
    /// Destination register field (low nibble of byte 1).
    pub dst: u8,
    /// Source register field (high nibble of byte 1).
    pub src: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl RawInsn {
    /// Reads a slot from 8 little-endian bytes.
    pub fn from_bytes(b: [u8; 8]) -> RawInsn {
        RawInsn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The slot as 8 little-endian bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The slot as the `u64` the kernel's `struct bpf_insn` is in memory.
    pub fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }
}

/// Why a slot failed to decode.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeErrorKind {
    /// The byte length of the program is not a multiple of 8.
    #[error("program length {0} is not a multiple of 8 bytes")]
    Length(usize),
    /// No instruction has this opcode.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A register field names a register above r10.
    #[error("invalid {field} register r{num}")]
    BadRegister {
        /// "dst" or "src".
        field: &'static str,
        /// The register number found.
        num: u8,
    },
    /// A field that must be zero (or one of a few values) is not.
    #[error("opcode {code:#04x}: reserved field {field} is {value:#x}")]
    Reserved {
        /// The opcode byte.
        code: u8,
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: i64,
    },
    /// A `lddw` at the last slot, or whose second slot is not all zeros
    /// but for its immediate.
    #[error("lddw is missing its second half")]
    TruncatedLddw,
    /// A `lddw` with an unknown pseudo source.
    #[error("lddw with unknown pseudo source {0}")]
    BadPseudo(u8),
    /// An atomic instruction with an unknown operation immediate.
    #[error("unknown atomic operation {0:#x}")]
    BadAtomic(i32),
    /// A byte-order instruction whose width is not 16, 32 or 64.
    #[error("invalid byte swap width {0}")]
    BadEndianWidth(i32),
}

/// A decoding error at a slot.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("insn {pc}: {kind}")]
pub struct DecodeError {
    /// The slot index.
    pub pc: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// Decodes a whole program from little-endian bytes, one [`Insn`] per slot.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError {
            pc: bytes.len() / 8,
            kind: DecodeErrorKind::Length(bytes.len()),
        });
    }
    let raw: Vec<RawInsn> = bytes
        .chunks_exact(8)
        .map(|c| RawInsn::from_bytes(c.try_into().expect("chunks of 8")))
        .collect();
    decode_raw(&raw)
}

/// Decodes a program given as raw slots.
pub fn decode_raw(raw: &[RawInsn]) -> Result<Vec<Insn>, DecodeError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut pc = 0;
    while pc < raw.len() {
        let insn = decode_one(raw[pc], raw.get(pc + 1).copied())
            .map_err(|kind| DecodeError { pc, kind })?;
        out.push(insn);
        if insn.slots() == 2 {
            out.push(Insn::LdImm64Hi);
        }
        pc += insn.slots();
    }
    Ok(out)
}

fn reg(field: &'static str, num: u8) -> Result<Reg, DecodeErrorKind> {
    Reg::new(num).ok_or(DecodeErrorKind::BadRegister { field, num })
}

fn zero(code: u8, field: &'static str, value: i64) -> Result<(), DecodeErrorKind> {
    if value == 0 {
        Ok(())
    } else {
        Err(DecodeErrorKind::Reserved { code, field, value })
    }
}

fn mem_size(bits: u8) -> Size {
    match bits {
        size::W => Size::W,
        size::H => Size::H,
        size::B => Size::B,
        _ => Size::DW,
    }
}

/// Decodes one instruction from its slot and, for `lddw`, the next slot.
pub fn decode_one(r: RawInsn, next: Option<RawInsn>) -> Result<Insn, DecodeErrorKind> {
    let code = r.code;
    let dst = reg("dst", r.dst)?;
    let src_reg = reg("src", r.src)?;
    match code & opcode::CLASS_MASK {
        class::ALU | class::ALU64 => decode_alu(r, dst, src_reg),
        class::JMP | class::JMP32 => decode_jmp(r, dst, src_reg),
        class::LDX => {
            zero(code, "imm", r.imm.into())?;
            let size = mem_size(code & opcode::SIZE_MASK);
            match code & opcode::MODE_MASK {
                mode::MEM => Ok(Insn::Ldx {
                    size,
                    signed: false,
                    dst,
                    src: src_reg,
                    off: r.off,
                }),
                mode::MEMSX if size != Size::DW => Ok(Insn::Ldx {
                    size,
                    signed: true,
                    dst,
                    src: src_reg,
                    off: r.off,
                }),
                _ => Err(DecodeErrorKind::UnknownOpcode(code)),
            }
        }
        class::ST => {
            if code & opcode::MODE_MASK != mode::MEM {
                return Err(DecodeErrorKind::UnknownOpcode(code));
            }
            zero(code, "src", r.src.into())?;
            Ok(Insn::St {
                size: mem_size(code & opcode::SIZE_MASK),
                dst,
                off: r.off,
                imm: r.imm,
            })
        }
        class::STX => {
            let size = mem_size(code & opcode::SIZE_MASK);
            match code & opcode::MODE_MASK {
                mode::MEM => {
                    zero(code, "imm", r.imm.into())?;
                    Ok(Insn::Stx {
                        size,
                        dst,
                        src: src_reg,
                        off: r.off,
                    })
                }
                mode::ATOMIC if matches!(size, Size::W | Size::DW) => {
                    let (op, fetch) = match r.imm {
                        atomic::XCHG => (AtomicOp::Xchg, true),
                        atomic::CMPXCHG => (AtomicOp::Cmpxchg, true),
                        imm => {
                            let op = match imm & !atomic::FETCH {
                                atomic::ADD => AtomicOp::Add,
                                atomic::OR => AtomicOp::Or,
                                atomic::AND => AtomicOp::And,
                                atomic::XOR => AtomicOp::Xor,
                                _ => return Err(DecodeErrorKind::BadAtomic(imm)),
                            };
                            (op, imm & atomic::FETCH != 0)
                        }
                    };
                    Ok(Insn::Atomic {
                        size,
                        op,
                        fetch,
                        dst,
                        src: src_reg,
                        off: r.off,
                    })
                }
                _ => Err(DecodeErrorKind::UnknownOpcode(code)),
            }
        }
        class::LD => decode_ld(r, dst, next),
        _ => unreachable!("class is three bits"),
    }
}

fn decode_ld(r: RawInsn, dst: Reg, next: Option<RawInsn>) -> Result<Insn, DecodeErrorKind> {
    let code = r.code;
    let size = mem_size(code & opcode::SIZE_MASK);
    match code & opcode::MODE_MASK {
        mode::IMM if size == Size::DW => {
            zero(code, "off", r.off.into())?;
            let pseudo = Pseudo::from_code(r.src).ok_or(DecodeErrorKind::BadPseudo(r.src))?;
            let hi = next.ok_or(DecodeErrorKind::TruncatedLddw)?;
            if hi.code != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0 {
                return Err(DecodeErrorKind::TruncatedLddw);
            }
            let imm = (r.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32);
            Ok(Insn::LdImm64 { dst, pseudo, imm })
        }
        m @ (mode::ABS | mode::IND) if size != Size::DW => {
            zero(code, "dst", r.dst.into())?;
            zero(code, "off", r.off.into())?;
            if m == mode::ABS {
                zero(code, "src", r.src.into())?;
                Ok(Insn::LdAbs { size, imm: r.imm })
            } else {
                Ok(Insn::LdInd {
                    size,
                    src: reg("src", r.src)?,
                    imm: r.imm,
                })
            }
        }
        _ => Err(DecodeErrorKind::UnknownOpcode(code)),
    }
}

fn decode_alu(r: RawInsn, dst: Reg, src_reg: Reg) -> Result<Insn, DecodeErrorKind> {
    let code = r.code;
    let width = if code & opcode::CLASS_MASK == class::ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let is_x = code & opcode::src::X != 0;
    let op = code & opcode::OP_MASK;
    match op {
        alu::NEG => {
            if is_x {
                return Err(DecodeErrorKind::UnknownOpcode(code));
            }
            zero(code, "src", r.src.into())?;
            zero(code, "off", r.off.into())?;
            zero(code, "imm", r.imm.into())?;
            return Ok(Insn::Neg { width, dst });
        }
        alu::END => {
            zero(code, "src", r.src.into())?;
            zero(code, "off", r.off.into())?;
            let kind = match (width, is_x) {
                (Width::W32, false) => Endian::Le,
                (Width::W32, true) => Endian::Be,
                (Width::W64, false) => Endian::Swap,
                (Width::W64, true) => return Err(DecodeErrorKind::UnknownOpcode(code)),
            };
            if !matches!(r.imm, 16 | 32 | 64) {
                return Err(DecodeErrorKind::BadEndianWidth(r.imm));
            }
            return Ok(Insn::End {
                kind,
                dst,
                bits: r.imm as u8,
            });
        }
        0xe0 | 0xf0 => return Err(DecodeErrorKind::UnknownOpcode(code)),
        _ => {}
    }
    // Sign-extending moves: MOV X with offset 8, 16 (and 32 for ALU64).
    if op == alu::MOV && is_x && r.off != 0 {
        zero(code, "imm", r.imm.into())?;
        let from = match (r.off, width) {
            (8, _) => Size::B,
            (16, _) => Size::H,
            (32, Width::W64) => Size::W,
            _ => {
                return Err(DecodeErrorKind::Reserved {
                    code,
                    field: "off",
                    value: r.off.into(),
                });
            }
        };
        return Ok(Insn::MovSx {
            width,
            dst,
            src: src_reg,
            from,
        });
    }
    let signed = match (op, r.off) {
        (alu::DIV | alu::MOD, 0 | 1) => r.off == 1,
        _ => {
            zero(code, "off", r.off.into())?;
            false
        }
    };
    let op = match op {
        alu::ADD => AluOp::Add,
        alu::SUB => AluOp::Sub,
        alu::MUL => AluOp::Mul,
        alu::DIV if signed => AluOp::Sdiv,
        alu::DIV => AluOp::Div,
        alu::MOD if signed => AluOp::Smod,
        alu::MOD => AluOp::Mod,
        alu::OR => AluOp::Or,
        alu::AND => AluOp::And,
        alu::LSH => AluOp::Lsh,
        alu::RSH => AluOp::Rsh,
        alu::ARSH => AluOp::Arsh,
        alu::XOR => AluOp::Xor,
        alu::MOV => AluOp::Mov,
        _ => return Err(DecodeErrorKind::UnknownOpcode(code)),
    };
    let src = if is_x {
        zero(code, "imm", r.imm.into())?;
        Operand::Reg(src_reg)
    } else {
        zero(code, "src", r.src.into())?;
        Operand::Imm(r.imm)
    };
    Ok(Insn::Alu {
        width,
        op,
        dst,
        src,
    })
}

fn decode_jmp(r: RawInsn, dst: Reg, src_reg: Reg) -> Result<Insn, DecodeErrorKind> {
    let code = r.code;
    let width = if code & opcode::CLASS_MASK == class::JMP {
        Width::W64
    } else {
        Width::W32
    };
    let is_x = code & opcode::src::X != 0;
    let op = code & opcode::OP_MASK;
    let cond = match op {
        jmp::JA => {
            if is_x {
                return Err(DecodeErrorKind::UnknownOpcode(code));
            }
            zero(code, "dst", r.dst.into())?;
            zero(code, "src", r.src.into())?;
            return Ok(match width {
                Width::W64 => {
                    zero(code, "imm", r.imm.into())?;
                    Insn::Ja {
                        off: r.off.into(),
                        long: false,
                    }
                }
                Width::W32 => {
                    zero(code, "off", r.off.into())?;
                    Insn::Ja {
                        off: r.imm,
                        long: true,
                    }
                }
            });
        }
        jmp::CALL if width == Width::W64 => {
            zero(code, "off", r.off.into())?;
            if is_x {
                zero(code, "src", r.src.into())?;
                zero(code, "imm", r.imm.into())?;
                return Ok(Insn::Callx { dst });
            }
            zero(code, "dst", r.dst.into())?;
            return Ok(Insn::Call(match r.src {
                0 => CallKind::Helper(r.imm),
                1 => CallKind::Local(r.imm),
                2 => CallKind::Kfunc(r.imm),
                v => {
                    return Err(DecodeErrorKind::Reserved {
                        code,
                        field: "src",
                        value: v.into(),
                    });
                }
            }));
        }
        jmp::EXIT if width == Width::W64 && !is_x => {
            zero(code, "dst", r.dst.into())?;
            zero(code, "src", r.src.into())?;
            zero(code, "off", r.off.into())?;
            zero(code, "imm", r.imm.into())?;
            return Ok(Insn::Exit);
        }
        jmp::JEQ => Cond::Eq,
        jmp::JGT => Cond::Gt,
        jmp::JGE => Cond::Ge,
        jmp::JSET => Cond::Set,
        jmp::JNE => Cond::Ne,
        jmp::JSGT => Cond::Sgt,
        jmp::JSGE => Cond::Sge,
        jmp::JLT => Cond::Lt,
        jmp::JLE => Cond::Le,
        jmp::JSLT => Cond::Slt,
        jmp::JSLE => Cond::Sle,
        _ => return Err(DecodeErrorKind::UnknownOpcode(code)),
    };
    let src = if is_x {
        zero(code, "imm", r.imm.into())?;
        Operand::Reg(src_reg)
    } else {
        zero(code, "src", r.src.into())?;
        Operand::Imm(r.imm)
    };
    Ok(Insn::Jmp {
        width,
        cond,
        dst,
        src,
        off: r.off,
    })
}

fn size_bits(s: Size) -> u8 {
    match s {
        Size::W => size::W,
        Size::H => size::H,
        Size::B => size::B,
        Size::DW => size::DW,
    }
}

fn alu_code(op: AluOp) -> (u8, i16) {
    match op {
        AluOp::Add => (alu::ADD, 0),
        AluOp::Sub => (alu::SUB, 0),
        AluOp::Mul => (alu::MUL, 0),
        AluOp::Div => (alu::DIV, 0),
        AluOp::Sdiv => (alu::DIV, 1),
        AluOp::Mod => (alu::MOD, 0),
        AluOp::Smod => (alu::MOD, 1),
        AluOp::Or => (alu::OR, 0),
        AluOp::And => (alu::AND, 0),
        AluOp::Lsh => (alu::LSH, 0),
        AluOp::Rsh => (alu::RSH, 0),
        AluOp::Arsh => (alu::ARSH, 0),
        AluOp::Xor => (alu::XOR, 0),
        AluOp::Mov => (alu::MOV, 0),
    }
}

/// The jump operation code of a condition.
pub fn cond_code(c: Cond) -> u8 {
    match c {
        Cond::Eq => jmp::JEQ,
        Cond::Gt => jmp::JGT,
        Cond::Ge => jmp::JGE,
        Cond::Set => jmp::JSET,
        Cond::Ne => jmp::JNE,
        Cond::Sgt => jmp::JSGT,
        Cond::Sge => jmp::JSGE,
        Cond::Lt => jmp::JLT,
        Cond::Le => jmp::JLE,
        Cond::Slt => jmp::JSLT,
        Cond::Sle => jmp::JSLE,
    }
}

fn alu_class(w: Width) -> u8 {
    match w {
        Width::W32 => class::ALU,
        Width::W64 => class::ALU64,
    }
}

fn operand(src: Operand) -> (u8, u8, i32) {
    match src {
        Operand::Reg(r) => (opcode::src::X, r.num(), 0),
        Operand::Imm(i) => (opcode::src::K, 0, i),
    }
}

/// Encodes one instruction into its slots: one, or two for `lddw`.
/// [`Insn::LdImm64Hi`] encodes to nothing (its `LdImm64` wrote both).
pub fn encode_one(insn: &Insn) -> Vec<RawInsn> {
    let raw = |code: u8, dst: Reg, src: u8, off: i16, imm: i32| RawInsn {
        code,
        dst: dst.num(),
        src,
        off,
        imm,
    };
    let r0 = Reg::R0;
    vec![match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let (opc, off) = alu_code(op);
            let (x, s, imm) = operand(src);
            raw(alu_class(width) | opc | x, dst, s, off, imm)
        }
        Insn::MovSx {
            width,
            dst,
            src,
            from,
        } => {
            let off = (from.bytes() * 8) as i16;
            raw(
                alu_class(width) | alu::MOV | opcode::src::X,
                dst,
                src.num(),
                off,
                0,
            )
        }
        Insn::Neg { width, dst } => raw(alu_class(width) | alu::NEG, dst, 0, 0, 0),
        Insn::End { kind, dst, bits } => {
            let code = match kind {
                Endian::Le => class::ALU | alu::END | opcode::src::K,
                Endian::Be => class::ALU | alu::END | opcode::src::X,
                Endian::Swap => class::ALU64 | alu::END,
            };
            raw(code, dst, 0, 0, bits.into())
        }
        Insn::Ja { off, long: false } => raw(class::JMP | jmp::JA, r0, 0, off as i16, 0),
        Insn::Ja { off, long: true } => raw(class::JMP32 | jmp::JA, r0, 0, 0, off),
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let cls = match width {
                Width::W32 => class::JMP32,
                Width::W64 => class::JMP,
            };
            let (x, s, imm) = operand(src);
            raw(cls | cond_code(cond) | x, dst, s, off, imm)
        }
        Insn::Call(kind) => {
            let (s, imm) = match kind {
                CallKind::Helper(i) => (0, i),
                CallKind::Local(i) => (1, i),
                CallKind::Kfunc(i) => (2, i),
            };
            raw(class::JMP | jmp::CALL, r0, s, 0, imm)
        }
        Insn::Callx { dst } => raw(class::JMP | jmp::CALL | opcode::src::X, dst, 0, 0, 0),
        Insn::Exit => raw(class::JMP | jmp::EXIT, r0, 0, 0, 0),
        Insn::Ldx {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let m = if signed { mode::MEMSX } else { mode::MEM };
            raw(class::LDX | m | size_bits(size), dst, src.num(), off, 0)
        }
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => raw(
            class::STX | mode::MEM | size_bits(size),
            dst,
            src.num(),
            off,
            0,
        ),
        Insn::St {
            size,
            dst,
            off,
            imm,
        } => raw(class::ST | mode::MEM | size_bits(size), dst, 0, off, imm),
        Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            off,
        } => {
            let imm = match op {
                AtomicOp::Xchg => atomic::XCHG,
                AtomicOp::Cmpxchg => atomic::CMPXCHG,
                AtomicOp::Add => atomic::ADD | if fetch { atomic::FETCH } else { 0 },
                AtomicOp::Or => atomic::OR | if fetch { atomic::FETCH } else { 0 },
                AtomicOp::And => atomic::AND | if fetch { atomic::FETCH } else { 0 },
                AtomicOp::Xor => atomic::XOR | if fetch { atomic::FETCH } else { 0 },
            };
            raw(
                class::STX | mode::ATOMIC | size_bits(size),
                dst,
                src.num(),
                off,
                imm,
            )
        }
        Insn::LdImm64 { dst, pseudo, imm } => {
            return vec![
                raw(opcode::LDDW, dst, pseudo.code(), 0, imm as u32 as i32),
                RawInsn {
                    imm: (imm >> 32) as u32 as i32,
                    ..RawInsn::default()
                },
            ];
        }
        Insn::LdImm64Hi => return Vec::new(),
        Insn::LdAbs { size, imm } => raw(class::LD | mode::ABS | size_bits(size), r0, 0, 0, imm),
        Insn::LdInd { size, src, imm } => raw(
            class::LD | mode::IND | size_bits(size),
            r0,
            src.num(),
            0,
            imm,
        ),
    }]
}

/// Encodes a program (one [`Insn`] per slot, as [`decode`] returns) to raw
/// slots.
pub fn encode_raw(insns: &[Insn]) -> Vec<RawInsn> {
    insns.iter().flat_map(encode_one).collect()
}

/// Encodes a program to little-endian bytes.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    encode_raw(insns)
        .into_iter()
        .flat_map(RawInsn::to_bytes)
        .collect()
}
