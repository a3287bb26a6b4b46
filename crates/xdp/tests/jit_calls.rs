//! What compiled code does beyond plain instructions, against the
//! interpreters: helper calls, callbacks, inlined array lookups, and tail
//! calls with the kernel's semantics (the limit of 33 per run shared by
//! every frame, tail calls from subprograms, fall-through on an empty slot
//! or an index past the end).
//!
//! Every program runs on all three engines; each run must give the same
//! return value and leave the same count in the `count` map.

use rxdp_isa::asm::assemble;
use rxdp_maps::ProgArray;
use rxdp_verifier::Options;
use rxdp_xdp::{Engine, Xdp, XdpBuff, XdpProgram, sample::udp4};
use std::sync::Arc;

/// The maps every program here declares, in this order.
const MAPS: &str = "
.map jmp type=prog_array key=4 value=4 entries=4
.map count type=array key=4 value=8 entries=2
";

/// `count[0] += 1`, keeping the context in r6.
const COUNT: &str = "
    r6 = r1
    *(u32 *)(r10 - 4) = 0
    r1 = map[count] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto +2
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r1 = r6
";

/// `bpf_tail_call(r1, jmp, slot)`.
fn tail(slot: u32) -> String {
    format!("\n    r2 = map[jmp] ll\n    r3 = {slot}\n    call bpf_tail_call\n")
}

/// Programs loaded over one map table, the first one's.
struct Object {
    progs: Vec<XdpProgram>,
}

impl Object {
    fn load(sources: &[String]) -> Object {
        let opts = Options::default();
        let mut progs: Vec<XdpProgram> = Vec::new();
        for src in sources {
            let a = assemble(&format!("{MAPS}{src}")).unwrap_or_else(|e| panic!("{e}\n{src}"));
            let p = match progs.first() {
                None => XdpProgram::load_with_options(&a.insns, &a.maps, &opts),
                Some(first) => XdpProgram::load_with_maps(
                    &a.insns,
                    Arc::clone(first.map_table()),
                    Xdp::default(),
                    &opts,
                ),
            }
            .unwrap_or_else(|e| panic!("{e}\n{src}"));
            assert!(p.jit().is_ok(), "not compiled: {:?}", p.jit_fallback());
            progs.push(p);
        }
        Object { progs }
    }

    /// Puts program `prog` into slot `slot` of `jmp`.
    fn install(&self, slot: u32, prog: usize) {
        let array = self.progs[0].maps().by_name("jmp").unwrap();
        let array = array.map.as_any().downcast_ref::<ProgArray>().unwrap();
        array.set(slot, self.progs[prog].prog_ref(), 0).unwrap();
    }

    /// Empties slot `slot` of `jmp`.
    fn remove(&self, slot: u32) {
        let array = self.progs[0].maps().by_name("jmp").unwrap();
        let array = array.map.as_any().downcast_ref::<ProgArray>().unwrap();
        array.clear(slot).unwrap();
    }

    fn count(&self) -> u64 {
        let m = self.progs[0].maps().by_name("count").unwrap();
        let v = m.map.lookup_copy(&0u32.to_ne_bytes()).unwrap();
        u64::from_ne_bytes(v.try_into().unwrap())
    }

    /// Runs the first program once on each engine; asserts they agree on
    /// the return value and on how much `count` grew; returns both.
    fn run(&self) -> (u32, u64) {
        let mut seen = None;
        for engine in [Engine::Checked, Engine::Interp, Engine::Jit] {
            let mut r = self.progs[0].runner(engine);
            assert_eq!(r.engine_used(), engine);
            let before = self.count();
            let mut buff = XdpBuff::new(&udp4(64), 1, 0).unwrap();
            let ret = r
                .run(&mut buff)
                .unwrap_or_else(|f| panic!("{engine:?}: {f}"));
            let got = (ret, self.count() - before);
            match seen {
                None => seen = Some(got),
                Some(want) => assert_eq!(got, want, "{engine:?} against the checked engine"),
            }
        }
        seen.unwrap()
    }
}

#[test]
fn a_program_tail_calling_itself_runs_34_times() {
    let p = format!(
        "{COUNT}{}
    r0 = 2
    exit",
        tail(0)
    );
    let o = Object::load(&[p]);
    o.install(0, 0);
    assert_eq!(o.run(), (2, 34));
}

#[test]
fn an_empty_slot_and_an_index_past_the_end_fall_through() {
    let p = format!(
        "{COUNT}{}
    r1 = r6{}
    r0 = 3
    exit",
        tail(1),
        tail(9)
    );
    let o = Object::load(&[p]);
    let sites = o.progs[0].jit().unwrap().tail_call_sites();
    assert_eq!(
        sites.len(),
        1,
        "slot 1 is direct; 9 is past the end: indirect"
    );
    o.install(0, 0);
    assert_eq!(o.run(), (3, 1));
}

