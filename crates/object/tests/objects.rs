//! The loader on real clang objects: the test objects in tests/data (C
//! sources beside them) and the project's examples/c, checked against
//! what the C sources say and against llvm-objdump's reading of the same
//! files.

mod common;

use common::{data, data_dir, examples_dir, objdump_functions, objects_in};
use rxdp_isa::{CallKind, Insn, Pseudo, RawInsn, maptype};
use rxdp_object::{MapOrigin, Object, ObjectError, Pinning, Program, SlotTarget, parse};
use std::path::Path;

fn object(name: &str) -> Object {
    parse(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn prog<'a>(obj: &'a Object, name: &str) -> &'a Program {
    obj.program(name)
        .unwrap_or_else(|| panic!("no program {name}"))
}

/// The subprogram whose copy starts at slot `at`.
fn subprog_at(p: &Program, at: i64) -> &str {
    p.subprogs
        .iter()
        .find(|s| s.start as i64 == at)
        .map(|s| s.name.as_str())
        .unwrap_or_else(|| panic!("{}: no subprogram starts at {at}", p.name))
}

/// The callees of the calls (and function addresses) in slots
/// `[from, to)` of `p`, by name, in order.
fn callees(p: &Program, from: usize, to: usize) -> Vec<&str> {
    (from..to)
        .filter_map(|pc| p.insns[pc].call_target(pc).map(|t| subprog_at(p, t)))
        .collect()
}

fn subprog_range(p: &Program, name: &str) -> (usize, usize) {
    let s = p
        .subprogs
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{}: no subprogram {name}", p.name));
    (s.start, s.start + s.len)
}

#[test]
fn program_sections_types_and_attach_types() {
    let obj = object("subprogs.o");
    let found: Vec<(&str, &str, u32, u32, bool)> = obj
        .programs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.section.as_str(),
                p.prog_type,
                p.expected_attach_type,
                p.frags,
            )
        })
        .collect();
    // From subprogs.c: BPF_PROG_TYPE_XDP = 6, SCHED_CLS = 3; BPF_XDP = 37,
    // BPF_XDP_DEVMAP = 33, BPF_XDP_CPUMAP = 35.
    assert_eq!(
        found,
        [
            ("xdp_calls", "xdp", 6, 37, false),
            ("xdp_loop", "xdp", 6, 37, false),
            ("xdp_frags_prog", "xdp.frags", 6, 37, true),
            ("xdp_devmap_prog", "xdp/devmap", 6, 33, false),
            ("xdp_cpumap_prog", "xdp.frags/cpumap", 6, 35, true),
            ("tc_prog", "tc", 3, 0, false),
        ]
    );
    assert_eq!(prog(&obj, "xdp_frags_prog").prog_flags(), 1 << 5);
    assert_eq!(prog(&obj, "xdp_calls").prog_flags(), 0);
    assert_eq!(
        prog(&obj, "xdp_cpumap_prog").sec_def.pattern,
        "xdp.frags/cpumap"
    );
    // .text functions are subprograms, never programs.
    assert!(obj.program("global_add").is_none());
    assert!(obj.program("leaf").is_none());
}

#[test]
fn bpf_to_bpf_calls_land_on_the_appended_subprograms() {
    let obj = object("subprogs.o");
    // xdp_calls -> global_add -> mid -> leaf, leaf (subprogs.c).
    let p = prog(&obj, "xdp_calls");
    assert_eq!(callees(p, 0, p.own_len), ["global_add"]);
    let (lo, hi) = subprog_range(p, "global_add");
    assert_eq!(callees(p, lo, hi), ["mid"]);
    let (lo, hi) = subprog_range(p, "mid");
    assert_eq!(callees(p, lo, hi), ["leaf", "leaf"]);
    // Depth-first in call order, each once, as libbpf appends them.
    let order: Vec<&str> = p.subprogs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["global_add", "mid", "leaf"]);
    assert_eq!(p.subprogs[0].start, p.own_len);
    // A static function called from a program section through the .text
    // section symbol.
    let p = prog(&obj, "xdp_frags_prog");
    assert_eq!(callees(p, 0, p.own_len), ["mid"]);
    let p = prog(&obj, "tc_prog");
    assert_eq!(callees(p, 0, p.own_len), ["leaf"]);
    // Programs that call nothing get nothing appended.
    assert!(prog(&obj, "xdp_devmap_prog").subprogs.is_empty());
}

