//! Structural checks as data: (program, expected subprogram bounds or
//! error fragment and instruction).

mod common;

use common::*;
use rxdp_isa::{AluOp, AtomicOp, CallKind, Insn, Pseudo, Size};
use rxdp_verifier::{MAX_INSNS, Subprog, check_structure};

enum Expect {
    /// Accepted, with these subprograms as (start, end).
    Ok(&'static [(usize, usize)]),
    /// Rejected at this instruction with a message containing this.
    Err(Option<usize>, &'static str),
}

fn cases() -> Vec<(&'static str, Vec<Insn>, Expect)> {
    use Expect::{Err, Ok};
    vec![
        ("minimal", vec![mov_imm(0, 0), exit()], Ok(&[(0, 2)])),
        ("empty", vec![], Err(None, "no instructions")),
        (
            "forward and backward jumps",
            vec![
                mov_imm(0, 3),
                jeq_imm(0, 0, 2),
                alu_imm(AluOp::Sub, 0, 1),
                ja(-3),
                exit(),
            ],
            Ok(&[(0, 5)]),
        ),
        (
            "last insn may be an unconditional jump",
            vec![mov_imm(0, 0), exit(), ja(-2)],
            Ok(&[(0, 3)]),
        ),
        (
            "jump past the end",
            vec![jeq_imm(1, 0, 5), exit()],
            Err(Some(0), "jump out of range from insn 0 to 6"),
        ),
        (
            "jump before the start",
            vec![mov_imm(0, 0), ja(-3), exit()],
            Err(Some(1), "jump out of range from insn 1 to -1"),
        ),
        (
            "jump over a lddw",
            prog([
                vec![jeq_imm(1, 0, 2)],
                lddw(0, Pseudo::Imm64, 1).to_vec(),
                vec![exit()],
            ]),
            Ok(&[(0, 4)]),
        ),
        (
            "jump into the middle of a lddw",
            prog([
                vec![jeq_imm(1, 0, 1)],
                lddw(0, Pseudo::Imm64, 1).to_vec(),
                vec![exit()],
            ]),
            Err(Some(0), "jump into the middle of ldimm64 insn 1"),
        ),
        (
            "lone second half of lddw",
            vec![mov_imm(0, 0), Insn::LdImm64Hi, exit()],
            Err(Some(1), "second half of lddw without its first half"),
        ),
        (
            "lddw without its second half",
            vec![lddw(0, Pseudo::Imm64, 1)[0], exit()],
            Err(Some(0), "missing its second half"),
        ),
        (
            "no exit at the end",
            vec![mov_imm(0, 0), mov_imm(0, 1)],
            Err(Some(1), "last insn is not an exit or jmp"),
        ),
        (
            "lddw at the end",
            lddw(0, Pseudo::Imm64, 1).to_vec(),
            Err(Some(1), "last insn is not an exit or jmp"),
        ),
        (
            "subprogram",
            vec![call_local(2), mov_imm(0, 0), exit(), mov_imm(0, 1), exit()],
            Ok(&[(0, 3), (3, 5)]),
        ),
        (
            "two calls of one subprogram and a nested call",
            vec![
                call_local(3),
                call_local(2),
                mov_imm(0, 0),
                exit(),
                call_local(1),
                exit(),
                mov_imm(0, 2),
                exit(),
            ],
            Ok(&[(0, 4), (4, 6), (6, 8)]),
        ),
        (
            "main program falls through into a subprogram",
            vec![call_local(1), mov_imm(0, 0), mov_imm(0, 1), exit()],
            Err(Some(1), "last insn is not an exit or jmp"),
        ),
        (
            "jump from main into a subprogram",
            vec![call_local(2), ja(2), exit(), mov_imm(0, 0), exit()],
            Err(Some(1), "jump out of range from insn 1 to 4"),
        ),
        (
            "jump from a subprogram back into main",
            vec![call_local(1), exit(), jeq_imm(1, 0, -2), exit()],
            Err(Some(2), "jump out of range from insn 2 to 1"),
        ),
        (
            "call past the end",
            vec![call_local(5), exit()],
            Err(Some(0), "call to invalid destination"),
        ),
        (
            "call before the start",
            vec![mov_imm(0, 0), call_local(-3), exit()],
            Err(Some(1), "call to invalid destination"),
        ),
        (
            "call into the middle of a lddw",
            prog([
                vec![call_local(2), exit()],
                lddw(0, Pseudo::Imm64, 1).to_vec(),
                vec![exit()],
            ]),
            Err(Some(0), "jump into the middle of ldimm64 insn 2"),
        ),
        (
            "lddw of a function address starts a subprogram",
            prog([
                lddw(2, Pseudo::Func, 2).to_vec(),
                vec![exit(), mov_imm(0, 0), exit()],
            ]),
            Ok(&[(0, 3), (3, 5)]),
        ),
        (
            "write to r10",
            vec![mov_imm(10, 0), exit()],
            Err(Some(0), "frame pointer is read only"),
        ),
        (
            "load into r10",
            vec![ldx(Size::DW, 10, 1, 0), exit()],
            Err(Some(0), "frame pointer is read only"),
        ),
        (
            "atomic fetch into r10",
            vec![
                Insn::Atomic {
                    size: Size::DW,
                    op: AtomicOp::Add,
                    fetch: true,
                    dst: r(1),
                    src: r(10),
                    off: 0,
                },
                exit(),
            ],
            Err(Some(0), "frame pointer is read only"),
        ),
        (
            "r10 may be read and stored through",
            vec![
                mov(2, 10),
                st(Size::DW, 10, -8, 0),
                stx(Size::DW, 10, -16, 10),
                exit(),
            ],
            Ok(&[(0, 4)]),
        ),
        (
            "kfunc call",
            vec![mov_imm(0, 0), Insn::Call(CallKind::Kfunc(1234)), exit()],
            Err(
                Some(1),
                "kernel function (kfunc btf_id 1234) is not supported",
            ),
        ),
    ]
}

#[test]
fn structural_rules() {
    for (name, insns, expect) in cases() {
        let got = check_structure(&insns);
        match expect {
            Expect::Ok(bounds) => {
                let want: Vec<Subprog> = bounds
                    .iter()
                    .map(|&(start, end)| Subprog { start, end })
                    .collect();
                match got {
                    Result::Ok(s) => assert_eq!(s.subprogs, want, "{name}"),
                    Result::Err(e) => panic!("{name}: rejected: {e}"),
                }
            }
            Expect::Err(pc, fragment) => match got {
                Result::Ok(s) => panic!("{name}: accepted as {s:?}"),
                Result::Err(e) => {
                    assert_eq!(e.pc, pc, "{name}: {e}");
                    assert!(e.msg.contains(fragment), "{name}: {e}");
                }
            },
        }
    }
}

#[test]
fn size_limit() {
    let mut insns = vec![mov_imm(0, 0); MAX_INSNS - 1];
    insns.push(exit());
    assert!(check_structure(&insns).is_ok());
    insns.insert(0, mov_imm(0, 0));
    let e = check_structure(&insns).unwrap_err();
    assert!(e.msg.contains("too large"), "{e}");
}

#[test]
fn display_names_the_instruction() {
    let e = check_structure(&[ja(5), exit()]).unwrap_err();
    assert_eq!(e.to_string(), "insn 0: jump out of range from insn 0 to 6");
}

#[test]
fn subprog_lookup() {
    let insns = vec![call_local(2), mov_imm(0, 0), exit(), mov_imm(0, 1), exit()];
    let s = check_structure(&insns).unwrap();
    assert_eq!(s.subprog_of(0), 0);
    assert_eq!(s.subprog_of(2), 0);
    assert_eq!(s.subprog_of(3), 1);
    assert_eq!(s.subprog_at(3), Some(1));
    assert_eq!(s.subprog_at(1), None);
}
