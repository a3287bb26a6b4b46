//! Typed eBPF instructions.
//!
//! A program is decoded once into a `Vec<Insn>` with one element per 8-byte
//! slot, the way the kernel indexes instructions: jump offsets, verifier
//! messages and the disassembler all count slots. The 16-byte `lddw` is one
//! [`Insn::LdImm64`] followed by one [`Insn::LdImm64Hi`] that holds nothing
//! and must never be executed or jumped to.
//!
//! Every field of every variant is representable in the wire format, so
//! `encode(decode(x)) == x` for every valid encoding.

use core::fmt;

/// One of the eleven registers, `r0`..`r10`. `r10` is the read-only frame
/// pointer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Reg(u8);

impl Reg {
    /// The return value register.
    pub const R0: Reg = Reg(0);
    /// First argument register (the context on entry).
    pub const R1: Reg = Reg(1);
    /// Second argument register.
    pub const R2: Reg = Reg(2);
    /// Third argument register.
    pub const R3: Reg = Reg(3);
    /// Fourth argument register.
    pub const R4: Reg = Reg(4);
    /// Fifth argument register.
    pub const R5: Reg = Reg(5);
    /// Callee-saved register.
    pub const R6: Reg = Reg(6);
    /// Callee-saved register.
    pub const R7: Reg = Reg(7);
    /// Callee-saved register.
    pub const R8: Reg = Reg(8);
    /// Callee-saved register.
    pub const R9: Reg = Reg(9);
    /// The read-only frame pointer.
    pub const R10: Reg = Reg(10);
    /// The frame pointer, by its role.
    pub const FP: Reg = Reg::R10;

    /// The register numbered `n`, if there is one.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 { Some(Reg(n)) } else { None }
    }

    /// The register's number, 0..=10.
    pub const fn num(self) -> u8 {
        self.0
    }

    /// The register's number as an index.
    pub const fn idx(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operation width of ALU and JMP instructions: the 32-bit classes (ALU,
/// JMP32) or the 64-bit ones (ALU64, JMP).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Width {
    /// 32-bit operands, written as `w` registers; results zero-extended.
    W32,
    /// 64-bit operands, written as `r` registers.
    W64,
}

/// Size of a memory access.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Size {
    /// 1 byte (`u8`).
    B,
    /// 2 bytes (`u16`).
    H,
    /// 4 bytes (`u32`).
    W,
    /// 8 bytes (`u64`).
    DW,
}

impl Size {
    /// The access size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The size whose byte count is `n`.
    pub const fn from_bytes(n: usize) -> Option<Size> {
        match n {
            1 => Some(Size::B),
            2 => Some(Size::H),
            4 => Some(Size::W),
            8 => Some(Size::DW),
            _ => None,
        }
    }
}

/// The second operand of an ALU or conditional jump instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operand {
    /// A register (`BPF_X`).
    Reg(Reg),
    /// A 32-bit immediate, sign-extended for 64-bit operations (`BPF_K`).
    Imm(i32),
}

/// Binary ALU operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AluOp {
    /// `dst += src`
    Add,
    /// `dst -= src`
    Sub,
    /// `dst *= src`
    Mul,
    /// Unsigned `dst /= src`; division by zero gives 0.
    Div,
    /// Signed `dst s/= src` (offset 1).
    Sdiv,
    /// Unsigned `dst %= src`; modulo by zero leaves `dst` unchanged.
    Mod,
    /// Signed `dst s%= src` (offset 1).
    Smod,
    /// `dst |= src`
    Or,
    /// `dst &= src`
    And,
    /// `dst <<= src`, the count masked to the width.
    Lsh,
    /// Logical `dst >>= src`.
    Rsh,
    /// Arithmetic `dst s>>= src`.
    Arsh,
    /// `dst ^= src`
    Xor,
    /// `dst = src`
    Mov,
}

impl AluOp {
    /// Every operation, in encoding order.
    pub const ALL: [AluOp; 14] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::Sdiv,
        AluOp::Mod,
        AluOp::Smod,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Arsh,
        AluOp::Xor,
        AluOp::Mov,
    ];
}

/// Byte-order operations (`BPF_END`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Endian {
    /// Convert to little-endian (`le16/32/64`): a truncation on a
    /// little-endian host.
    Le,
    /// Convert to big-endian (`be16/32/64`).
    Be,
    /// Unconditional byte swap (`bswap16/32/64`, ALU64 class).
    Swap,
}

