//! The kernel oracle against the running kernel: maps, program loads,
//! verifier logs and test runs. Every test reports "skipped: <reason>"
//! on stderr when the kernel cannot be used (no root, no BPF).

use rxdp_isa::{AluOp, CallKind, Cond, Insn, Operand, Pseudo, Reg, Size, Width};
use rxdp_kernel::consts::{map_type, update};
use rxdp_kernel::{
    Errno, Error, KernelMap, KernelProg, LoadError, LoadOptions, XDP_MAX_FRAME, available,
    possible_cpus,
};

/// Whether to go on; prints why not.
fn kernel(test: &str) -> bool {
    match available() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped: {test}: {e}");
            false
        }
    }
}

fn mov64(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

fn alu64(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

#[test]
fn hash_map_roundtrip() {
    if !kernel("hash_map_roundtrip") {
        return;
    }
    let m = KernelMap::create(map_type::BPF_MAP_TYPE_HASH, 4, 8, 16, 0, "rxdp_hash").unwrap();
    assert!(m.fd() >= 0);
    assert_eq!(m.lookup(&1u32.to_ne_bytes()).unwrap(), None);
    m.update(&1u32.to_ne_bytes(), &11u64.to_ne_bytes(), update::BPF_ANY)
        .unwrap();
    m.update(
        &2u32.to_ne_bytes(),
        &22u64.to_ne_bytes(),
        update::BPF_NOEXIST,
    )
    .unwrap();
    let dup = m
        .update(
            &2u32.to_ne_bytes(),
            &0u64.to_ne_bytes(),
            update::BPF_NOEXIST,
        )
        .unwrap_err();
    assert_eq!(dup.errno(), Some(Errno::EEXIST));
    assert!(dup.to_string().contains("EEXIST"), "{dup}");
    let missing = m
        .update(&3u32.to_ne_bytes(), &0u64.to_ne_bytes(), update::BPF_EXIST)
        .unwrap_err();
    assert_eq!(missing.errno(), Some(Errno::ENOENT));
    assert_eq!(
        m.lookup(&2u32.to_ne_bytes()).unwrap(),
        Some(22u64.to_ne_bytes().to_vec())
    );
    let mut dump = m.dump().unwrap();
    dump.sort();
    assert_eq!(
        dump,
        vec![
            (1u32.to_ne_bytes().to_vec(), 11u64.to_ne_bytes().to_vec()),
            (2u32.to_ne_bytes().to_vec(), 22u64.to_ne_bytes().to_vec()),
        ]
    );
    m.delete(&1u32.to_ne_bytes()).unwrap();
    assert_eq!(m.keys().unwrap(), vec![2u32.to_ne_bytes().to_vec()]);
    assert_eq!(
        m.delete(&1u32.to_ne_bytes()).unwrap_err().errno(),
        Some(Errno::ENOENT)
    );
}

#[test]
fn sizes_are_checked_before_the_syscall() {
    if !kernel("sizes_are_checked_before_the_syscall") {
        return;
    }
    let m = KernelMap::create(map_type::BPF_MAP_TYPE_HASH, 4, 8, 4, 0, "").unwrap();
    let e = m.update(&[0; 3], &[0; 8], 0).unwrap_err();
    assert!(matches!(
        e,
        Error::Size {
            what: "key",
            expected: 4,
            got: 3
        }
    ));
    let e = m.lookup(&[0; 8]).unwrap_err();
    assert!(e.to_string().contains("key is 8 bytes"), "{e}");
    assert!(matches!(
        KernelMap::create(map_type::BPF_MAP_TYPE_HASH, 4, 8, 4, 0, "bad name"),
        Err(Error::Name(_))
    ));
}

#[test]
fn bad_map_is_einval() {
    if !kernel("bad_map_is_einval") {
        return;
    }
    // An array's key must be 4 bytes.
    let e = KernelMap::create(map_type::BPF_MAP_TYPE_ARRAY, 8, 8, 4, 0, "x").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL));
    assert_eq!(e.to_string(), "BPF_MAP_CREATE: EINVAL (invalid argument)");
}

