//! The command line on BPF objects: `prog list`, `test-run OBJ.o` with
//! `--prog`, `--setup`, `--map-dump` and `--json`, and what programs emit.

use std::path::PathBuf;
use std::process::{Command, Output};

fn rxdp(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_rxdp"))
        .args(args)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("panicked"), "{all}");
    out
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/c")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn prog_list_names_programs_maps_and_tags() {
    let o = rxdp(&["prog", "list", &example("xdp_tailcall.o")]);
    assert!(o.status.success());
    let s = stdout(&o);
    for want in [
        "xdp_entry",
        "xdp_l3",
        "xdp_l4",
        "jump_table",
        "prog_array (3)",
        "stage_stats",
        "tag ",
        "license: GPL",
    ] {
        assert!(s.contains(want), "{want} missing:\n{s}");
    }
    let o = rxdp(&["prog", "list", &example("xdp_subprog_global.o"), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["programs"][0];
    assert_eq!(p["type"], "xdp");
    assert!(!p["subprogs"].as_array().unwrap().is_empty(), "{p}");
    let maps: Vec<&str> = v["maps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        maps.contains(&".rodata") && maps.contains(&".bss") && maps.contains(&".data"),
        "{maps:?}"
    );
    assert_eq!(p["tag"].as_str().unwrap().len(), 16);
}

#[test]
fn setup_and_map_dump_in_json() {
    let o = rxdp(&[
        "test-run",
        &example("xdp_port_filter.o"),
        "--setup",
        &example("xdp_port_filter.setup"),
        "--map-dump",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The built-in packet is UDP to port 5678, which the setup blocks.
    assert_eq!(v["action"], "XDP_DROP");
    let ports = v["maps"]["blocked_ports"].as_array().unwrap();
    assert!(
        ports
            .iter()
            .any(|e| e["key"] == "2e16" && e["value"] == "01"),
        "{ports:?}"
    );
}

#[test]
fn per_cpu_maps_list_one_value_per_cpu() {
    let o = rxdp(&["test-run", &example("xdp_count.o"), "--map-dump", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let stats = v["maps"]["proto_stats"].as_array().unwrap();
    let udp = stats.iter().find(|e| e["key"] == "11000000").unwrap();
    let values = udp["values"].as_array().unwrap();
    assert!(!values.is_empty());
    assert_ne!(
        values[0].as_str().unwrap().trim_matches('0'),
        "",
        "CPU 0 counted the packet: {udp}"
    );
}

#[test]
fn prog_picks_the_program_and_vars_set_rodata() {
    let o = rxdp(&[
        "test-run",
        &example("xdp_tailcall.o"),
        "--prog",
        "xdp_l4",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = rxdp(&["test-run", &example("xdp_tailcall.o"), "--prog", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no program 'nope'"));
    // Without the setup the global knob is 0 and the packet passes; with it, port 5678 is dropped.
    let plain = rxdp(&["test-run", &example("xdp_subprog_global.o"), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(v["action"], "XDP_PASS");
    let set = rxdp(&[
        "test-run",
        &example("xdp_subprog_global.o"),
        "--setup",
        &example("xdp_subprog_global.setup"),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(v["action"], "XDP_DROP");
}

#[test]
fn ring_buffer_records_are_printed() {
    let o = rxdp(&[
        "test-run",
        &example("xdp_ringbuf_sample.o"),
        "--setup",
        &example("xdp_ringbuf_sample.setup"),
    ]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ringbuf events: 44 bytes"), "{err}");
}

#[test]
fn setup_errors_name_the_line() {
    let dir = std::env::temp_dir().join(format!("rxdp-cli-objects-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.setup");
    std::fs::write(&bad, "# fine\nmap blocked_ports 2e16\n").unwrap();
    let o = rxdp(&[
        "test-run",
        &example("xdp_port_filter.o"),
        "--setup",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(&bad, "map nosuch 00 00\n").unwrap();
    let o = rxdp(&[
        "test-run",
        &example("xdp_port_filter.o"),
        "--setup",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no map 'nosuch'"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_objects_are_refused_with_status_2() {
    let dir = std::env::temp_dir().join(format!("rxdp-cli-objects-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(example("xdp_drop.o")).unwrap();
    let f = dir.join("cut.o");
    std::fs::write(&f, &bytes[..bytes.len() / 3]).unwrap();
    for cmd in [&["test-run"][..], &["verify"], &["prog", "list"]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push(f.to_str().unwrap());
        let o = rxdp(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An object whose program writes its context (rejected), with BTF line
/// info naming the C line.
fn bad_ctx_write() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../xdp/tests/data/bad_ctx_write.o")
        .to_string_lossy()
        .into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn verify_reports_each_program_of_an_object_with_its_statistics() {
    let o = rxdp(&["verify", &example("xdp_tailcall.o")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for name in ["xdp_entry", "xdp_l3", "xdp_l4"] {
        assert!(s.contains(&format!("{name}: accepted")), "{name}:\n{s}");
    }
    assert_eq!(s.matches("processed ").count(), 3, "{s}");
    let o = rxdp(&["verify", &example("xdp_tailcall.o"), "--prog", "xdp_l4"]);
    let s = stdout(&o);
    assert!(
        s.contains("xdp_l4: accepted") && !s.contains("xdp_l3"),
        "{s}"
    );
    assert_eq!(s.matches("processed ").count(), 1, "{s}");
}

#[test]
fn an_object_rejection_names_the_c_line_and_shows_the_state() {
    let o = rxdp(&["verify", &bad_ctx_write()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    for want in [
        "program 'write_ctx'",
        "bad_ctx_write.c:9",
        "insn 1",
        "invalid bpf_context access off=16 size=4",
        "R1=ctx()",
        "processed ",
    ] {
        assert!(e.contains(want), "no {want:?}:\n{e}");
    }
    // test-run says the same with the C line; prog list lists the object,
    // marks the program and exits 1.
    let o = rxdp(&["test-run", &bad_ctx_write()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad_ctx_write.c:9"), "{}", stderr(&o));
    let o = rxdp(&["prog", "list", &bad_ctx_write(), "--log-level", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("not loaded"), "{}", stdout(&o));
    assert!(stderr(&o).contains("R1=ctx()"), "{}", stderr(&o));
}

#[test]
fn prog_list_shows_what_verifying_each_program_cost() {
    let o = rxdp(&["prog", "list", &example("xdp_subprog_global.o"), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["programs"][0];
    assert!(p["verified_insns"].as_u64().unwrap() > 0, "{p}");
    // One stack depth per subprogram, the main program first.
    assert_eq!(
        p["stack_depth"].as_array().unwrap().len(),
        p["subprogs"].as_array().unwrap().len() + 1,
        "{p}"
    );
    let o = rxdp(&["prog", "list", &example("xdp_drop.o")]);
    assert!(stdout(&o).contains("verified_insns "), "{}", stdout(&o));
}
