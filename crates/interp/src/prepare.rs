//! Translation of typed instructions into the interpreter's internal form.
//!
//! Each slot becomes one 16-byte [`Op`]: a dense opcode whose `match` arm
//! does exactly one thing (K and X operands, 32 and 64 bits, every size
//! and condition are separate opcodes, so arms are branch-free), register
//! numbers as plain bytes, the immediate already widened the way the
//! operation needs it, and jump and call targets as absolute slot indices.
//! Slots keep their numbering so a fault's `pc` is the kernel's index.
//!
//! One peephole fuses the commonest pair, `r0 = K; exit` (every
//! `return XDP_PASS`), into one op in the slot of the move; the `exit`
//! keeps its slot, so jumps to it still work.
//!
//! Two helper calls get special treatment: `call 12` (`bpf_tail_call`)
//! becomes [`OpCode::TailCall`], which the loop runs itself (see
//! `tail_call.rs`), and `lddw rX, <subprogram>` loads the callback value
//! of `callback.rs`; the slots it names are kept, sorted, so that a
//! helper's callback can be validated.
//!
//! Translation also establishes the invariants the execution loop relies
//! on to skip bounds checks: register numbers are below 11, every jump and
//! call target is an executable slot, and one extra [`OpCode::FellOff`]
//! op after the last slot catches a program that runs past its end.

use rxdp_isa::{AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width};
use thiserror::Error;

use crate::callback::{CALLBACK_TAG, callback_value};
use crate::tail_call::BPF_FUNC_TAIL_CALL;

/// A program that cannot be prepared for the interpreter.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PrepareError {
    /// The program has no instructions.
    #[error("empty program")]
    Empty,
    /// The program is larger than the interpreter's slot indices allow.
    #[error("program of {0} slots is too large")]
    TooLarge(usize),
    /// A `lddw` whose immediate is not a plain number or a function: the
    /// fixup layer must turn map references into addresses first.
    #[error("insn {pc}: lddw with pseudo {pseudo:?} was not rewritten into a plain immediate")]
    UnresolvedPseudo {
        /// The slot.
        pc: usize,
        /// The unresolved kind.
        pseudo: Pseudo,
    },
    /// A call of a kernel function, which no rxdp engine runs.
    #[error("insn {pc}: kfunc call (btf id {btf_id}) is not supported")]
    Kfunc {
        /// The slot.
        pc: usize,
        /// The kfunc's BTF id.
        btf_id: i32,
    },
    /// A jump or call whose target is outside the program or the second
    /// slot of a `lddw`.
    #[error("insn {pc}: {what} target {target} is not an instruction of the program")]
    BadTarget {
        /// The slot of the jump or call.
        pc: usize,
        /// "jump", "call" or "callback".
        what: &'static str,
        /// The target slot.
        target: i64,
    },
    /// A `lddw` whose second slot is missing, or a second slot without its
    /// first.
    #[error("insn {pc}: broken lddw pair")]
    BrokenLdImm64 {
        /// The slot.
        pc: usize,
    },
    /// A field combination the instruction set does not define (a typed
    /// `Insn` can hold some the decoder never produces).
    #[error("insn {pc}: invalid instruction {insn:?}")]
    Invalid {
        /// The slot.
        pc: usize,
        /// The instruction.
        insn: Insn,
    },
}

