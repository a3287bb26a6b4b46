//! The fixup layer as data: (program, program type, expected rewrites or
//! error fragment and instruction).
//!
//! Context accesses use the XDP layout of `common::XdpTest`: `xdp_md`
//! fields at 0, 4, 8... become native loads of `u64` data, data_end,
//! data_meta at 0, 8, 16 and `u32` indices at 24, 28, 32.

mod common;

use common::*;
use rxdp_isa::{AluOp, Cond, Insn, Operand, Pseudo, Size, Width};
use rxdp_verifier::{MapResolver, NoMaps, ProgramType, RawMemory, fixup, verify};

enum Expect {
    /// Accepted; these slots are rewritten to these instructions and every
    /// other slot is unchanged.
    Rewrites(Vec<(usize, Insn)>),
    /// Rejected at this instruction with a message containing this.
    Err(usize, &'static str),
}

/// The native load `dst = *(size *)(src + off)` a context read becomes.
fn native(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    ldx(size, dst, src, off)
}

fn ctx_cases() -> Vec<(&'static str, Vec<Insn>, Expect)> {
    use Expect::{Err, Rewrites};
    vec![
        (
            "data through r1",
            vec![ldx(Size::W, 2, 1, 0), mov_imm(0, 2), exit()],
            Rewrites(vec![(0, native(Size::DW, 2, 1, 0))]),
        ),
        (
            "every field",
            vec![
                ldx(Size::W, 2, 1, 4),
                ldx(Size::W, 3, 1, 8),
                ldx(Size::W, 4, 1, 12),
                ldx(Size::W, 5, 1, 16),
                ldx(Size::W, 0, 1, 20),
                exit(),
            ],
            Rewrites(vec![
                (0, native(Size::DW, 2, 1, 8)),
                (1, native(Size::DW, 3, 1, 16)),
                (2, native(Size::W, 4, 1, 24)),
                (3, native(Size::W, 5, 1, 28)),
                (4, native(Size::W, 0, 1, 32)),
            ]),
        ),
        (
            "copied to r6",
            vec![mov(6, 1), ldx(Size::W, 2, 6, 0), mov_imm(0, 2), exit()],
            Rewrites(vec![(1, native(Size::DW, 2, 6, 0))]),
        ),
        (
            "spilled, clobbered, filled, loaded",
            vec![
                stx(Size::DW, 10, -8, 1),
                mov_imm(1, 0),
                ldx(Size::DW, 3, 10, -8),
                ldx(Size::W, 2, 3, 4),
                mov_imm(0, 2),
                exit(),
            ],
            Rewrites(vec![(3, native(Size::DW, 2, 3, 8))]),
        ),
        (
            "spilled through a derived stack pointer",
            vec![
                mov(2, 10),
                alu_imm(AluOp::Add, 2, -16),
                stx(Size::DW, 2, 0, 1),
                ldx(Size::DW, 3, 10, -16),
                ldx(Size::W, 0, 3, 0),
                exit(),
            ],
            Rewrites(vec![(4, native(Size::DW, 0, 3, 0))]),
        ),
        (
            "ctx on one branch, stack on the other",
            vec![
                jeq_imm(2, 0, 2),
                mov(3, 1),
                ja(1),
                mov(3, 10),
                ldx(Size::W, 0, 3, -8),
                exit(),
            ],
            Err(4, "same insn cannot be used with different pointers"),
        ),
        (
            "spilled ctx overwritten on one path",
            vec![
                stx(Size::DW, 10, -8, 1),
                jeq_imm(2, 0, 1),
                st(Size::DW, 10, -8, 0),
                ldx(Size::DW, 3, 10, -8),
                ldx(Size::W, 0, 3, 0),
                exit(),
            ],
            Err(4, "same insn cannot be used with different pointers"),
        ),
        (
            "spilled ctx partly overwritten is no longer a pointer",
            vec![
                stx(Size::DW, 10, -8, 1),
                st(Size::W, 10, -4, 0),
                ldx(Size::DW, 3, 10, -8),
                ldx(Size::W, 0, 3, 0),
                exit(),
            ],
            Rewrites(vec![]),
        ),
        (
            "ctx + 4 is not data_end: a moved ctx pointer is refused",
            vec![alu_imm(AluOp::Add, 1, 4), ldx(Size::W, 0, 1, 0), exit()],
            Err(1, "dereference of modified ctx ptr R1 off=4 disallowed"),
        ),
        (
            "ctx moved and moved back is the context again",
            vec![
                alu_imm(AluOp::Add, 1, 8),
                alu_imm(AluOp::Sub, 1, 8),
                ldx(Size::W, 0, 1, 12),
                exit(),
            ],
            Rewrites(vec![(2, native(Size::W, 0, 1, 24))]),
        ),
        (
            "store to ctx",
            vec![stx(Size::W, 1, 0, 2), mov_imm(0, 2), exit()],
            Err(0, "invalid bpf_context access off=0 size=4"),
        ),
        (
            "store immediate to ctx",
            vec![st(Size::W, 1, 12, 7), mov_imm(0, 2), exit()],
            Err(0, "invalid bpf_context access off=12 size=4"),
        ),
        (
            "atomic on ctx",
            vec![
                mov_imm(2, 1),
                atomic_add(Size::W, 1, 16, 2),
                mov_imm(0, 2),
                exit(),
            ],
            Err(1, "invalid bpf_context access off=16 size=4"),
        ),
        (
            "misaligned field",
            vec![ldx(Size::W, 0, 1, 2), exit()],
            Err(0, "invalid bpf_context access off=2 size=4"),
        ),
        (
            "8-byte read",
            vec![ldx(Size::DW, 0, 1, 0), exit()],
            Err(0, "invalid bpf_context access off=0 size=8"),
        ),
        (
            "past the end",
            vec![ldx(Size::W, 0, 1, 24), exit()],
            Err(0, "invalid bpf_context access off=24 size=4"),
        ),
        (
            "sign-extending read",
            vec![
                Insn::Ldx {
                    size: Size::W,
                    signed: true,
                    dst: r(0),
                    src: r(1),
                    off: 0,
                },
                exit(),
            ],
            Err(0, "sign-extending ctx access"),
        ),
        (
            "ctx multiplied",
            vec![alu_imm(AluOp::Mul, 1, 2), ldx(Size::W, 0, 1, 0), exit()],
            Err(1, "dereference of modified ctx ptr R1 off=0 disallowed"),
        ),
        (
            "ctx through a 32-bit move",
            vec![
                Insn::Alu {
                    width: Width::W32,
                    op: AluOp::Mov,
                    dst: r(2),
                    src: Operand::Reg(r(1)),
                },
                ldx(Size::W, 0, 2, 4),
                exit(),
            ],
            Err(1, "dereference of modified ctx ptr R2 off=4 disallowed"),
        ),
        (
            "ctx plus a register",
            vec![
                mov_imm(2, 4),
                alu(AluOp::Add, 1, 2),
                ldx(Size::W, 0, 1, 0),
                exit(),
            ],
            Err(2, "variable ctx access"),
        ),
        (
            "ctx moved on one path only",
            vec![
                jeq_imm(2, 0, 1),
                alu_imm(AluOp::Add, 1, 4),
                ldx(Size::W, 0, 1, 0),
                exit(),
            ],
            Err(2, "variable ctx access"),
        ),
        (
            "loop reading ctx",
            vec![
                mov_imm(2, 10),
                ldx(Size::W, 0, 1, 0),
                alu_imm(AluOp::Sub, 2, 1),
                jmp_imm(Cond::Ne, 2, 0, -3),
                exit(),
            ],
            Rewrites(vec![(1, native(Size::DW, 0, 1, 0))]),
        ),
        (
            "loop moving ctx",
            vec![
                mov_imm(2, 2),
                ldx(Size::W, 0, 1, 0),
                alu_imm(AluOp::Add, 1, 4),
                alu_imm(AluOp::Sub, 2, 1),
                jmp_imm(Cond::Ne, 2, 0, -4),
                exit(),
            ],
            Err(1, "variable ctx access"),
        ),
        (
            "r6 survives a helper call, r1 does not",
            vec![
                mov(6, 1),
                call_helper(5),
                ldx(Size::W, 0, 6, 4),
                ldx(Size::W, 0, 1, 4),
                exit(),
            ],
            Rewrites(vec![(2, native(Size::DW, 0, 6, 8))]),
        ),
        (
            "ctx stored to non-stack memory",
            vec![mov_imm(2, 0), stx(Size::DW, 2, 0, 1), mov_imm(0, 2), exit()],
            Err(1, "storing the context pointer R1 to non-stack memory"),
        ),
        (
            "ctx as atomic operand",
            vec![atomic_add(Size::DW, 10, -8, 1), mov_imm(0, 2), exit()],
            Err(0, "atomic operation with the context pointer R1"),
        ),
        (
            "subprogram receives ctx in r1",
            vec![
                mov(6, 1),
                call_local(2),
                ldx(Size::W, 0, 6, 0),
                exit(),
                mov_imm(0, 0),
                ldx(Size::W, 0, 1, 4),
                exit(),
            ],
            Rewrites(vec![
                (2, native(Size::DW, 0, 6, 0)),
                (5, native(Size::DW, 0, 1, 8)),
            ]),
        ),
        (
            "subprogram receives ctx in r2 and returns it",
            vec![
                mov(2, 1),
                mov_imm(1, 0),
                call_local(2),
                ldx(Size::W, 0, 0, 4),
                exit(),
                ldx(Size::W, 3, 2, 12),
                mov(0, 2),
                exit(),
            ],
            Rewrites(vec![
                (3, native(Size::DW, 0, 0, 8)),
                (5, native(Size::W, 3, 2, 24)),
            ]),
        ),
        (
            "subprogram called with ctx and with a stack pointer",
            vec![
                call_local(4),
                mov(1, 10),
                call_local(2),
                mov_imm(0, 2),
                exit(),
                ldx(Size::W, 0, 1, 0),
                exit(),
            ],
            Err(5, "same insn cannot be used with different pointers"),
        ),
        (
            "callee leaves the caller's spilled ctx alone",
            vec![
                stx(Size::DW, 10, -8, 1),
                mov(2, 10),
                alu_imm(AluOp::Add, 2, -8),
                call_local(3),
                ldx(Size::DW, 3, 10, -8),
                ldx(Size::W, 0, 3, 0),
                exit(),
                mov_imm(0, 0),
                exit(),
            ],
            Rewrites(vec![(5, native(Size::DW, 0, 3, 0))]),
        ),
        (
            "callee may overwrite the caller's spilled ctx",
            vec![
                stx(Size::DW, 10, -8, 1),
                mov(2, 10),
                alu_imm(AluOp::Add, 2, -8),
                call_local(3),
                ldx(Size::DW, 3, 10, -8),
                ldx(Size::W, 0, 3, 0),
                exit(),
                st(Size::DW, 2, 0, 0),
                exit(),
            ],
            Err(5, "same insn cannot be used with different pointers"),
        ),
        (
            "callee stores ctx into the caller's stack",
            vec![
                mov(2, 10),
                alu_imm(AluOp::Add, 2, -8),
                call_local(2),
                ldx(Size::DW, 3, 10, -8),
                exit(),
                stx(Size::DW, 2, 0, 1),
                exit(),
            ],
            Err(5, "may point into a caller's stack"),
        ),
        (
            // The kernel accepts this; rxdp's analysis cannot see the
            // caller's slot from the callee and refuses rather than guess.
            "callee reads the caller's spilled ctx",
            vec![
                stx(Size::DW, 10, -8, 1),
                mov(1, 10),
                alu_imm(AluOp::Add, 1, -8),
                call_local(1),
                exit(),
                ldx(Size::DW, 3, 1, 0),
                ldx(Size::W, 0, 3, 0),
                exit(),
            ],
            Err(6, "same insn cannot be used with different pointers"),
        ),
        (
            "unreachable code is left alone",
            vec![mov_imm(0, 0), exit(), ldx(Size::W, 0, 1, 0), exit()],
            Rewrites(vec![]),
        ),
    ]
}

fn check_case(
    name: &str,
    insns: &[Insn],
    prog_type: &dyn ProgramType,
    maps: &dyn MapResolver,
    expect: Expect,
) {
    let got = fixup(insns, prog_type, maps);
    match expect {
        Expect::Rewrites(rewrites) => {
            let out = got.unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
            let mut want = insns.to_vec();
            for (pc, insn) in rewrites {
                want[pc] = insn;
            }
            assert_eq!(out, want, "{name}");
        }
        Expect::Err(pc, fragment) => match got {
            Ok(out) => panic!("{name}: accepted as {out:?}"),
            Err(e) => {
                assert_eq!(e.pc, Some(pc), "{name}: {e}");
                assert!(e.msg.contains(fragment), "{name}: {e}");
            }
        },
    }
}

#[test]
fn context_accesses() {
    for (name, insns, expect) in ctx_cases() {
        check_case(name, &insns, &XdpTest, &NoMaps, expect);
    }
}

#[test]
fn raw_memory_programs_are_not_rewritten() {
    let insns = vec![
        alu_imm(AluOp::Mul, 1, 1),
        ldx(Size::W, 0, 1, 0),
        stx(Size::W, 1, 4, 0),
        exit(),
    ];
    assert_eq!(fixup(&insns, &RawMemory, &NoMaps).unwrap(), insns);
}

/// Maps 0 and 1 exist; map 1 has a 64-byte value with direct access.
struct TestMaps;

impl MapResolver for TestMaps {
    fn resolve(&self, index: u32, value_off: Option<u32>) -> Result<u64, String> {
        match (index, value_off) {
            (0 | 1, None) => Ok(0x1000 + index as u64 * 0x100),
            (1, Some(off)) if off < 64 => Ok(0x9000 + off as u64),
            (1, Some(off)) => Err(format!(
                "invalid access to map value pointer, value_size=64 off={off}"
            )),
            (0, Some(_)) => Err("map 0 has no direct value access".to_string()),
            _ => Err(format!("fd {index} is not pointing to valid bpf_map")),
        }
    }

