//! The scalar domain against concrete execution.
//!
//! Soundness: random abstract values (built from constants, ranges,
//! tnums, ALU results and refinements) paired with a concrete member; the
//! concrete result of every operation must be a member of the abstract
//! result. Exhaustive checks on small ranges. Precision: what the kernel
//! knows after common idioms, with the expected bounds worked out by hand.

use proptest::prelude::*;
use rxdp_isa::{AluOp, Cond, Endian, Size, Width};
use rxdp_verifier::scalar::Scalar;
use rxdp_verifier::tnum::Tnum;

use AluOp::*;
use Width::{W32, W64};

// ---- the concrete semantics (RFC 9669), written independently ----

fn concrete_alu(op: AluOp, width: Width, x: u64, y: u64) -> u64 {
    let bits = if width == W64 { 64 } else { 32 };
    let m = if bits == 64 { u64::MAX } else { 0xffff_ffff };
    let (x, y) = (x & m, y & m);
    let signed = |v: u64| {
        if bits == 64 {
            v as i64
        } else {
            v as u32 as i32 as i64
        }
    };
    let r = match op {
        Add => x.wrapping_add(y),
        Sub => x.wrapping_sub(y),
        Mul => x.wrapping_mul(y),
        // By zero: 0 for division, the dividend for modulo.
        Div => x.checked_div(y).unwrap_or(0),
        Mod => x.checked_rem(y).unwrap_or(x),
        Sdiv => {
            if y == 0 {
                0
            } else {
                // i64::MIN / -1 overflows to itself, as does i32::MIN / -1.
                (i128::from(signed(x)) / i128::from(signed(y))) as u64
            }
        }
        Smod => {
            if y == 0 {
                x
            } else {
                (i128::from(signed(x)) % i128::from(signed(y))) as u64
            }
        }
        Or => x | y,
        And => x & y,
        Xor => x ^ y,
        Lsh => x << (y % bits),
        Rsh => x >> (y % bits),
        Arsh => (signed(x) >> (y % bits)) as u64,
        Mov => y,
    };
    r & m
}

fn holds(cond: Cond, width: Width, x: u64, y: u64) -> bool {
    let (ux, uy, sx, sy) = match width {
        W64 => (x, y, x as i64, y as i64),
        W32 => (
            x & 0xffff_ffff,
            y & 0xffff_ffff,
            i64::from(x as i32),
            i64::from(y as i32),
        ),
    };
    match cond {
        Cond::Eq => ux == uy,
        Cond::Ne => ux != uy,
        Cond::Gt => ux > uy,
        Cond::Ge => ux >= uy,
        Cond::Lt => ux < uy,
        Cond::Le => ux <= uy,
        Cond::Sgt => sx > sy,
        Cond::Sge => sx >= sy,
        Cond::Slt => sx < sy,
        Cond::Sle => sx <= sy,
        Cond::Set => ux & uy != 0,
    }
}

fn sign_extend(x: u64, bytes: usize) -> u64 {
    let shift = 64 - 8 * bytes as u32;
    (((x << shift) as i64) >> shift) as u64
}

fn truncate(x: u64, bytes: usize) -> u64 {
    if bytes == 8 {
        x
    } else {
        x & ((1u64 << (8 * bytes)) - 1)
    }
}

#[derive(Clone, Copy, Debug)]
enum Unary {
    Neg(Width),
    End(Endian, u8),
    Movsx(Size, Width),
    Zext(Size),
    Sext(Size),
}

fn concrete_unary(u: Unary, x: u64) -> u64 {
    match u {
        Unary::Neg(W64) => x.wrapping_neg(),
        Unary::Neg(W32) => u64::from((x as u32).wrapping_neg()),
        Unary::End(Endian::Le, bits) => truncate(x, usize::from(bits / 8)),
        Unary::End(_, 16) => u64::from((x as u16).swap_bytes()),
        Unary::End(_, 32) => u64::from((x as u32).swap_bytes()),
        Unary::End(_, _) => x.swap_bytes(),
        Unary::Movsx(from, W64) => sign_extend(x, from.bytes()),
        Unary::Movsx(from, W32) => sign_extend(x, from.bytes()) & 0xffff_ffff,
        Unary::Zext(size) => truncate(x, size.bytes()),
        Unary::Sext(size) => sign_extend(x, size.bytes()),
    }
}

