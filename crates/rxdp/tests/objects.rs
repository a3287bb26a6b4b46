//! Every example object (examples/c/*.o), with its setup file, on every
//! shared packet: each XDP program runs in every rxdp engine and in the
//! kernel, and the return value, output bytes and the contents of every
//! map after the run must be the same.

mod common;

use common::{kernel_or_skip, packets};
use rxdp_kernel::{KernelBtf, KernelProg, LoadOptions};
use rxdp_object::Object;
use rxdp_xdp::setup::{Directive, Setup};
use rxdp_xdp::{Engine, ObjectOpts, TestRunOpts, XdpObject};
use std::os::fd::RawFd;
use std::path::PathBuf;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/c")
}

/// Every example object with the setup file beside it (`NAME.setup`, or
/// the setup of the source it was built from).
fn objects() -> Vec<(String, Vec<u8>, Setup)> {
    let dir = examples_dir();
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap().to_string();
            let setup_path = dir.join(format!("{stem}.setup"));
            let setup = match std::fs::read_to_string(&setup_path) {
                Ok(text) => {
                    Setup::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", setup_path.display()))
                }
                Err(_) => Setup::default(),
            };
            (name, std::fs::read(&p).unwrap(), setup)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        v.len() >= 11,
        "example objects missing from {}",
        dir.display()
    );
    v
}

/// Map contents comparable between rxdp and the kernel: every map that
/// has keys and plain values (not prog arrays, whose values the kernel
/// reports as program ids, nor ring buffers), sorted.
type Dump = Vec<(String, Vec<(Vec<u8>, Vec<u8>)>)>;

fn comparable(obj: &Object, i: usize) -> bool {
    use rxdp_isa::maptype::*;
    let d = &obj.maps[i];
    d.key_size > 0
        && !matches!(
            d.map_type,
            PROG_ARRAY | ARRAY_OF_MAPS | HASH_OF_MAPS | RINGBUF
        )
}

struct Run {
    retval: u32,
    data_out: Vec<u8>,
    maps: Dump,
}

fn run_rxdp(
    bytes: &[u8],
    setup: &Setup,
    prog: &str,
    packet: &[u8],
    engine: Engine,
    nr_cpus: u32,
) -> Result<Run, String> {
    let object = rxdp_object::parse(bytes).map_err(|e| e.to_string())?;
    let opts = ObjectOpts {
        nr_cpus,
        vars: setup.vars().collect(),
        ..ObjectOpts::default()
    };
    let loaded = XdpObject::load(object, &opts).map_err(|e| {
        format!(
            "{e}: {:?}",
            std::error::Error::source(&e).map(|s| s.to_string())
        )
    })?;
    for (map, key, value) in setup.map_updates() {
        let m = loaded
            .maps()
            .by_name(&map)
            .ok_or_else(|| format!("setup: no map {map}"))?;
        m.map
            .update_copy(&key, &value, 0)
            .map_err(|e| format!("setup: map {map}: {e}"))?;
    }
    let p = loaded
        .program(prog)
        .ok_or_else(|| format!("no program {prog}"))?;
    let out = p
        .test_run(
            packet,
            &TestRunOpts {
                engine,
                ..TestRunOpts::default()
            },
        )
        .map_err(|e| e.to_string())?;
    let obj = loaded.object();
    let maps = loaded
        .maps()
        .iter()
        .enumerate()
        .filter(|(i, _)| comparable(obj, *i))
        .map(|(_, m)| {
            let mut e = rxdp_maps::dump(&*m.map).unwrap();
            e.sort();
            (m.name.clone(), e)
        })
        .collect();
    Ok(Run {
        retval: out.retval,
        data_out: out.data_out,
        maps,
    })
}

