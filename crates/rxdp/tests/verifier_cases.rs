//! The verifier's test suite as data, in the style of the kernel's
//! verifier selftests: `tests/verifier_cases/*.case` hold programs in
//! rxdp's assembler syntax with the verdict rxdp must give in its default
//! (untrusted) and privileged modes, the message fragment it must give,
//! and return values for accepted programs on given packets. The format
//! is described in `tests/verifier_cases/README.md`.
//!
//! Every case is also loaded into the kernel through bpf(2), which is the
//! oracle: as root (the kernel's privileged verifier) it must give the
//! case's privileged verdict, and from a thread without `CAP_PERFMON` and
//! `CAP_SYS_ADMIN` (the kernel's unprivileged verifier: no pointer leaks,
//! no uninitialised stack) the case's default verdict, unless the README
//! lists the case as a deliberate difference. Accepted programs run in the
//! kernel with `BPF_PROG_TEST_RUN` and in rxdp's checked engine.
//!
//! Environment:
//! - `RXDP_CASE=substring`: only the cases whose `file: name` contains it.
//! - `RXDP_CASES_KERNEL_ONLY=1`: check only the kernel side (the case
//!   files against the kernel), not rxdp.
//! - `RXDP_CASES_VERBOSE=1`: print each case's verdicts and logs.

mod common;

use rxdp_isa::asm::MapDecl;
use rxdp_isa::{Insn, Pseudo};
use rxdp_kernel::{KernelBtf, KernelMap, KernelProg, LoadOptions};
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, TestRunOpts, XdpProgram};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// What a verifier must say about a program.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// The program loads.
    Accept,
    /// The program is refused with a message containing the fragment.
    Reject(String),
}

impl Verdict {
    fn accepts(&self) -> bool {
        matches!(self, Verdict::Accept)
    }
}

/// One `run PACKET => RETVAL` line.
#[derive(Clone, Debug)]
struct Run {
    line: usize,
    packet: String,
    retval: u32,
}

/// One case of a `.case` file.
#[derive(Clone, Debug)]
struct Case {
    file: String,
    line: usize,
    name: String,
    src: String,
    /// The verdict in rxdp's default (untrusted) mode.
    default: Verdict,
    /// The verdict in rxdp's privileged mode (and the root kernel's).
    privileged: Verdict,
    /// The kernel's wording where it differs from rxdp's fragment: the
    /// kernel's log must contain the mode's fragment or one of these.
    kernel_msg: Vec<String>,
    runs: Vec<Run>,
}

impl Case {
    fn id(&self) -> String {
        format!("{}: {}", self.file, self.name)
    }

    fn whence(&self) -> String {
        format!("{}:{} `{}`", self.file, self.line, self.name)
    }
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verifier_cases")
}

/// A quoted string after `prefix` on `rest`: `"text"`.
fn quoted(rest: &str) -> Result<String, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| format!("expected a quoted string, found {rest:?}"))?;
    if inner.is_empty() {
        return Err("empty message fragment".into());
    }
    Ok(inner.to_string())
}

