//! The JIT on the command line: `prog dump --jited` / `--xlated`,
//! `test-run --engine jit --disasm`, and the executable memory `prog list`
//! reports.
//!
//! Which example programs the JIT compiles may change: the tests dump
//! every example and check the ones that have native code; programs
//! without helper calls (`subprog.s`, `xdp_subprog_global.o`,
//! `xdp_drop.o`) must always have it. The fallback to the interpreter is
//! forced by taking executable memory away (a file size limit below a
//! prog pack's size), which works whatever the JIT compiles.

use iced_x86::{Decoder, DecoderOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rxdp(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_rxdp"))
        .args(args)
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("panicked"), "{all}");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The example assembly files and BPF objects.
fn examples() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["examples", "examples/c"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "s" || e == "o") {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(v.len() >= 10, "{v:?}");
    v
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(o), stderr(o)))
}

/// `prog dump FILE --xlated --json`: per program, the slots of its
/// instructions (a `lddw` counts once).
fn xlated_slots(file: &str) -> Vec<(String, Vec<u64>)> {
    let o = rxdp(&["prog", "dump", file, "--xlated", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    json(&o)["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let slots = p["insns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["insn"].as_u64().unwrap())
                .collect();
            (p["name"].as_str().unwrap().to_string(), slots)
        })
        .collect()
}

/// One line of native code in a text dump: offset, bytes, text.
fn native_line(line: &str) -> Option<(usize, Vec<u8>, String)> {
    let (off, rest) = line.split_once(":\t")?;
    let off = usize::from_str_radix(off.trim(), 16).ok()?;
    let (bytes, asm) = rest.split_once('\t')?;
    let bytes = bytes
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    Some((off, bytes, asm.to_string()))
}

/// Checks one program's text dump (`--opcodes`) against the slots of its
/// instructions: every slot in order, code that covers the image without
/// gaps, decodes as x86-64 and adds up to the size in the header, which
/// is returned.
fn check_text_dump(what: &str, text: &str, slots: &[u64]) -> usize {
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let size: usize = header
        .split_once(": ")
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: header {header:?}"));
    let count: u64 = header
        .strip_suffix(" BPF insns")
        .and_then(|h| h.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: header {header:?}"));
    assert!(slots.last().is_some_and(|&l| l < count), "{what}: {header}");
    let mut seen = Vec::new();
    let mut code = Vec::new();
    let mut lens = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("; ")
            && let Some((n, _)) = rest.split_once(": ")
            && let Ok(n) = n.parse::<u64>()
        {
            seen.push(n);
        } else if let Some((off, bytes, asm)) = native_line(line) {
            assert_eq!(off, code.len(), "{what}: gap or overlap at {line:?}");
            assert!(!bytes.is_empty(), "{what}: {line:?}");
            assert!(!asm.contains("(bad)"), "{what}: {line:?}");
            lens.push(bytes.len());
            code.extend(bytes);
        } else {
            assert!(
                line.is_empty() || line.starts_with(';') || line.ends_with("):"),
                "{what}: unexpected line {line:?}"
            );
        }
    }
    assert_eq!(
        seen, slots,
        "{what}: BPF instructions out of order or missing"
    );
    assert_eq!(code.len(), size, "{what}: the lines' bytes and the header");
    // An independent decode finds the same instructions, all valid.
    let mut d = Decoder::with_ip(64, &code, 0, DecoderOptions::NONE);
    let decoded: Vec<usize> = d
        .iter()
        .map(|i| {
            assert!(!i.is_invalid(), "{what}: invalid x86 at {:#x}", i.ip());
            i.len()
        })
        .collect();
    assert_eq!(decoded, lens, "{what}: instruction boundaries");
    size
}

