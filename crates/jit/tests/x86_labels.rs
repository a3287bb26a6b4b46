//! Labels, branch fixups and relocations of the x86 encoder: forward and
//! backward, short and near, jump relaxation to a fixed point, rel32 calls
//! to absolute addresses resolved at the image's base.

mod x86_support;

use iced_x86::Mnemonic;
use rxdp_jit::x86::{
    Asm, Cond, JumpPlan, JumpSize, Reg, Size, X86Error, encode_call_rel32, encode_jmp_rel32,
};
use x86_support::decode_all;

/// Pads with `n` one-byte instructions (int3), so distances are exact.
fn pad(a: &mut Asm, n: usize) {
    for _ in 0..n {
        a.int3();
    }
}

#[test]
fn forward_and_backward_branches_in_both_sizes_reach_their_labels() {
    for size in [JumpSize::Short, JumpSize::Near] {
        for cond in Cond::ALL {
            let mut a = Asm::new();
            let back = a.new_label();
            let fwd = a.new_label();
            a.bind(back);
            pad(&mut a, 3);
            a.jcc(cond, fwd, size);
            a.jmp(back, size);
            a.jcc(cond, back, size);
            a.jmp(fwd, size);
            pad(&mut a, 4);
            let fwd_at = a.len();
            a.bind(fwd);
            a.ret();
            let base = 0x7000_0000;
            let code = a.finish(base).unwrap();
            let ins = decode_all(&code, base);
            let branches: Vec<_> = ins
                .iter()
                .filter(|i| i.mnemonic() != Mnemonic::Int3)
                .collect();
            let targets: Vec<u64> = branches[..4]
                .iter()
                .map(|i| i.near_branch_target())
                .collect();
            let fwd_addr = base + fwd_at as u64;
            assert_eq!(targets, [fwd_addr, base, base, fwd_addr]);
            let (jcc_len, jmp_len) = match size {
                JumpSize::Short => (2, 2),
                JumpSize::Near => (6, 5),
            };
            assert_eq!(branches[0].len(), jcc_len);
            assert_eq!(branches[1].len(), jmp_len);
            assert_eq!(branches[0].mnemonic(), jcc_mnemonic(cond));
        }
    }
}

/// The mnemonic of `jcc` on `cond`, from the SDM's Jcc table.
fn jcc_mnemonic(cond: Cond) -> Mnemonic {
    use Mnemonic as M;
    match cond {
        Cond::O => M::Jo,
        Cond::No => M::Jno,
        Cond::B => M::Jb,
        Cond::Ae => M::Jae,
        Cond::E => M::Je,
        Cond::Ne => M::Jne,
        Cond::Be => M::Jbe,
        Cond::A => M::Ja,
        Cond::S => M::Js,
        Cond::Ns => M::Jns,
        Cond::P => M::Jp,
        Cond::Np => M::Jnp,
        Cond::L => M::Jl,
        Cond::Ge => M::Jge,
        Cond::Le => M::Jle,
        Cond::G => M::Jg,
    }
}

#[test]
fn condition_codes_are_the_hardware_numbers_and_negate_pairs() {
    for cond in Cond::ALL {
        let mut a = Asm::new();
        let l = a.new_label();
        a.bind(l);
        a.jcc(cond, l, JumpSize::Short);
        let code = a.finish(0).unwrap();
        assert_eq!(code, [0x70 + cond.code(), 0xfe]);
        assert_eq!(decode_all(&code, 0)[0].mnemonic(), jcc_mnemonic(cond));
        assert_eq!(cond.negate().negate(), cond);
    }
    let pairs = [
        (Cond::O, Cond::No),
        (Cond::B, Cond::Ae),
        (Cond::E, Cond::Ne),
        (Cond::Be, Cond::A),
        (Cond::S, Cond::Ns),
        (Cond::P, Cond::Np),
        (Cond::L, Cond::Ge),
        (Cond::Le, Cond::G),
    ];
    for (c, n) in pairs {
        assert_eq!(c.negate(), n);
        assert_eq!(n.negate(), c);
    }
}

#[test]
fn short_branches_reach_exactly_minus_128_and_plus_127() {
    // Backward: disp = target - end; -128 fits, -129 does not.
    for (gap, fits) in [(126, true), (127, false)] {
        let mut a = Asm::new();
        let l = a.new_label();
        a.bind(l);
        pad(&mut a, gap);
        a.jmp(l, JumpSize::Short);
        let r = a.finish(0);
        assert_eq!(r.is_ok(), fits, "gap {gap}: {r:?}");
        if let Err(e) = r {
            assert_eq!(
                e,
                X86Error::ShortBranchOutOfRange {
                    site: gap,
                    disp: -129
                }
            );
        }
    }
    // Forward: 127 fits, 128 does not.
    for (gap, fits) in [(127, true), (128, false)] {
        let mut a = Asm::new();
        let l = a.new_label();
        a.jcc(Cond::E, l, JumpSize::Short);
        pad(&mut a, gap);
        a.bind(l);
        assert_eq!(a.finish(0).is_ok(), fits, "gap {gap}");
    }
}

