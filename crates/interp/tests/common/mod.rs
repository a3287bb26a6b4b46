//! Shared test support: instruction builders, a test environment, and a
//! runner that executes a program in both modes and checks they agree.

#![allow(dead_code, unreachable_pub)]

use rxdp_interp::{Env, Fault, HelperCtx, HelperError, Interpreter, Region, RegionKind, Stack};
use rxdp_isa::{AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width};

pub fn reg(n: u8) -> Reg {
    Reg::new(n).unwrap()
}
pub fn k(i: i32) -> Operand {
    Operand::Imm(i)
}
pub fn x(n: u8) -> Operand {
    Operand::Reg(reg(n))
}
pub fn alu64(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: reg(dst),
        src,
    }
}
pub fn alu32(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst: reg(dst),
        src,
    }
}
pub fn mov64(dst: u8, imm: i32) -> Insn {
    alu64(AluOp::Mov, dst, k(imm))
}
pub fn movx(dst: u8, src: u8) -> Insn {
    alu64(AluOp::Mov, dst, x(src))
}
/// `lddw`: two slots.
pub fn lddw(dst: u8, imm: u64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: reg(dst),
            pseudo: Pseudo::Imm64,
            imm,
        },
        Insn::LdImm64Hi,
    ]
}
pub fn jmp(width: Width, cond: Cond, dst: u8, src: Operand, off: i16) -> Insn {
    Insn::Jmp {
        width,
        cond,
        dst: reg(dst),
        src,
        off,
    }
}
pub fn ja(off: i32) -> Insn {
    Insn::Ja { off, long: false }
}
pub fn end(kind: Endian, dst: u8, bits: u8) -> Insn {
    Insn::End {
        kind,
        dst: reg(dst),
        bits,
    }
}
pub fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Ldx {
        size,
        signed: false,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}
pub fn ldsx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Ldx {
        size,
        signed: true,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}
pub fn stx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Stx {
        size,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}
pub fn st(size: Size, dst: u8, off: i16, imm: i32) -> Insn {
    Insn::St {
        size,
        dst: reg(dst),
        off,
        imm,
    }
}
pub fn atomic(size: Size, op: AtomicOp, fetch: bool, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Atomic {
        size,
        op,
        fetch,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}
pub fn call_local(off: i32) -> Insn {
    Insn::Call(CallKind::Local(off))
}
pub fn call_helper(id: i32) -> Insn {
    Insn::Call(CallKind::Helper(id))
}
pub const EXIT: Insn = Insn::Exit;

/// Flattens slots built from single instructions and `lddw` pairs.
#[macro_export]
macro_rules! prog {
    ($($e:expr),* $(,)?) => {{
        let mut v: Vec<rxdp_isa::Insn> = Vec::new();
        $( $crate::common::Push::push_to($e, &mut v); )*
        v
    }};
}

pub trait Push {
    fn push_to(self, v: &mut Vec<Insn>);
}
impl Push for Insn {
    fn push_to(self, v: &mut Vec<Insn>) {
        v.push(self);
    }
}
impl<const N: usize> Push for [Insn; N] {
    fn push_to(self, v: &mut Vec<Insn>) {
        v.extend(self);
    }
}

type HelperFn = Box<dyn FnMut(u32, [u64; 5], &mut dyn FnMut(Region)) -> Result<u64, HelperError>>;

/// An environment with fixed regions and a closure for helpers.
pub struct TestEnv {
    pub regions: Vec<Region>,
    pub helper: HelperFn,
    pub legacy: Option<(u64, u64)>,
    pub helper_calls: usize,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            regions: Vec::new(),
            helper: Box::new(|id, _, _| Err(HelperError::Unknown(id))),
            legacy: None,
            helper_calls: 0,
        }
    }
}

// SAFETY: tests only report regions over buffers that outlive the run.
unsafe impl Env for TestEnv {
    fn call_helper(
        &mut self,
        id: u32,
        args: [u64; 5],
        ctx: &mut HelperCtx<'_, Self>,
    ) -> Result<u64, HelperError> {
        self.helper_calls += 1;
        (self.helper)(id, args, &mut |r| ctx.grant(r))
    }
    fn regions(&self, out: &mut Vec<Region>) {
        out.extend_from_slice(&self.regions);
    }
    fn legacy_packet(&self) -> Option<(u64, u64)> {
        self.legacy
    }
}

/// A region over a buffer.
pub fn region(buf: &mut [u8], writable: bool, kind: RegionKind) -> Region {
    Region {
        start: buf.as_mut_ptr().expose_provenance() as u64,
        len: buf.len() as u64,
        writable,
        kind,
    }
}

/// Runs in the checked mode only.
pub fn run_checked(insns: &[Insn], ctx: u64, env: &mut TestEnv) -> Result<u64, Fault> {
    let prog = Interpreter::new(insns).expect("prepare");
    prog.run_checked(ctx, &mut Stack::new(), env)
}

/// Runs a program that only touches the stack and `env`'s regions in both
/// modes, asserts they agree, and returns the result.
///
/// Callers must only pass programs whose accesses are valid (the fast mode
/// does not check); the checked run goes first and the fast one is skipped
/// if it faulted on memory.
pub fn run_env(insns: &[Insn], ctx: u64, env_for: impl Fn() -> TestEnv) -> Result<u64, Fault> {
    let prog = Interpreter::new(insns).expect("prepare");
    let checked = prog.run_checked(ctx, &mut Stack::new(), &mut env_for());
    if checked.is_ok() {
        // SAFETY: the checked run found every access valid, and the program
        // is deterministic, so the fast run makes the same accesses.
        let fast = unsafe { prog.run(ctx, &mut Stack::new(), &mut env_for()) };
        assert_eq!(fast, checked, "fast and checked modes disagree");
    }
    checked
}

/// Runs a program without memory besides the stack in both modes; returns r0.
pub fn run(insns: &[Insn]) -> u64 {
    run_env(insns, 0, TestEnv::new).expect("run")
}