/// The internal opcodes, one per specialised operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[rustfmt::skip]
pub(crate) enum OpCode {
    // ALU64, immediate (sign-extended) and register.
    Add64K, Add64X, Sub64K, Sub64X, Mul64K, Mul64X, Div64K, Div64X,
    Sdiv64K, Sdiv64X, Mod64K, Mod64X, Smod64K, Smod64X, Or64K, Or64X,
    And64K, And64X, Lsh64K, Lsh64X, Rsh64K, Rsh64X, Arsh64K, Arsh64X,
    Xor64K, Xor64X, Mov64K, Mov64X,
    // ALU (32-bit), results zero-extended.
    Add32K, Add32X, Sub32K, Sub32X, Mul32K, Mul32X, Div32K, Div32X,
    Sdiv32K, Sdiv32X, Mod32K, Mod32X, Smod32K, Smod32X, Or32K, Or32X,
    And32K, And32X, Lsh32K, Lsh32X, Rsh32K, Rsh32X, Arsh32K, Arsh32X,
    Xor32K, Xor32X, Mov32K, Mov32X,
    // Sign-extending moves, negation, byte order.
    MovSx64B, MovSx64H, MovSx64W, MovSx32B, MovSx32H,
    Neg64, Neg32,
    Le16, Le32, Le64, Be16, Be32, Be64, Swap16, Swap32, Swap64,
    // Jumps; `off` holds the absolute target slot.
    Ja,
    Jeq64K, Jeq64X, Jgt64K, Jgt64X, Jge64K, Jge64X, Jset64K, Jset64X,
    Jne64K, Jne64X, Jsgt64K, Jsgt64X, Jsge64K, Jsge64X, Jlt64K, Jlt64X,
    Jle64K, Jle64X, Jslt64K, Jslt64X, Jsle64K, Jsle64X,
    Jeq32K, Jeq32X, Jgt32K, Jgt32X, Jge32K, Jge32X, Jset32K, Jset32X,
    Jne32K, Jne32X, Jsgt32K, Jsgt32X, Jsge32K, Jsge32X, Jlt32K, Jlt32X,
    Jle32K, Jle32X, Jslt32K, Jslt32X, Jsle32K, Jsle32X,
    // Calls: helper (`imm` = id), local (`off` = target), by register,
    // `bpf_tail_call`.
    CallHelper, CallLocal, Callx, TailCall, Exit,
    // `r0 = imm; exit` fused (the `exit` keeps its own slot after it).
    RetK,
    // Memory: `off` is the sign-extended offset.
    LdxB, LdxH, LdxW, LdxDW, LdxSB, LdxSH, LdxSW,
    StxB, StxH, StxW, StxDW,
    StB, StH, StW, StDW,
    // Atomics; `imm` is an `AtomicKind`. The plain add (counters, the
    // common case) has its own ops, with nothing to decode.
    Atomic32, Atomic64, AtomicAdd32, AtomicAdd64,
    // `lddw` (first slot; skips the second).
    LdDw,
    // Legacy packet loads; `imm` is the offset.
    LdAbsB, LdAbsH, LdAbsW, LdIndB, LdIndH, LdIndW,
    // Never reached: the second slot of a `lddw`, and the slot after the end.
    LdDwHi, FellOff,
}

/// An atomic operation, stored in an atomic op's `imm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum AtomicKind {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    Xchg,
    Cmpxchg,
}

impl AtomicKind {
    const ALL: [AtomicKind; 10] = [
        AtomicKind::Add,
        AtomicKind::Or,
        AtomicKind::And,
        AtomicKind::Xor,
        AtomicKind::FetchAdd,
        AtomicKind::FetchOr,
        AtomicKind::FetchAnd,
        AtomicKind::FetchXor,
        AtomicKind::Xchg,
        AtomicKind::Cmpxchg,
    ];

    /// The kind an atomic op's `imm` holds.
    pub(crate) fn from_imm(imm: u64) -> AtomicKind {
        // Only `prepare` writes these immediates, always from `as u64` of a kind.
        AtomicKind::ALL[imm as usize % AtomicKind::ALL.len()]
    }
}

/// One prepared instruction. Register fields are below 11; `off` is a
/// memory offset or an absolute target slot, by opcode.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Op {
    pub(crate) code: OpCode,
    pub(crate) dst: u8,
    pub(crate) src: u8,
    pub(crate) off: i32,
    pub(crate) imm: u64,
}

/// A prepared program, immutable and shareable between threads.
#[derive(Debug)]
pub struct Interpreter {
    /// One op per slot plus the trailing `FellOff`.
    pub(crate) ops: Box<[Op]>,
    /// The slots `lddw rX, <subprogram>` name, sorted, without repeats.
    callbacks: Box<[u32]>,
}

