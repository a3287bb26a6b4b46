//! Does aligning loop heads to 16 bytes pay? Compiles loop-heavy programs
//! with `JitOptions::align_loops` off and on, the loop head at every
//! natural offset mod 16 (a varying number of instructions before it),
//! and prints the time per run of each and the ratio.
//!
//! `cargo run --release -p rxdp-jit --example align_loops`

use rxdp_isa::{AluOp, Cond, Insn, Operand, Reg, Size, Width};
use rxdp_jit::x86_64::{JitImage, JitOptions, NoRuntime, RunCtx, compile_with};
use rxdp_verifier::{Stats, SubprogInfo, VerifiedProgram, check_structure};
use std::time::Instant;

fn alu(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

/// `pad` filler moves, then: for r2 in 0..1000 { r0 += mem[r2 % 64] ^ r2 }.
fn program(pad: usize) -> Vec<Insn> {
    let mut p = vec![alu(AluOp::Mov, Reg::R0, Operand::Imm(0))];
    p.extend((0..pad).map(|i| alu(AluOp::Mov, Reg::R4, Operand::Imm(i as i32))));
    p.push(alu(AluOp::Mov, Reg::R2, Operand::Imm(0)));
    let head = p.len();
    p.extend([
        alu(AluOp::Mov, Reg::R3, Operand::Reg(Reg::R2)),
        alu(AluOp::And, Reg::R3, Operand::Imm(56)),
        alu(AluOp::Add, Reg::R3, Operand::Reg(Reg::R1)),
        Insn::Ldx {
            size: Size::DW,
            signed: false,
            dst: Reg::R3,
            src: Reg::R3,
            off: 0,
        },
        alu(AluOp::Xor, Reg::R3, Operand::Reg(Reg::R2)),
        alu(AluOp::Add, Reg::R0, Operand::Reg(Reg::R3)),
        alu(AluOp::Add, Reg::R2, Operand::Imm(1)),
    ]);
    let back = p.len();
    p.push(Insn::Jmp {
        width: Width::W64,
        cond: Cond::Lt,
        dst: Reg::R2,
        src: Operand::Imm(1000),
        off: (head as i64 - back as i64 - 1) as i16,
    });
    p.push(Insn::Exit);
    p
}

fn verified(insns: Vec<Insn>) -> VerifiedProgram {
    let structure = check_structure(&insns).unwrap();
    VerifiedProgram {
        insns,
        structure,
        ctx_accesses: Vec::new(),
        subprogs: vec![SubprogInfo::default()],
        direct_tail_calls: Vec::new(),
        inline_lookups: Vec::new(),
        log: String::new(),
        stats: Stats::default(),
    }
}

fn time(img: &JitImage, mem: &mut [u8]) -> f64 {
    const RUNS: u32 = 20_000;
    let mut run = RunCtx::new(core::ptr::null_mut());
    let t = Instant::now();
    for _ in 0..RUNS {
        // SAFETY: the program reads 64 bytes at r1, which `mem` holds.
        std::hint::black_box(unsafe { img.run(mem.as_mut_ptr(), &mut run) });
    }
    t.elapsed().as_nanos() as f64 / f64::from(RUNS)
}

fn main() {
    let mut mem = vec![7u8; 64];
    let (mut off_sum, mut on_sum) = (0.0, 0.0);
    println!("pad  head%16  off ns  on ns");
    for pad in 0..16 {
        let v = verified(program(pad));
        let off = compile_with(&v, &NoRuntime, JitOptions::default()).unwrap();
        let on = compile_with(
            &v,
            &NoRuntime,
            JitOptions {
                align_loops: true,
                ..JitOptions::default()
            },
        )
        .unwrap();
        let head = off.insn_offsets()[pad + 2] % 16;
        // Alternate, best of five each, against the machine's noise.
        let (mut a, mut b) = (f64::MAX, f64::MAX);
        for _ in 0..5 {
            a = a.min(time(&off, &mut mem));
            b = b.min(time(&on, &mut mem));
        }
        off_sum += a;
        on_sum += b;
        println!("{pad:3}  {head:7}  {a:6.0}  {b:6.0}");
    }
    println!(
        "mean: off {:.0} ns, on {:.0} ns per run; aligned/unaligned = {:.3}",
        off_sum / 16.0,
        on_sum / 16.0,
        on_sum / off_sum
    );
}