#[test]
fn jited_dump_of_every_example() {
    let mut jited = Vec::new();
    for file in examples() {
        let file = path(&file);
        let slots = xlated_slots(&file);
        let o = rxdp(&["prog", "dump", &file, "--jited", "--json"]);
        let v = json(&o);
        let progs = v["programs"].as_array().unwrap();
        assert_eq!(progs.len(), slots.len(), "{file}");
        let any_fallback = progs.iter().any(|p| p.get("not_jited").is_some());
        assert_eq!(
            o.status.code(),
            Some(i32::from(any_fallback)),
            "{file}: {v}"
        );
        let list = file
            .ends_with(".o")
            .then(|| json(&rxdp(&["prog", "list", &file, "--json"])));
        for (p, (name, slots)) in progs.iter().zip(&slots) {
            assert_eq!(p["name"], name.as_str());
            if let Some(why) = p["not_jited"].as_str() {
                assert!(!why.is_empty(), "{file}: {p}");
                continue;
            }
            // A lone program takes no --prog.
            let mut args = vec!["prog", "dump", &file, "--jited", "--opcodes"];
            if file.ends_with(".o") {
                args.extend(["--prog", name]);
            }
            let o = rxdp(&args);
            assert!(o.status.success(), "{file} {name}: {}", stderr(&o));
            let size = check_text_dump(&format!("{file} {name}"), &stdout(&o), slots);
            assert_eq!(p["native_size"], size, "{file} {name}");
            // The JSON blocks carry the same bytes, in order.
            let bytes: usize = p["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|b| b["code"].as_array().unwrap())
                .map(|c| c["bytes"].as_str().unwrap().len() / 2)
                .sum();
            assert_eq!(bytes, size, "{file} {name}");
            // What `prog list` reports as the native size.
            if let Some(list) = &list {
                let entry = list["programs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["name"] == name.as_str())
                    .unwrap();
                assert_eq!(entry["native_size"], size, "{file} {name}: {entry}");
            }
            jited.push(format!(
                "{} {name}",
                Path::new(&file).file_name().unwrap().to_string_lossy()
            ));
        }
    }
    for must in [
        "subprog.s subprog",
        "xdp_drop.s xdp_drop",
        "xdp_drop.o xdp_drop_all",
        "xdp_subprog_global.o xdp_subprog_global",
    ] {
        assert!(
            jited.iter().any(|j| j == must),
            "{must} not jited: {jited:?}"
        );
    }
}

#[test]
fn jited_dump_names_subprograms_and_source_lines() {
    let file = path(&root().join("examples/c/xdp_subprog_global.o"));
    let o = rxdp(&["prog", "dump", &file, "--jited"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.starts_with("xdp_subprog_global: "), "{s}");
    for want in [
        "; prologue\n",
        "update_avg_len (subprog 1, insn ",
        "; xdp_subprog_global.c:",
        "map_value[.bss]+",
        "\tcall   0x",
        "\tret",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    // Without --opcodes, no byte column.
    let first = s.lines().find_map(native_line);
    assert!(first.is_none(), "{s}");
}

#[test]
fn xlated_dump_names_maps_and_helpers() {
    let file = path(&root().join("examples/count_proto.s"));
    let o = rxdp(&["prog", "dump", &file, "--xlated"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.starts_with("count_proto:\n"), "{s}");
    for want in [
        "    9: r1 = map[counters] ll",
        "call bpf_map_lookup_elem",
        "   18: exit",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    let o = rxdp(&["prog", "dump", &file, "--xlated", "--opcodes"]);
    let s = stdout(&o);
    assert!(s.contains("   18: 95 00 00 00 00 00 00 00 "), "{s}");
    let file = path(&root().join("examples/c/xdp_subprog_global.o"));
    let o = rxdp(&["prog", "dump", &file, "--xlated"]);
    assert!(stdout(&o).contains("map_value[.rodata]+"), "{}", stdout(&o));
}

/// Runs rxdp with its file size limit below a prog pack's 2 MiB, so that
/// sizing the pack's memfd fails and no program gets native code: the
/// JIT's fallback, whatever the JIT can compile. (SIGXFSZ is ignored,
/// which exec keeps, so that the failed ftruncate returns EFBIG.)
fn rxdp_without_executable_memory(args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rxdp"));
    cmd.args(args);
    // SAFETY: the closure runs in the child between fork and exec and
    // calls only setrlimit and signal, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        })
    };
    let out = cmd.output().unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("panicked"), "{all}");
    out
}

#[test]
fn jited_dump_of_a_program_without_native_code_exits_1_with_the_reason() {
    let file = path(&root().join("examples/subprog.s"));
    let o = rxdp_without_executable_memory(&["prog", "dump", &file, "--jited"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("rxdp: subprog: not jited: ")
            && err.contains("executable memory")
            && err.contains("runs it on the interpreter"),
        "{err}"
    );
    // The reason is the one test-run gives when it falls back.
    let run = rxdp_without_executable_memory(&["test-run", &file, "--engine", "jit", "--disasm"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let why = stderr(&run)
        .lines()
        .find_map(|l| l.strip_prefix("jit: "))
        .and_then(|l| l.strip_suffix("; running the interpreter"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{}", stderr(&run)));
    assert!(err.contains(&why), "{err}\n{why}");
    assert!(stdout(&run).contains("interp engine"), "{}", stdout(&run));
    // In JSON: the reason in `not_jited`, still exit 1; test-run's
    // `jited` field says the same.
    let o = rxdp_without_executable_memory(&["prog", "dump", &file, "--jited", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["programs"][0]["not_jited"], why.as_str(), "{v}");
    assert!(v["programs"][0].get("blocks").is_none(), "{v}");
    let run = rxdp_without_executable_memory(&[
        "test-run", &file, "--engine", "jit", "--disasm", "--json",
    ]);
    assert!(run.status.success());
    assert_eq!(json(&run)["jited"]["not_jited"], why.as_str());
    // An object: every program says why; --xlated needs no native code.
    let obj = path(&root().join("examples/c/xdp_tailcall.o"));
    let o = rxdp_without_executable_memory(&["prog", "dump", &obj, "--jited"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for name in ["xdp_entry", "xdp_l3", "xdp_l4"] {
        assert!(err.contains(&format!("rxdp: {name}: not jited: ")), "{err}");
    }
    let o = rxdp_without_executable_memory(&["prog", "dump", &obj, "--xlated"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // And `prog list` shows no memory in use.
    let v = json(&rxdp_without_executable_memory(&[
        "prog", "list", &obj, "--json",
    ]));
    assert_eq!(v["executable_memory"]["bytes_used"], 0, "{v}");
    assert!(v["programs"][0]["not_jited"].is_string(), "{v}");
}

/// Writes `text` to a fresh file named `name` and returns its path.
fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rxdp-cli-jit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_callback_gets_its_prologue() {
    // The callback is entered through its address, not a call: its entry
    // is found from the address the main program takes.
    let file = path(&scratch(
        "callback.s",
        "    r2 = func[cb] ll\n    r0 = 2\n    exit\ncb:\n    r0 = 0\n    exit\n",
    ));
    let o = rxdp(&["prog", "dump", &file, "--jited"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    let (main, cb) = s
        .split_once("\nsubprog 1 (insn 4):\n")
        .unwrap_or_else(|| panic!("{s}"));
    let entry = cb
        .strip_prefix("; prologue\n")
        .and_then(|c| c.lines().next())
        .and_then(native_line_plain)
        .unwrap_or_else(|| panic!("no prologue code:\n{s}"));
    // The main program takes the address of that first instruction.
    assert!(main.contains(&format!("[{entry:#x}]")), "{s}");
}

/// The offset of a line of native code without bytes.
fn native_line_plain(line: &str) -> Option<usize> {
    let (off, _) = line.split_once(":\t")?;
    usize::from_str_radix(off.trim(), 16).ok()
}

#[test]
fn test_run_disasm_prints_the_native_code_apart_from_the_result() {
    let file = path(&root().join("examples/subprog.s"));
    let dump = rxdp(&["prog", "dump", &file, "--jited"]);
    let o = rxdp(&["test-run", &file, "--engine", "jit", "--disasm"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&stdout(&dump)), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("verdict:"), "{out}");
    assert!(!out.contains("native code"), "{out}");
    // In JSON, the dump is the `jited` field of the one object.
    let o = rxdp(&["test-run", &file, "--engine", "jit", "--disasm", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["action"], "XDP_PASS");
    let d = json(&rxdp(&["prog", "dump", &file, "--jited", "--json"]));
    assert_eq!(v["jited"]["native_size"], d["programs"][0]["native_size"]);
    assert_eq!(v["jited"]["blocks"].as_array().unwrap().len(), 18, "{v}");
}

#[test]
fn bad_flag_combinations_exit_2() {
    let file = path(&root().join("examples/subprog.s"));
    let cases: [(&[&str], &str); 5] = [
        (
            &["prog", "dump", &file, "--jited", "--xlated"],
            "cannot be used with",
        ),
        (&["prog", "dump", &file], "--jited|--xlated"),
        (&["test-run", &file, "--disasm"], "needs --engine jit"),
        (
            &["test-run", &file, "--engine", "checked", "--disasm"],
            "needs --engine jit",
        ),
        (
            &["prog", "dump", &file, "--jited", "--prog", "x"],
            "--prog is for objects",
        ),
    ];
    for (args, want) in cases {
        let o = rxdp(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
}

#[test]
fn prog_list_reports_executable_memory() {
    let file = path(&root().join("examples/c/xdp_subprog_global.o"));
    let o = rxdp(&["prog", "list", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    let line = s
        .lines()
        .find(|l| l.starts_with("executable memory: "))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(
        line.contains("1 pack of 2048 KiB") && line.contains("B free"),
        "{line}"
    );
    // After the programs, before the maps.
    let at = |w: &str| s.find(w).unwrap();
    assert!(
        at("native code") < at(line) && at(line) < at("\nmaps:\n"),
        "{s}"
    );
    let v = json(&rxdp(&["prog", "list", &file, "--json"]));
    let m = &v["executable_memory"];
    let used = m["bytes_used"].as_u64().unwrap();
    let free = m["bytes_free"].as_u64().unwrap();
    let native = v["programs"][0]["native_size"].as_u64().unwrap();
    // Chunks of 64 bytes hold the code.
    assert!(used >= native && used.is_multiple_of(64), "{m}");
    assert_eq!(
        used + free,
        m["packs"].as_u64().unwrap() * m["pack_size"].as_u64().unwrap(),
        "{m}"
    );
    assert!(line.contains(&format!("{used} B used")), "{line}");
}
