//! Operands of x86-64 instructions: general-purpose registers, operand sizes,
//! condition codes and memory references.
//!
//! Register numbers and condition-code numbers are the hardware ones (Intel
//! SDM Vol. 2A, 2.1.5 "Addressing-Mode Encoding of ModR/M and SIB Bytes" and
//! Appendix B.1.4.7 "Condition Test (tttn) Field").

/// A 64-bit general-purpose register, numbered as the hardware numbers it
/// (the low three bits go into ModR/M or SIB, the fourth into a REX bit).
///
/// The operand size of an instruction decides which part of it is used:
/// `Reg::Rax` with [`Size::D`] is `eax`, with [`Size::B`] is `al`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reg {
    /// rax (0): return values, the implicit operand of mul/div.
    Rax = 0,
    /// rcx (1): the shift count register (cl).
    Rcx = 1,
    /// rdx (2): the high half of mul/div results.
    Rdx = 2,
    /// rbx (3).
    Rbx = 3,
    /// rsp (4): as a memory base it needs a SIB byte.
    Rsp = 4,
    /// rbp (5): as a memory base it needs a displacement.
    Rbp = 5,
    /// rsi (6).
    Rsi = 6,
    /// rdi (7).
    Rdi = 7,
    /// r8 (8).
    R8 = 8,
    /// r9 (9).
    R9 = 9,
    /// r10 (10).
    R10 = 10,
    /// r11 (11).
    R11 = 11,
    /// r12 (12): as a memory base it needs a SIB byte, like rsp.
    R12 = 12,
    /// r13 (13): as a memory base it needs a displacement, like rbp.
    R13 = 13,
    /// r14 (14).
    R14 = 14,
    /// r15 (15).
    R15 = 15,
}

impl Reg {
    /// All sixteen registers in hardware order.
    pub const ALL: [Reg; 16] = [
        Reg::Rax,
        Reg::Rcx,
        Reg::Rdx,
        Reg::Rbx,
        Reg::Rsp,
        Reg::Rbp,
        Reg::Rsi,
        Reg::Rdi,
        Reg::R8,
        Reg::R9,
        Reg::R10,
        Reg::R11,
        Reg::R12,
        Reg::R13,
        Reg::R14,
        Reg::R15,
    ];

    /// The hardware register number, 0..=15.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The low three bits of the number: what ModR/M, SIB or the opcode's
    /// `+rd` field holds.
    pub const fn low3(self) -> u8 {
        self.code() & 7
    }

    /// Whether naming this register needs a REX prefix bit (r8..r15).
    pub const fn needs_rex(self) -> bool {
        self.code() >= 8
    }

    /// Whether the register's low byte (spl, bpl, sil, dil) can only be
    /// named with a REX prefix: without one, numbers 4..7 mean ah, ch, dh, bh
    /// (Intel SDM Vol. 2A, 3.1.1.1, "REX prefix" note on byte registers).
    pub const fn byte_needs_rex(self) -> bool {
        matches!(self.code(), 4..=7)
    }
}

/// An operand size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// 8 bits (byte).
    B,
    /// 16 bits (word): needs the 0x66 operand-size prefix.
    W,
    /// 32 bits (doubleword): writing a 32-bit register zeroes bits 32..63.
    D,
    /// 64 bits (quadword): needs REX.W.
    Q,
}

impl Size {
    /// All four sizes, smallest first.
    pub const ALL: [Size; 4] = [Size::B, Size::W, Size::D, Size::Q];

    /// The size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::W => 2,
            Size::D => 4,
            Size::Q => 8,
        }
    }

    /// The size in bits.
    pub const fn bits(self) -> u32 {
        self.bytes() * 8
    }
}

/// An x86 condition code, as encoded in the low four bits of `Jcc`, `SETcc`
/// and `CMOVcc` (Intel SDM Vol. 1, Appendix B, "EFLAGS Condition Codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cond {
    /// Overflow (OF=1).
    O = 0x0,
    /// No overflow (OF=0).
    No = 0x1,
    /// Below, unsigned < (CF=1); also "carry".
    B = 0x2,
    /// Above or equal, unsigned >= (CF=0).
    Ae = 0x3,
    /// Equal (ZF=1).
    E = 0x4,
    /// Not equal (ZF=0).
    Ne = 0x5,
    /// Below or equal, unsigned <= (CF=1 or ZF=1).
    Be = 0x6,
    /// Above, unsigned > (CF=0 and ZF=0).
    A = 0x7,
    /// Sign (SF=1).
    S = 0x8,
    /// No sign (SF=0).
    Ns = 0x9,
    /// Parity even (PF=1).
    P = 0xa,
    /// Parity odd (PF=0).
    Np = 0xb,
    /// Less, signed < (SF!=OF).
    L = 0xc,
    /// Greater or equal, signed >= (SF=OF).
    Ge = 0xd,
    /// Less or equal, signed <= (ZF=1 or SF!=OF).
    Le = 0xe,
    /// Greater, signed > (ZF=0 and SF=OF).
    G = 0xf,
}

impl Cond {
    /// All sixteen conditions in encoding order.
    pub const ALL: [Cond; 16] = [
        Cond::O,
        Cond::No,
        Cond::B,
        Cond::Ae,
        Cond::E,
        Cond::Ne,
        Cond::Be,
        Cond::A,
        Cond::S,
        Cond::Ns,
        Cond::P,
        Cond::Np,
        Cond::L,
        Cond::Ge,
        Cond::Le,
        Cond::G,
    ];

    /// The four-bit encoding (`tttn`).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The opposite condition: flipping the low bit of `tttn` negates it
    /// (Intel SDM Vol. 2D, B.1.4.7).
    pub const fn negate(self) -> Cond {
        Cond::ALL[(self.code() ^ 1) as usize]
    }
}

/// The scale of an index register in a memory reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    /// index * 1.
    X1 = 0,
    /// index * 2.
    X2 = 1,
    /// index * 4.
    X4 = 2,
    /// index * 8.
    X8 = 3,
}

impl Scale {
    /// The two-bit SIB encoding.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The factor, 1, 2, 4 or 8.
    pub const fn factor(self) -> u32 {
        1 << self.code()
    }
}

/// A memory reference `[base + index * scale + disp]`.
///
/// Every base register works: rsp and r12 get the SIB byte they need, rbp and
/// r13 an 8-bit zero displacement (their "no displacement" encoding means
/// RIP-relative or no base). rsp cannot be an index: its SIB encoding means
/// "no index"; the encoder reports it as an operand error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mem {
    /// The base register.
    pub base: Reg,
    /// An optional index register and its scale.
    pub index: Option<(Reg, Scale)>,
    /// The signed displacement; 8 bits are used when it fits.
    pub disp: i32,
}

impl Mem {
    /// `[base + disp]`.
    pub const fn new(base: Reg, disp: i32) -> Mem {
        Mem {
            base,
            index: None,
            disp,
        }
    }

    /// `[base + index * scale + disp]`.
    pub const fn indexed(base: Reg, index: Reg, scale: Scale, disp: i32) -> Mem {
        Mem {
            base,
            index: Some((index, scale)),
            disp,
        }
    }
}
