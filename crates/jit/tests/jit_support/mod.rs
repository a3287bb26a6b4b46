//! Shared support of the JIT tests: running raw-memory programs on the
//! checked interpreter and on the JIT, and decoding images.

#![allow(dead_code, unreachable_pub)]

use rxdp_interp::{Env, HelperCtx, HelperError, Interpreter, Region, RegionKind, Stack};
use rxdp_isa::{Insn, Pseudo, Reg};
use rxdp_jit::x86_64::{JitImage, NoRuntime, RunCtx, compile};
use rxdp_verifier::{Stats, SubprogInfo, VerifiedProgram, check_structure};

/// One block of writable memory, `r1` on entry; no helpers.
pub struct MemEnv {
    pub mem: Vec<u8>,
}

// SAFETY: the one region is `mem`, owned by the environment and neither
// moved nor resized during a run.
unsafe impl Env for MemEnv {
    fn call_helper(
        &mut self,
        id: u32,
        _args: [u64; 5],
        _ctx: &mut HelperCtx<'_, Self>,
    ) -> Result<u64, HelperError> {
        Err(HelperError::Unknown(id))
    }

    fn regions(&self, out: &mut Vec<Region>) {
        out.push(Region {
            start: self.mem.as_ptr() as u64,
            len: self.mem.len() as u64,
            writable: true,
            kind: RegionKind::Memory,
        });
    }
}

/// Wraps hand-written (unverified) instructions as a [`VerifiedProgram`]
/// with a conservative frame: a full 512-byte stack and r6..r9 saved in
/// every subprogram.
pub fn raw_program(insns: Vec<Insn>) -> VerifiedProgram {
    let structure = check_structure(&insns).expect("well-formed test program");
    let n = structure.subprogs.len();
    VerifiedProgram {
        insns,
        structure,
        ctx_accesses: Vec::new(),
        subprogs: vec![
            SubprogInfo {
                stack_depth: 512,
                callee_saved: 0b1111 << 6,
                tail_calls: false,
            };
            n
        ],
        direct_tail_calls: Vec::new(),
        inline_lookups: Vec::new(),
        log: String::new(),
        stats: Stats::default(),
    }
}

/// Runs `insns` with `r1` = a copy of `mem` on the checked interpreter
/// and on the JIT; asserts r0 and the memory agree; returns them.
pub fn agree(insns: Vec<Insn>, mem: &[u8], what: &str) -> (u64, Vec<u8>) {
    let interp = Interpreter::new(&insns).expect("interpreter accepts the program");
    let mut env = MemEnv { mem: mem.to_vec() };
    let mut stack = Stack::new();
    let ptr = env.mem.as_ptr() as u64;
    let want = interp
        .run_checked_with_args([ptr, 0, 0, 0, 0], &mut stack, &mut env, Default::default())
        .unwrap_or_else(|f| panic!("{what}: interpreter faulted: {f}"));
    let img = jit(insns);
    let mut got_mem = mem.to_vec();
    // SAFETY: the program only touches its stack and `mem` (the
    // interpreter's checked run above did the same accesses without a
    // fault), and `got_mem` has `mem`'s length.
    let got = unsafe { img.run(got_mem.as_mut_ptr(), &mut RunCtx::new(std::ptr::null_mut())) };
    if got != want || got_mem != env.mem {
        panic!(
            "{what}: interpreter r0 {want:#x}, JIT r0 {got:#x}\ninterpreter mem {:x?}\nJIT mem         {:x?}\n{}",
            env.mem,
            got_mem,
            disasm(&img)
        );
    }
    (got, got_mem)
}

/// Compiles hand-written instructions.
pub fn jit(insns: Vec<Insn>) -> JitImage {
    compile(&raw_program(insns), &NoRuntime).expect("the JIT compiles the program")
}

/// The image's disassembly, one instruction a line.
pub fn disasm(img: &JitImage) -> String {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    let mut dec = Decoder::with_ip(64, img.bytes(), img.exec_addr(), DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    let mut out = String::new();
    for insn in &mut dec {
        let mut text = String::new();
        fmt.format(&insn, &mut text);
        out.push_str(&format!("{:5x}  {text}\n", insn.ip() - img.exec_addr()));
    }
    out
}

pub fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

/// `lddw rN, imm`.
pub fn lddw(n: u8, imm: u64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: r(n),
            pseudo: Pseudo::Imm64,
            imm,
        },
        Insn::LdImm64Hi,
    ]
}