fn abstract_unary(u: Unary, a: Scalar) -> Scalar {
    match u {
        Unary::Neg(w) => a.neg(w),
        Unary::End(kind, bits) => a.end(kind, bits),
        Unary::Movsx(from, w) => a.movsx(from, w),
        Unary::Zext(size) => a.zext(size),
        Unary::Sext(size) => a.sext(size),
    }
}

// ---- random abstract values with a concrete member ----

#[derive(Clone, Debug)]
enum Recipe {
    Const(u64),
    URange(u64, u64, u64),
    SRange(u64, u64, u64),
    Tnum(u64, u64, u64),
    Alu(AluOp, Width, Box<Recipe>, Box<Recipe>),
    Refine(Cond, Width, Box<Recipe>, Box<Recipe>),
    Unary(Unary, Box<Recipe>),
}

/// Builds the abstract value and its member, checking soundness of each
/// step on the way (a failure here is an unsound step).
fn build(r: &Recipe) -> (Scalar, u64) {
    let (a, x) = match r {
        Recipe::Const(v) => (Scalar::constant(*v), *v),
        Recipe::URange(a, b, pick) => {
            let (lo, hi) = (*a.min(b), *a.max(b));
            let span = hi - lo;
            let x = if span == u64::MAX {
                *pick
            } else {
                lo + pick % (span + 1)
            };
            (Scalar::from_urange(lo, hi), x)
        }
        Recipe::SRange(a, b, pick) => {
            let (a, b) = (*a as i64, *b as i64);
            let (lo, hi) = (a.min(b), a.max(b));
            let span = (i128::from(hi) - i128::from(lo)) as u128 + 1;
            let x = (i128::from(lo) + (u128::from(*pick) % span) as i128) as i64;
            (Scalar::from_srange(lo, hi), x as u64)
        }
        Recipe::Tnum(value, mask, pick) => {
            let t = Tnum {
                value: value & !mask,
                mask: *mask,
            };
            (Scalar::from_tnum(t), t.value | (pick & mask))
        }
        Recipe::Alu(op, w, a, b) => {
            let ((a, x), (b, y)) = (build(a), build(b));
            (a.alu(*op, *w, b), concrete_alu(*op, *w, x, y))
        }
        Recipe::Refine(cond, w, a, b) => {
            let ((mut a, x), (mut b, y)) = (build(a), build(b));
            let taken = holds(*cond, *w, x, y);
            assert!(Scalar::refine(*cond, *w, taken, &mut a, &mut b));
            (a, x)
        }
        Recipe::Unary(u, a) => {
            let (a, x) = build(a);
            (abstract_unary(*u, a), concrete_unary(*u, x))
        }
    };
    assert!(a.contains_value(x), "{r:?}: {a:?} lacks {x:#x}");
    (a, x)
}

fn interesting() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0..=300u64,
        (-300i64..=300).prop_map(|v| v as u64),
        (0..64u32, -2i64..=2).prop_map(|(k, d)| (1u64 << k).wrapping_add(d as u64)),
        any::<u32>().prop_map(u64::from),
        any::<i32>().prop_map(|v| v as i64 as u64),
    ]
}

