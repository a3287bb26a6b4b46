//! Prints, as markdown tables, what rxdp's JIT makes of every example XDP
//! program next to the kernel's JIT, and what 1,000 loaded programs cost
//! in executable memory.
//!
//! `CARGO_TARGET_DIR=target-bench cargo run --release -p rxdp --example jit_stats [ROUNDS]`
//!
//! Programs: every `examples/*.s` and every XDP program of every
//! `examples/c/*.o` (the objects are committed; no compiler is needed).
//! Per program:
//!
//! - `insns`: instruction slots as loaded (after the object's subprograms
//!   are linked in), what both JITs start from;
//! - `rxdp bytes`: [`XdpProgram::native_size`], or why the JIT left the
//!   program to the interpreter;
//! - `kernel bytes`: the kernel's `jited_prog_len` (`BPF_OBJ_GET_INFO_BY_FD`,
//!   every subprogram included) for the same program loaded as root, with
//!   its maps and, for objects, its BTF and func info as libbpf passes
//!   them; omitted where bpf(2) is unavailable;
//! - `compile`: the median over ROUNDS (default 15) batches of 100 calls of
//!   `rxdp_jit::x86_64::compile` on the program's verified form
//!   ([`XdpProgram::verification`]), per call and per instruction: code
//!   generation with jump shrinking, the prog pack allocation and the
//!   copy into it. The images of a batch are freed between batches,
//!   outside the timing. The compiler is given the runtime loading used
//!   ([`rxdp_xdp::native::XdpRuntime`]).
//!
//! Then: 1,000 copies of `examples/parse_udp.s` loaded at once, and what the
//! prog pack allocator holds for them
//! ([`rxdp_jit::pack::PackAllocator::usage`]) against one 4 KiB page per
//! program, what an allocator without packs would map.

use rxdp_isa::asm::{Assembled, assemble};
use rxdp_jit::pack::PackAllocator;
use rxdp_kernel::{KernelBtf, KernelMap, KernelProg, LoadOptions, obj_name};
use rxdp_xdp::native::XdpRuntime;
use rxdp_xdp::{ObjectOpts, XdpObject, XdpProgram};
use std::hint::black_box;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Batches timed per program when no count is given.
const DEFAULT_ROUNDS: usize = 15;
/// Compilations per timed batch.
const BATCH: u32 = 100;
/// Programs loaded for the memory figure.
const COPIES: usize = 1000;
/// What an allocator that maps one page per program would use per program.
const PAGE: usize = 4096;
/// `BPF_PROG_TYPE_XDP`.
const PROG_TYPE_XDP: u32 = 6;

/// One program to report on.
struct Subject {
    name: String,
    prog: Loaded,
    /// The kernel's `jited_prog_len`, or why there is none.
    kernel: Result<u32, String>,
}

/// Where a [`Subject`]'s program lives.
enum Loaded {
    /// Loaded on its own.
    Alone(Box<XdpProgram>),
    /// Program `name` of a loaded object.
    InObject(Arc<XdpObject>, String),
}

impl Subject {
    fn prog(&self) -> &XdpProgram {
        match &self.prog {
            Loaded::Alone(p) => p,
            Loaded::InObject(obj, name) => obj
                .program(name)
                .expect("the subject was made from this object's program"),
        }
    }
}

fn main() -> Result<(), String> {
    let rounds = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("rounds {n:?}: {e}"))?,
        None => DEFAULT_ROUNDS,
    };
    let kernel = rxdp_kernel::available().map_err(|e| e.to_string());
    if let Err(why) = &kernel {
        eprintln!("kernel column omitted: {why}");
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut subjects = Vec::new();
    for (file, bytes) in files(&root, "s")? {
        let src = String::from_utf8(bytes).map_err(|e| format!("{file}: {e}"))?;
        subjects.push(asm_subject(&file, &src, kernel.is_ok())?);
    }
    for (file, bytes) in files(&root.join("c"), "o")? {
        subjects.extend(object_subjects(&file, &bytes, kernel.is_ok())?);
    }

    println!(
        "| program | insns | rxdp bytes | kernel bytes | rxdp / kernel | compile | compile per insn |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|");
    let mut notes = Vec::new();
    let (mut rxdp_total, mut kernel_total) = (0usize, 0usize);
    for s in &subjects {
        let prog = s.prog();
        let insns = prog.insns().len();
        let kernel_cell = match &s.kernel {
            Ok(n) => n.to_string(),
            Err(why) => {
                let first = why.lines().next().unwrap_or_default();
                notes.push(format!("{}: kernel: {first}", s.name));
                "-".into()
            }
        };
        let (native, ratio, compile, per_insn) = match prog.native_size() {
            Some(n) => {
                let t = compile_time(prog, rounds)?;
                let ratio = match &s.kernel {
                    Ok(k) if *k > 0 => {
                        rxdp_total += n;
                        kernel_total += *k as usize;
                        format!("{:.2}", n as f64 / f64::from(*k))
                    }
                    _ => "-".into(),
                };
                (
                    n.to_string(),
                    ratio,
                    format!("{:.1} µs", t.as_secs_f64() * 1e6),
                    format!("{:.0} ns", t.as_secs_f64() * 1e9 / insns.max(1) as f64),
                )
            }
            None => {
                let why = prog.jit_fallback().unwrap_or_default();
                notes.push(format!("{}: interpreter: {why}", s.name));
                ("interp".into(), "-".into(), "-".into(), "-".into())
            }
        };
        println!(
            "| {} | {insns} | {native} | {kernel_cell} | {ratio} | {compile} | {per_insn} |",
            s.name
        );
    }
    if kernel_total > 0 {
        println!(
            "\nPrograms both JITs compiled: rxdp {rxdp_total} bytes, the kernel {kernel_total} \
             ({:.2}x).",
            rxdp_total as f64 / kernel_total as f64
        );
    }
    if !notes.is_empty() {
        println!();
        for n in &notes {
            println!("- {n}");
        }
    }
    drop(subjects);
    memory(&root.join("parse_udp.s"))
}

