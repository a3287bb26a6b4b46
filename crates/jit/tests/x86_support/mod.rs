//! Shared by the x86 encoder tests: a description of every ModR/M-style
//! instruction the encoder emits (`Op`), what iced-x86 must decode it to
//! (`Expect`, written from the instruction set, not from the encoder), and
//! the decode-and-compare helpers.

#![allow(dead_code, unreachable_pub)]

use iced_x86::{Decoder, DecoderOptions, Instruction, MemorySize, Mnemonic, OpKind, Register};
use rxdp_jit::x86::{AluOp, Asm, Mem, Reg, Scale, ShiftOp, Size, UnaryOp};

/// iced's name for `reg` at `size` (spl..dil at B: the encoder always
/// gives 4..7 a REX prefix).
pub fn ireg(reg: Reg, size: Size) -> Register {
    use Register::*;
    const B: [Register; 16] = [
        AL, CL, DL, BL, SPL, BPL, SIL, DIL, R8L, R9L, R10L, R11L, R12L, R13L, R14L, R15L,
    ];
    const W: [Register; 16] = [
        AX, CX, DX, BX, SP, BP, SI, DI, R8W, R9W, R10W, R11W, R12W, R13W, R14W, R15W,
    ];
    const D: [Register; 16] = [
        EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI, R8D, R9D, R10D, R11D, R12D, R13D, R14D, R15D,
    ];
    const Q: [Register; 16] = [
        RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
    ];
    let table = match size {
        Size::B => &B,
        Size::W => &W,
        Size::D => &D,
        Size::Q => &Q,
    };
    table[reg as usize]
}

/// An expected operand.
#[derive(Debug, Clone, PartialEq)]
pub enum X {
    /// A register.
    R(Register),
    /// A memory operand with its access size in bytes (None: not checked).
    M(Mem, Option<usize>),
    /// An immediate, compared at the width of the decoded operand kind.
    I(i64),
}

/// What one instruction must decode to.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub mnemonic: Mnemonic,
    /// None: operands are not checked (nops, whose operands are filler).
    pub ops: Option<Vec<X>>,
    pub lock: bool,
}

fn ex(mnemonic: Mnemonic, ops: Vec<X>) -> Expect {
    Expect {
        mnemonic,
        ops: Some(ops),
        lock: false,
    }
}

fn m(mem: Mem, size: Size) -> X {
    X::M(mem, Some(size.bytes() as usize))
}

fn r(reg: Reg, size: Size) -> X {
    X::R(ireg(reg, size))
}

/// One encoder call, with its operands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    MovRr(Size, Reg, Reg),
    MovR32Imm(Reg, u32),
    MovR64Imm(Reg, i32),
    Movabs(Reg, u64),
    MovImm64(Reg, u64),
    Load(Size, Reg, Mem),
    LoadSx(Size, Reg, Mem),
    Store(Size, Mem, Reg),
    StoreImm(Size, Mem, i32),
    Lea(Size, Reg, Mem),
    Movzx(Size, Reg, Reg),
    Movsx(Size, Size, Reg, Reg),
    Bswap(Size, Reg),
    AluRr(AluOp, Size, Reg, Reg),
    AluRi(AluOp, Size, Reg, i32),
    TestRr(Size, Reg, Reg),
    TestRi(Size, Reg, i32),
    ImulRr(Size, Reg, Reg),
    ImulRri(Size, Reg, Reg, i32),
    Unary(UnaryOp, Size, Reg),
    ShiftRi(ShiftOp, Size, Reg, u8),
    ShiftCl(ShiftOp, Size, Reg),
    Cdq,
    Cqo,
    LockAlu(AluOp, Size, Mem, Reg),
    LockXadd(Size, Mem, Reg),
    Xchg(Size, Mem, Reg),
    LockCmpxchg(Size, Mem, Reg),
    Push(Reg),
    Pop(Reg),
    CallReg(Reg),
    JmpReg(Reg),
    Ret,
    Int3,
    Endbr64,
    Pause,
    Lfence,
    Nop(usize),
}