/// `accept` or `reject "fragment"`.
fn verdict(text: &str) -> Result<Verdict, String> {
    let text = text.trim();
    if text == "accept" {
        Ok(Verdict::Accept)
    } else if let Some(rest) = text.strip_prefix("reject") {
        Ok(Verdict::Reject(quoted(rest)?))
    } else {
        Err(format!(
            "expected `accept` or `reject \"...\"`, found {text:?}"
        ))
    }
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let v = if let Some(h) = s.strip_prefix("0x") {
        u32::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    v.map_err(|_| format!("bad return value {s:?}"))
}

/// Parses one expectation line after `---` into `case`.
fn expectation(case: &mut Case, line: usize, text: &str) -> Result<(), String> {
    if let Some(rest) = text.strip_prefix("privileged ") {
        case.privileged = verdict(rest)?;
    } else if let Some(rest) = text.strip_prefix("kernel-msg ") {
        case.kernel_msg.push(quoted(rest)?);
    } else if let Some(rest) = text.strip_prefix("run ") {
        let (packet, ret) = rest
            .split_once("=>")
            .ok_or_else(|| format!("expected `run PACKET => RETVAL`, found {text:?}"))?;
        case.runs.push(Run {
            line,
            packet: packet.trim().to_string(),
            retval: parse_u32(ret)?,
        });
    } else {
        return Err(format!("unknown expectation {text:?}"));
    }
    Ok(())
}

/// Checks what the parser cannot check line by line.
fn validate(case: &Case) -> Result<(), String> {
    if !case.runs.is_empty() && !case.privileged.accepts() {
        return Err("`run` lines on a case no mode accepts".into());
    }
    if case.default.accepts() && !case.privileged.accepts() {
        return Err("accepted by default but rejected when privileged".into());
    }
    for r in &case.runs {
        packet(&r.packet).map_err(|e| format!("line {}: {e}", r.line))?;
    }
    Ok(())
}

/// Parses a `.case` file.
fn parse_file(file: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    // Whether the current case is past its `---` line.
    let mut in_expect = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |e: String| format!("{file}:{line}: {e}");
        if let Some(name) = raw.strip_prefix("=== ") {
            if let Some(prev) = cases.last()
                && !in_expect
            {
                return Err(err(format!("case `{}` has no `---` line", prev.name)));
            }
            cases.push(Case {
                file: file.to_string(),
                line,
                name: name.trim().to_string(),
                src: String::new(),
                default: Verdict::Accept,
                privileged: Verdict::Accept,
                kernel_msg: Vec::new(),
                runs: Vec::new(),
            });
            in_expect = false;
            continue;
        }
        let Some(case) = cases.last_mut() else {
            let t = raw.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            return Err(err(format!("text before the first case: {t:?}")));
        };
        if let Some(rest) = raw.strip_prefix("--- ") {
            if in_expect {
                return Err(err("a second `---` line".into()));
            }
            case.default = verdict(rest).map_err(&err)?;
            case.privileged = case.default.clone();
            in_expect = true;
        } else if in_expect {
            let t = raw.trim();
            if !t.is_empty() && !t.starts_with('#') {
                expectation(case, line, t).map_err(&err)?;
            }
        } else {
            case.src.push_str(raw);
            case.src.push('\n');
        }
    }
    if let Some(last) = cases.last()
        && !in_expect
    {
        return Err(format!("{file}: case `{}` has no `---` line", last.name));
    }
    for c in &cases {
        validate(c).map_err(|e| format!("{}: {e}", c.whence()))?;
    }
    Ok(cases)
}

/// Every `.case` file, sorted by name.
fn case_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(cases_dir())
        .expect("tests/verifier_cases exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).expect("readable case file");
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// Every case of every file; panics on a malformed file.
fn all_cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in case_files() {
        match parse_file(&name, &text) {
            Ok(c) => out.extend(c),
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "malformed case files:\n{}",
        errors.join("\n")
    );
    out
}

/// The cases README.md lists as deliberate differences from the kernel,
/// with the mode that differs (`default`, `privileged` or `both`): the
/// first two columns of the table under `## Differences from the kernel`,
/// the case as `file: name` in backquotes.
fn deviations() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(cases_dir().join("README.md")).expect("README.md");
    let mut out = BTreeMap::new();
    let mut in_section = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_section = line.starts_with("## Differences from the kernel");
            continue;
        }
        let Some(row) = line.strip_prefix("| `") else {
            continue;
        };
        if !in_section {
            continue;
        }
        if let Some((id, rest)) = row.split_once('`') {
            let mode = rest.trim_start_matches([' ', '|']);
            let mode = mode.split('|').next().unwrap_or("").trim();
            out.insert(id.to_string(), mode.to_string());
        }
    }
    out
}