impl Interpreter {
    /// Prepares a decoded, rewritten program: every `lddw` must hold a
    /// plain immediate and no call may be a kfunc call.
    pub fn new(insns: &[Insn]) -> Result<Interpreter, PrepareError> {
        if insns.is_empty() {
            return Err(PrepareError::Empty);
        }
        if insns.len() >= i32::MAX as usize {
            return Err(PrepareError::TooLarge(insns.len()));
        }
        let mut ops = Vec::with_capacity(insns.len() + 1);
        let mut callbacks = Vec::new();
        for (pc, insn) in insns.iter().enumerate() {
            let op = translate(insns, pc, insn)?;
            if let Insn::LdImm64 {
                pseudo: Pseudo::Func,
                ..
            } = insn
            {
                // The low half of the callback value is the slot.
                callbacks.push(op.imm as u32);
            }
            ops.push(op);
        }
        ops.push(op(OpCode::FellOff, 0, 0, 0, 0));
        fuse_returns(&mut ops);
        callbacks.sort_unstable();
        callbacks.dedup();
        Ok(Interpreter {
            ops: ops.into_boxed_slice(),
            callbacks: callbacks.into_boxed_slice(),
        })
    }

    /// The slot a callback value (see [`crate::CALLBACK_TAG`]) names, if
    /// it is one this program's `lddw`s load.
    pub(crate) fn callback_slot(&self, func: u64) -> Option<usize> {
        if func & !u64::from(u32::MAX) != CALLBACK_TAG {
            return None;
        }
        let slot = func as u32;
        self.callbacks.binary_search(&slot).ok()?;
        Some(slot as usize)
    }

    /// Number of slots of the program.
    pub fn len(&self) -> usize {
        self.ops.len() - 1
    }