fn run_kernel(bytes: &[u8], setup: &Setup, prog: &str, packet: &[u8]) -> Result<Run, String> {
    let mut obj = rxdp_object::parse(bytes).map_err(|e| e.to_string())?;
    for (section, name, value) in setup.vars() {
        obj.set_global_var(&section, &name, &value)
            .map_err(|e| e.to_string())?;
    }
    let maps = rxdp_kernel::create_maps(&obj.maps).map_err(|e| e.to_string())?;
    let fds: Vec<RawFd> = maps.iter().map(|m| m.fd()).collect();
    // The verifier needs BTF and func_info for callbacks (bpf_loop,
    // bpf_for_each_map_elem); libbpf passes them for every program.
    let btf = match &obj.btf_raw {
        Some(raw) => Some(KernelBtf::load(raw).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut progs = Vec::new();
    for p in obj.programs.iter().filter(|p| p.prog_type == 6) {
        let name = rxdp_kernel::obj_name(&p.name);
        let func_info: Vec<(u32, u32)> = p
            .func_info
            .iter()
            .map(|f| (f.insn as u32, f.type_id))
            .collect();
        let opts = LoadOptions {
            fd_array: &fds,
            prog_flags: p.prog_flags(),
            expected_attach_type: p.expected_attach_type,
            name: &name,
            prog_btf_fd: btf.as_ref().map(|b| b.fd()),
            func_info: if btf.is_some() { &func_info } else { &[] },
            ..LoadOptions::default()
        };
        let k = KernelProg::load(&p.raw_insns(), &opts)
            .map_err(|e| format!("{}: {e}\n{}", p.name, e.log()))?;
        progs.push((p.name.clone(), k));
    }
    let prog_fd = |name: &str| progs.iter().find(|(n, _)| n == name).map(|(_, p)| p.fd());
    let map_index = |name: &str| obj.maps.iter().position(|m| m.name == name);
    for (i, d) in obj.maps.iter().enumerate() {
        for slot in &d.init_slots {
            if let rxdp_object::SlotTarget::Prog(p) = &slot.target {
                let fd = prog_fd(p).ok_or_else(|| format!("no program {p}"))?;
                maps[i]
                    .update(&slot.index.to_ne_bytes(), &(fd as u32).to_ne_bytes(), 0)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    for (map, key, value) in setup.map_updates() {
        let i = map_index(&map).ok_or_else(|| format!("setup: no map {map}"))?;
        maps[i].update(&key, &value, 0).map_err(|e| e.to_string())?;
    }
    for d in &setup.directives {
        if let Directive::ProgArray { map, index, prog } = d {
            let i = map_index(map).ok_or_else(|| format!("setup: no map {map}"))?;
            let fd = prog_fd(prog).ok_or_else(|| format!("no program {prog}"))?;
            maps[i]
                .update(&index.to_ne_bytes(), &(fd as u32).to_ne_bytes(), 0)
                .map_err(|e| e.to_string())?;
        }
    }
    let k = progs
        .iter()
        .find(|(n, _)| n == prog)
        .map(|(_, p)| p)
        .ok_or_else(|| format!("no program {prog}"))?;
    let out = k.test_run(packet, 1).map_err(|e| e.to_string())?;
    let dump = maps
        .iter()
        .enumerate()
        .filter(|(i, _)| comparable(&obj, *i))
        .map(|(i, m)| {
            let mut e = m.dump().unwrap();
            e.sort();
            (obj.maps[i].name.clone(), e)
        })
        .collect();
    Ok(Run {
        retval: out.retval,
        data_out: out.data_out,
        maps: dump,
    })
}

/// The XDP programs of an object that a packet enters through (tail-call
/// targets and devmap programs run only from their maps).
fn entry_programs(bytes: &[u8]) -> Vec<String> {
    let obj = rxdp_object::parse(bytes).unwrap();
    obj.programs
        .iter()
        .filter(|p| {
            p.prog_type == 6 && p.expected_attach_type != 33 && p.expected_attach_type != 35
        })
        .map(|p| p.name.clone())
        .collect()
}

#[test]
fn example_objects_match_the_kernel() {
    let kernel = kernel_or_skip("example_objects_match_the_kernel");
    if kernel {
        rxdp_kernel::pin_current_thread(0).unwrap();
    }
    let nr_cpus = rxdp_kernel::possible_cpus().unwrap_or(1) as u32;
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, bytes, setup) in objects() {
        for prog in entry_programs(&bytes) {
            for (pkt_name, pkt) in packets() {
                let what = format!("{name} {prog} on {pkt_name}");
                let checked = match run_rxdp(&bytes, &setup, &prog, &pkt, Engine::Checked, nr_cpus)
                {
                    Ok(r) => r,
                    Err(e) => {
                        failures.push(format!("{what}: rxdp: {e}"));
                        break;
                    }
                };
                for engine in [Engine::Interp, Engine::Jit] {
                    let fast = run_rxdp(&bytes, &setup, &prog, &pkt, engine, nr_cpus).unwrap();
                    if (fast.retval, &fast.data_out, &fast.maps)
                        != (checked.retval, &checked.data_out, &checked.maps)
                    {
                        failures.push(format!("{what}: {engine:?} and checked differ"));
                    }
                }
                ran += 1;
                if !kernel {
                    continue;
                }
                match run_kernel(&bytes, &setup, &prog, &pkt) {
                    Ok(k) => {
                        if k.retval != checked.retval || k.data_out != checked.data_out {
                            failures.push(format!(
                                "{what}: retval {} vs kernel {}, data_out {:02x?}\n vs kernel {:02x?}",
                                checked.retval, k.retval, checked.data_out, k.data_out
                            ));
                        } else if k.maps != checked.maps {
                            failures.push(format!(
                                "{what}: maps differ:\n rxdp   {:02x?}\n kernel {:02x?}",
                                checked.maps, k.maps
                            ));
                        }
                    }
                    Err(e) => match rxdp_kernel::unavailable_helper(&e) {
                        Some(helper) => {
                            eprintln!(
                                "skipped: {what}: this kernel does not offer {helper} to XDP programs"
                            );
                        }
                        None => failures.push(format!("{what}: kernel: {e}")),
                    },
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures ({ran} runs):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