/// Conditions of conditional jumps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Cond {
    /// `==`
    Eq,
    /// Unsigned `>`
    Gt,
    /// Unsigned `>=`
    Ge,
    /// `&` (jump if the bitwise and is non-zero)
    Set,
    /// `!=`
    Ne,
    /// Signed `s>`
    Sgt,
    /// Signed `s>=`
    Sge,
    /// Unsigned `<`
    Lt,
    /// Unsigned `<=`
    Le,
    /// Signed `s<`
    Slt,
    /// Signed `s<=`
    Sle,
}

impl Cond {
    /// Every condition, in encoding order.
    pub const ALL: [Cond; 11] = [
        Cond::Eq,
        Cond::Gt,
        Cond::Ge,
        Cond::Set,
        Cond::Ne,
        Cond::Sgt,
        Cond::Sge,
        Cond::Lt,
        Cond::Le,
        Cond::Slt,
        Cond::Sle,
    ];
}

/// Atomic read-modify-write operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AtomicOp {
    /// `*addr += src`
    Add,
    /// `*addr |= src`
    Or,
    /// `*addr &= src`
    And,
    /// `*addr ^= src`
    Xor,
    /// Exchange: `src = xchg(addr, src)` (always fetches).
    Xchg,
    /// Compare and exchange with `r0` (always fetches into `r0`).
    Cmpxchg,
}

/// What the immediate of a `lddw` means (its `src` field).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Pseudo {
    /// 0: a plain 64-bit immediate.
    Imm64,
    /// 1 (`BPF_PSEUDO_MAP_FD`): the imm is a map file descriptor (in rxdp,
    /// a map index) and the register receives the map pointer.
    MapFd,
    /// 2 (`BPF_PSEUDO_MAP_VALUE`): low imm is a map fd, high imm an offset
    /// into the value of its single element.
    MapValue,
    /// 3 (`BPF_PSEUDO_BTF_ID`): address of a kernel variable by BTF id.
    BtfId,
    /// 4 (`BPF_PSEUDO_FUNC`): address of a subprogram, imm a relative
    /// offset in instructions.
    Func,
    /// 5 (`BPF_PSEUDO_MAP_IDX`): like `MapFd`, by index into the map array.
    MapIdx,
    /// 6 (`BPF_PSEUDO_MAP_IDX_VALUE`): like `MapValue`, by index.
    MapIdxValue,
}

impl Pseudo {
    /// The `src` field value.
    pub const fn code(self) -> u8 {
        match self {
            Pseudo::Imm64 => 0,
            Pseudo::MapFd => 1,
            Pseudo::MapValue => 2,
            Pseudo::BtfId => 3,
            Pseudo::Func => 4,
            Pseudo::MapIdx => 5,
            Pseudo::MapIdxValue => 6,
        }
    }

    /// The pseudo form for a `src` field value.
    pub const fn from_code(code: u8) -> Option<Pseudo> {
        Some(match code {
            0 => Pseudo::Imm64,
            1 => Pseudo::MapFd,
            2 => Pseudo::MapValue,
            3 => Pseudo::BtfId,
            4 => Pseudo::Func,
            5 => Pseudo::MapIdx,
            6 => Pseudo::MapIdxValue,
            _ => return None,
        })
    }

    /// Whether the immediate names a map (by fd or index).
    pub const fn is_map(self) -> bool {
        matches!(
            self,
            Pseudo::MapFd | Pseudo::MapValue | Pseudo::MapIdx | Pseudo::MapIdxValue
        )
    }
}

/// The target of a `call` instruction (its `src` field).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CallKind {
    /// `src = 0`: a helper function by its id.
    Helper(i32),
    /// `src = 1` (`BPF_PSEUDO_CALL`): a bpf-to-bpf call; the target is
    /// `pc + 1 + offset`.
    Local(i32),
    /// `src = 2` (`BPF_PSEUDO_KFUNC_CALL`): a kernel function by BTF id.
    /// Decodable, but no rxdp engine runs it.
    Kfunc(i32),
}