/// Bytes of the packet a `run` line names: a packet of
/// `common::packets()`, `hex:0011..`, or `zeros:N`.
fn packet(name: &str) -> Result<Vec<u8>, String> {
    if let Some(hex) = name.strip_prefix("hex:") {
        if hex.len() % 2 != 0 {
            return Err(format!("odd number of hex digits in {name:?}"));
        }
        return (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("bad hex in {name:?}"));
    }
    if let Some(n) = name.strip_prefix("zeros:") {
        let n: usize = n.parse().map_err(|_| format!("bad length in {name:?}"))?;
        return Ok(vec![0; n]);
    }
    common::packets()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| p)
        .ok_or_else(|| format!("no packet named {name:?}"))
}

/// What a verifier said: Ok, or the error text with the log.
type Said = Result<(), String>;

/// Whether `said` is `want`, with a message containing `want`'s
/// fragment or one of `alternatives`; None if so, else what differs.
fn differs(said: &Said, want: &Verdict, alternatives: &[String]) -> Option<String> {
    match (said, want) {
        (Ok(()), Verdict::Accept) => None,
        (Ok(()), Verdict::Reject(m)) => Some(format!("accepted, expected reject {m:?}")),
        (Err(e), Verdict::Accept) => Some(format!("rejected, expected accept:\n{}", indent(e))),
        (Err(e), Verdict::Reject(m))
            if e.contains(m.as_str()) || alternatives.iter().any(|a| e.contains(a.as_str())) =>
        {
            None
        }
        (Err(e), Verdict::Reject(m)) => Some(format!("rejected without {m:?}:\n{}", indent(e))),
    }
}

fn indent(text: &str) -> String {
    // The end of a long log is where the reason is.
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(25);
    let mut out = String::new();
    if from > 0 {
        out.push_str("      ...\n");
    }
    for l in &lines[from..] {
        let _ = writeln!(out, "      {l}");
    }
    out
}

// ---------------------------------------------------------------- kernel

/// A minimal `.BTF` for `n` static functions `f0`..: what the kernel needs
/// to verify a program that takes a callback's address (`func[...]`).
/// Layout from the kernel's Documentation/bpf/btf.rst.
fn btf_for_funcs(n: usize) -> Vec<u8> {
    let mut strings = b"\0int\0".to_vec();
    let mut types: Vec<u32> = Vec::new();
    // [1] INT "int": size 4, signed, 32 bits.
    types.extend([1, 1 << 24, 4, (1 << 24) | 32]);
    // [2] FUNC_PROTO returning int, no parameters.
    types.extend([0, 13 << 24, 1]);
    for i in 0..n {
        let off = strings.len() as u32;
        strings.extend(format!("f{i}\0").bytes());
        // [3 + i] FUNC static, of proto 2.
        types.extend([off, 12 << 24, 2]);
    }
    let type_bytes: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut out = Vec::new();
    out.extend(0xeb9f_u16.to_le_bytes());
    out.extend([1u8, 0]);
    for w in [
        24u32,
        0,
        type_bytes.len() as u32,
        type_bytes.len() as u32,
        strings.len() as u32,
    ] {
        out.extend(w.to_le_bytes());
    }
    out.extend(type_bytes);
    out.extend(strings);
    out
}

/// The starts of the subprograms when the program has more than one or
/// takes a function's address (else None: no BTF needed). Every
/// multi-function program gets BTF, as clang's output has: the kernel
/// refuses tail calls from subprograms without it.
fn func_starts(insns: &[Insn]) -> Option<Vec<u32>> {
    let takes_func = insns.iter().any(|i| {
        matches!(
            i,
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                ..
            }
        )
    });
    let s = rxdp_verifier::check_structure(insns).ok()?;
    if !takes_func && s.subprogs.len() < 2 {
        return None;
    }
    Some(s.subprogs.iter().map(|p| p.start as u32).collect())
}

