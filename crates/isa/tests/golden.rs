//! Golden tests: assembly text against the bytes RFC 9669 says it encodes
//! to, in both directions.
//!
//! Each byte string was worked out by hand from the RFC's layout (opcode;
//! `src << 4 | dst`; 16-bit offset and 32-bit immediate, little-endian),
//! not produced by this crate. The atomic and legacy-load rows agree with
//! LLVM's own BPF encoding tests.

use rxdp_isa::{DisasmOptions, MapDecl, assemble, decode, disasm, encode};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

fn asm_bytes(src: &str) -> Vec<u8> {
    let a = assemble(src).unwrap_or_else(|e| panic!("{src:?}: {}", e.render(src)));
    encode(&a.insns)
}

/// (text as the disassembler prints it, bytes).
const CANONICAL: &[(&str, &str)] = &[
    ("r0 = 1", "b7 00 00 00 01 00 00 00"),
    ("w0 = 1", "b4 00 00 00 01 00 00 00"),
    ("r1 = r2", "bf 21 00 00 00 00 00 00"),
    ("w1 = w2", "bc 21 00 00 00 00 00 00"),
    ("r1 += 5", "07 01 00 00 05 00 00 00"),
    ("r1 += -8", "07 01 00 00 f8 ff ff ff"),
    ("r1 s/= r2", "3f 21 01 00 00 00 00 00"),
    ("r1 /= r2", "3f 21 00 00 00 00 00 00"),
    ("r1 s%= 3", "97 01 01 00 03 00 00 00"),
    ("w1 s>>= 2", "c4 01 00 00 02 00 00 00"),
    ("w3 <<= w4", "6c 43 00 00 00 00 00 00"),
    ("r0 = -r0", "87 00 00 00 00 00 00 00"),
    ("w5 = -w5", "84 05 00 00 00 00 00 00"),
    ("r1 = (s8)r2", "bf 21 08 00 00 00 00 00"),
    ("r1 = (s32)r2", "bf 21 20 00 00 00 00 00"),
    ("w1 = (s16)w2", "bc 21 10 00 00 00 00 00"),
    ("r0 = be16 r0", "dc 00 00 00 10 00 00 00"),
    ("r0 = bswap64 r0", "d7 00 00 00 40 00 00 00"),
    ("r0 = le32 r0", "d4 00 00 00 20 00 00 00"),
    (
        "r1 = 0x1122334455667788 ll",
        "18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11",
    ),
    (
        "r1 = -1 ll",
        "18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff",
    ),
    ("r0 = *(u32 *)(r1 + 4)", "61 10 04 00 00 00 00 00"),
    ("r0 = *(s8 *)(r1 - 2)", "91 10 fe ff 00 00 00 00"),
    ("r0 = *(s32 *)(r1 + 0)", "81 10 00 00 00 00 00 00"),
    ("*(u64 *)(r10 - 8) = r1", "7b 1a f8 ff 00 00 00 00"),
    ("*(u32 *)(r10 - 4) = 7", "62 0a fc ff 07 00 00 00"),
    ("lock *(u64 *)(r1 + 0) += r2", "db 21 00 00 00 00 00 00"),
    ("lock *(u64 *)(r1 + 0) |= r2", "db 21 00 00 40 00 00 00"),
    (
        "r0 = atomic_fetch_add((u64 *)(r1 + 0), r0)",
        "db 01 00 00 01 00 00 00",
    ),
    ("r0 = xchg_64(r1 + 0, r0)", "db 01 00 00 e1 00 00 00"),
    ("r0 = cmpxchg_64(r1 + 0, r0, r2)", "db 21 00 00 f1 00 00 00"),
    ("w0 = xchg32_32(r1 + 0, w0)", "c3 01 00 00 e1 00 00 00"),
    (
        "w0 = cmpxchg32_32(r1 + 0, w0, w2)",
        "c3 21 00 00 f1 00 00 00",
    ),
    ("lock *(u32 *)(r1 + 0) += w2", "c3 21 00 00 00 00 00 00"),
    ("lock *(u32 *)(r1 + 0) |= w2", "c3 21 00 00 40 00 00 00"),
    ("lock *(u32 *)(r1 + 0) &= w2", "c3 21 00 00 50 00 00 00"),
    ("lock *(u32 *)(r1 + 0) ^= w2", "c3 21 00 00 a0 00 00 00"),
    (
        "w0 = atomic_fetch_add((u32 *)(r1 + 0), w0)",
        "c3 01 00 00 01 00 00 00",
    ),
    (
        "w0 = atomic_fetch_or((u32 *)(r1 + 0), w0)",
        "c3 01 00 00 41 00 00 00",
    ),
    (
        "w0 = atomic_fetch_and((u32 *)(r1 + 0), w0)",
        "c3 01 00 00 51 00 00 00",
    ),
    (
        "w0 = atomic_fetch_xor((u32 *)(r1 + 0), w0)",
        "c3 01 00 00 a1 00 00 00",
    ),
    ("goto +3", "05 00 03 00 00 00 00 00"),
    ("goto -1", "05 00 ff ff 00 00 00 00"),
    ("gotol +70000", "06 00 00 00 70 11 01 00"),
    ("if r1 > r2 goto +3", "2d 21 03 00 00 00 00 00"),
    ("if w1 s< -1 goto +2", "c6 01 02 00 ff ff ff ff"),
    ("if r1 & 16 goto +1", "45 01 01 00 10 00 00 00"),
    ("if r1 s> r2 goto +3", "6d 21 03 00 00 00 00 00"),
    ("call 1", "85 00 00 00 01 00 00 00"),
    ("call pc+2", "85 10 00 00 02 00 00 00"),
    ("call kfunc#77", "85 20 00 00 4d 00 00 00"),
    ("callx r5", "8d 05 00 00 00 00 00 00"),
    ("exit", "95 00 00 00 00 00 00 00"),
    ("r0 = *(u8 *)skb[23]", "30 00 00 00 17 00 00 00"),
    ("r0 = *(u16 *)skb[r1 + 4]", "48 10 00 00 04 00 00 00"),
    ("r0 = *(u32 *)skb[r1]", "40 10 00 00 00 00 00 00"),
    (
        "r1 = map[0] ll",
        "18 51 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        "r1 = map_value[1]+8 ll",
        "18 61 00 00 01 00 00 00 00 00 00 00 08 00 00 00",
    ),
    (
        "r2 = map_fd[3] ll",
        "18 12 00 00 03 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        "r2 = map_fd_value[3]+16 ll",
        "18 22 00 00 03 00 00 00 00 00 00 00 10 00 00 00",
    ),
    (
        "r3 = btf_id[7] ll",
        "18 33 00 00 07 00 00 00 00 00 00 00 00 00 00 00",
    ),
    (
        "r4 = func[+5] ll",
        "18 44 00 00 05 00 00 00 00 00 00 00 00 00 00 00",
    ),
];