#[test]
fn callbacks_become_pseudo_func_loads() {
    let obj = object("subprogs.o");
    let p = prog(&obj, "xdp_loop");
    let loads: Vec<(usize, &str)> = (0..p.own_len)
        .filter_map(|pc| match p.insns[pc] {
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                ..
            } => Some((pc, subprog_at(p, p.insns[pc].call_target(pc).unwrap()))),
            _ => None,
        })
        .collect();
    assert_eq!(loads.len(), 2, "two bpf_loop callbacks");
    assert_eq!(loads[0].1, "loop_cb");
    assert_eq!(loads[1].1, "loop_cb2");
    // The callbacks are then passed to helper 181, bpf_loop.
    let loops = p
        .insns
        .iter()
        .filter(|i| matches!(i, Insn::Call(CallKind::Helper(181))))
        .count();
    assert_eq!(loops, 2);
}

/// Checks one program against llvm-objdump's reading of its object: the
/// program's own slots and every appended subprogram are the functions'
/// bytes, except the fields relocation and linking rewrite.
fn check_against_objdump(path: &Path, obj: &Object) {
    let Some(funcs) = objdump_functions(path) else {
        eprintln!("skipped: llvm-objdump not installed");
        return;
    };
    for p in &obj.programs {
        let raw = p.raw_insns();
        let own = &funcs[&(p.section.clone(), p.name.clone())];
        assert_eq!(p.own_len, own.len(), "{}: slot count", p.name);
        compare_slots(&p.name, &raw[..p.own_len], own);
        let mut end = p.own_len;
        for s in &p.subprogs {
            let body = &funcs[&(s.section.clone(), s.name.clone())];
            assert_eq!(s.len, body.len(), "{}: {} slot count", p.name, s.name);
            assert_eq!(
                s.start, end,
                "{}: {} is appended right after the previous function",
                p.name, s.name
            );
            compare_slots(
                &format!("{}/{}", p.name, s.name),
                &raw[s.start..s.start + s.len],
                body,
            );
            end += s.len;
        }
        assert_eq!(
            p.insns.len(),
            end,
            "{}: nothing but the program and its subprograms",
            p.name
        );
    }
}

fn compare_slots(what: &str, linked: &[RawInsn], orig: &[common::DumpSlot]) {
    let mut pc = 0;
    while pc < orig.len() {
        let o = RawInsn::from_bytes(orig[pc].bytes);
        let l = linked[pc];
        let at = format!("{what} slot {pc}");
        let is_call = o.code == 0x85 && o.src == 1;
        if o.code == 0x18 && (orig[pc].relocated || o.src == 4) {
            // A relocated lddw: same opcode and register; the pseudo source
            // and both immediates are the loader's.
            assert_eq!((l.code, l.dst), (o.code, o.dst), "{at}");
            assert!(matches!(l.src, 4..=6), "{at}: src {}", l.src);
            assert_eq!(linked[pc + 1].code, 0, "{at}");
            pc += 2;
            continue;
        }
        if is_call {
            assert_eq!((l.code, l.dst, l.off), (o.code, o.dst, o.off), "{at}");
            assert!(l.src == 1 || l.src == 2, "{at}");
        } else {
            assert_eq!(l, o, "{at}");
        }
        pc += 1;
    }
}

