//! Loading objects: errors name the C source line of the rejected
//! instruction.

use rxdp_xdp::{ObjectOpts, XdpObject};

#[test]
fn a_rejected_program_names_its_source_line() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/bad_ctx_write.o"
    ))
    .unwrap();
    let object = rxdp_object::parse(&bytes).unwrap();
    let err = XdpObject::load(object, &ObjectOpts::default())
        .err()
        .expect("writing the context is refused");
    let chain = anyhow_like(&err);
    assert!(chain.contains("program 'write_ctx'"), "{chain}");
    assert!(chain.contains("bad_ctx_write.c:9"), "{chain}");
    assert!(chain.contains("insn 1"), "{chain}");
    assert!(
        chain.contains("invalid bpf_context access off=16 size=4"),
        "{chain}"
    );
}

/// The error and its causes, joined as the command line prints them.
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s += &format!(": {c}");
        cur = c.source();
    }
    s
}