/// A chain of forward jumps each just beyond rel8 reach while its
/// successors are near, within reach once they shrink: relaxation must
/// iterate to find it.
#[test]
fn relaxation_shrinks_jumps_to_a_fixed_point() {
    const N: usize = 9;
    // Emits: jump i to the end, then 12 bytes of padding, N times. All
    // near, only the last 4 reach; each pass lets one or two more shrink.
    let emit = |plan: JumpPlan| {
        let mut a = Asm::with_plan(plan);
        let end = a.new_label();
        for _ in 0..N {
            a.jcc_relaxed(Cond::Ne, end);
            pad(&mut a, 12);
        }
        a.bind(end);
        a.ret();
        a
    };
    let mut plan = JumpPlan::default();
    let mut passes = 0;
    let a = loop {
        let a = emit(plan.clone());
        let next = a.relax().unwrap();
        passes += 1;
        if next == plan {
            break a;
        }
        plan = next;
    };
    // All near: 9 * 18 = 162 bytes. Fixed point: all short: 9 * 14 + 1.
    assert_eq!(passes, 4, "three shrinking passes and one that confirms");
    assert_eq!(plan.short_count(), N);
    assert_eq!(a.len(), N * 14 + 1);
    let code = a.finish(0x1000).unwrap();
    let ins = decode_all(&code, 0x1000);
    let end = 0x1000 + (N * 14) as u64;
    for j in ins.iter().filter(|i| i.mnemonic() == Mnemonic::Jne) {
        assert_eq!(j.len(), 2);
        assert_eq!(j.near_branch_target(), end);
    }
}

#[test]
fn relaxation_keeps_jumps_near_that_never_fit() {
    let emit = |plan: JumpPlan| {
        let mut a = Asm::with_plan(plan);
        let far = a.new_label();
        let near = a.new_label();
        a.jmp_relaxed(far);
        a.jmp_relaxed(near);
        a.bind(near);
        pad(&mut a, 200);
        a.bind(far);
        a
    };
    let plan = emit(JumpPlan::default()).relax().unwrap();
    assert!(!plan.is_short(0) && plan.is_short(1));
    assert_eq!(emit(plan.clone()).relax().unwrap(), plan);
    let code = emit(plan).finish(0).unwrap();
    assert_eq!(&code[..7], [0xe9, 202, 0, 0, 0, 0xeb, 0]);
}

#[test]
fn calls_to_labels_and_absolute_targets() {
    let base = 0x5555_0000_0000u64;
    let helper = base - 0x1234_5678;
    let mut a = Asm::new();
    let sub = a.new_label();
    a.call_abs(helper);
    a.call(sub);
    a.jmp_abs(base + 0x7fff_0000);
    a.ret();
    a.bind(sub);
    a.mov_rr(Size::Q, Reg::Rax, Reg::Rdi);
    a.ret();
    let code = a.finish(base).unwrap();
    let ins = decode_all(&code, base);
    assert_eq!(ins[0].mnemonic(), Mnemonic::Call);
    assert_eq!(ins[0].near_branch_target(), helper);
    assert_eq!(ins[1].near_branch_target(), base + 16);
    assert_eq!(ins[2].mnemonic(), Mnemonic::Jmp);
    assert_eq!(ins[2].near_branch_target(), base + 0x7fff_0000);
}

#[test]
fn absolute_targets_beyond_2_gib_are_errors() {
    let base = 0x7f00_0000_0000u64;
    // The displacement counts from the end of the 5-byte call.
    let reach_fwd = base + 5 + i32::MAX as u64;
    let reach_back = base + 5 - (1u64 << 31);
    for (target, ok) in [
        (reach_fwd, true),
        (reach_fwd + 1, false),
        (reach_back, true),
        (reach_back - 1, false),
        (0, false),
    ] {
        let mut a = Asm::new();
        a.call_abs(target);
        let r = a.finish(base);
        assert_eq!(r.is_ok(), ok, "{target:#x}: {r:?}");
        if let Ok(code) = r {
            assert_eq!(decode_all(&code, base)[0].near_branch_target(), target);
        } else {
            assert_eq!(
                r,
                Err(X86Error::Rel32OutOfRange {
                    site: 0,
                    target,
                    base
                })
            );
        }
    }
}

#[test]
fn unbound_and_rebound_labels_are_errors() {
    let mut a = Asm::new();
    pad(&mut a, 2);
    let l = a.new_label();
    a.jmp_relaxed(l);
    assert_eq!(a.relax(), Err(X86Error::UnboundLabel { site: 2, label: l }));
    assert_eq!(
        a.finish(0),
        Err(X86Error::UnboundLabel { site: 2, label: l })
    );

    let mut a = Asm::new();
    let l = a.new_label();
    a.bind(l);
    a.ret();
    a.bind(l);
    assert_eq!(a.label_offset(l), Some(0));
    assert_eq!(
        a.finish(0),
        Err(X86Error::LabelRebound {
            label: l,
            offset: 1
        })
    );
}

#[test]
fn patch_site_encodings() {
    let site = 0x4000_1000u64;
    let target = 0x4000_0000u64;
    let jmp = encode_jmp_rel32(site, target).unwrap();
    let call = encode_call_rel32(site, target).unwrap();
    for (bytes, m) in [(jmp, Mnemonic::Jmp), (call, Mnemonic::Call)] {
        let ins = decode_all(&bytes, site);
        assert_eq!(ins.len(), 1);
        assert_eq!(ins[0].mnemonic(), m);
        assert_eq!(ins[0].near_branch_target(), target);
    }
    assert!(encode_jmp_rel32(site, site + (3 << 30)).is_err());
}