fn mask() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0..=64u32).prop_map(|k| if k == 64 { u64::MAX } else { (1u64 << k) - 1 }),
        (0..=64u32).prop_map(|k| if k == 64 { 0 } else { !((1u64 << k) - 1) }),
        any::<u8>().prop_map(u64::from),
    ]
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(W32), Just(W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

fn unary() -> impl Strategy<Value = Unary> {
    let kind = prop_oneof![Just(Endian::Le), Just(Endian::Be), Just(Endian::Swap)];
    let bits = prop_oneof![Just(16u8), Just(32), Just(64)];
    prop_oneof![
        width().prop_map(Unary::Neg),
        (kind, bits).prop_map(|(k, b)| Unary::End(k, b)),
        (size(), width()).prop_map(|(s, w)| Unary::Movsx(s, w)),
        size().prop_map(Unary::Zext),
        size().prop_map(Unary::Sext),
    ]
}

fn recipe() -> impl Strategy<Value = Recipe> {
    let leaf = prop_oneof![
        interesting().prop_map(Recipe::Const),
        (interesting(), interesting(), any::<u64>()).prop_map(|(a, b, p)| Recipe::URange(a, b, p)),
        (interesting(), interesting(), any::<u64>()).prop_map(|(a, b, p)| Recipe::SRange(a, b, p)),
        (interesting(), mask(), any::<u64>()).prop_map(|(v, m, p)| Recipe::Tnum(v, m, p)),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (
                proptest::sample::select(AluOp::ALL.to_vec()),
                width(),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, w, a, b)| Recipe::Alu(op, w, Box::new(a), Box::new(b))),
            (
                proptest::sample::select(Cond::ALL.to_vec()),
                width(),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(c, w, a, b)| Recipe::Refine(
                    c,
                    w,
                    Box::new(a),
                    Box::new(b)
                )),
            (unary(), inner).prop_map(|(u, a)| Recipe::Unary(u, Box::new(a))),
        ]
    })
}

fn member() -> impl Strategy<Value = (Scalar, u64)> {
    recipe().prop_map(|r| build(&r))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn alu_holds_every_concrete_result((a, x) in member(), (b, y) in member()) {
        for op in AluOp::ALL {
            for w in [W32, W64] {
                let r = a.alu(op, w, b);
                let z = concrete_alu(op, w, x, y);
                prop_assert!(r.contains_value(z), "{a} {op:?}/{w:?} {b} = {r} lacks {z:#x} ({x:#x}, {y:#x})");
            }
        }
    }

    #[test]
    fn unary_ops_hold_every_concrete_result((a, x) in member(), u in unary()) {
        let r = abstract_unary(u, a);
        let z = concrete_unary(u, x);
        prop_assert!(r.contains_value(z), "{u:?} {a} = {r} lacks {z:#x} (x = {x:#x})");
    }

    #[test]
    fn branches_and_refinements_are_sound((a, x) in member(), (b, y) in member()) {
        for cond in Cond::ALL {
            for w in [W32, W64] {
                let truth = holds(cond, w, x, y);
                if let Some(known) = Scalar::branch_taken(cond, w, &a, &b) {
                    prop_assert_eq!(known, truth, "{} {:?}/{:?} {}", a, cond, w, b);
                }
                let (mut ra, mut rb) = (a, b);
                prop_assert!(Scalar::refine(cond, w, truth, &mut ra, &mut rb),
                    "{a} {cond:?}/{w:?} {b} ruled out ({x:#x}, {y:#x})");
                prop_assert!(ra.contains_value(x) && rb.contains_value(y),
                    "{a} {cond:?}/{w:?} {b} -> {ra}, {rb} lacks ({x:#x}, {y:#x})");
                prop_assert!(a.subsumes(&ra) && b.subsumes(&rb));
                // The other branch only narrows.
                let (mut na, mut nb) = (a, b);
                if Scalar::refine(cond, w, !truth, &mut na, &mut nb) {
                    prop_assert!(a.subsumes(&na) && b.subsumes(&nb));
                }
            }
        }
    }

    #[test]
    fn sync_keeps_members_and_constants_are_subsumed((a, x) in member()) {
        let mut s = a;
        s.sync();
        prop_assert!(s.contains_value(x));
        prop_assert!(a.subsumes(&s));
        prop_assert!(a.subsumes(&Scalar::constant(x)));
        prop_assert!(!a.is_empty());
        prop_assert!(a.var_off.value & a.var_off.mask == 0);
        if let Some(c) = a.const_value() {
            prop_assert_eq!(c, x);
        }
        let _ = a.to_string();
    }
}

// ---- exhaustive checks on small domains ----