#[test]
fn array_and_percpu_array() {
    if !kernel("array_and_percpu_array") {
        return;
    }
    let a = KernelMap::create(map_type::BPF_MAP_TYPE_ARRAY, 4, 4, 3, 0, "arr").unwrap();
    assert_eq!(a.keys().unwrap().len(), 3);
    a.update(&2u32.to_ne_bytes(), &7u32.to_ne_bytes(), 0)
        .unwrap();
    assert_eq!(
        a.lookup(&2u32.to_ne_bytes()).unwrap(),
        Some(7u32.to_ne_bytes().to_vec())
    );
    assert_eq!(a.lookup(&3u32.to_ne_bytes()).unwrap(), None);

    let cpus = possible_cpus().unwrap();
    assert!(cpus >= 1);
    let p = KernelMap::create(map_type::BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, 0, "pcpu").unwrap();
    assert_eq!(p.syscall_value_size().unwrap(), 8 * cpus);
    let mut value = vec![0u8; 8 * cpus];
    for cpu in 0..cpus {
        value[cpu * 8] = cpu as u8 + 1;
    }
    p.update(&1u32.to_ne_bytes(), &value, 0).unwrap();
    assert_eq!(p.lookup(&1u32.to_ne_bytes()).unwrap(), Some(value));
    let e = p.update(&1u32.to_ne_bytes(), &[0; 4], 0).unwrap_err();
    assert!(matches!(e, Error::Size { what: "value", .. }), "{e}");
}

#[test]
fn xdp_test_run_returns_the_verdict_and_the_frame() {
    if !kernel("xdp_test_run_returns_the_verdict_and_the_frame") {
        return;
    }
    let p =
        KernelProg::load_insns(&[mov64(Reg::R0, 1), Insn::Exit], &LoadOptions::default()).unwrap();
    let frame: Vec<u8> = (0..64u8).collect();
    let run = p.test_run(&frame, 10).unwrap();
    assert_eq!(run.retval, 1);
    assert_eq!(run.data_out, frame);
}

/// `r2 = data; r3 = data_end; if r2 + 14 > r3 goto out; data[0] = 0xaa;
/// r0 = data[13]`.
fn packet_writer() -> Vec<Insn> {
    vec![
        Insn::Ldx {
            size: Size::W,
            signed: false,
            dst: Reg::R2,
            src: Reg::R1,
            off: 0,
        },
        Insn::Ldx {
            size: Size::W,
            signed: false,
            dst: Reg::R3,
            src: Reg::R1,
            off: 4,
        },
        mov64(Reg::R0, 0),
        alu64(AluOp::Mov, Reg::R4, Operand::Reg(Reg::R2)),
        alu64(AluOp::Add, Reg::R4, Operand::Imm(14)),
        Insn::Jmp {
            width: Width::W64,
            cond: Cond::Gt,
            dst: Reg::R4,
            src: Operand::Reg(Reg::R3),
            off: 2,
        },
        Insn::St {
            size: Size::B,
            dst: Reg::R2,
            off: 0,
            imm: 0xaa,
        },
        Insn::Ldx {
            size: Size::B,
            signed: false,
            dst: Reg::R0,
            src: Reg::R2,
            off: 13,
        },
        Insn::Exit,
    ]
}

#[test]
fn packet_stores_show_in_data_out() {
    if !kernel("packet_stores_show_in_data_out") {
        return;
    }
    let p = KernelProg::load_insns(&packet_writer(), &LoadOptions::default()).unwrap();
    let frame: Vec<u8> = (1..=20u8).collect();
    let run = p.test_run(&frame, 1).unwrap();
    assert_eq!(run.retval, 14);
    let mut want = frame.clone();
    want[0] = 0xaa;
    assert_eq!(run.data_out, want);
}

#[test]
fn frame_sizes_outside_the_kernel_range_are_clear_errors() {
    if !kernel("frame_sizes_outside_the_kernel_range_are_clear_errors") {
        return;
    }
    let p =
        KernelProg::load_insns(&[mov64(Reg::R0, 2), Insn::Exit], &LoadOptions::default()).unwrap();
    let e = p.test_run(&[0; 13], 1).unwrap_err();
    assert!(e.to_string().contains("14..="), "{e}");
    assert!(p.test_run(&[0; 14], 1).is_ok());
    assert!(p.test_run(&vec![0; XDP_MAX_FRAME], 1).is_ok());
    assert!(matches!(
        p.test_run(&vec![0; XDP_MAX_FRAME + 1], 1),
        Err(Error::FrameSize { .. })
    ));
}