    fn map_info(&self, _index: u32) -> Option<rxdp_verifier::MapInfo> {
        None
    }
}

fn with_lddw(pseudo: Pseudo, imm: u64) -> Vec<Insn> {
    prog([
        vec![mov_imm(0, 0)],
        lddw(1, pseudo, imm).to_vec(),
        vec![exit()],
    ])
}

fn imm64(dst: u8, imm: u64) -> Insn {
    lddw(dst, Pseudo::Imm64, imm)[0]
}

#[test]
fn map_references() {
    use Expect::{Err, Rewrites};
    let cases = vec![
        (
            "map by index",
            with_lddw(Pseudo::MapIdx, 1),
            Rewrites(vec![(1, imm64(1, 0x1100))]),
        ),
        (
            "map by fd",
            with_lddw(Pseudo::MapFd, 0),
            Rewrites(vec![(1, imm64(1, 0x1000))]),
        ),
        (
            "map value by index",
            with_lddw(Pseudo::MapIdxValue, 1 | 16 << 32),
            Rewrites(vec![(1, imm64(1, 0x9010))]),
        ),
        (
            "map value by fd",
            with_lddw(Pseudo::MapValue, 1 | 8 << 32),
            Rewrites(vec![(1, imm64(1, 0x9008))]),
        ),
        (
            "plain immediate",
            with_lddw(Pseudo::Imm64, 0x1234_5678_9abc),
            Rewrites(vec![]),
        ),
        (
            "unknown map",
            with_lddw(Pseudo::MapIdx, 7),
            Err(1, "fd 7 is not pointing to valid bpf_map"),
        ),
        (
            "value offset out of range",
            with_lddw(Pseudo::MapIdxValue, 1 | 64 << 32),
            Err(1, "value_size=64 off=64"),
        ),
        (
            "no direct value access",
            with_lddw(Pseudo::MapValue, 0),
            Err(1, "no direct value access"),
        ),
        (
            "map reference with a second immediate",
            with_lddw(Pseudo::MapFd, 1 << 32),
            Err(1, "unrecognized bpf_ld_imm64 insn"),
        ),
        (
            "ksym",
            with_lddw(Pseudo::BtfId, 42),
            Err(1, "btf_id 42 (ksym) is not supported"),
        ),
    ];
    for (name, insns, expect) in cases {
        check_case(name, &insns, &XdpTest, &TestMaps, expect);
    }
}

#[test]
fn function_address_is_left_for_the_engines() {
    let insns = prog([
        lddw(2, Pseudo::Func, 2).to_vec(),
        vec![exit(), mov_imm(0, 0), exit()],
    ]);
    assert_eq!(fixup(&insns, &XdpTest, &NoMaps).unwrap(), insns);
}

#[test]
fn function_address_must_name_a_subprogram() {
    let insns = prog([
        lddw(2, Pseudo::Func, 9).to_vec(),
        vec![exit(), mov_imm(0, 0), exit()],
    ]);
    assert!(fixup(&insns, &XdpTest, &NoMaps).is_err());
}

#[test]
fn structural_errors_come_first() {
    let e = fixup(&[ldx(Size::W, 0, 1, 0)], &XdpTest, &NoMaps).unwrap_err();
    assert!(e.msg.contains("last insn is not an exit or jmp"), "{e}");
}

#[test]
fn verify_reports_structure_and_ctx_accesses() {
    let insns = vec![
        mov(6, 1),
        call_local(2),
        ldx(Size::W, 0, 6, 0),
        exit(),
        ldx(Size::W, 0, 1, 4),
        exit(),
    ];
    let v = verify(&insns, &XdpTest, &NoMaps, &Default::default()).unwrap();
    assert_eq!(v.structure.subprogs.len(), 2);
    let sites: Vec<(usize, i32)> = v.ctx_accesses.iter().map(|s| (s.pc, s.off)).collect();
    assert_eq!(sites, vec![(2, 0), (4, 4)]);
    assert_eq!(v.insns[4], native(Size::DW, 0, 1, 8));
}
