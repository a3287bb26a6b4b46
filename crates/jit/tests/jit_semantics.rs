//! The JIT against the checked interpreter on hand-written programs for
//! the tricky corners: division and modulo by zero, signed `MIN / -1`,
//! shifts by registers (r4, which lives in rcx, as count and as operand),
//! 32-bit zero extension, sign-extending moves and loads, byte swaps,
//! atomics (fetching into r0, cmpxchg), jumps of every condition, and
//! bpf-to-bpf calls. Every register pair is tried where registers matter,
//! since r0, r3 and r4 live in the registers x86 division and shifts use.

mod jit_support;

use jit_support::{agree, disasm, jit, lddw, r};
use rxdp_isa::{AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Size, Width};

const VALUES: [u64; 10] = [
    0,
    1,
    7,
    u64::MAX,
    -7i64 as u64,
    i64::MIN as u64,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0021,
    0x1234_5678_9abc_def0,
];

const IMMS: [i32; 10] = [0, 1, -1, 7, -7, i32::MIN, i32::MAX, 31, 33, 65];

/// The slot atomics and memory tests work on.
const SLOT: i16 = -200;
/// The slot jump tests mark.
const MARK: i16 = -208;

fn stx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Stx {
        size,
        dst: r(dst),
        src: r(src),
        off,
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

fn alu(width: Width, op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op,
        dst: r(dst),
        src,
    }
}

/// Sets r0..r9 from `init` and the slot, runs `body`, zeroes the
/// registers in `zero` (stack pointers differ between engines), and
/// writes r0..r9, the slot and the mark to memory.
fn harness(init: [u64; 10], slot: u64, body: &[Insn], zero: &[u8]) -> Vec<Insn> {
    let mut p = vec![stx(Size::DW, 10, 1, -8)];
    p.extend(lddw(2, slot));
    p.push(stx(Size::DW, 10, 2, SLOT));
    p.push(Insn::St {
        size: Size::DW,
        dst: r(10),
        off: MARK,
        imm: 0,
    });
    for (i, v) in init.iter().enumerate() {
        p.extend(lddw(i as u8, *v));
    }
    p.extend_from_slice(body);
    for &z in zero {
        p.push(alu(Width::W64, AluOp::Mov, z, Operand::Imm(0)));
    }
    for i in 0..10u8 {
        p.push(stx(Size::DW, 10, i, -16 - 8 * i as i16));
    }
    p.push(ldx(Size::DW, 1, 10, -8));
    for i in 0..10u8 {
        p.push(ldx(Size::DW, 2, 10, -16 - 8 * i as i16));
        p.push(stx(Size::DW, 1, 2, 8 * i as i16));
    }
    for (k, off) in [SLOT, MARK].into_iter().enumerate() {
        p.push(ldx(Size::DW, 2, 10, off));
        p.push(stx(Size::DW, 1, 2, 80 + 8 * k as i16));
    }
    p.push(Insn::Exit);
    p
}

fn init(dst: u8, a: u64, src: u8, b: u64) -> [u64; 10] {
    let mut v: [u64; 10] = std::array::from_fn(|i| 0x1111_1111_1111_1111 * (i as u64 + 1));
    v[dst as usize] = a;
    v[src as usize] = b;
    v
}

fn run(init: [u64; 10], slot: u64, body: &[Insn], zero: &[u8], what: &str) {
    agree(harness(init, slot, body, zero), &[0; 96], what);
}

/// Every ALU op at both widths, with a register operand: every register
/// pair with a few values, and every value pair on the pairs x86 makes
/// special (rax, rdx, rcx).
#[test]
fn alu_by_register_agrees() {
    for width in [Width::W32, Width::W64] {
        for op in AluOp::ALL {
            for dst in 0..10 {
                for src in 0..10 {
                    for (a, b) in [(VALUES[9], VALUES[3]), (VALUES[5], 0), (0xffff_fff7, 3)] {
                        let body = [alu(width, op, dst, Operand::Reg(r(src)))];
                        run(
                            init(dst, a, src, b),
                            0,
                            &body,
                            &[],
                            &format!("{width:?} {op:?} r{dst} r{src} {a:#x} {b:#x}"),
                        );
                    }
                }
            }
            for (dst, src) in [(0, 3), (3, 0), (4, 1), (1, 4), (4, 0), (2, 5)] {
                for a in VALUES {
                    for b in VALUES.iter().copied().chain([65, 33, 63, 32]) {
                        let body = [alu(width, op, dst, Operand::Reg(r(src)))];
                        run(
                            init(dst, a, src, b),
                            0,
                            &body,
                            &[],
                            &format!("{width:?} {op:?} r{dst} r{src} {a:#x} {b:#x}"),
                        );
                    }
                }
            }
        }
    }
}