/// Loads a program into the kernel with fresh maps from `maps`.
fn kernel_load(insns: &[Insn], fds: &[RawFd]) -> Result<KernelProg, String> {
    let raw = rxdp_isa::encode_raw(insns);
    let starts = func_starts(insns);
    let btf = match &starts {
        Some(s) => Some(KernelBtf::load(&btf_for_funcs(s.len())).map_err(|e| format!("BTF: {e}"))?),
        None => None,
    };
    let func_info: Vec<(u32, u32)> = starts
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, &off)| (off, 3 + i as u32))
        .collect();
    let opts = LoadOptions {
        fd_array: fds,
        prog_btf_fd: btf.as_ref().map(KernelBtf::fd),
        func_info: &func_info,
        ..LoadOptions::default()
    };
    KernelProg::load(&raw, &opts).map_err(|e| e.to_string())
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;

/// Drops `CAP_SYS_ADMIN` and `CAP_PERFMON` from the calling thread's
/// effective set (capabilities are per thread), keeping `CAP_BPF` and
/// `CAP_NET_ADMIN`: what the kernel's verifier then allows is its
/// unprivileged mode (`allow_ptr_leaks`, `allow_uninit_stack` and
/// `bypass_spec_v1` off).
fn drop_perfmon() -> Result<(), String> {
    let mut hdr = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two `CapData` for a version-3 header.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(format!("capget: {}", std::io::Error::last_os_error()));
    }
    for cap in [CAP_SYS_ADMIN, CAP_PERFMON] {
        data[(cap / 32) as usize].effective &= !(1 << (cap % 32));
    }
    // SAFETY: capset reads the header and two `CapData`; it changes only
    // this thread's credentials.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) };
    if rc != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Loads a program as the kernel's unprivileged verifier sees it, in a
/// thread of its own.
fn kernel_load_unpriv(insns: &[Insn], fds: &[RawFd]) -> Result<Said, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            drop_perfmon()?;
            Ok(kernel_load(insns, fds).map(drop))
        })
        .join()
        .expect("the unprivileged loader thread does not panic")
    })
}

fn create_kernel_maps(maps: &[MapDecl]) -> Result<Vec<KernelMap>, String> {
    rxdp_kernel::create_asm_maps(maps).map_err(|e| format!("kernel {e}"))
}

/// Checks a case against the kernel; appends what differs to `fails`.
fn check_kernel(
    case: &Case,
    insns: &[Insn],
    maps: &[MapDecl],
    listed: &BTreeMap<String, String>,
    fails: &mut Vec<String>,
) {
    let kmaps = match create_kernel_maps(maps) {
        Ok(m) => m,
        Err(e) => return fails.push(e),
    };
    let fds: Vec<RawFd> = kmaps.iter().map(KernelMap::fd).collect();
    let root = kernel_load(insns, &fds);
    let said = root.as_ref().map(drop).map_err(Clone::clone);
    verbose(case, "kernel (root)", &said);
    let listed_mode = listed.get(&case.id()).map(String::as_str);
    if let Some(d) = differs(&said, &case.privileged, &case.kernel_msg)
        && !matches!(listed_mode, Some("privileged" | "both"))
    {
        fails.push(format!(
            "kernel (root) vs the privileged verdict (not listed in README.md): {d}"
        ));
    }
    if let Ok(prog) = &root {
        for r in &case.runs {
            let pkt = packet(&r.packet).expect("validated");
            match prog.test_run(&pkt, 1) {
                Ok(out) if out.retval == r.retval => {}
                Ok(out) => fails.push(format!(
                    "line {}: kernel returned {} on {}, expected {}",
                    r.line, out.retval, r.packet, r.retval
                )),
                Err(e) => fails.push(format!("line {}: kernel test run: {e}", r.line)),
            }
        }
    }
    match kernel_load_unpriv(insns, &fds) {
        Err(e) => fails.push(format!("unprivileged kernel load impossible: {e}")),
        Ok(said) => {
            verbose(case, "kernel (unprivileged)", &said);
            if let Some(d) = differs(&said, &case.default, &case.kernel_msg)
                && !matches!(listed_mode, Some("default" | "both"))
            {
                fails.push(format!(
                    "kernel (unprivileged) vs the default verdict (not listed in README.md): {d}"
                ));
            }
        }
    }
}

