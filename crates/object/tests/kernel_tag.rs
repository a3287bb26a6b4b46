//! `Program::tag` against the running kernel: every supported XDP
//! program of the test and example objects is loaded (its maps created,
//! map indices turned into fds as libbpf would submit them) and the tag
//! the kernel reports is compared with rxdp's. Skipped, loudly, when the
//! kernel cannot be used.

mod common;

use common::{data_dir, examples_dir, objects_in};
use rxdp_isa::{Insn, Pseudo, maptype};
use rxdp_kernel::{KernelBtf, KernelMap, KernelProg, LoadOptions, available};
use rxdp_object::{Object, Program, parse};
use std::collections::HashMap;

/// Whether the running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// The program with map indices replaced by the fds of maps created for
/// it; `None` if it cannot be loaded here (a map of maps).
fn with_fds(obj: &Object, p: &Program, maps: &mut HashMap<usize, KernelMap>) -> Option<Vec<Insn>> {
    let mut out = p.insns.clone();
    for insn in &mut out {
        let Insn::LdImm64 { pseudo, imm, .. } = insn else {
            continue;
        };
        let (idx, hi, fd_form) = match pseudo {
            Pseudo::MapIdx => (*imm as u32 as usize, 0, Pseudo::MapFd),
            Pseudo::MapIdxValue => (*imm as u32 as usize, *imm >> 32, Pseudo::MapValue),
            _ => continue,
        };
        let def = &obj.maps[idx];
        if def.is_map_in_map() || def.map_type == maptype::UNSPEC {
            return None;
        }
        let map = maps.entry(idx).or_insert_with(|| {
            KernelMap::create(
                def.map_type,
                def.key_size,
                def.value_size,
                def.max_entries,
                def.map_flags,
                "rxdp_tag",
            )
            .unwrap_or_else(|e| panic!("map {}: {e}", def.name))
        });
        *pseudo = fd_form;
        *imm = u64::from(map.fd() as u32) | hi << 32;
    }
    Some(out)
}

#[test]
fn tags_match_the_kernel() {
    if let Err(e) = available() {
        eprintln!("skipped: kernel tag comparison: {e}");
        return;
    }
    let sha256 = kernel_at_least(6, 18);
    let mut paths = objects_in(&data_dir());
    paths.extend(objects_in(&examples_dir()));
    let mut compared = 0;
    for path in paths {
        let Ok(obj) = parse(&std::fs::read(&path).unwrap()) else {
            continue;
        };
        // The object's BTF, fixed up as libbpf does, must be acceptable
        // to the kernel: programs with callbacks need it.
        let btf = obj.btf_raw.as_ref().map(|raw| {
            KernelBtf::load(raw)
                .unwrap_or_else(|e| panic!("{}: kernel refused the BTF: {e}", path.display()))
        });
        let mut maps = HashMap::new();
        for p in obj
            .programs
            .iter()
            .filter(|p| p.prog_type == 6 && p.unsupported.is_none())
        {
            let Some(insns) = with_fds(&obj, p, &mut maps) else {
                continue;
            };
            let func_info: Vec<(u32, u32)> = p
                .func_info
                .iter()
                .map(|f| (f.insn as u32, f.type_id))
                .collect();
            let opts = LoadOptions {
                license: &obj.license,
                prog_flags: p.prog_flags(),
                prog_btf_fd: btf.as_ref().map(|b| b.fd()),
                func_info: if btf.is_some() { &func_info } else { &[] },
                ..LoadOptions::default()
            };
            let loaded = match KernelProg::load_insns(&insns, &opts) {
                Ok(loaded) => loaded,
                Err(e) => match rxdp_kernel::unavailable_helper(&e.to_string()) {
                    Some(helper) => {
                        eprintln!(
                            "skipped: {}: {}: this kernel does not offer {helper} to XDP programs",
                            path.display(),
                            p.name
                        );
                        continue;
                    }
                    None => panic!("{}: {}: kernel refused: {e}", path.display(), p.name),
                },
            };
            let kernel_tag = loaded.info().unwrap().tag;
            let ours = if sha256 { p.tag_sha256() } else { p.tag() };
            assert_eq!(
                ours,
                kernel_tag,
                "{}: {} (sha256: {sha256})",
                path.display(),
                p.name
            );
            // The tag does not depend on which fds the maps got.
            assert_eq!(
                rxdp_object::program::tag_input(&insns),
                rxdp_object::program::tag_input(&p.insns)
            );
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} programs compared");
    eprintln!("{compared} program tags agree with the kernel");
}
