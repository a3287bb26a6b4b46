//! The programs whose verification the `verify` bench and the
//! `verify_stats` example measure, and how each is verified by rxdp and
//! by the kernel.
//!
//! The subjects are every XDP program of every `examples/c/*.o` and two
//! large generated programs:
//!
//! - `progen`: [`rxdp_kernel::progen`] with a large configuration:
//!   thousands of instructions of ALU, stack, packet and branch items
//!   spread over a main function and bpf-to-bpf subprograms (forward
//!   jumps only);
//! - `pkt_loop`: a bounded loop over the first [`LOOP_BYTES`] bytes of
//!   the packet whose body calls a chain of [`LOOP_SUBPROGS`]
//!   subprograms, each a run of ALU work around two if blocks.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by the bench and the example, which use different parts"
)]

use rxdp_isa::Insn;
use rxdp_kernel::progen::{self, GenConfig};
use rxdp_kernel::{KernelBtf, KernelMap, KernelProg, LoadOptions, VerifierStats};
use rxdp_object::Object;
use rxdp_verifier::{Options, Stats};
use rxdp_xdp::{MapTable, ObjectOpts, Xdp, XdpAttach, XdpObject};
use std::fmt::Write as _;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `BPF_PROG_TYPE_XDP`.
const PROG_TYPE_XDP: u32 = 6;
/// `BPF_XDP_DEVMAP`, `BPF_XDP_CPUMAP`.
const ATTACH_DEVMAP: u32 = 33;
const ATTACH_CPUMAP: u32 = 35;
/// `BPF_LOG_STATS`: the statistics lines only, so that writing the log
/// does not add to the kernel's verification time.
const LOG_STATS: u32 = 4;

/// Packet bytes the `pkt_loop` program walks.
pub const LOOP_BYTES: usize = 64;
/// Subprograms in the `pkt_loop` call chain (the kernel allows 8 frames).
pub const LOOP_SUBPROGS: usize = 6;
/// ALU instructions in each half of a `pkt_loop` subprogram.
const LOOP_ALU: usize = 120;

/// Options for both verifiers: the kernel is loaded into as root, so
/// rxdp verifies in its privileged mode too.
pub fn options() -> Options {
    Options {
        privileged: true,
        log_level: 0,
    }
}

/// One program to verify.
pub struct Subject {
    /// `object.o/program` or the generated program's name.
    pub name: String,
    /// The instructions rxdp verifies.
    pub insns: Vec<Insn>,
    /// The maps its `lddw`s name, as rxdp created them.
    pub maps: Arc<MapTable>,
    /// Its attach point.
    pub xdp: Xdp,
    /// Where it came from, for loading it into the kernel.
    pub origin: Origin,
}

/// Where a [`Subject`] came from.
pub enum Origin {
    /// Program `program` (an index into `programs`) of an object.
    Object {
        /// The parsed object.
        object: Arc<Object>,
        /// The program's index.
        program: usize,
    },
    /// Generated, without maps.
    Generated,
}

impl Subject {
    /// Verifies the program once with rxdp: its statistics and the wall
    /// time of the whole [`rxdp_verifier::verify`] call.
    pub fn rxdp(&self) -> Result<(Stats, Duration), String> {
        let start = Instant::now();
        let v = rxdp_verifier::verify(&self.insns, &self.xdp, &*self.maps, &options())
            .map_err(|e| format!("{}: rxdp: {e}", self.name))?;
        Ok((v.stats, start.elapsed()))
    }

    /// Loads the program into the kernel `runs` times (maps and BTF made
    /// once) and returns the statistics of each load.
    pub fn kernel(&self, runs: usize) -> Result<Vec<VerifierStats>, String> {
        let (raw, obj) = match &self.origin {
            Origin::Generated => (rxdp_isa::encode_raw(&self.insns), None),
            Origin::Object { object, program } => {
                (object.programs[*program].raw_insns(), Some(object))
            }
        };
        let maps = match obj {
            Some(o) => rxdp_kernel::create_maps(&o.maps).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        let btf = match obj.and_then(|o| o.btf_raw.as_ref()) {
            Some(raw) => Some(KernelBtf::load(raw).map_err(|e| e.to_string())?),
            None => None,
        };
        let prog = obj.map(|o| &o.programs[self.program_index()]);
        // The verifier needs BTF and func_info for callbacks, as libbpf
        // passes them.
        let func_info: Vec<(u32, u32)> = prog
            .map(|p| {
                p.func_info
                    .iter()
                    .map(|f| (f.insn as u32, f.type_id))
                    .collect()
            })
            .unwrap_or_default();
        let fds: Vec<RawFd> = maps.iter().map(KernelMap::fd).collect();
        let name = rxdp_kernel::obj_name(self.name.rsplit('/').next().unwrap_or(""));
        let opts = LoadOptions {
            fd_array: &fds,
            log_level: LOG_STATS,
            prog_flags: prog.map_or(0, |p| p.prog_flags()),
            expected_attach_type: prog.map_or(0, |p| p.expected_attach_type),
            name: &name,
            prog_btf_fd: btf.as_ref().map(KernelBtf::fd),
            func_info: if btf.is_some() { &func_info } else { &[] },
            ..LoadOptions::default()
        };
        (0..runs)
            .map(|_| {
                let k = KernelProg::load(&raw, &opts)
                    .map_err(|e| format!("{}: kernel: {e}\n{}", self.name, e.log()))?;
                k.verifier_stats()
                    .ok_or_else(|| format!("{}: no statistics in the kernel's log", self.name))
            })
            .collect()
    }

    fn program_index(&self) -> usize {
        match self.origin {
            Origin::Object { program, .. } => program,
            Origin::Generated => 0,
        }
    }
}

/// Every subject: the example objects' XDP programs in file and program
/// order, then the generated programs.
pub fn subjects() -> Result<Vec<Subject>, String> {
    let mut out = Vec::new();
    for (file, bytes) in object_files()? {
        out.extend(object_subjects(&file, &bytes)?);
    }
    let generated = [("progen", progen_program()), ("pkt_loop", loop_program()?)];
    for (name, insns) in generated {
        out.push(Subject {
            name: format!("{name} ({} insns)", insns.len()),
            insns,
            maps: Arc::new(MapTable::new()),
            xdp: Xdp::default(),
            origin: Origin::Generated,
        });
    }
    Ok(out)
}

/// Every `examples/c/*.o`, by file name, in name order.
fn object_files() -> Result<Vec<(String, Vec<u8>)>, String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/c");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut v = Vec::new();
    for e in entries {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "o") {
            let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            v.push((
                p.file_name().unwrap_or_default().to_string_lossy().into(),
                bytes,
            ));
        }
    }
    v.sort();
    Ok(v)
}

