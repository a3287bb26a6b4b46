//! rxdp's conformance suite, in the style of the bpf_conformance project:
//! small programs with the `r0` they must return (or the reason they must
//! be rejected), run through `rxdp conformance-plugin` exactly as that
//! suite runs a plugin: program bytes as hex on stdin, memory as hex in the
//! first argument, `r0` back in hex on stdout.
//!
//! The cases live in `tests/conformance/<group>/<name>.data`, one program
//! each, with sections:
//!
//! ```text
//! -- asm
//! r0 = 1
//! exit
//! -- mem
//! 00 01 02 03
//! -- result
//! 0x1
//! ```
//!
//! `-- error` with a fragment of the expected message replaces `-- result`
//! for programs that must fail. `-- engines` lists the engines a case runs
//! on (default: all); a case that must trip a run-time check can only run
//! on the checked engine. Lines starting with `#` are comments everywhere
//! (the assembler also takes them as comments). The expected values were
//! worked out by hand from RFC 9669, not by running rxdp.
//!
//! Every case runs on every engine it names; the test fails with the list
//! of every failing case, not just the first.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The engines of the plugin's `--engine` flag.
const ENGINES: [&str; 3] = ["checked", "interp", "jit"];

/// What a case expects of the plugin.
#[derive(Debug)]
enum Expect {
    /// Exit 0 and print this `r0`.
    Result(u64),
    /// Exit non-zero with this text in the output.
    Error(String),
}

/// One `.data` file.
#[derive(Debug)]
struct Case {
    /// Path relative to the suite's root, for messages.
    name: String,
    /// The program's source.
    asm: String,
    /// The memory given to the program, if any.
    mem: Option<Vec<u8>>,
    expect: Expect,
    /// The engines to run on.
    engines: Vec<String>,
}

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// Every `.data` file under `dir`, sorted.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "data") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Splits a `.data` file into its `-- name` sections.
fn sections(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix("-- ") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            return Err(format!("line {}: text before the first section", i + 1));
        }
    }
    Ok(out)
}

/// The lines of a section that are not blank and not `#` comments.
fn content_lines(body: &str) -> impl Iterator<Item = &str> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn parse_hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).map_err(|_| format!("bad hex byte `{b}`")))
        .collect()
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.strip_prefix("0x").unwrap_or(s);
    u64::from_str_radix(digits, 16).map_err(|_| format!("bad hex number `{s}`"))
}

fn parse_case(name: String, text: &str) -> Result<Case, String> {
    let mut asm = None;
    let mut mem = None;
    let mut expect = None;
    let mut engines: Vec<String> = ENGINES.iter().map(|e| e.to_string()).collect();
    for (section, body) in sections(text)? {
        match section.as_str() {
            "asm" => asm = Some(body),
            "mem" => {
                let joined: Vec<&str> = content_lines(&body).collect();
                mem = Some(parse_hex_bytes(&joined.join(" "))?);
            }
            "result" => {
                let line = content_lines(&body).next().ok_or("empty result section")?;
                expect = Some(Expect::Result(parse_u64(line)?));
            }
            "error" => {
                let line = content_lines(&body).next().ok_or("empty error section")?;
                expect = Some(Expect::Error(line.to_string()));
            }
            "engines" => {
                engines = content_lines(&body)
                    .flat_map(str::split_whitespace)
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = engines.iter().find(|e| !ENGINES.contains(&e.as_str())) {
                    return Err(format!("unknown engine `{bad}`"));
                }
            }
            other => return Err(format!("unknown section `-- {other}`")),
        }
    }
    Ok(Case {
        name,
        asm: asm.ok_or("no `-- asm` section")?,
        mem,
        expect: expect.ok_or("no `-- result` or `-- error` section")?,
        engines,
    })
}

fn load_cases() -> (Vec<Case>, Vec<String>) {
    let root = suite_dir();
    let mut cases = Vec::new();
    let mut bad = Vec::new();
    for path in data_files(&root) {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        match parse_case(name.clone(), &text) {
            Ok(c) => cases.push(c),
            Err(e) => bad.push(format!("{name}: malformed case: {e}")),
        }
    }
    (cases, bad)
}