impl Op {
    /// Emits the instruction.
    pub fn emit(self, a: &mut Asm) {
        match self {
            Op::MovRr(s, d, x) => a.mov_rr(s, d, x),
            Op::MovR32Imm(d, i) => a.mov_r32_imm(d, i),
            Op::MovR64Imm(d, i) => a.mov_r64_imm(d, i),
            Op::Movabs(d, i) => a.movabs(d, i),
            Op::MovImm64(d, i) => a.mov_imm64(d, i),
            Op::Load(s, d, mem) => a.load(s, d, mem),
            Op::LoadSx(s, d, mem) => a.load_sx(s, d, mem),
            Op::Store(s, mem, x) => a.store(s, mem, x),
            Op::StoreImm(s, mem, i) => a.store_imm(s, mem, i),
            Op::Lea(s, d, mem) => a.lea(s, d, mem),
            Op::Movzx(f, d, x) => a.movzx(f, d, x),
            Op::Movsx(t, f, d, x) => a.movsx(t, f, d, x),
            Op::Bswap(s, x) => a.bswap(s, x),
            Op::AluRr(o, s, d, x) => a.alu_rr(o, s, d, x),
            Op::AluRi(o, s, d, i) => a.alu_ri(o, s, d, i),
            Op::TestRr(s, d, x) => a.test_rr(s, d, x),
            Op::TestRi(s, d, i) => a.test_ri(s, d, i),
            Op::ImulRr(s, d, x) => a.imul_rr(s, d, x),
            Op::ImulRri(s, d, x, i) => a.imul_rri(s, d, x, i),
            Op::Unary(o, s, x) => a.unary(o, s, x),
            Op::ShiftRi(o, s, x, c) => a.shift_ri(o, s, x, c),
            Op::ShiftCl(o, s, x) => a.shift_cl(o, s, x),
            Op::Cdq => a.cdq(),
            Op::Cqo => a.cqo(),
            Op::LockAlu(o, s, mem, x) => a.lock_alu(o, s, mem, x),
            Op::LockXadd(s, mem, x) => a.lock_xadd(s, mem, x),
            Op::Xchg(s, mem, x) => a.xchg(s, mem, x),
            Op::LockCmpxchg(s, mem, x) => a.lock_cmpxchg(s, mem, x),
            Op::Push(x) => a.push(x),
            Op::Pop(x) => a.pop(x),
            Op::CallReg(x) => a.call_reg(x),
            Op::JmpReg(x) => a.jmp_reg(x),
            Op::Ret => a.ret(),
            Op::Int3 => a.int3(),
            Op::Endbr64 => a.endbr64(),
            Op::Pause => a.pause(),
            Op::Lfence => a.lfence(),
            Op::Nop(n) => a.nop(n),
        }
    }

    /// What the instruction must decode to, from the instruction set.
    pub fn expect(self) -> Expect {
        use Mnemonic as N;
        use Size::*;
        match self {
            Op::MovRr(s, d, x) => ex(N::Mov, vec![r(d, s), r(x, s)]),
            Op::MovR32Imm(d, i) => ex(N::Mov, vec![r(d, D), X::I(i as i64)]),
            Op::MovR64Imm(d, i) => ex(N::Mov, vec![r(d, Q), X::I(i as i64)]),
            Op::Movabs(d, i) => ex(N::Mov, vec![r(d, Q), X::I(i as i64)]),
            Op::MovImm64(d, i) => {
                let s = if i <= u32::MAX as u64 { D } else { Q };
                ex(N::Mov, vec![r(d, s), X::I(i as i64)])
            }
            Op::Load(s, d, mem) => match s {
                B | W => ex(N::Movzx, vec![r(d, D), m(mem, s)]),
                D | Q => ex(N::Mov, vec![r(d, s), m(mem, s)]),
            },
            Op::LoadSx(s, d, mem) => {
                let n = match s {
                    B | W => N::Movsx,
                    D => N::Movsxd,
                    Q => N::Mov,
                };
                ex(n, vec![r(d, Q), m(mem, s)])
            }
            Op::Store(s, mem, x) => ex(N::Mov, vec![m(mem, s), r(x, s)]),
            Op::StoreImm(s, mem, i) => ex(N::Mov, vec![m(mem, s), X::I(i as i64)]),
            Op::Lea(s, d, mem) => ex(N::Lea, vec![r(d, s), X::M(mem, None)]),
            Op::Movzx(f, d, x) => ex(N::Movzx, vec![r(d, D), r(x, f)]),
            Op::Movsx(t, f, d, x) => {
                let n = if f == D { N::Movsxd } else { N::Movsx };
                ex(n, vec![r(d, t), r(x, f)])
            }
            Op::Bswap(s, x) => ex(N::Bswap, vec![r(x, s)]),
            Op::AluRr(o, s, d, x) => ex(alu_mnemonic(o), vec![r(d, s), r(x, s)]),
            Op::AluRi(o, s, d, i) => ex(alu_mnemonic(o), vec![r(d, s), X::I(i as i64)]),
            Op::TestRr(s, d, x) => ex(N::Test, vec![r(d, s), r(x, s)]),
            Op::TestRi(s, d, i) => ex(N::Test, vec![r(d, s), X::I(i as i64)]),
            Op::ImulRr(s, d, x) => ex(N::Imul, vec![r(d, s), r(x, s)]),
            Op::ImulRri(s, d, x, i) => ex(N::Imul, vec![r(d, s), r(x, s), X::I(i as i64)]),
            Op::Unary(o, s, x) => ex(unary_mnemonic(o), vec![r(x, s)]),
            Op::ShiftRi(o, s, x, c) => ex(shift_mnemonic(o), vec![r(x, s), X::I(c as i64)]),
            Op::ShiftCl(o, s, x) => ex(shift_mnemonic(o), vec![r(x, s), X::R(Register::CL)]),
            Op::Cdq => ex(N::Cdq, vec![]),
            Op::Cqo => ex(N::Cqo, vec![]),
            Op::LockAlu(o, s, mem, x) => locked(alu_mnemonic(o), vec![m(mem, s), r(x, s)]),
            Op::LockXadd(s, mem, x) => locked(N::Xadd, vec![m(mem, s), r(x, s)]),
            Op::Xchg(s, mem, x) => ex(N::Xchg, vec![m(mem, s), r(x, s)]),
            Op::LockCmpxchg(s, mem, x) => locked(N::Cmpxchg, vec![m(mem, s), r(x, s)]),
            Op::Push(x) => ex(N::Push, vec![r(x, Q)]),
            Op::Pop(x) => ex(N::Pop, vec![r(x, Q)]),
            Op::CallReg(x) => ex(N::Call, vec![r(x, Q)]),
            Op::JmpReg(x) => ex(N::Jmp, vec![r(x, Q)]),
            Op::Ret => ex(N::Ret, vec![]),
            Op::Int3 => ex(N::Int3, vec![]),
            Op::Endbr64 => ex(N::Endbr64, vec![]),
            Op::Pause => ex(N::Pause, vec![]),
            Op::Lfence => ex(N::Lfence, vec![]),
            Op::Nop(_) => Expect {
                mnemonic: N::Nop,
                ops: None,
                lock: false,
            },
        }
    }
}