/// The files of `dir` ending in `.ext`, by name, in name order.
fn files(dir: &Path, ext: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut v = Vec::new();
    for e in entries {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == ext) {
            let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let name = p.file_name().unwrap_or_default().to_string_lossy().into();
            v.push((name, bytes));
        }
    }
    v.sort();
    Ok(v)
}

/// An assembly example, loaded in rxdp and, when `kernel`, in the kernel.
fn asm_subject(file: &str, src: &str, kernel: bool) -> Result<Subject, String> {
    let asm = assemble(src).map_err(|e| format!("{file}: {}", e.render(src)))?;
    let prog = XdpProgram::load(&asm.insns, &asm.maps).map_err(|e| format!("{file}: {e}"))?;
    let kernel = if kernel {
        kernel_asm_len(&asm)
    } else {
        Err("bpf(2) unavailable".into())
    };
    Ok(Subject {
        name: file.into(),
        prog: Loaded::Alone(Box::new(prog)),
        kernel,
    })
}

/// `jited_prog_len` of `asm` loaded in the kernel with fresh maps.
fn kernel_asm_len(asm: &Assembled) -> Result<u32, String> {
    let maps = rxdp_kernel::create_asm_maps(&asm.maps).map_err(|e| e.to_string())?;
    let fds: Vec<RawFd> = maps.iter().map(KernelMap::fd).collect();
    let opts = LoadOptions {
        fd_array: &fds,
        ..LoadOptions::default()
    };
    let prog = KernelProg::load_insns(&asm.insns, &opts).map_err(refusal)?;
    jited_len(&prog)
}

/// The XDP programs of an object, loaded in rxdp and, when `kernel`, in
/// the kernel.
fn object_subjects(file: &str, bytes: &[u8], kernel: bool) -> Result<Vec<Subject>, String> {
    let object = rxdp_object::parse(bytes).map_err(|e| format!("{file}: {e}"))?;
    let loaded = XdpObject::load(object.clone(), &ObjectOpts::default())
        .map(Arc::new)
        .map_err(|e| format!("{file}: {e}"))?;
    // Prog array slots stay empty: the JIT does not look at them.
    let maps = if kernel {
        rxdp_kernel::create_maps(&object.maps).map_err(|e| e.to_string())
    } else {
        Err("bpf(2) unavailable".into())
    };
    let btf = match (&maps, &object.btf_raw) {
        (Ok(_), Some(raw)) => Some(KernelBtf::load(raw).map_err(|e| format!("{file}: BTF: {e}"))?),
        _ => None,
    };
    let mut out = Vec::new();
    for p in object
        .programs
        .iter()
        .filter(|p| p.prog_type == PROG_TYPE_XDP && p.autoload)
    {
        if loaded.program(&p.name).is_none() {
            continue;
        }
        let kernel = match &maps {
            Ok(maps) => kernel_object_len(p, maps, btf.as_ref()),
            Err(why) => Err(why.clone()),
        };
        out.push(Subject {
            name: format!("{file}/{}", p.name),
            prog: Loaded::InObject(Arc::clone(&loaded), p.name.clone()),
            kernel,
        });
    }
    Ok(out)
}

/// `jited_prog_len` of program `p` of an object, loaded with the object's
/// maps; should the kernel refuse it so, loaded again with the object's
/// BTF and func info (which its verifier needs for callbacks).
fn kernel_object_len(
    p: &rxdp_object::Program,
    maps: &[KernelMap],
    btf: Option<&KernelBtf>,
) -> Result<u32, String> {
    match kernel_object_load(p, maps, None) {
        Err(_) if btf.is_some() => kernel_object_load(p, maps, btf),
        other => other,
    }
}

