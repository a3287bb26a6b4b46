//! Opcode field values of the eBPF instruction encoding (RFC 9669, section
//! 3 onward; the names are those of `include/uapi/linux/bpf.h`).
//!
//! An opcode byte is `class | ...`: for ALU and JMP classes the high nibble
//! is the operation and bit 3 the source (`K` immediate or `X` register);
//! for load and store classes bits 5-7 are the mode and bits 3-4 the size.

/// Instruction classes (low 3 bits).
pub mod class {
    /// Non-standard load (lddw, legacy packet loads).
    pub const LD: u8 = 0x00;
    /// Load into register.
    pub const LDX: u8 = 0x01;
    /// Store immediate.
    pub const ST: u8 = 0x02;
    /// Store register (and atomics).
    pub const STX: u8 = 0x03;
    /// 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// 64-bit jumps.
    pub const JMP: u8 = 0x05;
    /// 32-bit jumps.
    pub const JMP32: u8 = 0x06;
    /// 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;
}

/// Source bit of ALU and JMP opcodes.
pub mod src {
    /// Immediate operand.
    pub const K: u8 = 0x00;
    /// Register operand.
    pub const X: u8 = 0x08;
}

/// ALU operation codes (high nibble).
pub mod alu {
    /// Addition.
    pub const ADD: u8 = 0x00;
    /// Subtraction.
    pub const SUB: u8 = 0x10;
    /// Multiplication.
    pub const MUL: u8 = 0x20;
    /// Division (signed with offset 1).
    pub const DIV: u8 = 0x30;
    /// Bitwise or.
    pub const OR: u8 = 0x40;
    /// Bitwise and.
    pub const AND: u8 = 0x50;
    /// Left shift.
    pub const LSH: u8 = 0x60;
    /// Logical right shift.
    pub const RSH: u8 = 0x70;
    /// Negation.
    pub const NEG: u8 = 0x80;
    /// Modulo (signed with offset 1).
    pub const MOD: u8 = 0x90;
    /// Bitwise xor.
    pub const XOR: u8 = 0xa0;
    /// Move (sign-extending with offset 8/16/32).
    pub const MOV: u8 = 0xb0;
    /// Arithmetic right shift.
    pub const ARSH: u8 = 0xc0;
    /// Byte-order conversion.
    pub const END: u8 = 0xd0;
}

/// Jump operation codes (high nibble).
pub mod jmp {
    /// Unconditional jump.
    pub const JA: u8 = 0x00;
    /// Jump if equal.
    pub const JEQ: u8 = 0x10;
    /// Jump if unsigned greater.
    pub const JGT: u8 = 0x20;
    /// Jump if unsigned greater or equal.
    pub const JGE: u8 = 0x30;
    /// Jump if `dst & src` is non-zero.
    pub const JSET: u8 = 0x40;
    /// Jump if not equal.
    pub const JNE: u8 = 0x50;
    /// Jump if signed greater.
    pub const JSGT: u8 = 0x60;
    /// Jump if signed greater or equal.
    pub const JSGE: u8 = 0x70;
    /// Function call.
    pub const CALL: u8 = 0x80;
    /// Return.
    pub const EXIT: u8 = 0x90;
    /// Jump if unsigned less.
    pub const JLT: u8 = 0xa0;
    /// Jump if unsigned less or equal.
    pub const JLE: u8 = 0xb0;
    /// Jump if signed less.
    pub const JSLT: u8 = 0xc0;
    /// Jump if signed less or equal.
    pub const JSLE: u8 = 0xd0;
}

/// Memory access modes (bits 5-7).
pub mod mode {
    /// 64-bit immediate (lddw).
    pub const IMM: u8 = 0x00;
    /// Legacy absolute packet load.
    pub const ABS: u8 = 0x20;
    /// Legacy indirect packet load.
    pub const IND: u8 = 0x40;
    /// Regular memory access.
    pub const MEM: u8 = 0x60;
    /// Sign-extending load.
    pub const MEMSX: u8 = 0x80;
    /// Atomic operation.
    pub const ATOMIC: u8 = 0xc0;
}

/// Memory access sizes (bits 3-4).
pub mod size {
    /// 4 bytes.
    pub const W: u8 = 0x00;
    /// 2 bytes.
    pub const H: u8 = 0x08;
    /// 1 byte.
    pub const B: u8 = 0x10;
    /// 8 bytes.
    pub const DW: u8 = 0x18;
}

/// Atomic operation codes, in the immediate of an atomic instruction.
pub mod atomic {
    /// Add.
    pub const ADD: i32 = 0x00;
    /// Or.
    pub const OR: i32 = 0x40;
    /// And.
    pub const AND: i32 = 0x50;
    /// Xor.
    pub const XOR: i32 = 0xa0;
    /// Flag: return the old value in `src`.
    pub const FETCH: i32 = 0x01;
    /// Exchange (with FETCH).
    pub const XCHG: i32 = 0xe0 | FETCH;
    /// Compare and exchange (with FETCH).
    pub const CMPXCHG: i32 = 0xf0 | FETCH;
}

/// Mask of the class bits.
pub const CLASS_MASK: u8 = 0x07;
/// Mask of the operation nibble of ALU and JMP opcodes.
pub const OP_MASK: u8 = 0xf0;
/// Mask of the mode bits of load and store opcodes.
pub const MODE_MASK: u8 = 0xe0;
/// Mask of the size bits of load and store opcodes.
pub const SIZE_MASK: u8 = 0x18;
/// The opcode byte of `lddw`.
pub const LDDW: u8 = class::LD | mode::IMM | size::DW;