/// Small abstract values with all their members: unsigned and signed
/// ranges and tnums over a few bits.
fn small_family() -> Vec<(Scalar, Vec<u64>)> {
    let mut out = Vec::new();
    for lo in 0..8u64 {
        for hi in lo..8 {
            out.push((Scalar::from_urange(lo, hi), (lo..=hi).collect()));
        }
    }
    for lo in -4..4i64 {
        for hi in lo..4 {
            out.push((
                Scalar::from_srange(lo, hi),
                (lo..=hi).map(|v| v as u64).collect(),
            ));
        }
    }
    for mask in 0..8u64 {
        for value in (0..8u64).filter(|v| v & mask == 0) {
            let t = Tnum { value, mask };
            let members = (0..8u64).filter(|&v| t.contains_value(v)).collect();
            out.push((Scalar::from_tnum(t), members));
        }
    }
    out
}

#[test]
fn small_values_are_exactly_their_members() {
    for (a, members) in small_family() {
        for v in [-9i64, -5, -4, -3, -1, 0, 1, 2, 3, 7, 8, 9, 16] {
            let v = v as u64;
            assert_eq!(a.contains_value(v), members.contains(&v), "{a} and {v:#x}");
        }
    }
}

#[test]
fn alu_is_sound_on_small_domains() {
    let fam = small_family();
    for (a, xs) in &fam {
        for (b, ys) in &fam {
            for op in AluOp::ALL {
                for w in [W32, W64] {
                    let r = a.alu(op, w, *b);
                    for &x in xs {
                        for &y in ys {
                            let z = concrete_alu(op, w, x, y);
                            assert!(
                                r.contains_value(z),
                                "{a} {op:?}/{w:?} {b} = {r} lacks {z:#x}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn branches_are_sound_on_small_domains_and_exact_on_unsigned_ranges() {
    let fam = small_family();
    for (a, xs) in &fam {
        for (b, ys) in &fam {
            for cond in Cond::ALL {
                for w in [W32, W64] {
                    let pairs: Vec<(u64, u64, bool)> = xs
                        .iter()
                        .flat_map(|&x| ys.iter().map(move |&y| (x, y, holds(cond, w, x, y))))
                        .collect();
                    let known = Scalar::branch_taken(cond, w, a, b);
                    if let Some(k) = known {
                        assert!(pairs.iter().all(|p| p.2 == k), "{a} {cond:?} {b}: {k}");
                    }
                    for taken in [true, false] {
                        let feasible: Vec<_> = pairs.iter().filter(|p| p.2 == taken).collect();
                        let (mut ra, mut rb) = (*a, *b);
                        let ok = Scalar::refine(cond, w, taken, &mut ra, &mut rb);
                        if !feasible.is_empty() {
                            assert!(ok, "{a} {cond:?}/{w:?} {b} taken={taken} ruled out");
                            for p in &feasible {
                                assert!(ra.contains_value(p.0) && rb.contains_value(p.1));
                            }
                        }
                    }
                }
            }
        }
    }
    // On two non-negative ranges the unsigned and signed orders decide the
    // branch whenever every pair agrees, and refinement leaves exactly
    // the feasible hull.
    let ranges: Vec<_> = fam.iter().take(36).collect();
    let ordered = [
        Cond::Lt,
        Cond::Le,
        Cond::Gt,
        Cond::Ge,
        Cond::Slt,
        Cond::Sle,
        Cond::Sgt,
        Cond::Sge,
    ];
    for (a, xs) in &ranges {
        for (b, ys) in &ranges {
            for cond in ordered {
                let all: Vec<bool> = xs
                    .iter()
                    .flat_map(|&x| ys.iter().map(move |&y| holds(cond, W64, x, y)))
                    .collect();
                let uniform = all.iter().all(|&t| t == all[0]).then_some(all[0]);
                assert_eq!(
                    Scalar::branch_taken(cond, W64, a, b),
                    uniform,
                    "{a} {cond:?} {b}"
                );
                let (mut ra, mut rb) = (*a, *b);
                if Scalar::refine(cond, W64, true, &mut ra, &mut rb) {
                    let fx: Vec<u64> = xs
                        .iter()
                        .copied()
                        .filter(|&x| ys.iter().any(|&y| holds(cond, W64, x, y)))
                        .collect();
                    let hull = (*fx.iter().min().unwrap(), *fx.iter().max().unwrap());
                    assert_eq!((ra.umin, ra.umax), hull, "{a} {cond:?} {b}");
                }
            }
        }
    }
}

#[test]
fn unary_ops_are_sound_on_small_domains() {
    let kinds = [Endian::Le, Endian::Be, Endian::Swap];
    let sizes = [Size::B, Size::H, Size::W, Size::DW];
    let mut ops = Vec::new();
    for w in [W32, W64] {
        ops.push(Unary::Neg(w));
        for s in sizes {
            ops.push(Unary::Movsx(s, w));
        }
    }
    for k in kinds {
        for bits in [16, 32, 64] {
            ops.push(Unary::End(k, bits));
        }
    }
    for s in sizes {
        ops.push(Unary::Zext(s));
        ops.push(Unary::Sext(s));
    }
    for (a, xs) in small_family() {
        for &u in &ops {
            let r = abstract_unary(u, a);
            for &x in &xs {
                assert!(
                    r.contains_value(concrete_unary(u, x)),
                    "{u:?} {a} = {r} lacks {x}"
                );
            }
        }
    }
}

// ---- precision: what the verifier must know, worked out by hand ----

fn k(v: u64) -> Scalar {
    Scalar::constant(v)
}

fn bounds64(s: &Scalar) -> (u64, u64, i64, i64) {
    (s.umin, s.umax, s.smin, s.smax)
}

#[test]
fn and_with_a_mask_bounds_the_result() {
    let r = Scalar::unknown().alu(And, W64, k(0xff));
    assert_eq!(bounds64(&r), (0, 255, 0, 255));
    assert_eq!(
        (r.u32_min, r.u32_max, r.s32_min, r.s32_max),
        (0, 255, 0, 255)
    );
    assert_eq!(
        r.var_off,
        Tnum {
            value: 0,
            mask: 0xff
        }
    );
    assert_eq!(
        r.to_string(),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
    );
    // 32-bit and: the upper half is zero too.
    let r = Scalar::unknown().alu(And, W32, k(0xf0));
    assert_eq!(bounds64(&r), (0, 0xf0, 0, 0xf0));
    assert_eq!(
        r.var_off,
        Tnum {
            value: 0,
            mask: 0xf0
        }
    );
}

#[test]
fn unsigned_compare_bounds_both_branches() {
    let (mut r, mut ten) = (Scalar::unknown(), k(10));
    assert!(Scalar::refine(Cond::Lt, W64, true, &mut r, &mut ten));
    assert_eq!(bounds64(&r), (0, 9, 0, 9));
    assert_eq!(
        r.var_off,
        Tnum {
            value: 0,
            mask: 0xf
        }
    );
    assert_eq!(ten, k(10));
    let (mut r, mut ten) = (Scalar::unknown(), k(10));
    assert!(Scalar::refine(Cond::Lt, W64, false, &mut r, &mut ten));
    assert_eq!((r.umin, r.umax), (10, u64::MAX));
    // `if r >= 10 goto` falls through with r <= 9.
    let (mut r, mut ten) = (Scalar::unknown(), k(10));
    assert!(Scalar::refine(Cond::Ge, W64, false, &mut r, &mut ten));
    assert_eq!(r.umax, 9);
    // Register against register: r1 < r2 with r2 <= 100 gives r1 <= 99
    // and r2 >= 1.
    let (mut r1, mut r2) = (Scalar::unknown(), Scalar::from_urange(0, 100));
    assert!(Scalar::refine(Cond::Lt, W64, true, &mut r1, &mut r2));
    assert_eq!((r1.umax, r2.umin), (99, 1));
}

#[test]
fn signed_jmp32_refines_the_low_half_and_the_64bit_bounds() {
    let (mut r, mut five) = (Scalar::unknown(), k(5));
    assert!(Scalar::refine(Cond::Sgt, W32, true, &mut r, &mut five));
    assert_eq!((r.s32_min, r.s32_max), (6, i32::MAX));
    assert_eq!((r.u32_min, r.u32_max), (6, 0x7fff_ffff));
    // The smallest 64-bit value with such a low half is 6, the largest
    // 0xffff_ffff_7fff_ffff.
    assert_eq!((r.umin, r.umax), (6, 0xffff_ffff_7fff_ffff));
    let (mut r, mut five) = (Scalar::unknown(), k(5));
    assert!(Scalar::refine(Cond::Sgt, W32, false, &mut r, &mut five));
    assert_eq!((r.s32_min, r.s32_max), (i32::MIN, 5));
}

#[test]
fn jmp32_narrows_a_value_whose_high_half_is_known() {
    let (mut r, mut c) = (Scalar::from_urange(0x1_0000_0000, 0x1_0000_00ff), k(0x10));
    assert!(Scalar::refine(Cond::Lt, W32, true, &mut r, &mut c));
    assert_eq!((r.umin, r.umax), (0x1_0000_0000, 0x1_0000_000f));
    assert_eq!(
        r.var_off,
        Tnum {
            value: 0x1_0000_0000,
            mask: 0xf
        }
    );
}

#[test]
fn shifts() {
    let r = Scalar::unknown().alu(Lsh, W64, k(2));
    assert!(r.var_off.is_aligned(4));
    assert_eq!(r.var_off, Tnum { value: 0, mask: !3 });
    assert_eq!(r.umax, u64::MAX - 3);
    let r = Scalar::unknown().alu(Rsh, W64, k(60));
    assert_eq!(bounds64(&r), (0, 15, 0, 15));
    let r = Scalar::unknown().alu(Arsh, W64, k(63));
    assert_eq!((r.smin, r.smax), (-1, 0));
    let r = Scalar::from_urange(1, 3).alu(Lsh, W64, k(4));
    assert_eq!((r.umin, r.umax), (16, 48));
    // By a register in [0, 7]: 1 << n is in [1, 128].
    let n = Scalar::unknown().alu(And, W64, k(7));
    let r = k(1).alu(Lsh, W64, n);
    assert_eq!((r.umin, r.umax), (1, 128));
    // An amount that may reach 64 makes the result unknown.
    let n = Scalar::unknown().alu(And, W64, k(127));
    assert_eq!(k(1).alu(Lsh, W64, n).umax, u64::MAX);
    // The compiler's sign extension: r <<= 32; r s>>= 32 keeps s32 bounds.
    let mut r = Scalar::unknown();
    assert!(Scalar::refine(
        Cond::Sge,
        W32,
        true,
        &mut r,
        &mut k(-5i64 as u64)
    ));
    assert!(Scalar::refine(Cond::Sle, W32, true, &mut r, &mut k(5)));
    let r = r.alu(Lsh, W64, k(32)).alu(Arsh, W64, k(32));
    assert_eq!((r.smin, r.smax), (-5, 5));
}

#[test]
fn add_and_sub_of_constants_move_ranges() {
    let r = Scalar::from_urange(0, 100).alu(Add, W64, k(14));
    assert_eq!(bounds64(&r), (14, 114, 14, 114));
    // [10, 100] - 20 is [-10, 80]: unsigned it wraps, signed it does not.
    let r = Scalar::from_urange(10, 100).alu(Sub, W64, k(20));
    assert_eq!(bounds64(&r), (0, u64::MAX, -10, 80));
    // Adding two ranges whose sums all overflow still gives an interval.
    let r = Scalar::from_urange(u64::MAX - 1, u64::MAX).alu(Add, W64, k(5));
    assert_eq!((r.umin, r.umax), (3, 4));
    let r = Scalar::from_urange(2, 3).alu(Mul, W64, Scalar::from_urange(4, 5));
    assert_eq!((r.umin, r.umax), (8, 15));
}

#[test]
fn alu32_zero_extends() {
    assert_eq!(k(0xffff_ffff).alu(Add, W32, k(1)), k(0));
    let r = Scalar::unknown().alu(Add, W32, k(1));
    assert_eq!(bounds64(&r), (0, 0xffff_ffff, 0, 0xffff_ffff));
    assert_eq!(
        r.var_off,
        Tnum {
            value: 0,
            mask: 0xffff_ffff
        }
    );
    // mov32 keeps the low half of [0x1_0000_0000, 0x1_0000_00ff].
    let r = Scalar::unknown().alu(Mov, W32, Scalar::from_urange(0x1_0000_0000, 0x1_0000_00ff));
    assert_eq!(bounds64(&r), (0, 0xff, 0, 0xff));
    assert_eq!(k(5).neg(W32), k(0xffff_fffb));
    assert_eq!(k(5).neg(W64), k(-5i64 as u64));
}

#[test]
fn division_and_modulo() {
    assert_eq!(Scalar::unknown().alu(Mod, W64, k(10)).umax, 9);
    let r = Scalar::from_urange(0, 100).alu(Div, W64, Scalar::from_urange(2, 5));
    assert_eq!((r.umin, r.umax), (0, 50));
    let r = Scalar::from_urange(20, 100).alu(Div, W64, k(4));
    assert_eq!((r.umin, r.umax), (5, 25));
    assert_eq!(k(7).alu(Div, W64, k(0)), k(0));
    assert_eq!(k(7).alu(Mod, W64, k(0)), k(7));
    assert_eq!(k(0x1_0000_0007).alu(Mod, W32, k(0)), k(7));
    assert_eq!(k(-7i64 as u64).alu(Sdiv, W64, k(2)), k(-3i64 as u64));
    assert_eq!(k(-7i64 as u64).alu(Smod, W64, k(2)), k(-1i64 as u64));
    // A remainder by a larger divisor is the dividend.
    let r = Scalar::from_urange(3, 9).alu(Mod, W64, Scalar::from_urange(10, 20));
    assert_eq!((r.umin, r.umax), (3, 9));
}

#[test]
fn signed_and_unsigned_bounds_deduce_each_other() {
    let r = Scalar::from_srange(0, 1000);
    assert_eq!((r.umin, r.umax, r.u32_max), (0, 1000, 1000));
    let r = Scalar::from_urange(5, i64::MAX as u64);
    assert_eq!((r.smin, r.smax), (5, i64::MAX));
    let r = Scalar::from_srange(-1, 1);
    assert_eq!((r.umin, r.umax), (0, u64::MAX));
    assert_eq!((r.s32_min, r.s32_max), (-1, 1));
    // Unsigned [0, 0xffff_ffff_ffff_fff0] and signed [-5, 5]: the
    // negative part is out of the unsigned range.
    let mut r = Scalar::from_urange(0, 0xffff_ffff_ffff_fff0);
    r.smin = -5;
    r.smax = 5;
    r.sync();
    assert_eq!(bounds64(&r), (0, 5, 0, 5));
}

#[test]
fn equality_and_inequality() {
    let (mut r, mut c) = (Scalar::unknown(), k(5));
    assert!(Scalar::refine(Cond::Eq, W64, true, &mut r, &mut c));
    assert_eq!(r, k(5));
    let (mut r, mut c) = (k(5), k(5));
    assert!(!Scalar::refine(Cond::Eq, W64, false, &mut r, &mut c));
    let (mut r, mut zero) = (Scalar::from_urange(0, 10), k(0));
    assert!(Scalar::refine(Cond::Ne, W64, true, &mut r, &mut zero));
    assert_eq!((r.umin, r.umax), (1, 10));
    let (mut r, mut ten) = (Scalar::from_urange(0, 10), k(10));
    assert!(Scalar::refine(Cond::Eq, W64, false, &mut r, &mut ten));
    assert_eq!((r.umin, r.umax), (0, 9));
    // 32-bit equality fixes the low half only.
    let (mut r, mut c) = (Scalar::unknown(), k(7));
    assert!(Scalar::refine(Cond::Eq, W32, true, &mut r, &mut c));
    assert_eq!(
        r.var_off,
        Tnum {
            value: 7,
            mask: 0xffff_ffff_0000_0000
        }
    );
}

#[test]
fn jset() {
    // `if r & 3 goto` falls through with r aligned to 4.
    let (mut r, mut three) = (Scalar::unknown(), k(3));
    assert!(Scalar::refine(Cond::Set, W64, false, &mut r, &mut three));
    assert!(r.var_off.is_aligned(4));
    // Taken with a single bit: that bit is set.
    let (mut r, mut four) = (Scalar::unknown(), k(4));
    assert!(Scalar::refine(Cond::Set, W64, true, &mut r, &mut four));
    assert_eq!(r.var_off, Tnum { value: 4, mask: !4 });
    assert_eq!(r.umin, 4);
    assert_eq!(
        Scalar::branch_taken(Cond::Set, W64, &k(8), &Scalar::from_urange(0, 7)),
        Some(false)
    );
    assert_eq!(
        Scalar::branch_taken(Cond::Set, W64, &k(5), &k(4)),
        Some(true)
    );
}

#[test]
fn branch_taken_on_ranges() {
    let lt = |a: Scalar, b: Scalar| Scalar::branch_taken(Cond::Lt, W64, &a, &b);
    assert_eq!(lt(Scalar::from_urange(0, 9), k(10)), Some(true));
    assert_eq!(lt(Scalar::from_urange(10, 20), k(10)), Some(false));
    assert_eq!(lt(Scalar::from_urange(5, 15), k(10)), None);
    let r = Scalar::from_urange(0x1_0000_0000, 0x1_0000_0005);
    assert_eq!(Scalar::branch_taken(Cond::Eq, W32, &r, &k(3)), None);
    assert_eq!(Scalar::branch_taken(Cond::Eq, W32, &r, &k(7)), Some(false));
    assert_eq!(Scalar::branch_taken(Cond::Eq, W64, &r, &k(3)), Some(false));
    assert_eq!(Scalar::branch_taken(Cond::Ne, W64, &r, &k(3)), Some(true));
    let neg = Scalar::from_srange(-10, -1);
    assert_eq!(
        Scalar::branch_taken(Cond::Slt, W64, &neg, &k(0)),
        Some(true)
    );
    assert_eq!(
        Scalar::branch_taken(Cond::Gt, W64, &neg, &k(1 << 63)),
        Some(true)
    );
}

#[test]
fn loads_and_sign_extension() {
    let r = Scalar::unknown().zext(Size::B);
    assert_eq!(bounds64(&r), (0, 255, 0, 255));
    let r = Scalar::unknown().sext(Size::B);
    assert_eq!((r.smin, r.smax), (-128, 127));
    assert_eq!((r.s32_min, r.s32_max), (-128, 127));
    let r = Scalar::from_urange(0x80, 0xff).sext(Size::B);
    assert_eq!((r.smin, r.smax), (-128, -1));
    let r = Scalar::unknown().sext(Size::W);
    assert_eq!((r.smin, r.smax), (i32::MIN.into(), i32::MAX.into()));
    assert_eq!(k(0x80).movsx(Size::B, W32), k(0xffff_ff80));
    assert_eq!(k(0x80).movsx(Size::B, W64), k(0xffff_ffff_ffff_ff80));
    // The low byte of [0x100, 0x10f] is [0, 0xf].
    let r = Scalar::from_urange(0x100, 0x10f).zext(Size::B);
    assert_eq!((r.umin, r.umax), (0, 0xf));
}

#[test]
fn byte_order() {
    assert_eq!(k(0x1234).end(Endian::Be, 16), k(0x3412));
    assert_eq!(k(0x1122_3344_5566_7788).end(Endian::Le, 32), k(0x5566_7788));
    let r = Scalar::from_urange(0, 0xff).end(Endian::Be, 16);
    assert_eq!(
        r.var_off,
        Tnum {
            value: 0,
            mask: 0xff00
        }
    );
    assert_eq!((r.umin, r.umax), (0, 0xff00));
    assert_eq!(Scalar::unknown().end(Endian::Le, 32).umax, 0xffff_ffff);
}

#[test]
fn display_in_the_kernel_style() {
    assert_eq!(k(42).to_string(), "42");
    assert_eq!(k(u64::MAX).to_string(), "-1");
    assert_eq!(k(0x10_0000).to_string(), "0x100000");
    assert_eq!(Scalar::unknown().to_string(), "scalar()");
    assert_eq!(
        Scalar::from_urange(0, 1000).to_string(),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=1000,var_off=(0x0; 0x3ff))"
    );
}
