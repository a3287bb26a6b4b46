//! Micro benchmarks of the interpreter, with rbpf 0.4's interpreter as the
//! peer on the same programs.
//!
//! `CARGO_TARGET_DIR=target-interp cargo bench -p rxdp-interp --bench interp`
//!
//! `parse_udp` is an Ethernet/IPv4/UDP parse of 36 executed instructions
//! over a context of two 64-bit pointers (data, data_end), the form the
//! fixup layer rewrites `struct xdp_md` accesses into.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rxdp_interp::{Env, HelperCtx, HelperError, Interpreter, Region, Stack};
use rxdp_isa::{AluOp, Cond, Endian, Insn, Operand, Reg, Size, Width};

struct NoEnv;

// SAFETY: reports no memory.
unsafe impl Env for NoEnv {
    fn call_helper(
        &mut self,
        id: u32,
        _: [u64; 5],
        _: &mut HelperCtx<'_, Self>,
    ) -> Result<u64, HelperError> {
        Err(HelperError::Unknown(id))
    }
    fn regions(&self, _: &mut Vec<Region>) {}
}

fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}
fn alu(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: r(dst),
        src,
    }
}
fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Ldx {
        size,
        signed: false,
        dst: r(dst),
        src: r(src),
        off,
    }
}
fn jmp(cond: Cond, dst: u8, src: Operand, off: i16) -> Insn {
    Insn::Jmp {
        width: Width::W64,
        cond,
        dst: r(dst),
        src,
        off,
    }
}
fn be(dst: u8, bits: u8) -> Insn {
    Insn::End {
        kind: Endian::Be,
        dst: r(dst),
        bits,
    }
}
use Operand::{Imm as K, Reg as X};

/// Returns XDP_DROP (1) or XDP_PASS (2) from a hash of the UDP 4-tuple;
/// XDP_PASS early for anything not UDP over IPv4.
fn parse_udp() -> Vec<Insn> {
    let out = 35; // slot of the exit
    let to = |pc: i16| out - pc - 1;
    vec![
        ldx(Size::DW, 2, 1, 0),             // 0: data
        ldx(Size::DW, 3, 1, 8),             // 1: data_end
        alu(AluOp::Mov, 0, K(2)),           // 2: XDP_PASS
        alu(AluOp::Mov, 4, X(r(2))),        // 3
        alu(AluOp::Add, 4, K(14)),          // 4
        jmp(Cond::Gt, 4, X(r(3)), to(5)),   // 5: ethernet header fits?
        ldx(Size::H, 5, 2, 12),             // 6: ethertype
        jmp(Cond::Ne, 5, K(0x0008), to(7)), // 7: htons(ETH_P_IP)
        alu(AluOp::Mov, 4, X(r(2))),        // 8
        alu(AluOp::Add, 4, K(34)),          // 9
        jmp(Cond::Gt, 4, X(r(3)), to(10)),  // 10: IPv4 header fits?
        ldx(Size::B, 5, 2, 14),             // 11: version/ihl
        alu(AluOp::And, 5, K(0xf)),         // 12
        jmp(Cond::Ne, 5, K(5), to(13)),     // 13: no options
        ldx(Size::B, 5, 2, 23),             // 14: protocol
        jmp(Cond::Ne, 5, K(17), to(15)),    // 15: UDP
        ldx(Size::H, 5, 2, 20),             // 16: frag_off
        alu(AluOp::And, 5, K(0xff3f)),      // 17: htons(0x3fff)
        jmp(Cond::Ne, 5, K(0), to(18)),     // 18: not a fragment
        alu(AluOp::Mov, 4, X(r(2))),        // 19
        alu(AluOp::Add, 4, K(42)),          // 20
        jmp(Cond::Gt, 4, X(r(3)), to(21)),  // 21: UDP header fits?
        ldx(Size::H, 5, 2, 36),             // 22: dest port
        be(5, 16),                          // 23
        ldx(Size::W, 6, 2, 26),             // 24: saddr
        ldx(Size::W, 7, 2, 30),             // 25: daddr
        alu(AluOp::Xor, 6, X(r(7))),        // 26
        be(6, 32),                          // 27
        ldx(Size::H, 7, 2, 34),             // 28: source port
        be(7, 16),                          // 29
        alu(AluOp::Add, 6, X(r(7))),        // 30
        alu(AluOp::Add, 6, X(r(5))),        // 31
        alu(AluOp::And, 6, K(1)),           // 32
        alu(AluOp::Mov, 0, K(1)),           // 33: XDP_DROP
        jmp(Cond::Eq, 6, K(0), 0),          // 34
        Insn::Exit,                         // 35
    ]
}