/// `jited_prog_len` of program `p` of an object loaded with `maps` and,
/// when given, `btf` and the program's func info.
fn kernel_object_load(
    p: &rxdp_object::Program,
    maps: &[KernelMap],
    btf: Option<&KernelBtf>,
) -> Result<u32, String> {
    let fds: Vec<RawFd> = maps.iter().map(KernelMap::fd).collect();
    let func_info: Vec<(u32, u32)> = p
        .func_info
        .iter()
        .map(|f| (f.insn as u32, f.type_id))
        .collect();
    let name = obj_name(&p.name);
    let opts = LoadOptions {
        fd_array: &fds,
        prog_flags: p.prog_flags(),
        expected_attach_type: p.expected_attach_type,
        name: &name,
        prog_btf_fd: btf.map(KernelBtf::fd),
        func_info: if btf.is_some() { &func_info } else { &[] },
        ..LoadOptions::default()
    };
    let prog = KernelProg::load(&p.raw_insns(), &opts).map_err(refusal)?;
    jited_len(&prog)
}

/// The kernel's `jited_prog_len`; an error when the kernel did not JIT
/// the program (0: `net.core.bpf_jit_enable` is off).
fn jited_len(prog: &KernelProg) -> Result<u32, String> {
    match prog.info().map_err(|e| e.to_string())?.jited_prog_len {
        0 => Err("not JIT-compiled (net.core.bpf_jit_enable=0?)".into()),
        n => Ok(n),
    }
}

/// The kernel's refusal in one line: the error and the verifier log's
/// last line that is not a statistic or a traced instruction.
fn refusal(e: rxdp_kernel::LoadError) -> String {
    let stats = [
        "processed ",
        "verification time",
        "stack depth",
        "max_states",
    ];
    let reason = e.log().lines().rev().find(|l| {
        !l.trim().is_empty()
            && !l.starts_with(|c: char| c.is_ascii_digit())
            && !stats.iter().any(|s| l.starts_with(s))
    });
    let first = e.to_string();
    let first = first.lines().next().unwrap_or_default();
    match reason {
        Some(r) => format!("{first}: {r}"),
        None => first.to_string(),
    }
}

/// The median time of one `compile` of `prog`'s verified form, over
/// `rounds` batches of [`BATCH`] calls.
fn compile_time(prog: &XdpProgram, rounds: usize) -> Result<Duration, String> {
    let allocator = PackAllocator::global();
    let runtime = XdpRuntime::new(prog.maps());
    let v = prog.verification();
    let mut samples = Vec::with_capacity(rounds.max(1));
    for _ in 0..rounds.max(1) {
        let mut images = Vec::with_capacity(BATCH as usize);
        let start = Instant::now();
        for _ in 0..BATCH {
            images.push(rxdp_jit::x86_64::compile(black_box(v), &runtime));
        }
        let t = start.elapsed();
        // Freed after a grace period: wait for it, so that the packs do
        // not grow from one batch to the next.
        drop(images);
        allocator.domain().barrier();
        samples.push(t / BATCH);
    }
    samples.sort();
    Ok(samples[samples.len() / 2])
}

/// Loads [`COPIES`] copies of the program at `path` and prints what the
/// prog pack allocator holds for them.
fn memory(path: &Path) -> Result<(), String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let asm = assemble(&src).map_err(|e| format!("{}: {}", path.display(), e.render(&src)))?;
    let allocator = PackAllocator::global();
    allocator.domain().barrier();
    let before = allocator.usage();
    let progs = (0..COPIES)
        .map(|_| XdpProgram::load(&asm.insns, &asm.maps).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let after = allocator.usage();
    let native = progs[0].native_size().unwrap_or(0);
    let used = after.bytes_used - before.bytes_used;
    let packs = after.packs - before.packs.min(after.packs);
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    println!(
        "\n{COPIES} copies of {file} ({native} bytes of code each):\n\n\
         | | packs | bytes in programs' chunks | per program |\n\
         |---|--:|--:|--:|\n\
         | prog packs | {} ({} new) | {used} | {} |\n\
         | a page per program | - | {} | {PAGE} |",
        after.packs,
        packs,
        used / COPIES,
        COPIES * PAGE,
    );
    println!(
        "\nPack memory mapped: {} bytes ({} packs of 2 MiB), {} dedicated mappings; \
         a page per program: {} bytes ({:.1}x the chunks used).",
        after.packs * rxdp_jit::pack::PACK_SIZE,
        after.packs,
        after.dedicated,
        COPIES * PAGE,
        (COPIES * PAGE) as f64 / used.max(1) as f64,
    );
    Ok(())
}