/// Bytes as the suite writes them: two hex digits each, space-separated.
fn hex_line(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs the plugin as the suite does.
fn plugin(stdin_text: &str, mem: Option<&str>, engine: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rxdp"));
    cmd.arg("conformance-plugin");
    if let Some(m) = mem {
        cmd.arg(m);
    }
    cmd.args(["--engine", engine])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cannot start the rxdp binary");
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(stdin_text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text_of(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

/// Runs one case on one engine; `Err` describes the mismatch.
fn check(case: &Case, program_hex: &str, engine: &str) -> Result<(), String> {
    let mem = case.mem.as_deref().map(hex_line);
    let out = plugin(program_hex, mem.as_deref(), engine);
    let (stdout, stderr) = text_of(&out);
    let code = out.status.code();
    match &case.expect {
        Expect::Result(want) => {
            if code != Some(0) {
                return Err(format!(
                    "expected r0 = {want:#x}, got exit {code:?}: stdout `{stdout}` stderr `{stderr}`"
                ));
            }
            match parse_u64(&stdout) {
                Ok(got) if got == *want => Ok(()),
                Ok(got) => Err(format!("expected r0 = {want:#x}, got {got:#x}")),
                Err(_) => Err(format!(
                    "expected r0 = {want:#x}, got unparsable stdout `{stdout}`"
                )),
            }
        }
        Expect::Error(fragment) => {
            if code == Some(0) {
                return Err(format!(
                    "expected an error with `{fragment}`, got exit 0 with `{stdout}`"
                ));
            }
            // The suite reads the reason from stdout.
            if stdout.contains(fragment.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "expected an error with `{fragment}` on stdout, got exit {code:?}: \
                     stdout `{stdout}` stderr `{stderr}`"
                ))
            }
        }
    }
}

#[test]
fn conformance_suite() {
    let (cases, mut failures) = load_cases();
    assert!(
        cases.len() >= 100,
        "only {} cases found under {}",
        cases.len(),
        suite_dir().display()
    );
    let mut runs = 0;
    for case in &cases {
        let program = match rxdp_isa::asm::assemble(&case.asm) {
            Ok(a) => hex_line(&rxdp_isa::encode(&a.insns)),
            Err(e) => {
                failures.push(format!(
                    "{}: does not assemble: {}",
                    case.name,
                    e.render(&case.asm)
                ));
                continue;
            }
        };
        for engine in &case.engines {
            runs += 1;
            if let Err(e) = check(case, &program, engine) {
                failures.push(format!("{} [{engine}]: {e}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed ({} cases):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The kernel as a second opinion on the expected results: each case that
/// the kernel can run (no helper, no legacy packet load, not an error
/// case) is loaded as an XDP program behind a wrapper that copies the
/// case's memory to its stack, sets `r1`/`r2` as the plugin does, calls the
/// case as a subprogram and returns one half of its `r0` (XDP returns 32
/// bits, so each case runs twice). Cases the kernel's verifier refuses
/// (division by an immediate 0, unreachable instructions, the wrapper's
/// extra frame on a full call stack) are listed, not failed.
#[test]
fn kernel_agrees_with_the_expected_results() {
    if let Err(why) = rxdp_kernel::available() {
        eprintln!("kernel comparison skipped: {why}");
        return;
    }
    let (cases, _) = load_cases();
    let mut compared = 0;
    let mut refused = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let Expect::Result(want) = case.expect else {
            continue;
        };
        let Ok(asm) = rxdp_isa::asm::assemble(&case.asm) else {
            continue;
        };
        if !kernel_can_run(&asm.insns) {
            continue;
        }
        if let Some((_, why)) = KERNEL_DIFFERS.iter().find(|(n, _)| *n == case.name) {
            eprintln!("{}: not compared with the kernel: {why}", case.name);
            continue;
        }
        let mem = case.mem.as_deref().unwrap_or(&[]);
        let halves = [false, true].map(|high| run_in_kernel(&asm.insns, mem, high));
        match halves {
            [Ok(lo), Ok(hi)] => {
                compared += 1;
                let got = (u64::from(hi) << 32) | u64::from(lo);
                if got != want {
                    failures.push(format!(
                        "{}: expected r0 = {want:#x}, the kernel returns {got:#x}",
                        case.name
                    ));
                }
            }
            [Err(e), _] | [_, Err(e)] => refused.push(format!("{}: {e}", case.name)),
        }
    }
    eprintln!(
        "kernel comparison: {compared} cases compared; {} refused by the kernel:\n{}",
        refused.len(),
        refused.join("\n")
    );
    assert!(
        failures.is_empty(),
        "the kernel disagrees with {} expected results:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared >= 100, "only {compared} cases ran in the kernel");
}

/// The legacy packet loads against the kernel's: each `packet/` case runs
/// as a socket filter, whose `LD_ABS`/`LD_IND` read the skb from the
/// network header on, so the case's memory follows a 14-byte Ethernet
/// header in the test run's input. The kernel wants the skb in `r6`, which
/// one prepended `r6 = r1` provides (the cases leave r6 alone). A socket
/// filter returns 32 bits; the packet cases' results fit.
#[test]
fn kernel_agrees_on_legacy_packet_loads() {
    if let Err(why) = rxdp_kernel::available() {
        eprintln!("kernel comparison skipped: {why}");
        return;
    }
    let (cases, _) = load_cases();
    let mut compared = 0;
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| c.name.starts_with("packet/")) {
        let Expect::Result(want) = case.expect else {
            continue;
        };
        let mut insns = rxdp_isa::asm::assemble("r6 = r1").unwrap().insns;
        insns.extend(rxdp_isa::asm::assemble(&case.asm).unwrap().insns);
        let opts = rxdp_kernel::LoadOptions {
            prog_type: rxdp_kernel::consts::prog_type::BPF_PROG_TYPE_SOCKET_FILTER,
            ..Default::default()
        };
        let mut frame = vec![0u8; 14];
        frame.extend_from_slice(case.mem.as_deref().unwrap_or(&[]));
        let got = rxdp_kernel::KernelProg::load_insns(&insns, &opts)
            .map_err(|e| e.to_string())
            .and_then(|p| p.test_run(&frame, 1).map_err(|e| e.to_string()));
        match got {
            Ok(run) if u64::from(run.retval) == want => compared += 1,
            Ok(run) => failures.push(format!(
                "{}: expected r0 = {want:#x}, the kernel returns {:#x}",
                case.name, run.retval
            )),
            Err(e) => failures.push(format!("{}: the kernel refuses it: {e}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 10,
        "only {compared} packet cases ran in the kernel"
    );
}

/// Cases where the kernel (Linux 6.18, x86-64) is known to differ from
/// RFC 9669, with the reason.
const KERNEL_DIFFERS: &[(&str, &str)] = &[(
    "atomic32/cmpxchg_success.data",
    "x86-64's 32-bit `lock cmpxchg` leaves rax's upper half alone when it \
     succeeds, and the kernel relies on a zero-extension the verifier inserts \
     only where it sees r0 read as 64 bits; here that read is on a path the \
     verifier prunes (the branch of the memory check), so no zero-extension \
     is inserted and r0 keeps its upper half 0xffffffff",
)];

/// Whether a program needs nothing the kernel's XDP type lacks: helper 5
/// of the suite (the kernel's helper 5 is another function), `callx`, and
/// legacy packet loads.
fn kernel_can_run(insns: &[rxdp_isa::Insn]) -> bool {
    use rxdp_isa::{CallKind, Insn};
    !insns.iter().any(|i| {
        matches!(
            i,
            Insn::Call(CallKind::Helper(_) | CallKind::Kfunc(_))
                | Insn::Callx { .. }
                | Insn::LdAbs { .. }
                | Insn::LdInd { .. }
        )
    })
}

/// Runs `insns` as a subprogram of a wrapper that gives it `mem` on the
/// wrapper's stack; returns the low or high half of its `r0`.
fn run_in_kernel(insns: &[rxdp_isa::Insn], mem: &[u8], high: bool) -> Result<u32, String> {
    let mut src = String::new();
    let padded = mem.len().div_ceil(8) * 8;
    for (j, chunk) in mem.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        let at = padded - 8 * j;
        src += &format!(
            "r1 = {:#x} ll\n*(u64 *)(r10 - {at}) = r1\n",
            u64::from_le_bytes(word)
        );
    }
    if mem.is_empty() {
        src += "r1 = 0\n";
    } else {
        src += &format!("r1 = r10\nr1 += -{padded}\n");
    }
    src += &format!("r2 = {}\ncall pc+2\n", mem.len());
    src += if high { "r0 >>= 32\n" } else { "w0 = w0\n" };
    src += "exit\n";
    let mut all = rxdp_isa::asm::assemble(&src)
        .map_err(|e| e.to_string())?
        .insns;
    all.extend_from_slice(insns);
    let prog = rxdp_kernel::KernelProg::load_insns(&all, &rxdp_kernel::LoadOptions::default())
        .map_err(|e| {
            // The verifier's reason is the log's last line before its
            // statistics.
            let head = e.to_string().lines().next().unwrap_or("").to_string();
            let reason = e
                .log()
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.starts_with("processed"))
                .unwrap_or("")
                .to_string();
            format!("{head}: {reason}")
        })?;
    let run = prog.test_run(&[0u8; 64], 1).map_err(|e| e.to_string())?;
    Ok(run.retval)
}

/// `r0 = 42; exit`, as the suite sends it.
const RET_42: &str = "b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00";

#[test]
fn protocol_without_memory_passes_null_and_zero() {
    // r0 = r1 | r2: both 0 when the test gives no memory.
    let prog = "bf 10 00 00 00 00 00 00 4f 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00";
    for engine in ENGINES {
        let out = plugin(prog, None, engine);
        let (stdout, stderr) = text_of(&out);
        assert_eq!(out.status.code(), Some(0), "[{engine}] {stdout} {stderr}");
        assert_eq!(stdout, "0", "[{engine}]");
        let out = plugin(RET_42, None, engine);
        assert_eq!(text_of(&out).0, "2a", "[{engine}]");
    }
}

#[test]
fn protocol_memory_length_in_r2_and_hex_without_spaces() {
    // r0 = r2: the memory's length; the program given without separators
    // and with a trailing newline.
    let prog = "bf20000000000000\n9500000000000000\n";
    for engine in ENGINES {
        let out = plugin(prog, Some("00 01 02 03 04"), engine);
        let (stdout, stderr) = text_of(&out);
        assert_eq!(out.status.code(), Some(0), "[{engine}] {stdout} {stderr}");
        assert_eq!(stdout, "5", "[{engine}]");
    }
}

#[test]
fn protocol_prints_lowercase_hex_without_prefix() {
    // r0 = 0xdeadbeefcafe0123 (lddw); exit.
    let prog = "18 00 00 00 23 01 fe ca 00 00 00 00 ef be ad de 95 00 00 00 00 00 00 00";
    for engine in ENGINES {
        let out = plugin(prog, None, engine);
        assert_eq!(text_of(&out).0, "deadbeefcafe0123", "[{engine}]");
    }
}

#[test]
fn protocol_rejects_bad_hex_with_a_message() {
    for (what, stdin, mem) in [
        (
            "a non-hex digit in the program",
            "b7 00 00 00 zz 00 00 00 95 00 00 00 00 00 00 00",
            None,
        ),
        (
            "an odd number of digits in the program",
            "b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 0",
            None,
        ),
        ("a non-hex digit in the memory", RET_42, Some("00 qq")),
    ] {
        for engine in ENGINES {
            let out = plugin(stdin, mem, engine);
            let (stdout, stderr) = text_of(&out);
            assert!(
                !matches!(out.status.code(), Some(0)),
                "[{engine}] {what}: exit 0 with `{stdout}`"
            );
            assert!(
                !stdout.is_empty() || !stderr.is_empty(),
                "[{engine}] {what}: no message"
            );
        }
    }
}

#[test]
fn protocol_rejects_a_partial_instruction() {
    // 12 bytes: one instruction and half of another.
    let prog = "b7 00 00 00 2a 00 00 00 95 00 00 00";
    for engine in ENGINES {
        let out = plugin(prog, None, engine);
        let (stdout, stderr) = text_of(&out);
        assert_ne!(
            out.status.code(),
            Some(0),
            "[{engine}] exit 0 with `{stdout}`"
        );
        assert!(
            !stdout.is_empty() || !stderr.is_empty(),
            "[{engine}] no message"
        );
    }
}

#[test]
fn protocol_rejects_an_empty_program() {
    for stdin in ["", "\n", "   \n"] {
        for engine in ENGINES {
            let out = plugin(stdin, None, engine);
            let (stdout, stderr) = text_of(&out);
            assert_ne!(
                out.status.code(),
                Some(0),
                "[{engine}] exit 0 with `{stdout}`"
            );
            assert!(
                !stdout.is_empty(),
                "[{engine}] no reason on stdout (stderr `{stderr}`)"
            );
        }
    }
}

#[test]
fn parser_of_data_files() {
    let c = parse_case(
        "x".into(),
        "# about\n-- asm\nr0 = 1\nexit\n-- mem\n# bytes\n00 ff\n01\n-- result\n0x1f\n",
    )
    .unwrap();
    assert_eq!(c.asm, "r0 = 1\nexit\n");
    assert_eq!(c.mem, Some(vec![0, 0xff, 1]));
    assert!(matches!(c.expect, Expect::Result(0x1f)));
    assert_eq!(c.engines, ENGINES);
    let c = parse_case(
        "x".into(),
        "-- asm\nexit\n-- error\nframe pointer\n-- engines\nchecked\n",
    )
    .unwrap();
    assert!(matches!(&c.expect, Expect::Error(f) if f == "frame pointer"));
    assert_eq!(c.engines, ["checked"]);
    assert!(parse_case("x".into(), "-- asm\nexit\n").is_err());
    assert!(parse_case("x".into(), "r0 = 1\n-- asm\nexit\n-- result\n0\n").is_err());
    assert!(parse_case("x".into(), "-- asm\nexit\n-- result\n0\n-- engines\nrbpf\n").is_err());
}