#[test]
fn rejection_carries_errno_and_log() {
    if !kernel("rejection_carries_errno_and_log") {
        return;
    }
    // r0 = r2: r2 is not initialised at entry.
    let prog = [
        alu64(AluOp::Mov, Reg::R0, Operand::Reg(Reg::R2)),
        Insn::Exit,
    ];
    let e = KernelProg::load_insns(&prog, &LoadOptions::default()).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EACCES), "{e}");
    assert!(e.log().contains("R2 !read_ok"), "{}", e.log());
    assert!(e.to_string().contains("EACCES"));
    let empty = KernelProg::load(&[], &LoadOptions::default()).unwrap_err();
    assert!(matches!(empty, LoadError::Options(_)));
}

#[test]
fn log_level_gives_stats_and_info_gives_sizes() {
    if !kernel("log_level_gives_stats_and_info_gives_sizes") {
        return;
    }
    let opts = LoadOptions {
        log_level: rxdp_kernel::consts::log_level::BPF_LOG_STATS,
        name: "rxdp_writer",
        ..Default::default()
    };
    let prog = packet_writer();
    let p = KernelProg::load_insns(&prog, &opts).unwrap();
    let stats = p.verifier_stats().expect("stats in the log");
    assert!(stats.processed_insns >= prog.len() as u64 - 2, "{stats:?}");
    let info = p.info().unwrap();
    assert_eq!(info.name, "rxdp_writer");
    assert_eq!(info.prog_type, 6);
    assert_eq!(info.verified_insns as u64, stats.processed_insns);
    assert!(info.jited_prog_len > 0);
    let xlated = p.xlated().unwrap();
    assert_eq!(xlated.len() * 8, info.xlated_prog_len as usize);
}

/// `*(u32 *)(fp - 4) = 0; r0 = bpf_map_lookup_elem(map, fp - 4); return
/// r0 ? *(u32 *)r0 : 0`, with the map named by `pseudo`/`imm`.
fn lookup_first(pseudo: Pseudo, imm: u64) -> Vec<Insn> {
    vec![
        Insn::LdImm64 {
            dst: Reg::R1,
            pseudo,
            imm,
        },
        Insn::LdImm64Hi,
        Insn::St {
            size: Size::W,
            dst: Reg::R10,
            off: -4,
            imm: 0,
        },
        alu64(AluOp::Mov, Reg::R2, Operand::Reg(Reg::R10)),
        alu64(AluOp::Add, Reg::R2, Operand::Imm(-4)),
        Insn::Call(CallKind::Helper(1)),
        Insn::Jmp {
            width: Width::W64,
            cond: Cond::Eq,
            dst: Reg::R0,
            src: Operand::Imm(0),
            off: 2,
        },
        Insn::Ldx {
            size: Size::W,
            signed: false,
            dst: Reg::R0,
            src: Reg::R0,
            off: 0,
        },
        Insn::Exit,
        mov64(Reg::R0, 0),
        Insn::Exit,
    ]
}

#[test]
fn maps_by_fd_and_by_fd_array_index() {
    if !kernel("maps_by_fd_and_by_fd_array_index") {
        return;
    }
    let unused = KernelMap::create(map_type::BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, "unused").unwrap();
    let m = KernelMap::create(map_type::BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, "val").unwrap();
    m.update(&0u32.to_ne_bytes(), &42u32.to_ne_bytes(), 0)
        .unwrap();

    let by_fd = KernelProg::load_insns(
        &lookup_first(Pseudo::MapFd, m.fd() as u64),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(by_fd.test_run(&[0; 64], 1).unwrap().retval, 42);
    assert_eq!(by_fd.info().unwrap().nr_map_ids, 1);

    let fds = [unused.fd(), m.fd()];
    let opts = LoadOptions {
        fd_array: &fds,
        ..Default::default()
    };
    let by_idx = KernelProg::load_insns(&lookup_first(Pseudo::MapIdx, 1), &opts).unwrap();
    assert_eq!(by_idx.test_run(&[0; 64], 1).unwrap().retval, 42);

    // Without fd_array the index names nothing.
    let e = KernelProg::load_insns(&lookup_first(Pseudo::MapIdx, 1), &LoadOptions::default())
        .unwrap_err();
    assert!(e.errno().is_some(), "{e}");
}