/// Other spellings, from llvm-objdump, the kernel verifier log or hand
/// writing, with the bytes they must give.
const ALTERNATE: &[(&str, &str)] = &[
    (
        "r1 = 0x1122334455667788 ll // llvm",
        "18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11",
    ),
    ("call bpf_map_lookup_elem", "85 00 00 00 01 00 00 00"),
    ("call map_lookup_elem", "85 00 00 00 01 00 00 00"),
    ("call 0x2a", "85 00 00 00 2a 00 00 00"),
    ("r1 += 0x2a", "07 01 00 00 2a 00 00 00"),
    ("r0 = *(u32*)(r1+4)", "61 10 04 00 00 00 00 00"),
    ("w0 = *(u8 *)(r1 + 0x0)", "71 10 00 00 00 00 00 00"),
    ("*(u8 *)(r1 + 1) = w2", "73 21 01 00 00 00 00 00"),
    ("if r1 & 0x10 goto +1 <LBB0_3>", "45 01 01 00 10 00 00 00"),
    ("goto +0x3", "05 00 03 00 00 00 00 00"),
    ("r0 = *(u8 *)skb[0x17]", "30 00 00 00 17 00 00 00"),
    ("r0 = *(u16 *)skb[r1 - 4]", "48 10 00 00 fc ff ff ff"),
    ("call kfunc:77", "85 20 00 00 4d 00 00 00"),
    ("call kernel-function#77", "85 20 00 00 4d 00 00 00"),
    ("call bpf_obj_new_impl#77", "85 20 00 00 4d 00 00 00"),
    (
        "r1 = map[0]",
        "18 51 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
    ),
    // The kernel verifier log.
    ("0: (bf) r1 = r2", "bf 21 00 00 00 00 00 00"),
    ("12: (61) r0 = *(u32 *)(r1 +4)", "61 10 04 00 00 00 00 00"),
    ("(7b) *(u64 *)(r10 -8) = r1", "7b 1a f8 ff 00 00 00 00"),
    ("(62) *(u32 *)(r10 -4) = 7", "62 0a fc ff 07 00 00 00"),
    (
        "3: (18) r1 = 0x1122334455667788",
        "18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11",
    ),
    ("(85) call bpf_map_lookup_elem#1", "85 00 00 00 01 00 00 00"),
    ("(85) call pc+2", "85 10 00 00 02 00 00 00"),
    ("(6d) if r1 s> r2 goto pc+3", "6d 21 03 00 00 00 00 00"),
    (
        "(15) if r1 == 0xffffffff goto pc+2",
        "15 01 02 00 ff ff ff ff",
    ),
    ("(05) goto pc-1", "05 00 ff ff 00 00 00 00"),
    ("(06) gotol pc+70000", "06 00 00 00 70 11 01 00"),
    (
        "(db) r0 = atomic64_fetch_add((u64 *)(r1 +0), r0)",
        "db 01 00 00 01 00 00 00",
    ),
    (
        "(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)",
        "db 21 00 00 f1 00 00 00",
    ),
    (
        "(db) r2 = atomic64_xchg((u64 *)(r1 +8), r2)",
        "db 21 08 00 e1 00 00 00",
    ),
    (
        "(c3) r2 = atomic_fetch_xor((u32 *)(r1 +0), r2)",
        "c3 21 00 00 a1 00 00 00",
    ),
    ("(c3) lock *(u32 *)(r1 +0) += r2", "c3 21 00 00 00 00 00 00"),
    ("(30) r0 = *(u8 *)skb[23]", "30 00 00 00 17 00 00 00"),
    ("(48) r0 = *(u16 *)skb[r1 + 4]", "48 10 00 00 04 00 00 00"),
    ("(dc) r0 = be16 r0", "dc 00 00 00 10 00 00 00"),
    ("(bf) r1 = (s8)r2", "bf 21 08 00 00 00 00 00"),
    (
        "0: (b7) r0 = 2                        ; R0_w=2",
        "b7 00 00 00 02 00 00 00",
    ),
    // llvm-objdump -d lines, offset and raw bytes first.
    (
        "       0:\tb7 00 00 00 01 00 00 00\tr0 = 0x1",
        "b7 00 00 00 01 00 00 00",
    ),
    (
        "      a8:\t95 00 00 00 00 00 00 00\texit",
        "95 00 00 00 00 00 00 00",
    ),
    (
        "      10:\t18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11\tr1 = 0x1122334455667788 ll",
        "18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11",
    ),
];