/// The XDP programs of one object, with the maps rxdp creates for it.
fn object_subjects(file: &str, bytes: &[u8]) -> Result<Vec<Subject>, String> {
    let object = rxdp_object::parse(bytes).map_err(|e| format!("{file}: {e}"))?;
    let loaded = XdpObject::load(object.clone(), &ObjectOpts::default())
        .map_err(|e| format!("{file}: {e}"))?;
    let object = Arc::new(object);
    let subjects = object
        .programs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.prog_type == PROG_TYPE_XDP && p.autoload)
        .map(|(i, p)| Subject {
            name: format!("{file}/{}", p.name),
            insns: p.insns.clone(),
            maps: Arc::clone(loaded.maps()),
            xdp: Xdp {
                attach: match p.expected_attach_type {
                    ATTACH_DEVMAP => XdpAttach::Devmap,
                    ATTACH_CPUMAP => XdpAttach::Cpumap,
                    _ => XdpAttach::Interface,
                },
            },
            origin: Origin::Object {
                object: Arc::clone(&object),
                program: i,
            },
        })
        .collect();
    Ok(subjects)
}

/// The large [`progen`] program: a fixed seed, so the figures are
/// reproducible.
fn progen_program() -> Vec<Insn> {
    let cfg = GenConfig {
        items: 1000,
        max_subprogs: 6,
        max_depth: 4,
        ..GenConfig::default()
    };
    progen::generate(7, &cfg)
}

/// The `pkt_loop` program: for each of the first [`LOOP_BYTES`] packet
/// bytes (while the packet lasts), `acc = f0(byte, acc)`, where `fi`
/// mixes its arguments through ALU work and two if blocks and calls
/// `fi+1`.
fn loop_program() -> Result<Vec<Insn>, String> {
    let mut s = String::new();
    let _ = write!(
        s,
        "    r6 = *(u32 *)(r1 + 0)\n\
         \x20   r7 = *(u32 *)(r1 + 4)\n\
         \x20   r8 = 0\n\
         \x20   r9 = 0\n\
         next:\n\
         \x20   r2 = r6\n\
         \x20   r2 += r8\n\
         \x20   r3 = r2\n\
         \x20   r3 += 1\n\
         \x20   if r3 > r7 goto done\n\
         \x20   r1 = *(u8 *)(r2 + 0)\n\
         \x20   r2 = r9\n\
         \x20   call f0\n\
         \x20   r9 = r0\n\
         \x20   r8 += 1\n\
         \x20   if r8 < {LOOP_BYTES} goto next\n\
         done:\n\
         \x20   r0 = r9\n\
         \x20   r0 &= 3\n\
         \x20   exit\n"
    );
    for f in 0..LOOP_SUBPROGS {
        let _ = writeln!(s, "f{f}:");
        alu_run(&mut s, f);
        let _ = writeln!(s, "    if r1 > 100 goto f{f}_a\n    r2 += r1\nf{f}_a:");
        alu_run(&mut s, f + 1);
        let _ = writeln!(s, "    if r2 & 1 goto f{f}_b\n    r1 ^= 0x55\nf{f}_b:");
        if f + 1 < LOOP_SUBPROGS {
            let _ = writeln!(s, "    call f{}", f + 1);
        } else {
            let _ = writeln!(s, "    r0 = r1\n    r0 += r2");
        }
        let _ = writeln!(s, "    exit");
    }
    rxdp_isa::asm::assemble(&s)
        .map(|a| a.insns)
        .map_err(|e| format!("pkt_loop: {}", e.render(&s)))
}

/// [`LOOP_ALU`] instructions mixing `r1` and `r2` through `r3..r5`,
/// varied by `seed`; they leave `r1` and `r2` as unknown scalars.
fn alu_run(s: &mut String, seed: usize) {
    const OPS: [&str; 6] = ["+=", "^=", "|=", "&=", "-=", "*="];
    for i in 0..LOOP_ALU / 3 {
        let op = OPS[(i + seed) % OPS.len()];
        let k = (i * 7 + seed * 13) % 61 + 1;
        let _ = writeln!(s, "    r3 = r1\n    r3 {op} {k}\n    r2 ^= r3");
    }
}
