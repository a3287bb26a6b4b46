//! Direct tail calls at the JIT level: a site compiled in state C (empty
//! slot) falls through; patched to a target (C -> D -> B) it jumps there;
//! retargeted (B -> B) it follows; cleared (B -> C) it waits for the grace
//! period between its two patches and falls through again. The tail call
//! count is the run's either way. Indirect tail calls read the prog
//! array's entry table, through a retpoline when asked.

mod jit_support;

use jit_support::{lddw, raw_program};
use rxdp_isa::{CallKind, Insn};
use rxdp_jit::x86_64::{
    ArrayLayout, JitImage, JitOptions, MAX_TAIL_CALL_CNT, MapHeader, RunCtx, Runtime, compile,
    compile_with,
};
use rxdp_verifier::DirectTailCall;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Map 0 is a prog array of four slots.
struct OneProgArray;

impl Runtime for OneProgArray {
    fn helper(&self, _: u32) -> Option<u64> {
        None
    }
    fn array(&self, _: u32) -> Option<ArrayLayout> {
        None
    }
    fn prog_array(&self, index: u32) -> Option<u32> {
        (index == 0).then_some(4)
    }
}

fn ret(v: i32) -> Vec<Insn> {
    vec![
        Insn::Alu {
            width: rxdp_isa::Width::W64,
            op: rxdp_isa::AluOp::Mov,
            dst: rxdp_isa::Reg::R0,
            src: rxdp_isa::Operand::Imm(v),
        },
        Insn::Exit,
    ]
}

/// `bpf_tail_call(ctx, map 0 at `header`, 2)` then `return 7`, with the
/// call declared direct as the verifier would.
fn caller(header: &MapHeader) -> JitImage {
    let mut insns = lddw(2, core::ptr::from_ref(header) as u64).to_vec();
    insns.extend(lddw(3, 2));
    insns.push(Insn::Call(CallKind::Helper(12)));
    insns.extend(ret(7));
    let pc = insns.len() - 3;
    let mut prog = raw_program(insns);
    prog.direct_tail_calls = vec![DirectTailCall { pc, map: 0, key: 2 }];
    compile(&prog, &OneProgArray).expect("compiled")
}

fn run(img: &JitImage) -> (u64, u32) {
    let mut ctx = [0u8; 64];
    let mut rc = RunCtx::new(core::ptr::null_mut());
    // SAFETY: the programs touch no memory but the run context, and their
    // tail calls go to live images.
    let r0 = unsafe { img.run(ctx.as_mut_ptr(), &mut rc) };
    (r0, rc.tail_call_cnt)
}

#[test]
fn a_direct_tail_call_follows_its_slot_through_the_state_matrix() {
    // The indirect path would read this table; the direct one never does.
    let header = MapHeader {
        max_entries: 4,
        reserved: 0,
        table: core::ptr::null(),
    };
    let img = caller(&header);
    assert_eq!(img.tail_call_sites().len(), 1);
    let one = compile(&raw_program(ret(1)), &OneProgArray).unwrap();
    let two = compile(&raw_program(ret(2)), &OneProgArray).unwrap();
    let graces = Cell::new(0);
    let grace = || graces.set(graces.get() + 1);

    assert_eq!(run(&img), (7, 1), "C: empty, falls through, counted");
    img.poke_tail_call(0, one.tail_call_entry(), &grace)
        .unwrap();
    assert_eq!(run(&img), (1, 1), "B: jumps to the first target");
    img.poke_tail_call(0, two.tail_call_entry(), &grace)
        .unwrap();
    assert_eq!(run(&img), (2, 1), "B: retargeted");
    assert_eq!(
        graces.get(),
        0,
        "installing and replacing need no grace period"
    );
    img.poke_tail_call(0, 0, &grace).unwrap();
    assert_eq!(graces.get(), 1, "removal waits once, between its patches");
    assert_eq!(run(&img), (7, 1), "C again");
    img.poke_tail_call(0, 0, &grace).unwrap();
    assert_eq!(graces.get(), 1, "clearing an empty site does nothing");
    img.poke_tail_call(0, one.tail_call_entry(), &grace)
        .unwrap();
    assert_eq!(run(&img), (1, 1), "installed again");
}

#[test]
fn a_direct_self_tail_call_stops_at_the_limit() {
    let header = MapHeader {
        max_entries: 4,
        reserved: 0,
        table: core::ptr::null(),
    };
    let img = caller(&header);
    img.poke_tail_call(0, img.tail_call_entry(), &|| {})
        .unwrap();
    assert_eq!(run(&img), (7, MAX_TAIL_CALL_CNT));
}

/// An indirect tail call (the key not declared constant) reads the prog
/// array's entry table; with `retpoline` it jumps through the thunk.
#[test]
fn indirect_tail_calls_read_the_table_with_or_without_a_retpoline() {
    let target = compile(&raw_program(ret(1)), &OneProgArray).unwrap();
    let table: Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
    let header = MapHeader {
        max_entries: 4,
        reserved: 0,
        table: table.as_ptr(),
    };
    for retpoline in [false, true] {
        let mut insns = lddw(2, core::ptr::from_ref(&header) as u64).to_vec();
        insns.extend(lddw(3, 2));
        insns.push(Insn::Call(CallKind::Helper(12)));
        insns.extend(ret(7));
        let img = compile_with(
            &raw_program(insns),
            &OneProgArray,
            JitOptions {
                retpoline,
                ..JitOptions::default()
            },
        )
        .expect("compiled");
        assert!(img.tail_call_sites().is_empty());
        let thunk = img
            .bytes()
            .windows(5)
            .any(|w| w == [0xf3, 0x90, 0x0f, 0xae, 0xe8]);
        assert_eq!(thunk, retpoline, "pause; lfence only in a retpoline");
        table[2].store(0, Ordering::Release);
        assert_eq!(run(&img), (7, 1), "empty slot, counted");
        table[2].store(target.tail_call_entry(), Ordering::Release);
        assert_eq!(run(&img), (1, 1), "retpoline {retpoline}");
    }
}