#[test]
fn canonical_text_assembles_to_its_bytes() {
    for (text, bytes) in CANONICAL {
        assert_eq!(asm_bytes(text), hex(bytes), "{text}");
    }
}

#[test]
fn bytes_disassemble_to_canonical_text() {
    for (text, bytes) in CANONICAL {
        let insns = decode(&hex(bytes)).expect(text);
        assert_eq!(
            disasm(&insns, &DisasmOptions::default()),
            format!("{text}\n")
        );
    }
}

#[test]
fn alternate_spellings_assemble_to_the_same_bytes() {
    for (text, bytes) in ALTERNATE {
        assert_eq!(asm_bytes(text), hex(bytes), "{text}");
    }
}

#[test]
fn helper_names_when_asked() {
    let insns = decode(&hex("85 00 00 00 01 00 00 00 85 00 00 00 bc 02 00 00")).unwrap();
    let opts = DisasmOptions {
        helper_names: true,
        ..DisasmOptions::default()
    };
    // 700 is no helper: it stays a number.
    assert_eq!(
        disasm(&insns, &opts),
        "call bpf_map_lookup_elem\ncall 700\n"
    );
}

const PROGRAM: &str = "
.map counters type=array key=4 value=8 entries=4
; two subprograms
entry:
    r1 = map[counters] ll   # slots 0 and 1
    call sub                // slot 2: sub is 3 slots after slot 3
    if w0 s< -1 goto out
    goto out
out:
    exit
sub:
    r0 = 1
    exit
";