#[test]
fn test_objects_agree_with_llvm_objdump() {
    for path in objects_in(&data_dir()) {
        if path.ends_with("badsec.o") || path.ends_with("badmap.o") {
            continue;
        }
        let obj = parse(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check_against_objdump(&path, &obj);
    }
}

#[test]
fn example_objects_parse_and_agree_with_llvm_objdump() {
    let paths = objects_in(&examples_dir());
    if paths.is_empty() {
        eprintln!("skipped: no examples/c/*.o yet");
    }
    for path in paths {
        let obj = parse(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!obj.programs.is_empty(), "{}", path.display());
        check_against_objdump(&path, &obj);
        check_line_info(&path, &obj);
        for p in &obj.programs {
            assert_eq!(p.unsupported, None, "{}: {}", path.display(), p.name);
        }
    }
}

/// Every line_info record names its source line: the text recorded is
/// the text of that line in the C file next to the object.
fn check_line_info(path: &Path, obj: &Object) {
    for p in &obj.programs {
        let mut last = 0;
        for l in &p.line_info {
            assert!(
                l.insn < p.insns.len() && l.insn >= last,
                "{}: line_info order",
                p.name
            );
            last = l.insn;
            let base = Path::new(&l.file).file_name().unwrap();
            let Ok(src) = std::fs::read_to_string(path.with_file_name(base)) else {
                continue; // a header
            };
            if l.line == 0 {
                continue; // compiler-generated code has no line
            }
            let line = src
                .lines()
                .nth(l.line as usize - 1)
                .unwrap_or_else(|| panic!("{}:{}", l.file, l.line));
            assert_eq!(line.trim(), l.text.trim(), "{}: slot {}", p.name, l.insn);
        }
    }
}

#[test]
fn line_info_names_the_right_c_lines() {
    let path = data_dir().join("subprogs.o");
    let obj = object("subprogs.o");
    check_line_info(&path, &obj);
    let p = prog(&obj, "xdp_calls");
    assert!(
        p.line_of(0)
            .unwrap()
            .text
            .contains("ctx->data_end - ctx->data")
    );
    assert!(
        p.line_of(4)
            .unwrap()
            .text
            .contains("return global_add(n, 2) & 3;")
    );
    // The appended leaf carries its own lines.
    let (lo, _) = subprog_range(p, "leaf");
    assert!(
        p.line_of(lo + 1)
            .unwrap()
            .text
            .contains("return x * 3 + 1;")
    );
    assert!(p.line_of(lo + 1).unwrap().file.ends_with("subprogs.c"));
    // func_info: the program at 0, every subprogram at its start.
    let funcs: Vec<(usize, &str)> = p
        .func_info
        .iter()
        .map(|f| (f.insn, f.name.as_str()))
        .collect();
    let mut expect = vec![(0, "xdp_calls")];
    expect.extend(p.subprogs.iter().map(|s| (s.start, s.name.as_str())));
    assert_eq!(funcs, expect);
    for name in ["maps.o", "globals.o", "legacy.o", "unsupported.o"] {
        check_line_info(&data_dir().join(name), &object(name));
    }
}

#[test]
fn btf_defined_maps() {
    let obj = object("maps.o");
    let (flows_idx, flows) = obj.map("flows").unwrap();
    assert_eq!(flows.origin, MapOrigin::Btf);
    assert_eq!(flows.section, ".maps");
    // struct flow_key {u32, u32, u16, u16, u8} is 16 bytes with padding;
    // struct counters {u64; u64[3]} 32.
    assert_eq!(
        (
            flows.map_type,
            flows.key_size,
            flows.value_size,
            flows.max_entries,
            flows.map_flags
        ),
        (maptype::HASH, 16, 32, 1024, 1)
    );
    assert_ne!(flows.btf_key_type_id, 0);
    let (stats_idx, stats) = obj.map("stats").unwrap();
    assert_eq!(
        (
            stats.map_type,
            stats.key_size,
            stats.value_size,
            stats.max_entries
        ),
        (maptype::PERCPU_ARRAY, 4, 8, 4)
    );
    assert_eq!(stats.pinning, Pinning::ByName);
    let (_, events) = obj.map("events").unwrap();
    assert_eq!(
        (
            events.map_type,
            events.key_size,
            events.value_size,
            events.max_entries
        ),
        (maptype::RINGBUF, 0, 0, 4096)
    );
    let (_, bloom) = obj.map("bloom").unwrap();
    assert_eq!(
        (
            bloom.map_type,
            bloom.value_size,
            bloom.max_entries,
            bloom.map_extra
        ),
        (maptype::BLOOM_FILTER, 4, 100, 3)
    );

    // Map of maps: value size 4, an inner template, initial slots 0 and 2.
    let (a, _) = obj.map("inner_a").unwrap();
    let (b, _) = obj.map("inner_b").unwrap();
    let (_, outer) = obj.map("outer").unwrap();
    assert_eq!(
        (
            outer.map_type,
            outer.key_size,
            outer.value_size,
            outer.max_entries
        ),
        (maptype::ARRAY_OF_MAPS, 4, 4, 4)
    );
    let inner = outer.inner.as_ref().expect("inner template");
    assert_eq!(inner.name, "outer.inner");
    assert_eq!(
        (
            inner.map_type,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        (maptype::ARRAY, 4, 8, 2)
    );
    let slots: Vec<(u32, &SlotTarget)> = outer
        .init_slots
        .iter()
        .map(|s| (s.index, &s.target))
        .collect();
    assert_eq!(slots, [(0, &SlotTarget::Map(a)), (2, &SlotTarget::Map(b))]);

    // Prog array with programs at 1 and 3.
    let (jmp_idx, jmp) = obj.map("jmp_table").unwrap();
    assert_eq!(
        (jmp.map_type, jmp.key_size, jmp.value_size, jmp.max_entries),
        (maptype::PROG_ARRAY, 4, 4, 8)
    );
    let slots: Vec<(u32, SlotTarget)> = jmp
        .init_slots
        .iter()
        .map(|s| (s.index, s.target.clone()))
        .collect();
    assert_eq!(
        slots,
        [
            (1, SlotTarget::Prog("tail_a".into())),
            (3, SlotTarget::Prog("tail_b".into()))
        ]
    );

    // The program refers to flows, stats and jmp_table, in source order.
    let p = prog(&obj, "xdp_maps");
    let refs: Vec<u64> = p
        .insns
        .iter()
        .filter_map(|i| match i {
            Insn::LdImm64 {
                pseudo: Pseudo::MapIdx,
                imm,
                ..
            } => Some(*imm),
            _ => None,
        })
        .collect();
    assert_eq!(refs, [flows_idx as u64, stats_idx as u64, jmp_idx as u64]);
}

#[test]
fn legacy_maps_section() {
    let obj = object("legacy.o");
    let defs: Vec<_> = obj
        .maps
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.origin,
                m.map_type,
                m.key_size,
                m.value_size,
                m.max_entries,
            )
        })
        .collect();
    assert_eq!(
        defs,
        [
            ("counts", MapOrigin::Legacy, maptype::ARRAY, 4, 8, 256),
            ("seen", MapOrigin::Legacy, maptype::LRU_HASH, 8, 4, 64)
        ]
    );
    let p = prog(&obj, "xdp_legacy");
    assert!(p.insns.contains(&Insn::LdImm64 {
        dst: rxdp_isa::Reg::R1,
        pseudo: Pseudo::MapIdx,
        imm: 0
    }));
}

