//! Assembly errors name the line and column at fault and say what is wrong.

use rxdp_isa::assemble;

/// Assembles `src`, expecting an error at (line, column) whose message
/// contains `needle`.
fn fails(src: &str, line: usize, column: usize, needle: &str) {
    let err = match assemble(src) {
        Ok(a) => panic!("{src:?} assembled to {:?}", a.insns),
        Err(e) => e,
    };
    assert_eq!((err.line, err.column), (line, column), "{src:?}: {err}");
    assert!(
        err.message.contains(needle),
        "{src:?}: {err} lacks {needle:?}"
    );
}

#[test]
fn unknown_mnemonics_and_characters() {
    fails("exit\nfoo r1", 2, 1, "unknown instruction `foo`");
    fails("r0 = 1 @", 1, 8, "unexpected character");
    fails(".text", 1, 1, "unknown directive");
    fails("r0 = 1 2", 1, 8, "unexpected `2`");
    fails("r0 +", 1, 4, "assignment operator");
}

#[test]
fn bad_registers() {
    fails("r11 = 1", 1, 1, "invalid register `r11`");
    fails("  r0 = r11", 1, 8, "invalid register");
    fails("callx w3", 1, 7, "r (64-bit)");
    fails("r1: exit", 1, 1, "is a register");
}

#[test]
fn width_mixing_without_an_encoding() {
    fails("w1 += r2", 1, 7, "w (32-bit)");
    fails("r1 = w2", 1, 6, "r (64-bit)");
    fails("if r1 > w2 goto +1", 1, 9, "r (64-bit)");
    fails("w1 = (s32)w2", 1, 7, "64-bit destination");
    fails("w0 = *(s8 *)(r1 + 0)", 1, 7, "w register");
    fails("w0 = *(u64 *)(r1 + 0)", 1, 7, "w register");
    fails("*(u64 *)(r1 + 0) = w2", 1, 20, "r (64-bit)");
    fails("w0 = be16 w0", 1, 6, "r registers");
    fails("lock *(u64 *)(r1 + 0) += w2", 1, 26, "r (64-bit)");
    fails("w1 = 5 ll", 1, 1, "r register");
}

#[test]
fn operands_that_must_match() {
    fails("r0 = -r1", 1, 7, "in place");
    fails("r0 = be16 r1", 1, 11, "in place");
    fails("r1 = xchg_64(r2 + 0, r3)", 1, 22, "operand register");
    fails("r1 = cmpxchg_64(r2 + 0, r0, r3)", 1, 25, "compares with r0");
    fails("lock *(u16 *)(r1 + 0) += r2", 1, 7, "(u32 *) or (u64 *)");
    fails(
        "r0 = atomic64_xchg((u32 *)(r1 +0), r0)",
        1,
        20,
        "needs (u64 *)",
    );
    fails("r1 = *(u8 *)skb[0]", 1, 7, "into r0");
    fails("*(s8 *)(r1 + 0) = 1", 1, 2, "unsigned size");
}

#[test]
fn immediates_and_offsets_out_of_range() {
    fails("r0 = 0x100000000", 1, 6, "add `ll`");
    fails("r0 += -2147483649", 1, 7, "does not fit in 32 bits");
    fails("r0 = 0x10000000000000000 ll", 1, 6, "64 bits");
    fails("r0 = *(u32 *)(r1 + 32768)", 1, 18, "16 bits");
    fails("*(u32 *)(r1 - 32769) = 1", 1, 13, "16 bits");
    fails("goto +32768", 1, 6, "use gotol");
    fails("if r1 == 0 goto -40000", 1, 17, "16 bits");
    fails("r0 = 12abc", 1, 6, "bad number");
}

#[test]
fn names() {
    fails("goto nowhere", 1, 6, "undefined label `nowhere`");
    fails(
        "x: exit\nexit\n  x: exit",
        3,
        3,
        "label `x` is defined twice",
    );
    fails(
        ".map m type=hash key=4 value=4 entries=1\n.map m type=array key=4 value=4 entries=1",
        2,
        6,
        "declared twice",
    );
    fails("r1 = map[nope] ll", 1, 10, "no map named `nope`");
    fails("r1 = map_value[nope]+4 ll", 1, 16, "no map named");
    fails(
        ".map m type=hashy key=4 value=4 entries=1",
        1,
        13,
        "unknown map type `hashy`",
    );
    fails(".map m type=hash key=4 value=4", 1, 31, "needs `entries=`");
    fails(".map m type=hash key=4 key=4", 1, 24, "given twice");
    fails(".map m type=hash colour=4", 1, 18, "unknown map field");
    fails("call no_such_thing", 1, 6, "neither a label nor a helper");
    fails("call bpf_map_lookup_elem#2", 1, 26, "is #1, not #2");
    fails("r1 = nothing ll", 1, 6, "neither a map nor a label");
    fails("r1 = func[nowhere] ll", 1, 11, "undefined label");
}

#[test]
fn truncated_lines() {
    fails("if r1 >", 1, 8, "at end of line");
    fails("r0 = *(u32 *)(r1 + 4", 1, 21, "expected `)`");
    fails("goto", 1, 5, "jump target");
}

#[test]
fn display_names_line_and_column() {
    let src = "r0 = 0\n  r0 = r11\n";
    let err = assemble(src).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2, column 8: invalid register `r11`: registers are r0..r10 (w0..w10)"
    );
    assert!(err.render(src).ends_with("  r0 = r11\n         ^"));
}