fn udp_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12..14].copy_from_slice(&[0x08, 0x00]); // IPv4
    p[14] = 0x45;
    p[23] = 17; // UDP
    p[26..30].copy_from_slice(&[10, 0, 0, 1]);
    p[30..34].copy_from_slice(&[10, 0, 0, 2]);
    p[34..36].copy_from_slice(&1234u16.to_be_bytes());
    p[36..38].copy_from_slice(&53u16.to_be_bytes());
    p
}

fn bench(c: &mut Criterion) {
    let mut stack = Stack::new();
    let mut env = NoEnv;

    let ret = [alu(AluOp::Mov, 0, K(1)), Insn::Exit];
    let ret_prog = Interpreter::new(&ret).unwrap();
    let ret_bytes = rxdp_isa::encode(&ret);
    let ret_rbpf = rbpf::EbpfVmNoData::new(Some(&ret_bytes)).unwrap();
    let mut g = c.benchmark_group("r0 = 1; exit");
    g.bench_function("rxdp fast", |b| {
        // SAFETY: the program touches no memory.
        b.iter(|| unsafe { ret_prog.run(black_box(0), &mut stack, &mut env) })
    });
    g.bench_function("rxdp checked", |b| {
        b.iter(|| ret_prog.run_checked(black_box(0), &mut stack, &mut env))
    });
    g.bench_function("rbpf 0.4", |b| b.iter(|| ret_rbpf.execute_program()));
    g.finish();

    let insns = parse_udp();
    let prog = Interpreter::new(&insns).unwrap();
    let pkt = udp_packet();
    let data = pkt.as_ptr().expose_provenance() as u64;
    let ctx_words = [data, data + pkt.len() as u64];
    let ctx = ctx_words.as_ptr().expose_provenance() as u64;
    let mut ctx_bytes = Vec::new();
    for w in ctx_words {
        ctx_bytes.extend_from_slice(&w.to_le_bytes());
    }
    let bytes = rxdp_isa::encode(&insns);
    let vm = rbpf::EbpfVmMbuff::new(Some(&bytes)).unwrap();
    let expected = vm.execute_program(&pkt, &ctx_bytes).unwrap();
    // SAFETY: the program reads the context and the packet within bounds.
    assert_eq!(unsafe { prog.run(ctx, &mut stack, &mut env) }, Ok(expected));

    struct PktEnv(Vec<Region>);
    // SAFETY: regions over `pkt` and `ctx_words`, alive for the benchmark.
    unsafe impl Env for PktEnv {
        fn call_helper(
            &mut self,
            id: u32,
            _: [u64; 5],
            _: &mut HelperCtx<'_, Self>,
        ) -> Result<u64, HelperError> {
            Err(HelperError::Unknown(id))
        }
        fn regions(&self, out: &mut Vec<Region>) {
            out.extend_from_slice(&self.0);
        }
    }
    let mut pkt_env = PktEnv(vec![
        Region {
            start: ctx,
            len: 16,
            writable: false,
            kind: rxdp_interp::RegionKind::Context,
        },
        Region {
            start: data,
            len: pkt.len() as u64,
            writable: true,
            kind: rxdp_interp::RegionKind::Packet,
        },
    ]);
    assert_eq!(
        prog.run_checked(ctx, &mut stack, &mut pkt_env),
        Ok(expected)
    );

    let mut g = c.benchmark_group("parse_udp (36 insns)");
    g.bench_function("rxdp fast", |b| {
        // SAFETY: as above.
        b.iter(|| unsafe { prog.run(black_box(ctx), &mut stack, &mut env) })
    });
    g.bench_function("rxdp checked", |b| {
        b.iter(|| prog.run_checked(black_box(ctx), &mut stack, &mut pkt_env))
    });
    g.bench_function("rbpf 0.4", |b| {
        b.iter(|| vm.execute_program(black_box(&pkt), &ctx_bytes))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