/// A key the verifier cannot prove constant: an indirect tail call, which
/// reads the prog array's entry table at run time.
#[test]
fn tail_calls_through_a_run_time_key_are_indirect() {
    let p = format!(
        "{COUNT}
    call bpf_get_smp_processor_id
    r3 = r0
    r1 = r6
    r2 = map[jmp] ll
    call bpf_tail_call
    r0 = 2
    exit"
    );
    let o = Object::load(&[p]);
    assert!(o.progs[0].jit().unwrap().tail_call_sites().is_empty());
    assert_eq!(o.run(), (2, 1), "empty slot");
    o.install(0, 0);
    assert_eq!(o.run(), (2, 34));
}

/// A subprogram's tail call replaces the subprogram: the target's return
/// value comes back to the subprogram's caller. And the count is the
/// run's: after the first chain has used up the 33 tail calls, the second
/// call of the subprogram cannot tail-call at all (a count local to each
/// frame would let it run the chain again).
#[test]
fn tail_calls_from_subprograms_share_the_runs_limit() {
    let main = format!(
        "
    r6 = r1
    call sub
    r7 = r0
    r1 = r6
    call sub
    r0 *= 10
    r0 += r7
    exit
sub:{}
    r0 = 1
    exit",
        tail(1)
    );
    let target = format!("{COUNT}{}\n    r0 = 2\n    exit", tail(1));
    let o = Object::load(&[main, target]);
    o.install(1, 1);
    // The first call of `sub` becomes 33 runs of the target, which
    // returns 2; the second finds the limit reached and returns 1.
    assert_eq!(o.run(), (12, 33));
}

#[test]
fn tail_calls_replace_targets_between_runs() {
    let main = format!("{}\n    r0 = 7\n    exit", tail(0));
    // A leaf (no frame) that saves r6: tail calls take down the caller's
    // frame before its body.
    let one = "r6 = 1\nr0 = r6\nexit".to_string();
    let two = format!("{COUNT}\nr0 = 2\nexit");
    let o = Object::load(&[main, one, two]);
    assert_eq!(o.progs[0].jit().unwrap().tail_call_sites().len(), 1);
    assert_eq!(o.run(), (7, 0), "empty slot");
    o.install(0, 1);
    assert_eq!(o.run(), (1, 0));
    o.install(0, 2);
    assert_eq!(o.run(), (2, 1));
    o.remove(0);
    assert_eq!(o.run(), (7, 0), "removed");
    o.install(0, 1);
    assert_eq!(o.run(), (1, 0), "installed again");
}

/// A program loaded while the slot is already filled starts with its
/// direct tail call patched in.
#[test]
fn direct_tail_calls_start_with_what_the_slot_holds() {
    let one = "r0 = 1\nexit".to_string();
    let main = format!("{}\n    r0 = 7\n    exit", tail(0));
    let first = Object::load(&[one]);
    first.install(0, 0);
    let a = assemble(&format!("{MAPS}{main}")).unwrap();
    let p = XdpProgram::load_with_maps(
        &a.insns,
        Arc::clone(first.progs[0].map_table()),
        Xdp::default(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.jit().unwrap().tail_call_sites().len(), 1);
    let mut buff = XdpBuff::new(&udp4(64), 1, 0).unwrap();
    assert_eq!(p.runner(Engine::Jit).run(&mut buff), Ok(1));
}

#[test]
fn callbacks_run_compiled_subprograms() {
    // bpf_loop(10, cb, &sum, 0) with cb adding its index to the sum and
    // stopping after index 6: 0 + 1 + ... + 6 = 21, 7 calls.
    let p = "
    *(u64 *)(r10 - 8) = 0
    r1 = 10
    r2 = func[cb] ll
    r3 = r10
    r3 += -8
    r4 = 0
    call bpf_loop
    r1 = *(u64 *)(r10 - 8)
    r1 *= 100
    r0 += r1
    exit
cb:
    r3 = *(u64 *)(r2 + 0)
    r3 += r1
    *(u64 *)(r2 + 0) = r3
    r0 = 0
    if r1 != 6 goto +1
    r0 = 1
    exit"
        .to_string();
    let o = Object::load(&[p]);
    assert_eq!(o.run(), (2107, 0));
}

#[test]
fn inlined_array_lookups_bound_the_key() {
    // Keys 0 and 1 are in range, 2 is not: the lookup returns NULL.
    let p = "
    r6 = 0
    r7 = 0
loop:
    *(u32 *)(r10 - 4) = r7
    r1 = map[count] ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto next
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r6 += 1
next:
    r7 += 1
    if r7 < 3 goto loop
    r0 = r6
    exit"
        .to_string();
    let o = Object::load(&[p]);
    assert!(
        !o.progs[0].verification().inline_lookups.is_empty(),
        "the verifier proved the lookup inlinable"
    );
    assert_eq!(o.run(), (2, 1));
}