// ------------------------------------------------------------------ rxdp

/// How long one rxdp verification may take (`RXDP_CASES_TIMEOUT`
/// seconds, default 60): a verifier that does not finish is a failure of
/// its case, not a hung suite.
fn rxdp_timeout() -> Duration {
    let secs = std::env::var("RXDP_CASES_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Loads a case into rxdp in one mode, in a thread of its own so that a
/// verifier that does not finish is reported (the thread is abandoned).
fn rxdp_load(insns: &[Insn], maps: &[MapDecl], privileged: bool) -> Result<XdpProgram, String> {
    let opts = Options {
        privileged,
        log_level: 1,
    };
    let (insns, maps) = (insns.to_vec(), maps.to_vec());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let loaded = XdpProgram::load_with_options(&insns, &maps, &opts).map_err(|e| match &e {
            rxdp_xdp::LoadError::Verify(v) if !v.log.is_empty() => format!("{e}\n{}", v.log),
            _ => e.to_string(),
        });
        let _ = tx.send(loaded);
    });
    let limit = rxdp_timeout();
    rx.recv_timeout(limit).unwrap_or_else(|_| {
        Err(format!(
            "TIMEOUT: rxdp's verifier did not finish within {}s (RXDP_CASES_TIMEOUT)",
            limit.as_secs()
        ))
    })
}

/// Checks a case against rxdp; appends what differs to `fails`.
fn check_rxdp(case: &Case, insns: &[Insn], maps: &[MapDecl], fails: &mut Vec<String>) {
    let default = rxdp_load(insns, maps, false);
    let privileged = rxdp_load(insns, maps, true);
    for (mode, got, want) in [
        ("default", &default, &case.default),
        ("privileged", &privileged, &case.privileged),
    ] {
        let said = got.as_ref().map(drop).map_err(Clone::clone);
        verbose(case, &format!("rxdp ({mode})"), &said);
        if let Some(d) = differs(&said, want, &[]) {
            fails.push(format!("rxdp ({mode}): {d}"));
        }
    }
    let privileged_only = default.is_err();
    if default.is_err() && privileged.is_err() {
        return;
    }
    for engine in [Engine::Checked, Engine::Jit] {
        // A fresh load per engine: runs change maps.
        let Ok(prog) = rxdp_load(insns, maps, privileged_only) else {
            return;
        };
        let opts = TestRunOpts {
            engine,
            ..TestRunOpts::default()
        };
        for r in &case.runs {
            let pkt = packet(&r.packet).expect("validated");
            match prog.test_run(&pkt, &opts) {
                Ok(out) if out.retval == r.retval => {}
                Ok(out) => fails.push(format!(
                    "line {}: rxdp {engine:?} returned {} on {}, expected {}",
                    r.line, out.retval, r.packet, r.retval
                )),
                Err(e) => fails.push(format!("line {}: rxdp {engine:?} run: {e}", r.line)),
            }
        }
    }
}

fn verbose(case: &Case, who: &str, said: &Said) {
    if std::env::var_os("RXDP_CASES_VERBOSE").is_some() {
        match said {
            Ok(()) => eprintln!("{}: {who}: accept", case.whence()),
            Err(e) => eprintln!("{}: {who}: reject\n{}", case.whence(), indent(e)),
        }
    }
}

fn selected(case: &Case) -> bool {
    std::env::var("RXDP_CASE").map_or(true, |f| case.id().contains(&f))
}

