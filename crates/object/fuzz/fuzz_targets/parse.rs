//! Fuzzes `rxdp_object::parse` with arbitrary bytes: it must return, an
//! object or an error, never panic; and whatever it returns must hold
//! together (instructions re-encode, calls land inside the program).
//!
//! Run from crates/object: `cargo fuzz run -s none parse fuzz/seeds`
//! (seed with the test objects: `mkdir -p fuzz/seeds && cp tests/data/*.o
//! ../../examples/c/*.o fuzz/seeds/`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(obj) = rxdp_object::parse(data) else {
        return;
    };
    for p in &obj.programs {
        let raw = p.raw_insns();
        assert_eq!(raw.len(), p.insns.len());
        for (pc, insn) in p.insns.iter().enumerate() {
            if let Some(t) = insn.call_target(pc) {
                assert!(t >= 0 && (t as usize) < p.insns.len(), "{}: call out of the program", p.name);
            }
        }
        let _ = p.tag();
        let _ = rxdp_isa::decode_raw(&raw).expect("linked code re-decodes");
    }
});