#[test]
fn global_data_maps_and_variables() {
    let mut obj = object("globals.o");
    assert_eq!(obj.license, "Dual MIT/GPL");
    assert_eq!(obj.kern_version, Some(0x050a00));
    let names: Vec<&str> = obj.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, [".rodata", ".data", ".data.custom", ".bss"]);
    for m in &obj.maps {
        assert_eq!(
            (m.origin, m.map_type, m.key_size, m.max_entries),
            (MapOrigin::GlobalData, maptype::ARRAY, 4, 1)
        );
        assert_eq!(m.readonly, m.name == ".rodata", "{}", m.name);
        assert_eq!(
            m.map_flags & 0x80 != 0,
            m.readonly,
            "{}: BPF_F_RDONLY_PROG",
            m.name
        );
    }
    // .data: counter_data = 0x1122334455667788 then static_data = 42.
    let (d, _) = obj.map(".data").unwrap();
    let mut want = 0x1122_3344_5566_7788u64.to_le_bytes().to_vec();
    want.extend_from_slice(&42u32.to_le_bytes());
    assert_eq!(obj.maps[d].initial_value.as_deref(), Some(&want[..]));
    // .bss: zeros; .data.custom: custom_val = 5.
    let (b, _) = obj.map(".bss").unwrap();
    assert_eq!(obj.maps[b].initial_value.as_deref(), Some(&[0u8; 8][..]));
    let (c, _) = obj.map(".data.custom").unwrap();
    assert_eq!(
        obj.maps[c].initial_value.as_deref(),
        Some(&5u32.to_le_bytes()[..])
    );
    // .rodata holds the knobs and bpf_printk's format string.
    let (r, _) = obj.map(".rodata").unwrap();
    assert_eq!(obj.global_var(".rodata", "knob_ratio"), Some((r, 0, 4)));
    assert_eq!(obj.global_var(".rodata", "knob_mode"), Some((r, 4, 1)));
    let (_, off, size) = obj.global_var(".rodata", "xdp_globals.____fmt").unwrap();
    let init = obj.maps[r].initial_value.clone().unwrap();
    assert_eq!(&init[off as usize..(off + size) as usize], b"ratio %u\0");
    assert_eq!(u32::from_le_bytes(init[0..4].try_into().unwrap()), 7);
    assert_eq!(obj.global_var(".data", "static_data"), Some((d, 8, 4)));
    assert_eq!(obj.global_var(".bss", "counter_bss"), Some((b, 0, 8)));
    assert_eq!(obj.global_var(".bss", "nope"), None);

    // Code refers to each variable as map value + offset.
    let p = prog(&obj, "xdp_globals");
    let refs: Vec<(u64, u64)> = p
        .insns
        .iter()
        .filter_map(|i| match i {
            Insn::LdImm64 {
                pseudo: Pseudo::MapIdxValue,
                imm,
                ..
            } => Some((imm & 0xffff_ffff, imm >> 32)),
            _ => None,
        })
        .collect();
    let (r, d, c, b) = (r as u64, d as u64, c as u64, b as u64);
    // counter_bss, knob_ratio, counter_data, static_data, custom_val,
    // knob_mode, the format string, in the order the code uses them.
    assert_eq!(
        refs,
        [(b, 0), (r, 0), (d, 0), (d, 8), (c, 0), (r, 4), (r, 5)]
    );

    // A skeleton-style knob update before loading.
    obj.set_global_var(".rodata", "knob_mode", &[1]).unwrap();
    assert_eq!(obj.maps[r as usize].initial_value.as_ref().unwrap()[4], 1);
    let e = obj
        .set_global_var(".rodata", "knob_ratio", &[1])
        .unwrap_err();
    assert!(e.to_string().contains("knob_ratio"), "{e}");
    assert!(obj.set_global_var(".rodata", "missing", &[1]).is_err());
}