fn locked(mnemonic: Mnemonic, ops: Vec<X>) -> Expect {
    Expect {
        lock: true,
        ..ex(mnemonic, ops)
    }
}

pub fn alu_mnemonic(op: AluOp) -> Mnemonic {
    match op {
        AluOp::Add => Mnemonic::Add,
        AluOp::Or => Mnemonic::Or,
        AluOp::Adc => Mnemonic::Adc,
        AluOp::Sbb => Mnemonic::Sbb,
        AluOp::And => Mnemonic::And,
        AluOp::Sub => Mnemonic::Sub,
        AluOp::Xor => Mnemonic::Xor,
        AluOp::Cmp => Mnemonic::Cmp,
    }
}

pub fn shift_mnemonic(op: ShiftOp) -> Mnemonic {
    match op {
        ShiftOp::Rol => Mnemonic::Rol,
        ShiftOp::Ror => Mnemonic::Ror,
        ShiftOp::Shl => Mnemonic::Shl,
        ShiftOp::Shr => Mnemonic::Shr,
        ShiftOp::Sar => Mnemonic::Sar,
    }
}

pub fn unary_mnemonic(op: UnaryOp) -> Mnemonic {
    match op {
        UnaryOp::Not => Mnemonic::Not,
        UnaryOp::Neg => Mnemonic::Neg,
        UnaryOp::Mul => Mnemonic::Mul,
        UnaryOp::Imul => Mnemonic::Imul,
        UnaryOp::Div => Mnemonic::Div,
        UnaryOp::Idiv => Mnemonic::Idiv,
    }
}

/// Decodes `bytes` as 64-bit code at address `ip`, requiring that every
/// byte belongs to a valid instruction.
pub fn decode_all(bytes: &[u8], ip: u64) -> Vec<Instruction> {
    let mut d = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let mut out = Vec::new();
    while d.can_decode() {
        let ins = d.decode();
        assert!(
            !ins.is_invalid(),
            "invalid instruction at {:#x}: {bytes:02x?}",
            ins.ip()
        );
        out.push(ins);
    }
    out
}

/// Emits `op` alone and checks it decodes to exactly one instruction that
/// matches; returns its bytes.
pub fn check_one(op: Op) -> Vec<u8> {
    let mut a = Asm::new();
    op.emit(&mut a);
    let bytes = a.finish(0).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    let ins = decode_all(&bytes, 0);
    assert_eq!(ins.len(), 1, "{op:?} -> {bytes:02x?} decodes to {ins:?}");
    assert_eq!(ins[0].len(), bytes.len(), "{op:?} -> {bytes:02x?}");
    check(&ins[0], &op.expect(), &format!("{op:?} -> {bytes:02x?}"));
    bytes
}