    /// Always false: an empty program cannot be prepared.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Turns each `r0 = K` followed by `exit` into [`OpCode::RetK`]: one
/// dispatch instead of two on every constant return. The immediate is the
/// move's, already widened as the move widens it.
fn fuse_returns(ops: &mut [Op]) {
    for i in 1..ops.len() {
        let (head, tail) = ops.split_at_mut(i);
        let mov = &mut head[i - 1];
        if matches!(mov.code, OpCode::Mov64K | OpCode::Mov32K)
            && mov.dst == 0
            && tail[0].code == OpCode::Exit
        {
            mov.code = OpCode::RetK;
        }
    }
}

fn op(code: OpCode, dst: u8, src: u8, off: i32, imm: u64) -> Op {
    Op {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// `[X, K]` opcodes of each `AluOp`, in `alu_index` order.
#[rustfmt::skip]
const ALU64: [[OpCode; 2]; 14] = {
    use OpCode::*;
    [[Add64X, Add64K], [Sub64X, Sub64K], [Mul64X, Mul64K], [Div64X, Div64K],
     [Sdiv64X, Sdiv64K], [Mod64X, Mod64K], [Smod64X, Smod64K], [Or64X, Or64K],
     [And64X, And64K], [Lsh64X, Lsh64K], [Rsh64X, Rsh64K], [Arsh64X, Arsh64K],
     [Xor64X, Xor64K], [Mov64X, Mov64K]]
};

#[rustfmt::skip]
const ALU32: [[OpCode; 2]; 14] = {
    use OpCode::*;
    [[Add32X, Add32K], [Sub32X, Sub32K], [Mul32X, Mul32K], [Div32X, Div32K],
     [Sdiv32X, Sdiv32K], [Mod32X, Mod32K], [Smod32X, Smod32K], [Or32X, Or32K],
     [And32X, And32K], [Lsh32X, Lsh32K], [Rsh32X, Rsh32K], [Arsh32X, Arsh32K],
     [Xor32X, Xor32K], [Mov32X, Mov32K]]
};

fn alu_index(op: AluOp) -> usize {
    match op {
        AluOp::Add => 0,
        AluOp::Sub => 1,
        AluOp::Mul => 2,
        AluOp::Div => 3,
        AluOp::Sdiv => 4,
        AluOp::Mod => 5,
        AluOp::Smod => 6,
        AluOp::Or => 7,
        AluOp::And => 8,
        AluOp::Lsh => 9,
        AluOp::Rsh => 10,
        AluOp::Arsh => 11,
        AluOp::Xor => 12,
        AluOp::Mov => 13,
    }
}

/// `[X, K]` opcodes of each `Cond`, in `cond_index` order.
#[rustfmt::skip]
const JMP64: [[OpCode; 2]; 11] = {
    use OpCode::*;
    [[Jeq64X, Jeq64K], [Jgt64X, Jgt64K], [Jge64X, Jge64K], [Jset64X, Jset64K],
     [Jne64X, Jne64K], [Jsgt64X, Jsgt64K], [Jsge64X, Jsge64K], [Jlt64X, Jlt64K],
     [Jle64X, Jle64K], [Jslt64X, Jslt64K], [Jsle64X, Jsle64K]]
};

#[rustfmt::skip]
const JMP32: [[OpCode; 2]; 11] = {
    use OpCode::*;
    [[Jeq32X, Jeq32K], [Jgt32X, Jgt32K], [Jge32X, Jge32K], [Jset32X, Jset32K],
     [Jne32X, Jne32K], [Jsgt32X, Jsgt32K], [Jsge32X, Jsge32K], [Jlt32X, Jlt32K],
     [Jle32X, Jle32K], [Jslt32X, Jslt32K], [Jsle32X, Jsle32K]]
};

fn cond_index(c: Cond) -> usize {
    match c {
        Cond::Eq => 0,
        Cond::Gt => 1,
        Cond::Ge => 2,
        Cond::Set => 3,
        Cond::Ne => 4,
        Cond::Sgt => 5,
        Cond::Sge => 6,
        Cond::Lt => 7,
        Cond::Le => 8,
        Cond::Slt => 9,
        Cond::Sle => 10,
    }
}

/// The (src register, immediate, table column) of an operand; the
/// immediate is sign-extended to 64 bits, or zero-extended from 32 bits for
/// 32-bit operations.
fn operand(src: Operand, width: Width) -> (u8, u64, usize) {
    match src {
        Operand::Reg(r) => (r.num(), 0, 0),
        Operand::Imm(i) => {
            let imm = match width {
                Width::W64 => i as i64 as u64,
                Width::W32 => u64::from(i as u32),
            };
            (0, imm, 1)
        }
    }
}

/// The absolute slot `pc + 1 + off`, if it is an executable instruction.
fn target(insns: &[Insn], pc: usize, off: i64, what: &'static str) -> Result<i32, PrepareError> {
    let t = pc as i64 + 1 + off;
    let ok = usize::try_from(t)
        .ok()
        .and_then(|t| insns.get(t))
        .is_some_and(|i| *i != Insn::LdImm64Hi);
    if ok {
        Ok(t as i32)
    } else {
        Err(PrepareError::BadTarget {
            pc,
            what,
            target: t,
        })
    }
}

fn size_index(size: Size) -> usize {
    match size {
        Size::B => 0,
        Size::H => 1,
        Size::W => 2,
        Size::DW => 3,
    }
}

fn translate(insns: &[Insn], pc: usize, insn: &Insn) -> Result<Op, PrepareError> {
    use OpCode::*;
    let invalid = || PrepareError::Invalid { pc, insn: *insn };
    let r = Reg::num;
    Ok(match *insn {
        Insn::Alu {
            width,
            op: alu,
            dst,
            src,
        } => {
            let (s, mut imm, col) = operand(src, width);
            if matches!(alu, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && col == 1 {
                imm &= match width {
                    Width::W64 => 63,
                    Width::W32 => 31,
                };
            }
            let table = match width {
                Width::W64 => &ALU64,
                Width::W32 => &ALU32,
            };
            op(table[alu_index(alu)][col], r(dst), s, 0, imm)
        }
        Insn::MovSx {
            width,
            dst,
            src,
            from,
        } => {
            let code = match (width, from) {
                (Width::W64, Size::B) => MovSx64B,
                (Width::W64, Size::H) => MovSx64H,
                (Width::W64, Size::W) => MovSx64W,
                (Width::W32, Size::B) => MovSx32B,
                (Width::W32, Size::H) => MovSx32H,
                // Sign-extending 32 bits into 32 bits is a plain move.
                (Width::W32, Size::W) => Mov32X,
                (_, Size::DW) => return Err(invalid()),
            };
            op(code, r(dst), r(src), 0, 0)
        }
        Insn::Neg { width, dst } => {
            let code = match width {
                Width::W64 => Neg64,
                Width::W32 => Neg32,
            };
            op(code, r(dst), 0, 0, 0)
        }
        Insn::End { kind, dst, bits } => {
            let code = match (kind, bits) {
                (Endian::Le, 16) => Le16,
                (Endian::Le, 32) => Le32,
                (Endian::Le, 64) => Le64,
                (Endian::Be, 16) => Be16,
                (Endian::Be, 32) => Be32,
                (Endian::Be, 64) => Be64,
                (Endian::Swap, 16) => Swap16,
                (Endian::Swap, 32) => Swap32,
                (Endian::Swap, 64) => Swap64,
                _ => return Err(invalid()),
            };
            op(code, r(dst), 0, 0, 0)
        }
        Insn::Ja { off, .. } => op(Ja, 0, 0, target(insns, pc, off.into(), "jump")?, 0),
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let (s, imm, col) = operand(src, width);
            let table = match width {
                Width::W64 => &JMP64,
                Width::W32 => &JMP32,
            };
            let t = target(insns, pc, off.into(), "jump")?;
            op(table[cond_index(cond)][col], r(dst), s, t, imm)
        }
        Insn::Call(CallKind::Helper(id)) if id as u32 == BPF_FUNC_TAIL_CALL => {
            op(TailCall, 0, 0, 0, 0)
        }
        Insn::Call(CallKind::Helper(id)) => op(CallHelper, 0, 0, 0, u64::from(id as u32)),
        Insn::Call(CallKind::Local(off)) => {
            op(CallLocal, 0, 0, target(insns, pc, off.into(), "call")?, 0)
        }
        Insn::Call(CallKind::Kfunc(btf_id)) => return Err(PrepareError::Kfunc { pc, btf_id }),
        Insn::Callx { dst } => op(Callx, r(dst), 0, 0, 0),
        Insn::Exit => op(Exit, 0, 0, 0, 0),
        Insn::Ldx {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let code = match (size, signed) {
                (Size::B, false) => LdxB,
                (Size::H, false) => LdxH,
                (Size::W, false) => LdxW,
                (Size::DW, false) => LdxDW,
                (Size::B, true) => LdxSB,
                (Size::H, true) => LdxSH,
                (Size::W, true) => LdxSW,
                (Size::DW, true) => return Err(invalid()),
            };
            op(code, r(dst), r(src), off.into(), 0)
        }
        Insn::Stx {
            size,
            dst,
            src,
            off,
        } => {
            let code = [StxB, StxH, StxW, StxDW][size_index(size)];
            op(code, r(dst), r(src), off.into(), 0)
        }
        Insn::St {
            size,
            dst,
            off,
            imm,
        } => {
            let code = [StB, StH, StW, StDW][size_index(size)];
            op(code, r(dst), 0, off.into(), imm as i64 as u64)
        }
        Insn::Atomic {
            size,
            op: aop,
            fetch,
            dst,
            src,
            off,
        } => {
            let plain_add = aop == AtomicOp::Add && !fetch;
            let code = match (size, plain_add) {
                (Size::W, false) => Atomic32,
                (Size::DW, false) => Atomic64,
                (Size::W, true) => AtomicAdd32,
                (Size::DW, true) => AtomicAdd64,
                (Size::B | Size::H, _) => return Err(invalid()),
            };
            let kind = match (aop, fetch) {
                (AtomicOp::Add, false) => AtomicKind::Add,
                (AtomicOp::Or, false) => AtomicKind::Or,
                (AtomicOp::And, false) => AtomicKind::And,
                (AtomicOp::Xor, false) => AtomicKind::Xor,
                (AtomicOp::Add, true) => AtomicKind::FetchAdd,
                (AtomicOp::Or, true) => AtomicKind::FetchOr,
                (AtomicOp::And, true) => AtomicKind::FetchAnd,
                (AtomicOp::Xor, true) => AtomicKind::FetchXor,
                (AtomicOp::Xchg, _) => AtomicKind::Xchg,
                (AtomicOp::Cmpxchg, _) => AtomicKind::Cmpxchg,
            };
            op(code, r(dst), r(src), off.into(), kind as u64)
        }
        Insn::LdImm64 { dst, pseudo, imm } => {
            if insns.get(pc + 1) != Some(&Insn::LdImm64Hi) {
                return Err(PrepareError::BrokenLdImm64 { pc });
            }
            let value = match pseudo {
                Pseudo::Imm64 => imm,
                // The kernel's verifier requires the second immediate to be
                // 0 for a function address.
                Pseudo::Func if imm >> 32 == 0 => {
                    let slot = target(insns, pc, (imm as i32).into(), "callback")?;
                    callback_value(slot as u32)
                }
                Pseudo::Func => return Err(invalid()),
                _ => return Err(PrepareError::UnresolvedPseudo { pc, pseudo }),
            };
            op(LdDw, r(dst), 0, 0, value)
        }
        Insn::LdImm64Hi => {
            let paired = pc
                .checked_sub(1)
                .is_some_and(|p| matches!(insns[p], Insn::LdImm64 { .. }));
            if !paired {
                return Err(PrepareError::BrokenLdImm64 { pc });
            }
            op(LdDwHi, 0, 0, 0, 0)
        }
        Insn::LdAbs { size, imm } => {
            let code = match size {
                Size::B => LdAbsB,
                Size::H => LdAbsH,
                Size::W => LdAbsW,
                Size::DW => return Err(invalid()),
            };
            op(code, 0, 0, 0, imm as i64 as u64)
        }
        Insn::LdInd { size, src, imm } => {
            let code = match size {
                Size::B => LdIndB,
                Size::H => LdIndH,
                Size::W => LdIndW,
                Size::DW => return Err(invalid()),
            };
            op(code, 0, r(src), 0, imm as i64 as u64)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_programs_are_shareable_and_stacks_movable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Interpreter>();
        send_sync::<crate::Stack>();
    }

    #[test]
    fn op_is_sixteen_bytes() {
        assert_eq!(core::mem::size_of::<Op>(), 16);
    }

    #[test]
    fn rejects_unresolved_map_reference() {
        let prog = [
            Insn::LdImm64 {
                dst: Reg::R1,
                pseudo: Pseudo::MapFd,
                imm: 3,
            },
            Insn::LdImm64Hi,
            Insn::Exit,
        ];
        let e = Interpreter::new(&prog).unwrap_err();
        assert_eq!(
            e,
            PrepareError::UnresolvedPseudo {
                pc: 0,
                pseudo: Pseudo::MapFd
            }
        );
        assert!(e.to_string().starts_with("insn 0:"), "{e}");
    }

    #[test]
    fn function_addresses_load_callback_values_and_helper_12_is_a_tail_call() {
        let func = |imm: i32| Insn::LdImm64 {
            dst: Reg::R2,
            pseudo: Pseudo::Func,
            imm: u64::from(imm as u32),
        };
        // slot 0: lddw r2, <slot 3>; slot 3: lddw r2, <slot 0>.
        let prog = [
            func(2),
            Insn::LdImm64Hi,
            Insn::Call(CallKind::Helper(12)),
            func(-4),
            Insn::LdImm64Hi,
            Insn::Exit,
        ];
        let p = Interpreter::new(&prog).unwrap();
        assert_eq!(p.ops[0].code, OpCode::LdDw);
        assert_eq!(p.ops[0].imm, 0xca11_bac0_0000_0003);
        assert_eq!(p.ops[3].imm, 0xca11_bac0_0000_0000);
        assert_eq!(p.ops[2].code, OpCode::TailCall);
        assert_eq!(p.callbacks[..], [0, 3]);
        assert_eq!(p.callback_slot(callback_value(3)), Some(3));
        assert_eq!(p.callback_slot(callback_value(5)), None);
        assert_eq!(p.callback_slot(3), None);
        // A function outside the program, or a non-zero second immediate.
        let out = [func(5), Insn::LdImm64Hi, Insn::Exit];
        assert!(matches!(
            Interpreter::new(&out),
            Err(PrepareError::BadTarget {
                pc: 0,
                what: "callback",
                target: 6
            })
        ));
        let high = [
            Insn::LdImm64 {
                dst: Reg::R2,
                pseudo: Pseudo::Func,
                imm: 1 << 32,
            },
            Insn::LdImm64Hi,
            Insn::Exit,
        ];
        assert!(matches!(
            Interpreter::new(&high),
            Err(PrepareError::Invalid { pc: 0, .. })
        ));
    }

    #[test]
    fn rejects_kfunc_calls() {
        let prog = [Insn::Call(CallKind::Kfunc(77)), Insn::Exit];
        assert_eq!(
            Interpreter::new(&prog).unwrap_err(),
            PrepareError::Kfunc { pc: 0, btf_id: 77 }
        );
    }

    #[test]
    fn rejects_jumps_outside_and_into_lddw() {
        let out = [
            Insn::Ja {
                off: 5,
                long: false,
            },
            Insn::Exit,
        ];
        assert!(matches!(
            Interpreter::new(&out),
            Err(PrepareError::BadTarget {
                pc: 0,
                target: 6,
                ..
            })
        ));
        let into_hi = [
            Insn::Ja {
                off: 1,
                long: false,
            },
            Insn::LdImm64 {
                dst: Reg::R0,
                pseudo: Pseudo::Imm64,
                imm: 1,
            },
            Insn::LdImm64Hi,
            Insn::Exit,
        ];
        assert!(matches!(
            Interpreter::new(&into_hi),
            Err(PrepareError::BadTarget {
                pc: 0,
                target: 2,
                ..
            })
        ));
        let back = [Insn::Call(CallKind::Local(-3)), Insn::Exit];
        assert!(matches!(
            Interpreter::new(&back),
            Err(PrepareError::BadTarget { what: "call", .. })
        ));
    }

    #[test]
    fn rejects_broken_lddw_pairs() {
        let lone_hi = [Insn::LdImm64Hi, Insn::Exit];
        assert_eq!(
            Interpreter::new(&lone_hi).unwrap_err(),
            PrepareError::BrokenLdImm64 { pc: 0 }
        );
        let truncated = [Insn::LdImm64 {
            dst: Reg::R0,
            pseudo: Pseudo::Imm64,
            imm: 1,
        }];
        assert_eq!(
            Interpreter::new(&truncated).unwrap_err(),
            PrepareError::BrokenLdImm64 { pc: 0 }
        );
        assert_eq!(Interpreter::new(&[]).unwrap_err(), PrepareError::Empty);
    }

    #[test]
    fn constant_returns_are_fused_and_the_exit_keeps_its_slot() {
        let mov = |width, imm| Insn::Alu {
            width,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(imm),
        };
        let prog = [
            mov(Width::W64, -1),
            Insn::Exit,
            mov(Width::W32, -1),
            Insn::Exit,
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R1,
                src: Operand::Imm(2),
            },
            Insn::Exit,
            mov(Width::W64, 3),
            Insn::Ja {
                off: -1,
                long: false,
            },
        ];
        let p = Interpreter::new(&prog).unwrap();
        let codes: Vec<OpCode> = p.ops.iter().map(|o| o.code).collect();
        use OpCode::*;
        assert_eq!(
            codes,
            [RetK, Exit, RetK, Exit, Mov64K, Exit, Mov64K, Ja, FellOff]
        );
        assert_eq!(p.ops[0].imm, u64::MAX, "64-bit move sign-extends");
        assert_eq!(
            p.ops[2].imm,
            u64::from(u32::MAX),
            "32-bit move zero-extends"
        );
    }
}