#[test]
fn labels_maps_and_subprograms() {
    let a = assemble(PROGRAM).unwrap();
    let want = hex("18 51 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
         85 10 00 00 03 00 00 00 \
         c6 00 01 00 ff ff ff ff \
         05 00 00 00 00 00 00 00 \
         95 00 00 00 00 00 00 00 \
         b7 00 00 00 01 00 00 00 \
         95 00 00 00 00 00 00 00");
    assert_eq!(encode(&a.insns), want);
    assert_eq!(
        a.maps,
        [MapDecl {
            name: "counters".into(),
            map_type: 2,
            key_size: 4,
            value_size: 8,
            max_entries: 4,
            flags: 0,
        }]
    );
    let labels: Vec<(&str, usize)> = a.labels.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    assert_eq!(labels, [("entry", 0), ("out", 5), ("sub", 6)]);

    let opts = DisasmOptions {
        maps: &a.maps,
        labels: &a.labels,
        ..DisasmOptions::default()
    };
    let text = disasm(&a.insns, &opts);
    assert_eq!(
        text,
        ".map counters type=array key=4 value=8 entries=4\nentry:\nr1 = map[counters] ll\n\
         call sub\nif w0 s< -1 goto out\ngoto out\nout:\nexit\nsub:\nr0 = 1\nexit\n"
    );
    assert_eq!(assemble(&text).unwrap(), a);
}

#[test]
fn map_value_func_and_clang_symbols() {
    let src = ".map a type=hash key=4 value=4 entries=1\n\
               .map b type=BPF_MAP_TYPE_PERCPU_ARRAY key=4 value=16 entries=2 flags=0x400\n\
               r1 = map_value[b]+12 ll\n r2 = func[f] ll\n r3 = b ll\n r4 = f ll\n f: exit";
    let a = assemble(src).unwrap();
    let want = hex("18 61 00 00 01 00 00 00 00 00 00 00 0c 00 00 00 \
         18 42 00 00 05 00 00 00 00 00 00 00 00 00 00 00 \
         18 53 00 00 01 00 00 00 00 00 00 00 00 00 00 00 \
         18 44 00 00 01 00 00 00 00 00 00 00 00 00 00 00 \
         95 00 00 00 00 00 00 00");
    assert_eq!(encode(&a.insns), want);
    assert_eq!((a.maps[1].map_type, a.maps[1].flags), (6, 0x400));
}

#[test]
fn auto_labels_reassemble() {
    // Slot 3 jumps into the middle of the lddw at 4: no label can go there.
    let src = "r0 = 0\nif r1 == 0 goto +4\ncall pc+3\ngoto +1\nr4 = func[-5] ll\nexit";
    let a = assemble(src).unwrap();
    let opts = DisasmOptions {
        auto_labels: true,
        slot_numbers: true,
        ..DisasmOptions::default()
    };
    let text = disasm(&a.insns, &opts);
    assert_eq!(
        text,
        ".L0:\n    0: r0 = 0\n    1: if r1 == 0 goto .L6\n    2: call .L6\n    3: goto +1\n\
         \x20   4: r4 = func[.L0] ll\n.L6:\n    6: exit\n"
    );
    assert_eq!(encode(&assemble(&text).unwrap().insns), encode(&a.insns));
}

#[test]
fn far_labels_need_gotol() {
    let mut src = String::from("goto far\n");
    src.push_str(&"r0 = 0\n".repeat(40_000));
    src.push_str("far: exit\n");
    let err = assemble(&src).unwrap_err();
    assert_eq!((err.line, err.column), (1, 6));
    assert!(err.message.contains("gotol"), "{}", err.message);

    let long = src.replacen("goto far", "gotol far", 1);
    let a = assemble(&long).unwrap();
    assert_eq!(encode(&a.insns[..1]), hex("06 00 00 00 40 9c 00 00"));
}

#[test]
fn whole_listings_paste() {
    let log = "\
func#0 @0
0: R1=ctx() R10=fp0
; int prog(struct xdp_md *ctx) @ prog.c:10
0: (b7) r0 = 2                        ; R0_w=2
1: (18) r1 = 0xffff888003a8c000
3: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1)
4: (15) if r0 == 0x0 goto pc+1
5: (95) exit
";
    // `func#0 @0` is not an instruction: the log's header lines go.
    let log = log.replacen("func#0 @0\n", "", 1);
    let want = hex("b7 00 00 00 02 00 00 00 \
         18 01 00 00 00 c0 a8 03 00 00 00 00 80 88 ff ff \
         85 00 00 00 01 00 00 00 \
         15 00 01 00 00 00 00 00 \
         95 00 00 00 00 00 00 00");
    assert_eq!(asm_bytes(&log), want);

    let objdump = "\
0000000000000000 <xdp_prog>:
       0:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x0 ll
\t\t0000000000000000:  R_BPF_64_64\tcounters
       2:\t85 10 00 00 01 00 00 00\tcall pc+1
       3:\t95 00 00 00 00 00 00 00\texit
";
    let a = assemble(objdump).unwrap();
    assert_eq!(a.labels, [("xdp_prog".to_string(), 0)]);
    assert_eq!(
        encode(&a.insns),
        hex(
            "18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 85 10 00 00 01 00 00 00 95 00 00 00 00 00 00 00"
        )
    );
}
