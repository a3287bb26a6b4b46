//! What verification hands on to the engines: per-subprogram stack depth
//! and callee-saved registers, direct tail-call sites, inlinable array
//! lookups, and the statistics and log.

mod common;

use common::XdpTest;
use rxdp_isa::asm::{Assembled, assemble};
use rxdp_verifier::{
    CtxAccess, CtxField, DirectTailCall, HelperProto, InlineLookup, MapInfo, MapResolver, Options,
    ProgramType, VerifiedProgram, verify,
};

/// XDP with every helper rxdp knows and typed packet pointers.
struct Xdp;

impl ProgramType for Xdp {
    fn name(&self) -> &'static str {
        "xdp"
    }

    fn context_access(
        &self,
        off: i32,
        size: rxdp_isa::Size,
        write: bool,
    ) -> Result<CtxAccess, String> {
        let mut a = XdpTest.context_access(off, size, write)?;
        a.field = match off {
            0 => CtxField::Packet,
            4 => CtxField::PacketEnd,
            8 => CtxField::PacketMeta,
            _ => CtxField::Scalar,
        };
        Ok(a)
    }

    fn helper_proto(&self, id: u32) -> Option<&'static HelperProto> {
        rxdp_verifier::proto::proto(id)
    }
}

/// The maps an assembled program declares, at made-up addresses.
struct Maps(Vec<MapInfo>);

impl MapResolver for Maps {
    fn resolve(&self, index: u32, value_off: Option<u32>) -> Result<u64, String> {
        let m = self.0.get(index as usize).ok_or("no such map")?;
        match value_off {
            None => Ok(0x1000 + u64::from(index) * 0x100),
            Some(off) if off < m.value_size => Ok(0x9000 + u64::from(off)),
            Some(_) => Err("offset out of range".to_string()),
        }
    }

    fn map_info(&self, index: u32) -> Option<MapInfo> {
        self.0.get(index as usize).cloned()
    }
}

fn check(src: &str, opts: &Options) -> VerifiedProgram {
    let Assembled { insns, maps, .. } = assemble(src).expect("assembles");
    let maps = Maps(
        maps.iter()
            .map(|d| MapInfo {
                name: d.name.clone(),
                map_type: d.map_type,
                key_size: d.key_size,
                value_size: d.value_size,
                max_entries: d.max_entries,
                flags: d.flags,
                ..MapInfo::default()
            })
            .collect(),
    );
    verify(&insns, &Xdp, &maps, opts).unwrap_or_else(|e| panic!("rejected: {e}\n{}", e.log))
}

const PROGRAM: &str = "
.map jmp type=prog_array key=4 value=4 entries=4
.map counters type=array key=4 value=8 entries=4
    r6 = r1
    *(u32 *)(r10 - 4) = 0
    r2 = r10
    r2 += -4
    r1 = map[counters] ll
    call bpf_map_lookup_elem
    call sub
    r1 = r6
    r2 = map[jmp] ll
    r3 = 2
    call bpf_tail_call
    r0 = 2
    exit
sub:
    r7 = 1
    *(u64 *)(r10 - 24) = r7
    r0 = 0
    exit
";

#[test]
fn subprograms_report_their_stack_and_saved_registers() {
    let v = check(PROGRAM, &Options::default());
    assert_eq!(v.subprogs.len(), 2);
    assert_eq!(v.subprogs[0].stack_depth, 4);
    assert_eq!(v.subprogs[0].callee_saved, 1 << 6);
    assert!(v.subprogs[0].tail_calls);
    assert_eq!(v.subprogs[1].stack_depth, 24);
    assert_eq!(v.subprogs[1].callee_saved, 1 << 7);
    assert!(!v.subprogs[1].tail_calls);
}

#[test]
fn constant_tail_calls_and_array_lookups_are_handed_on() {
    let v = check(PROGRAM, &Options::default());
    assert_eq!(
        v.direct_tail_calls,
        vec![DirectTailCall {
            pc: 12,
            map: 0,
            key: 2
        }]
    );
    assert_eq!(v.inline_lookups, vec![InlineLookup { pc: 6, map: 1 }]);
}

#[test]
fn a_key_that_differs_between_paths_is_not_direct() {
    let src = "
.map jmp type=prog_array key=4 value=4 entries=4
    r6 = r1
    r3 = 1
    r2 = *(u32 *)(r6 + 12)
    if r2 == 0 goto l
    r3 = 2
l:
    r1 = r6
    r2 = map[jmp] ll
    call bpf_tail_call
    r0 = 2
    exit
";
    let v = check(src, &Options::default());
    assert!(v.direct_tail_calls.is_empty(), "{:?}", v.direct_tail_calls);
}

#[test]
fn statistics_and_log_follow_the_log_level() {
    let quiet = check(PROGRAM, &Options::default());
    assert!(quiet.log.is_empty());
    assert!(quiet.stats.insns_processed >= 15, "{:?}", quiet.stats);
    let opts = Options {
        log_level: 2,
        ..Options::default()
    };
    let loud = check(PROGRAM, &opts);
    assert!(loud.log.contains("call bpf_tail_call"), "{}", loud.log);
    assert!(loud.log.contains("processed "), "{}", loud.log);
}