/// Every case against rxdp (both modes) and the kernel (root and
/// unprivileged); one report of every difference.
#[test]
fn cases_agree_with_rxdp_and_the_kernel() {
    let kernel_only = std::env::var_os("RXDP_CASES_KERNEL_ONLY").is_some_and(|v| v == "1");
    let kernel = match rxdp_kernel::available() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("\n!!! verifier_cases: KERNEL COMPARISON SKIPPED: {why} !!!\n");
            false
        }
    };
    let cases: Vec<Case> = all_cases().into_iter().filter(selected).collect();
    assert!(!cases.is_empty(), "no case matches RXDP_CASE");
    let listed = deviations();
    let mut report = String::new();
    let (mut failed, mut rxdp_ok) = (0, 0);
    for case in &cases {
        let mut fails = Vec::new();
        match rxdp_isa::asm::assemble(&case.src) {
            Err(e) => fails.push(format!("does not assemble: {e}")),
            Ok(a) => {
                if kernel {
                    check_kernel(case, &a.insns, &a.maps, &listed, &mut fails);
                }
                if !kernel_only {
                    let before = fails.len();
                    check_rxdp(case, &a.insns, &a.maps, &mut fails);
                    rxdp_ok += usize::from(fails.len() == before);
                }
            }
        }
        if !fails.is_empty() {
            failed += 1;
            let _ = writeln!(report, "\n{}:", case.whence());
            for f in fails {
                let _ = writeln!(report, "  - {f}");
            }
        }
    }
    eprintln!(
        "verifier_cases: {} cases, {} with differences{}",
        cases.len(),
        failed,
        if kernel_only {
            " (kernel side only)".to_string()
        } else {
            format!("; rxdp right on {rxdp_ok}")
        }
    );
    assert!(
        failed == 0,
        "{failed} of {} cases differ:{report}",
        cases.len()
    );
}

/// Every rule family has at least one accepted and one rejected case.
#[test]
fn every_family_accepts_and_rejects() {
    let mut missing = Vec::new();
    for (file, text) in case_files() {
        let cases = parse_file(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        if !cases
            .iter()
            .any(|c| c.default.accepts() || c.privileged.accepts())
        {
            missing.push(format!("{file}: no accepted case"));
        }
        if !cases.iter().any(|c| !c.default.accepts()) {
            missing.push(format!("{file}: no rejected case"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Every difference README.md lists names a case that exists.
#[test]
fn listed_differences_name_cases() {
    let ids: Vec<String> = all_cases().iter().map(Case::id).collect();
    let stale: Vec<String> = deviations()
        .into_iter()
        .filter(|(id, mode)| {
            !ids.contains(id) || !["default", "privileged", "both"].contains(&mode.as_str())
        })
        .map(|(id, mode)| format!("{id} ({mode})"))
        .collect();
    assert!(
        stale.is_empty(),
        "README.md lists unknown cases or modes: {stale:?}"
    );
}

/// The parser refuses what it does not understand, naming the line.
#[test]
fn parser_names_the_bad_line() {
    let bad = "=== a\n    exit\n--- accept\nrun udp4-64 -> 2\n";
    let e = parse_file("x.case", bad).unwrap_err();
    assert!(e.starts_with("x.case:4:"), "{e}");
    let no_expect = "=== a\n    exit\n=== b\n    exit\n--- accept\n";
    assert!(parse_file("x.case", no_expect).is_err());
    let good = "# family\n=== a\n    r0 = 2\n    exit\n--- reject \"x\"\nprivileged accept\nrun zeros:14 => 2\n";
    let c = parse_file("x.case", good).unwrap();
    assert_eq!(c[0].default, Verdict::Reject("x".into()));
    assert_eq!(c[0].privileged, Verdict::Accept);
    assert_eq!(c[0].runs[0].retval, 2);
}