#[test]
fn co_re_and_kfunc_programs_are_marked_unsupported() {
    let obj = object("unsupported.o");
    let core = prog(&obj, "xdp_core");
    let what = core.unsupported.as_deref().expect("CO-RE is unsupported");
    assert!(
        what.contains("CO-RE") && what.contains("byte_off") && what.contains("xdp_md___local"),
        "{what}"
    );
    assert!(what.contains("access 0:1"), "{what}");
    let kfunc = prog(&obj, "xdp_kfunc");
    let what = kfunc
        .unsupported
        .as_deref()
        .expect("kfuncs are unsupported");
    assert!(
        what.contains("kfunc") && what.contains("bpf_dynptr_from_xdp"),
        "{what}"
    );
    assert!(kfunc.insns.contains(&Insn::Call(CallKind::Kfunc(0))));
    let e = kfunc.check_supported().unwrap_err();
    assert!(matches!(e, ObjectError::Unsupported { .. }));
    assert!(
        e.to_string().contains("xdp_kfunc") && e.to_string().contains("bpf_dynptr_from_xdp"),
        "{e}"
    );
    let plain = prog(&obj, "xdp_plain");
    assert_eq!(plain.unsupported, None);
    assert!(plain.check_supported().is_ok());
}

#[test]
fn unknown_program_section_is_an_error_naming_it() {
    let e = parse(&data("badsec.o")).unwrap_err();
    assert_eq!(e, ObjectError::UnknownSection("not_a_prog_type".into()));
    assert!(e.to_string().contains("not_a_prog_type"));
}

#[test]
fn examples_with_globals_and_subprograms() {
    let path = examples_dir().join("xdp_subprog_global.o");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipped: {} not built yet", path.display());
        return;
    };
    let obj = parse(&bytes).unwrap();
    let p = &obj.programs[0];
    assert!(!p.subprogs.is_empty());
    for pc in 0..p.insns.len() {
        if let Some(t) = p.insns[pc].call_target(pc) {
            subprog_at(p, t);
        }
    }
}

#[test]
fn optional_programs_static_subprograms_and_static_maps() {
    let obj = object("sections.o");
    let opt = prog(&obj, "xdp_optional");
    assert_eq!(
        (opt.section.as_str(), opt.autoload, opt.prog_type),
        ("?xdp", false, 6)
    );
    let p = prog(&obj, "xdp_local_call");
    assert!(p.autoload);
    // A static function in the program's own section is a subprogram,
    // reached by a call without relocation.
    assert!(obj.program("local_helper").is_none());
    assert_eq!(callees(p, 0, p.own_len), ["local_helper"]);
    assert_eq!(p.subprogs[0].section, "xdp");
    // Static maps are referenced through the .maps section symbol, the
    // map's offset in the instruction.
    let (hidden, _) = obj.map("hidden").unwrap();
    let (hidden2, _) = obj.map("hidden2").unwrap();
    let refs: Vec<u64> = p
        .insns
        .iter()
        .filter_map(|i| match i {
            Insn::LdImm64 {
                pseudo: Pseudo::MapIdx,
                imm,
                ..
            } => Some(*imm),
            _ => None,
        })
        .collect();
    assert_eq!(refs, [hidden as u64, hidden2 as u64]);
}

#[test]
fn conflicting_map_definition_is_an_error_naming_map_and_field() {
    let e = parse(&data("badmap.o")).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ObjectError::Map { .. }), "{msg}");
    assert!(
        msg.contains("conflicted") && msg.contains("key") && msg.contains("8 and 4"),
        "{msg}"
    );
}