/// Every ALU op at both widths with an immediate, on every register.
#[test]
fn alu_by_immediate_agrees() {
    for width in [Width::W32, Width::W64] {
        for op in AluOp::ALL {
            for dst in 0..10 {
                for a in VALUES {
                    for imm in IMMS {
                        let body = [alu(width, op, dst, Operand::Imm(imm))];
                        run(
                            init(dst, a, dst, a),
                            0,
                            &body,
                            &[],
                            &format!("{width:?} {op:?} r{dst} {imm} {a:#x}"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn unary_ops_agree() {
    for dst in 0..10 {
        for src in 0..10 {
            for a in VALUES.iter().copied().chain([0x80, 0xff7f, 0x8000_8080]) {
                let mut bodies = vec![];
                for width in [Width::W32, Width::W64] {
                    bodies.push(Insn::Neg { width, dst: r(dst) });
                    for from in [Size::B, Size::H, Size::W] {
                        if width == Width::W32 && from == Size::W {
                            continue;
                        }
                        bodies.push(Insn::MovSx {
                            width,
                            dst: r(dst),
                            src: r(src),
                            from,
                        });
                    }
                }
                for kind in [Endian::Le, Endian::Be, Endian::Swap] {
                    for bits in [16, 32, 64] {
                        bodies.push(Insn::End {
                            kind,
                            dst: r(dst),
                            bits,
                        });
                    }
                }
                for body in bodies {
                    run(
                        init(src, a ^ 0x5a5a, dst, a),
                        0,
                        &[body],
                        &[],
                        &format!("{body:?} {a:#x}"),
                    );
                }
            }
        }
    }
}

#[test]
fn jumps_agree() {
    let mark = Insn::St {
        size: Size::DW,
        dst: r(10),
        off: MARK,
        imm: 1,
    };
    for width in [Width::W32, Width::W64] {
        for cond in Cond::ALL {
            for (dst, src) in [(0, 3), (4, 1), (6, 9), (2, 2)] {
                for a in VALUES {
                    for b in VALUES {
                        let j = Insn::Jmp {
                            width,
                            cond,
                            dst: r(dst),
                            src: Operand::Reg(r(src)),
                            off: 1,
                        };
                        run(
                            init(dst, a, src, b),
                            0,
                            &[j, mark],
                            &[],
                            &format!("{j:?} {a:#x} {b:#x}"),
                        );
                    }
                    for imm in IMMS {
                        let j = Insn::Jmp {
                            width,
                            cond,
                            dst: r(dst),
                            src: Operand::Imm(imm),
                            off: 1,
                        };
                        run(
                            init(dst, a, dst, a),
                            0,
                            &[j, mark],
                            &[],
                            &format!("{j:?} {a:#x}"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn memory_accesses_agree() {
    for base in 0..10u8 {
        for val in (0..10u8).filter(|&v| v != base) {
            for size in [Size::B, Size::H, Size::W, Size::DW] {
                for signed in [false, true] {
                    if signed && size == Size::DW {
                        continue; // no such load
                    }
                    let body = [
                        alu(Width::W64, AluOp::Mov, base, Operand::Reg(r(10))),
                        alu(Width::W64, AluOp::Add, base, Operand::Imm(SLOT as i32)),
                        stx(size, base, val, 3),
                        Insn::St {
                            size,
                            dst: r(base),
                            off: 1,
                            imm: -0x7f7f_0081,
                        },
                        Insn::Ldx {
                            size,
                            signed,
                            dst: r(val),
                            src: r(base),
                            off: 2,
                        },
                    ];
                    run(
                        init(val, 0x8182_8384_8586_8788, val, 0x8182_8384_8586_8788),
                        0xf0e1_d2c3_b4a5_9687,
                        &body,
                        &[base],
                        &format!("{body:?}"),
                    );
                }
            }
        }
    }
}

#[test]
fn atomics_agree() {
    let ops = [
        (AtomicOp::Add, false),
        (AtomicOp::Or, false),
        (AtomicOp::And, false),
        (AtomicOp::Xor, false),
        (AtomicOp::Add, true),
        (AtomicOp::Or, true),
        (AtomicOp::And, true),
        (AtomicOp::Xor, true),
        (AtomicOp::Xchg, true),
        (AtomicOp::Cmpxchg, true),
    ];
    for (op, fetch) in ops {
        for size in [Size::W, Size::DW] {
            for base in 0..10u8 {
                for src in (0..10u8).filter(|&s| s != base) {
                    if op == AtomicOp::Cmpxchg && base == 0 {
                        continue; // r0 would be both the pointer and the expected value
                    }
                    for (slot, v, r0) in [
                        (
                            0xffff_ffff_8000_0001u64,
                            0x0f0f_0f0f_f0f0_f0f0u64,
                            0x1111u64,
                        ),
                        (0x1234, 0x9999_9999_0000_0001, 0xdead_beef_0000_1234),
                        (0x7777_7777_8888_8888, 5, 0x7777_7777_8888_8888),
                    ] {
                        for off in [0i16, 4] {
                            if size == Size::DW && off == 4 {
                                continue;
                            }
                            let body = [
                                alu(Width::W64, AluOp::Mov, base, Operand::Reg(r(10))),
                                alu(Width::W64, AluOp::Add, base, Operand::Imm(SLOT as i32)),
                                Insn::Atomic {
                                    size,
                                    op,
                                    fetch,
                                    dst: r(base),
                                    src: r(src),
                                    off,
                                },
                            ];
                            let mut regs = init(src, v, src, v);
                            if src != 0 {
                                regs[0] = r0;
                            }
                            run(
                                regs,
                                slot,
                                &body,
                                &[base],
                                &format!("{body:?} slot {slot:#x} v {v:#x} r0 {r0:#x}"),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A subprogram that writes every callee-saved register and its own
/// stack; the caller's r6..r9 and stack survive, r0 comes back.
#[test]
fn local_calls_agree() {
    let mut sub = vec![];
    for i in 6..10u8 {
        sub.push(alu(Width::W64, AluOp::Mov, i, Operand::Imm(-(i as i32))));
        sub.push(stx(Size::DW, 10, i, -8 * i as i16));
    }
    sub.push(alu(Width::W64, AluOp::Mov, 0, Operand::Reg(r(1))));
    sub.push(alu(Width::W64, AluOp::Add, 0, Operand::Reg(r(5))));
    sub.push(ldx(Size::DW, 2, 10, -64));
    sub.push(alu(Width::W64, AluOp::Add, 0, Operand::Reg(r(2))));
    sub.push(Insn::Exit);
    let call = Insn::Call(CallKind::Local(0));
    let main_body = [call];
    let mut p = harness(init(0, 1, 1, 2), 9, &main_body, &[]);
    // Point the call past the main program, at the subprogram.
    let pc = p.iter().position(|i| *i == call).unwrap();
    let off = (p.len() - pc - 1) as i32;
    p[pc] = Insn::Call(CallKind::Local(off));
    p.extend(sub);
    agree(p, &[0; 96], "local call");
}

#[test]
fn disassembly_decodes() {
    let body = [alu(Width::W64, AluOp::Sdiv, 3, Operand::Reg(r(4)))];
    let img = jit(harness(init(3, 9, 4, 2), 0, &body, &[]));
    let text = disasm(&img);
    println!("{text}");
    assert!(!text.contains("(bad)"), "{text}");
    assert!(text.contains("idiv"), "{text}");
    assert!(text.lines().count() > 20);
    assert!(img.code_size() == img.bytes().len() && img.code_size() > 0);
}