/// One decoded instruction slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Insn {
    /// Binary ALU operation: `dst op= src`.
    Alu {
        /// ALU (32) or ALU64 (64).
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// Sign-extending move `dst = (s8|s16|s32)src` (`MOV` with offset
    /// 8/16/32). 32-bit form only from 8 and 16 bits.
    MovSx {
        /// ALU (32) or ALU64 (64).
        width: Width,
        /// Destination.
        dst: Reg,
        /// Source register.
        src: Reg,
        /// The width of the source value: `B`, `H` or `W`.
        from: Size,
    },
    /// `dst = -dst`.
    Neg {
        /// ALU (32) or ALU64 (64).
        width: Width,
        /// Destination and operand.
        dst: Reg,
    },
    /// Byte-order conversion or swap of the low `bits` bits of `dst`.
    End {
        /// Le, Be (ALU class) or Swap (ALU64 class).
        kind: Endian,
        /// Destination and operand.
        dst: Reg,
        /// 16, 32 or 64.
        bits: u8,
    },
    /// Unconditional jump. `long` is the JMP32 form (`gotol`) whose offset
    /// lives in the 32-bit immediate.
    Ja {
        /// Offset in slots from the next instruction.
        off: i32,
        /// Encoded as `gotol` (JMP32 class, imm) rather than `goto` (JMP, off).
        long: bool,
    },
    /// Conditional jump: `if dst cond src goto pc + 1 + off`.
    Jmp {
        /// JMP32 (32) or JMP (64).
        width: Width,
        /// The condition.
        cond: Cond,
        /// First operand.
        dst: Reg,
        /// Second operand.
        src: Operand,
        /// Offset in slots from the next instruction.
        off: i16,
    },
    /// Function call.
    Call(CallKind),
    /// Call of the helper whose id (or address) is in `dst` (`callx`,
    /// conformance group callx).
    Callx {
        /// The register holding the target.
        dst: Reg,
    },
    /// Return from the current function with `r0`.
    Exit,
    /// Load `dst = *(size *)(src + off)`, sign-extending when `signed`.
    Ldx {
        /// Access size; `DW` is never signed.
        size: Size,
        /// Sign-extending load (`BPF_MEMSX`).
        signed: bool,
        /// Destination.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Offset from the base.
        off: i16,
    },
    /// Store register `*(size *)(dst + off) = src`.
    Stx {
        /// Access size.
        size: Size,
        /// Base address register.
        dst: Reg,
        /// Value register.
        src: Reg,
        /// Offset from the base.
        off: i16,
    },
    /// Store immediate `*(size *)(dst + off) = imm`.
    St {
        /// Access size.
        size: Size,
        /// Base address register.
        dst: Reg,
        /// Offset from the base.
        off: i16,
        /// The value, sign-extended to the access size.
        imm: i32,
    },
    /// Atomic read-modify-write on `*(size *)(dst + off)`.
    Atomic {
        /// `W` or `DW`.
        size: Size,
        /// The operation.
        op: AtomicOp,
        /// Whether the old value is returned in `src` (implied for xchg and
        /// cmpxchg).
        fetch: bool,
        /// Base address register.
        dst: Reg,
        /// Operand register (and destination of the fetched value).
        src: Reg,
        /// Offset from the base.
        off: i16,
    },
    /// First slot of `lddw`: `dst = imm` (64-bit), with a pseudo meaning.
    LdImm64 {
        /// Destination.
        dst: Reg,
        /// What the immediate refers to.
        pseudo: Pseudo,
        /// The full 64-bit immediate (low half from this slot, high half
        /// from the next).
        imm: u64,
    },
    /// Second slot of `lddw`; carries nothing of its own.
    LdImm64Hi,
    /// Legacy packet load `r0 = ntoh(*(size *)(skb->data + imm))`.
    LdAbs {
        /// `B`, `H` or `W`.
        size: Size,
        /// Absolute offset.
        imm: i32,
    },
    /// Legacy packet load `r0 = ntoh(*(size *)(skb->data + src + imm))`.
    LdInd {
        /// `B`, `H` or `W`.
        size: Size,
        /// Offset register.
        src: Reg,
        /// Offset added to the register.
        imm: i32,
    },
}

impl Insn {
    /// Number of 8-byte slots the instruction occupies (2 for `lddw`).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The jump target of a jump instruction at slot `pc`, if it is one.
    /// Calls are not jumps (see [`Insn::call_target`]).
    pub fn jump_target(&self, pc: usize) -> Option<i64> {
        match *self {
            Insn::Ja { off, .. } => Some(pc as i64 + 1 + off as i64),
            Insn::Jmp { off, .. } => Some(pc as i64 + 1 + off as i64),
            _ => None,
        }
    }

    /// The callee of a bpf-to-bpf call, or the subprogram a `lddw` of a
    /// function address names, at slot `pc`.
    pub fn call_target(&self, pc: usize) -> Option<i64> {
        match *self {
            Insn::Call(CallKind::Local(off)) => Some(pc as i64 + 1 + off as i64),
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm,
                ..
            } => Some(pc as i64 + 1 + imm as i32 as i64),
            _ => None,
        }
    }
}
