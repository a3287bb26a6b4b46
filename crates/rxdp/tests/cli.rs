//! End-to-end tests of the `rxdp` binary: each runs the real command with
//! its arguments and checks the exit status, stdout and stderr a user
//! would see. Exit status 0 is success, 1 a rejected or failed program,
//! 2 bad input on the command line or in a file; no command may panic.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the command printed, and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts the exit status, showing everything printed when it is not.
    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts that stderr holds every one of `parts`.
    fn stderr_has(self, parts: &[&str]) -> Run {
        for p in parts {
            assert!(
                self.stderr.contains(p),
                "stderr lacks {p:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    /// Asserts that stdout holds every one of `parts`.
    fn stdout_has(self, parts: &[&str]) -> Run {
        for p in parts {
            assert!(
                self.stdout.contains(p),
                "stdout lacks {p:?}:\n{}",
                self.stdout
            );
        }
        self
    }

    /// The one JSON object `test-run --json` prints.
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `rxdp` with `args`; fails the test if it panicked or was killed.
fn rxdp<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rxdp"))
        .args(args)
        .output()
        .expect("cannot start rxdp");
    let run = Run {
        code: out.status.code().expect("rxdp was killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stdout.contains("panicked") && !run.stderr.contains("panicked"),
        "rxdp panicked:\n{}{}",
        run.stdout,
        run.stderr
    );
    run
}

/// A directory of its own for one test, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rxdp-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every example program, sorted by name.
fn examples() -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    v.sort();
    assert!(v.len() >= 6, "examples missing");
    v
}

fn example(name: &str) -> PathBuf {
    let p = examples_dir().join(name);
    assert!(p.exists(), "{} missing", p.display());
    p
}

/// The packet `test-run` uses without `--data`: 64 bytes of IPv4/UDP from
/// 02:00:00:00:00:01 to 02:00:00:00:00:02, destination port 5678.
fn builtin_packet() -> Vec<u8> {
    let p = rxdp_xdp::sample::udp4(64);
    // Facts the verdicts below rely on, checked here rather than assumed.
    assert_eq!(p.len(), 64);
    assert_eq!(&p[0..6], &[2, 0, 0, 0, 0, 2]);
    assert_eq!(&p[6..12], &[2, 0, 0, 0, 0, 1]);
    assert_eq!(&p[12..14], &[0x08, 0x00], "IPv4");
    assert_eq!(p[23], 17, "UDP");
    assert_eq!(&p[36..38], &5678u16.to_be_bytes());
    p
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The parts of a `--json` result that do not depend on timing.
fn outcome(v: &Value) -> (u64, String, String) {
    (
        v["retval"].as_u64().expect("retval is a number"),
        v["action"].as_str().expect("action is a string").to_owned(),
        v["data_out"]
            .as_str()
            .expect("data_out is a string")
            .to_owned(),
    )
}

/// `test-run --json` with extra arguments, expected to succeed.
fn run_json(prog: &Path, extra: &[&str]) -> (u64, String, String) {
    let mut args = vec!["test-run".as_ref(), prog.as_os_str(), "--json".as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let r = rxdp(&args).expect(0);
    outcome(&r.json())
}

/// The verdict each example gives the built-in packet.
const VERDICTS: &[(&str, u64, &str)] = &[
    ("count_proto.s", 2, "XDP_PASS"),
    ("parse_udp.s", 1, "XDP_DROP"),
    ("pass_ipv4.s", 2, "XDP_PASS"),
    ("subprog.s", 2, "XDP_PASS"),
    ("swap_mac.s", 3, "XDP_TX"),
    ("xdp_drop.s", 1, "XDP_DROP"),
];

#[test]
fn every_example_has_its_verdict_in_text_and_json() {
    let pkt = builtin_packet();
    for path in examples() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let &(_, retval, action) = VERDICTS
            .iter()
            .find(|v| v.0 == name)
            .unwrap_or_else(|| panic!("no expected verdict for new example {name}"));

        let j = rxdp(&["test-run".as_ref(), path.as_os_str(), "--json".as_ref()]).expect(0);
        assert_eq!(j.stdout.trim().lines().count(), 1, "{name}: one JSON line");
        let v = j.json();
        let (r, a, data) = outcome(&v);
        assert_eq!((r, a.as_str()), (retval, action), "{name} --json");
        assert!(v["duration_ns"].is_u64(), "{name}: duration_ns {v}");
        assert_eq!(from_hex(&data).len(), pkt.len(), "{name}: data_out length");
        if name != "swap_mac.s" {
            assert_eq!(from_hex(&data), pkt, "{name} leaves the packet alone");
        }

        let t = rxdp(&[Path::new("test-run"), &path]).expect(0);
        assert!(
            t.stdout.contains(&format!("{action} (retval {retval})")),
            "{name} text:\n{}",
            t.stdout
        );
        assert!(t.stdout.contains("64 bytes"), "{name}:\n{}", t.stdout);
        // The hex dump in the text is the same data_out as the JSON's.
        let dumped: String = t
            .stdout
            .lines()
            .filter_map(|l| l.trim().split_once("  "))
            .filter(|(off, _)| off.len() == 4 && off.chars().all(|c| c.is_ascii_hexdigit()))
            .flat_map(|(_, bytes)| bytes.split_whitespace().map(str::to_owned))
            .collect();
        assert_eq!(dumped, data, "{name}: text dump vs JSON data_out");
    }
}

#[test]
fn swap_mac_swaps_the_addresses() {
    let pkt = builtin_packet();
    let (retval, _, data) = run_json(&example("swap_mac.s"), &[]);
    assert_eq!(retval, 3);
    let out = from_hex(&data);
    assert_eq!(&out[0..6], &pkt[6..12], "destination is the old source");
    assert_eq!(&out[6..12], &pkt[0..6], "source is the old destination");
    assert_eq!(&out[12..], &pkt[12..], "the rest is untouched");
}

#[test]
fn data_and_data_file_give_the_same_result() {
    let tmp = TempDir::new("data");
    // The built-in packet sent to port 80 instead: parse_udp passes it.
    let mut pkt = builtin_packet();
    pkt[36..38].copy_from_slice(&80u16.to_be_bytes());
    let file = tmp.file("pkt.raw", &pkt);
    let hex = to_hex(&pkt);
    let spaced: String = pkt.iter().map(|b| format!("{b:02X} ")).collect();
    let prog = example("parse_udp.s");

    let from_hex_arg = run_json(&prog, &["--data", &hex]);
    let from_spaced = run_json(&prog, &["--data", &spaced]);
    let from_file = run_json(&prog, &["--data-file", file.to_str().unwrap()]);
    assert_eq!(from_hex_arg.0, 2, "port 80 passes");
    assert_eq!(from_hex_arg.2, hex);
    assert_eq!(from_spaced, from_hex_arg);
    assert_eq!(from_file, from_hex_arg);

    // And the built-in packet given explicitly is dropped like the default.
    let builtin = to_hex(&builtin_packet());
    let explicit = run_json(&prog, &["--data", &builtin]);
    assert_eq!(explicit, run_json(&prog, &[]));
    assert_eq!(explicit.0, 1);
}

#[test]
fn packet_sizes_at_the_limits_run() {
    let tmp = TempDir::new("sizes");
    for len in [14usize, 3520] {
        let pkt: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let f = tmp.file("p.raw", &pkt);
        let (retval, _, data) = run_json(
            &example("xdp_drop.s"),
            &["--data-file", f.to_str().unwrap()],
        );
        assert_eq!(retval, 1, "{len} bytes");
        assert_eq!(from_hex(&data), pkt, "{len} bytes");
    }
}

#[test]
fn repeat_runs_the_program_that_many_times() {
    let prog = example("parse_udp.s");
    assert_eq!(run_json(&prog, &["--repeat", "50"]), run_json(&prog, &[]));
    let t = rxdp(&[
        "test-run".as_ref(),
        prog.as_os_str(),
        "--repeat".as_ref(),
        "7".as_ref(),
    ])
    .expect(0);
    assert!(t.stdout.contains("mean of 7 runs"), "{}", t.stdout);

    // swap_mac rewrites the same buffer on each run, as the kernel's
    // test run does: an even number of runs gives back the packet.
    let pkt = to_hex(&builtin_packet());
    let swap = example("swap_mac.s");
    let once = run_json(&swap, &["--repeat", "1"]).2;
    assert_ne!(once, pkt);
    assert_eq!(run_json(&swap, &["--repeat", "2"]).2, pkt);
    assert_eq!(run_json(&swap, &["--repeat", "3"]).2, once);
}

#[test]
fn interp_engine_is_the_default_and_agrees_with_checked() {
    for path in examples() {
        let args = |engine: &str| {
            vec![
                std::ffi::OsString::from("test-run"),
                path.as_os_str().to_owned(),
                "--json".into(),
                "--engine".into(),
                engine.into(),
            ]
        };
        let checked = rxdp(&args("checked")).expect(0);
        let interp = rxdp(&args("interp")).expect(0);
        // Verified programs need no warning on any engine.
        for r in [&checked, &interp] {
            assert!(!r.stderr.contains("warning"), "{}", r.stderr);
        }
        let default = rxdp(&[Path::new("test-run"), &path]).expect(0);
        assert!(
            default.stdout.contains("interp engine"),
            "{}",
            default.stdout
        );
        assert_eq!(
            outcome(&interp.json()),
            outcome(&checked.json()),
            "{}",
            path.display()
        );
    }
}

#[test]
fn jit_engine_agrees_with_interp_and_runs_native_code() {
    for name in ["xdp_drop.s", "parse_udp.s"] {
        let path = example(name);
        let p = path.to_str().unwrap();
        let interp = rxdp(&["test-run", p, "--json", "--engine", "interp"]).expect(0);
        let jit = rxdp(&["test-run", p, "--json", "--engine", "jit"]).expect(0);
        assert!(!jit.stderr.contains("jit:"), "{name}: {}", jit.stderr);
        assert_eq!(outcome(&jit.json()), outcome(&interp.json()), "{name}");
        let text = rxdp(&["test-run", p, "--engine", "jit"]).expect(0);
        assert!(text.stdout.contains("jit engine"), "{}", text.stdout);
    }
}

#[test]
fn jit_engine_runs_helper_calls_natively() {
    let tmp = TempDir::new("jit-helper");
    let prog = tmp.file(
        "cpu.s",
        "r0 = 2\ncall bpf_get_smp_processor_id\nr0 += 2\nexit\n",
    );
    let p = prog.to_str().unwrap();
    let jit = rxdp(&["test-run", p, "--engine", "jit"]).expect(0);
    assert!(jit.stdout.contains("XDP_PASS (retval 2)"), "{}", jit.stdout);
    assert!(jit.stdout.contains("jit engine"), "{}", jit.stdout);
    assert!(!jit.stderr.contains("jit:"), "no fallback: {}", jit.stderr);
}

#[test]
fn prog_list_shows_native_code_size() {
    let c = examples_dir().join("c");
    let drop = c.join("xdp_drop.o");
    let count = c.join("xdp_count.o");
    let (drop, count) = (drop.to_str().unwrap(), count.to_str().unwrap());
    rxdp(&["prog", "list", drop])
        .expect(0)
        .stdout_has(&["native code ", " B"]);
    rxdp(&["prog", "list", count])
        .expect(0)
        .stdout_has(&["native code ", " B"]);
    for obj in [drop, count] {
        let v = rxdp(&["prog", "list", obj, "--json"]).expect(0).json();
        let size = v["programs"][0]["native_size"]
            .as_u64()
            .expect("a native size");
        assert!(size > 0, "{v}");
        assert!(v["programs"][0].get("not_jited").is_none(), "{v}");
    }
}

#[test]
fn asm_disasm_asm_round_trip_is_byte_identical() {
    let tmp = TempDir::new("roundtrip");
    for path in examples() {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let bin = tmp.path(&format!("{name}.bin"));
        rxdp(&[Path::new("asm"), &path, Path::new("-o"), &bin]).expect(0);
        let bytes = std::fs::read(&bin).unwrap();
        assert!(
            !bytes.is_empty() && bytes.len().is_multiple_of(8),
            "{name}: {} bytes",
            bytes.len()
        );

        for flags in [&[][..], &["--labels", "--helper-names"][..]] {
            let mut args = vec![Path::new("disasm"), &bin];
            args.extend(flags.iter().map(Path::new));
            let text = rxdp(&args).expect(0).stdout;
            let again_s = tmp.file(&format!("{name}.again.s"), &text);
            let again = tmp.path(&format!("{name}.again.bin"));
            rxdp(&[Path::new("asm"), &again_s, Path::new("-o"), &again]).expect(0);
            assert_eq!(
                std::fs::read(&again).unwrap(),
                bytes,
                "{name} {flags:?}:\n{text}"
            );
        }
    }
}

#[test]
fn test_run_on_bytecode_matches_assembly() {
    let tmp = TempDir::new("bin");
    for path in examples() {
        let name = path.file_stem().unwrap().to_str().unwrap();
        if std::fs::read_to_string(&path).unwrap().contains(".map") {
            continue; // raw bytecode carries no map declarations
        }
        let bin = tmp.path(&format!("{name}.bin"));
        rxdp(&[Path::new("asm"), &path, Path::new("-o"), &bin]).expect(0);
        assert_eq!(run_json(&bin, &[]), run_json(&path, &[]), "{name}");
    }
}

#[test]
fn verify_accepts_every_example() {
    for path in examples() {
        let r = rxdp(&[Path::new("verify"), &path]).expect(0);
        assert!(r.stdout.contains("accepted"), "{}", r.stdout);
    }
}

/// Programs the verifier must reject, the instruction at fault, and a
/// word its reason must hold.
const REJECTED: &[(&str, &str, usize, &str)] = &[
    ("jump_out.s", "r0 = 2\ngoto +5\nexit\n", 1, "range"),
    ("fall_off.s", "r0 = 2\nr1 = 3\n", 1, "exit"),
    ("write_r10.s", "r0 = 2\nr10 = 0\nexit\n", 1, "frame pointer"),
    (
        "write_ctx.s",
        "r0 = 2\n*(u32 *)(r1 + 0) = 1\nexit\n",
        1,
        "context",
    ),
    ("bad_helper.s", "r0 = 2\ncall 9999\nexit\n", 1, "helper"),
];

#[test]
fn verify_rejects_with_reason_and_instruction() {
    let tmp = TempDir::new("reject");
    for &(name, text, pc, word) in REJECTED {
        let prog = tmp.file(name, text);
        let r = rxdp(&[Path::new("verify"), &prog]).expect(1).stderr_has(&[
            "rejected",
            &format!("insn {pc}"),
            word,
        ]);
        assert!(r.stdout.is_empty(), "{name}: {}", r.stdout);
        let reason = r
            .stderr
            .trim_end()
            .split_once(": rejected: ")
            .unwrap_or_else(|| panic!("{name}: {}", r.stderr))
            .1
            .to_owned();

        // The same reason, printed once, stops test-run with status 1
        // (verify follows it with the statistics).
        let r = rxdp(&[Path::new("test-run"), &prog]).expect(1);
        let said = r
            .stderr
            .strip_prefix("rxdp: ")
            .unwrap_or_else(|| panic!("{}", r.stderr));
        assert!(
            reason.starts_with(said.trim_end()),
            "{name}: {said} vs {reason}"
        );
        assert_eq!(r.stderr.matches(said.trim_end()).count(), 1, "{name}");
        assert!(r.stdout.is_empty(), "{name}: {}", r.stdout);
    }
}

/// The first line of the kernel's statistics, which `verify` prints for
/// every accepted program.
const STATS: &str = "processed ";

#[test]
fn verify_prints_the_statistics_of_an_accepted_program() {
    let parse = example("parse_udp.s");
    for level in [None, Some("0"), Some("1")] {
        let mut args = vec![Path::new("verify"), &parse];
        if let Some(l) = level {
            args.extend([Path::new("--log-level"), Path::new(l)]);
        }
        let r = rxdp(&args).expect(0);
        for want in [
            "accepted",
            STATS,
            "insns (limit 1000000)",
            "total_states",
            "peak_states",
            "verification time",
            " usec",
            "stack depth 0",
        ] {
            assert!(
                r.stdout.contains(want),
                "{level:?}: no {want:?}:\n{}",
                r.stdout
            );
        }
        assert_eq!(r.stdout.matches(STATS).count(), 1, "{}", r.stdout);
    }
    let v: Value = serde_json::from_str(
        rxdp(&[Path::new("verify"), &parse, Path::new("--json")])
            .expect(0)
            .stdout
            .trim(),
    )
    .unwrap();
    let p = &v["programs"][0];
    assert_eq!(p["accepted"], true, "{v}");
    assert!(p["stats"]["insns_processed"].as_u64().unwrap() >= 34, "{v}");
    assert_eq!(p["stack_depth"], serde_json::json!([0]), "{v}");
}

#[test]
fn verify_log_level_2_prints_every_instruction_with_the_registers() {
    let tmp = TempDir::new("level2");
    let prog = tmp.file("two.s", "r0 = 2\nr0 += 1\nexit\n");
    let r = rxdp(&[
        Path::new("verify"),
        &prog,
        Path::new("--log-level"),
        Path::new("2"),
    ])
    .expect(0);
    for want in [
        "0: (", "R10=fp0", "r0 = 2", "1: (", "R0=2", "r0 += 1", "2: (", "R0=3", STATS,
    ] {
        assert!(r.stdout.contains(want), "no {want:?}:\n{}", r.stdout);
    }
    // Level 1 shows only the statistics for an accepted program.
    let r = rxdp(&[Path::new("verify"), &prog]).expect(0);
    assert!(!r.stdout.contains("R10=fp0"), "{}", r.stdout);
}

#[test]
fn verify_rejects_an_unchecked_packet_read_with_the_state_at_the_fault() {
    let tmp = TempDir::new("pktread");
    // Reads a packet byte with no bounds check against data_end.
    let prog = tmp.file(
        "oob.s",
        "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 100)\nexit\n",
    );
    let r = rxdp(&[Path::new("verify"), &prog]).expect(1).stderr_has(&[
        "R2 offset is outside of the packet",
        "insn 1",
        "rejected",
        // The registers at the fault: r2 is a packet pointer with no
        // range proven.
        "R1=ctx()",
        "R2=pkt(r=0)",
        "1: r0 = *(u8 *)(r2 + 100)",
        STATS,
        "verification time",
    ]);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let stats_at = r.stderr.find(STATS).unwrap();
    let state_at = r.stderr.find("R2=pkt(r=0)").unwrap();
    assert!(state_at < stats_at, "{}", r.stderr);

    // Level 0: the reason and the statistics, no state.
    let r = rxdp(&[
        Path::new("verify"),
        &prog,
        Path::new("--log-level"),
        Path::new("0"),
    ])
    .expect(1)
    .stderr_has(&["R2 offset is outside of the packet", STATS]);
    assert!(!r.stderr.contains("R1=ctx()"), "{}", r.stderr);

    // JSON: the verdict, the instruction and the log, on stdout.
    let r = rxdp(&[Path::new("verify"), &prog, Path::new("--json")]).expect(1);
    let v = r.json();
    assert_eq!(v["accepted"], false, "{v}");
    assert_eq!(v["pc"], 1, "{v}");
    assert!(v["log"].as_str().unwrap().contains("R2=pkt(r=0)"), "{v}");

    // test-run and prog list load too: with --log-level 1 the state is
    // shown there as well; by default only the reason.
    rxdp(&[
        Path::new("test-run"),
        &prog,
        Path::new("--log-level"),
        Path::new("1"),
    ])
    .expect(1)
    .stderr_has(&["R2=pkt(r=0)", "R2 offset is outside of the packet"]);
    let r = rxdp(&[Path::new("test-run"), &prog]).expect(1);
    assert!(!r.stderr.contains("R2=pkt"), "{}", r.stderr);
}

#[test]
fn privileged_accepts_a_read_of_uninitialised_stack() {
    let tmp = TempDir::new("privileged");
    let prog = tmp.file("stack.s", "r0 = *(u64 *)(r10 - 8)\nexit\n");
    rxdp(&[Path::new("verify"), &prog])
        .expect(1)
        .stderr_has(&["invalid read from stack", "insn 0"]);
    let r = rxdp(&[Path::new("verify"), &prog, Path::new("--privileged")]).expect(0);
    assert!(
        r.stdout.contains("accepted") && r.stdout.contains("stack depth 8"),
        "{}",
        r.stdout
    );
    rxdp(&[Path::new("test-run"), &prog]).expect(1);
    rxdp(&[Path::new("test-run"), &prog, Path::new("--privileged")]).expect(0);
}

#[test]
fn checked_engine_fault_names_the_instruction() {
    let tmp = TempDir::new("fault");
    // Reads a byte 100 bytes into a 64-byte packet with no bounds check.
    let prog = tmp.file(
        "oob.s",
        "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 100)\nexit\n",
    );
    let r = rxdp(&[Path::new("test-run"), &prog])
        .expect(1)
        .stderr_has(&["insn 1"]);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

/// Runs `rxdp args` in `dir` expecting exit status 2 and every one of
/// `parts` in the message.
fn usage_error(dir: &Path, args: &[&str], parts: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_rxdp"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{args:?}:\n{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
    for p in parts {
        assert!(
            stderr.contains(p),
            "{args:?}: stderr lacks {p:?}:\n{stderr}"
        );
    }
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let tmp = TempDir::new("usage");
    let d = &tmp.0;
    tmp.file("drop.s", "r0 = 1\nexit\n");
    tmp.file("drop.txt", "r0 = 1\nexit\n");
    tmp.file("syntax.s", "r0 = 2\nr0 += % 3\nexit\n");
    tmp.file("short.bin", [0xb7u8, 0, 0]);
    tmp.file("pkt.raw", builtin_packet());
    tmp.file("small.raw", [0u8; 13]);
    tmp.file("big.raw", vec![0u8; 3521]);

    usage_error(d, &["test-run", "drop.s", "--bogus"], &["--bogus"]);
    usage_error(d, &["frobnicate"], &["frobnicate"]);
    usage_error(d, &["test-run"], &["PROG"]);
    usage_error(d, &["test-run", "missing.s"], &["missing.s", "cannot read"]);
    usage_error(d, &["test-run", "missing.bin"], &["missing.bin"]);
    usage_error(d, &["verify", "missing.s"], &["missing.s"]);
    usage_error(
        d,
        &["verify", "drop.s", "--log-level", "3"],
        &["--log-level"],
    );
    usage_error(
        d,
        &["test-run", "drop.s", "--log-level", "x"],
        &["--log-level"],
    );
    usage_error(d, &["verify", "drop.s", "--prog", "p"], &["--prog"]);
    usage_error(d, &["disasm", "missing.bin"], &["missing.bin"]);
    usage_error(d, &["asm", "missing.s", "-o", "x.bin"], &["missing.s"]);
    usage_error(d, &["test-run", "drop.txt"], &["drop.txt", ".s", ".bin"]);
    usage_error(d, &["verify", "drop.txt"], &["drop.txt", ".s", ".bin"]);
    usage_error(d, &["asm", "drop.txt", "-o", "x.bin"], &["drop.txt", ".s"]);
    usage_error(
        d,
        &["test-run", "short.bin"],
        &["short.bin", "multiple of 8"],
    );
    usage_error(
        d,
        &["test-run", "drop.s", "--data", "0a0"],
        &["--data", "odd"],
    );
    usage_error(
        d,
        &[
            "test-run",
            "drop.s",
            "--data",
            &format!("{}zz", "00".repeat(20)),
        ],
        &["--data", "'z'", "not a hex digit"],
    );
    usage_error(
        d,
        &[
            "test-run",
            "drop.s",
            "--data",
            "00",
            "--data-file",
            "pkt.raw",
        ],
        &["--data", "--data-file"],
    );
    usage_error(
        d,
        &["test-run", "drop.s", "--data", &"00".repeat(13)],
        &["13 bytes", "14"],
    );
    usage_error(
        d,
        &["test-run", "drop.s", "--data-file", "small.raw"],
        &["13 bytes"],
    );
    usage_error(
        d,
        &["test-run", "drop.s", "--data-file", "big.raw"],
        &["3521", "3520"],
    );
    usage_error(
        d,
        &["test-run", "drop.s", "--data-file", "missing.raw"],
        &["missing.raw"],
    );
    usage_error(
        d,
        &["test-run", "syntax.s"],
        &["syntax.s", "line 2", "column 7"],
    );
    usage_error(d, &["verify", "syntax.s"], &["line 2", "column 7"]);
    usage_error(
        d,
        &["asm", "syntax.s", "-o", "x.bin"],
        &["line 2", "column 7"],
    );
    usage_error(d, &["test-run", "drop.s", "--repeat", "0"], &["--repeat"]);
    usage_error(
        d,
        &["test-run", "drop.s", "--repeat", "many"],
        &["--repeat"],
    );
    usage_error(
        d,
        &["test-run", "drop.s", "--engine", "turbo"],
        &["--engine"],
    );
    usage_error(
        d,
        &["asm", "drop.s", "-o", "no/such/dir/x.bin"],
        &["cannot write"],
    );
    assert!(!d.join("x.bin").exists(), "a failed asm wrote its output");
}