/// Compares a decoded instruction with what was expected.
pub fn check(ins: &Instruction, e: &Expect, what: &str) {
    assert_eq!(ins.mnemonic(), e.mnemonic, "{what}: decoded {ins}");
    assert_eq!(ins.has_lock_prefix(), e.lock, "{what}: decoded {ins}");
    let Some(ops) = &e.ops else {
        return;
    };
    assert_eq!(ins.op_count() as usize, ops.len(), "{what}: decoded {ins}");
    for (i, want) in ops.iter().enumerate() {
        check_operand(ins, i as u32, want, what);
    }
}

fn check_operand(ins: &Instruction, i: u32, want: &X, what: &str) {
    let kind = ins.op_kind(i);
    match *want {
        X::R(reg) => {
            assert_eq!(kind, OpKind::Register, "{what}: op {i} of {ins}");
            assert_eq!(ins.op_register(i), reg, "{what}: op {i} of {ins}");
        }
        X::M(mem, size) => {
            assert_eq!(kind, OpKind::Memory, "{what}: op {i} of {ins}");
            check_mem(ins, mem, size, what);
        }
        X::I(v) => {
            let mask = match kind {
                OpKind::Immediate8 => 0xff,
                OpKind::Immediate16 | OpKind::Immediate8to16 => 0xffff,
                OpKind::Immediate32 | OpKind::Immediate8to32 => 0xffff_ffff,
                OpKind::Immediate64 | OpKind::Immediate8to64 | OpKind::Immediate32to64 => u64::MAX,
                k => panic!("{what}: op {i} of {ins} is {k:?}, not an immediate"),
            };
            assert_eq!(
                ins.immediate(i) & mask,
                v as u64 & mask,
                "{what}: op {i} of {ins}"
            );
        }
    }
}

fn check_mem(ins: &Instruction, mem: Mem, size: Option<usize>, what: &str) {
    assert_eq!(ins.memory_base(), ireg(mem.base, Size::Q), "{what}: {ins}");
    let (index, scale) = match mem.index {
        Some((reg, s)) => (ireg(reg, Size::Q), s.factor()),
        None => (Register::None, 1),
    };
    assert_eq!(ins.memory_index(), index, "{what}: {ins}");
    assert_eq!(ins.memory_index_scale(), scale, "{what}: {ins}");
    assert_eq!(
        ins.memory_displacement64() as i64,
        mem.disp as i64,
        "{what}: {ins}"
    );
    if let Some(size) = size {
        assert_eq!(mem_bytes(ins.memory_size()), size, "{what}: {ins}");
    }
}

/// Displacements at every encoding boundary.
pub const DISPS: [i32; 9] = [0, 1, -1, 127, -128, 128, -129, i32::MAX, i32::MIN];

/// The memory operands the tables cover: every base with each boundary
/// displacement, and a few indexed forms (index r12, r13, rbp; scales).
pub fn mems() -> Vec<Mem> {
    let mut out = Vec::new();
    for base in Reg::ALL {
        for disp in DISPS {
            out.push(Mem::new(base, disp));
        }
    }
    for (base, index, scale) in [
        (Reg::Rax, Reg::R12, Scale::X8),
        (Reg::R13, Reg::Rbp, Scale::X1),
        (Reg::Rsp, Reg::R13, Scale::X2),
        (Reg::R12, Reg::Rax, Scale::X4),
        (Reg::Rbp, Reg::R15, Scale::X8),
    ] {
        for disp in [0, 127, -129] {
            out.push(Mem::indexed(base, index, scale, disp));
        }
    }
    out
}

/// Bytes taken by the ModR/M, SIB and displacement of `mem`, from the
/// rules of SDM Vol. 2A, Tables 2-2 and 2-3.
pub fn mem_len(mem: Mem) -> usize {
    let sib = mem.index.is_some() || matches!(mem.base, Reg::Rsp | Reg::R12);
    let disp = if mem.disp == 0 && !matches!(mem.base, Reg::Rbp | Reg::R13) {
        0
    } else if i8::try_from(mem.disp).is_ok() {
        1
    } else {
        4
    };
    1 + sib as usize + disp
}

/// Whether a REX prefix is needed to name `mem`'s registers.
pub fn mem_rex(mem: Mem) -> bool {
    mem.base.needs_rex() || mem.index.is_some_and(|(i, _)| i.needs_rex())
}

/// The access size of the memory operands the encoder emits.
fn mem_bytes(size: MemorySize) -> usize {
    match size {
        MemorySize::UInt8 | MemorySize::Int8 => 1,
        MemorySize::UInt16 | MemorySize::Int16 => 2,
        MemorySize::UInt32 | MemorySize::Int32 => 4,
        MemorySize::UInt64 | MemorySize::Int64 => 8,
        other => panic!("unexpected memory size {other:?}"),
    }
}
