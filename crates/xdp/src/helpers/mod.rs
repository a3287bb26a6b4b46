//! The helpers XDP programs may call, and what one run of a program sees.
//!
//! Helper ids and semantics are the kernel's (`include/uapi/linux/bpf.h`,
//! `___BPF_FUNC_MAPPER`; net/core/filter.c `xdp_func_proto` and
//! kernel/bpf/helpers.c `bpf_base_func_proto` for which of them XDP gets).
//! A helper returns what the kernel's would, including negative errno
//! values as 64-bit two's complement. One module per family:
//!
//! | module | helpers |
//! |---|---|
//! | [`map`] | map lookup/update/delete, push/pop/peek, per-CPU lookup |
//! | [`packet`] | `bpf_xdp_adjust_head/meta/tail`, `get_buff_len`, `load/store_bytes` |
//! | [`csum`] | `bpf_csum_diff` |
//! | [`time`] | ktime, jiffies, prandom, CPU and NUMA ids |
//! | [`redirect`] | `bpf_redirect`, `bpf_redirect_map` |
//! | [`trace`] | `bpf_trace_printk`, `bpf_snprintf` |
//! | [`fib`] | `bpf_fib_lookup`, `bpf_check_mtu` |
//! | [`ringbuf`] | `bpf_ringbuf_output/reserve/submit/discard/query` |
//! | [`perf`] | `bpf_perf_event_output` |
//! | [`lock`] | `bpf_spin_lock`, `bpf_spin_unlock` |
//! | [`callback`] | `bpf_loop`, `bpf_for_each_map_elem` (and `bpf_tail_call`) |
//!
//! [`HELPERS`] is the dispatch table: a program calling a helper that is
//! not in it fails to load, with the helper's name in the message.
//!
//! Helpers reach the world outside the program through the runtime's
//! [`HelperEnv`] and keep per-run state (the redirect target, memory they
//! handed out) in the [`RunState`] the runner keeps. Pointer arguments are checked
//! in checked runs (see [`mem`](self::mem)).

pub mod callback;
pub mod csum;
pub mod env;
pub mod fib;
pub mod lock;
pub mod map;
pub(crate) mod mem;
pub mod packet;
pub mod perf;
pub mod redirect;
pub mod ringbuf;
pub mod time;
pub mod trace;

use crate::ctx::XdpContext;
use crate::maps::{MapRef, MapTable};
use crate::native::{NativeHelper, call_helper as call_native};
use crate::program::Code;
use env::Prandom;
use mem::{ArgCheck, Dir};
use rxdp_interp::{Env, HelperCtx, HelperError, Region, RegionKind, TailCallSlot, TailTarget};
use rxdp_isa::helper_id as hid;
use rxdp_isa::{CallKind, Insn};
use rxdp_jit::x86_64::RunCtx;
use std::sync::Arc;

pub use env::{Clock, Device, Devices, EventSink, HelperEnv, PerfEvent, RecordingSink};
pub use redirect::Redirect;

/// What a helper call sees of the interpreter: granting memory, running
/// callbacks.
pub type Ctx<'c, 'a> = HelperCtx<'c, XdpEnv<'a>>;

/// A helper's implementation: the run's environment, `r1..r5`, and the
/// interpreter's side of the call (to grant the program memory the helper
/// hands out, to run callbacks).
pub type HelperFn =
    for<'a> fn(&mut XdpEnv<'a>, &[u64; 5], &mut Ctx<'_, 'a>) -> Result<u64, HelperError>;

/// One helper rxdp implements for XDP.
#[derive(Clone, Copy)]
pub struct Helper {
    /// `BPF_FUNC_*` id.
    pub id: u32,
    /// The kernel's name, `bpf_` prefix included.
    pub name: &'static str,
    /// The implementation.
    pub func: HelperFn,
    /// Its entry for compiled code, which runs `func` (see
    /// [`crate::native`]).
    pub native: NativeHelper,
}

impl core::fmt::Debug for Helper {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}#{}", self.name, self.id)
    }
}

/// A [`Helper`] with its native entry: a function of its own per helper,
/// so that compiled code calls it directly.
macro_rules! h {
    ($id:expr, $name:expr, $func:path $(,)?) => {
        Helper {
            id: $id as u32,
            name: $name,
            func: $func,
            native: {
                unsafe extern "sysv64" fn native(
                    r1: u64,
                    r2: u64,
                    r3: u64,
                    r4: u64,
                    r5: u64,
                    run: *mut RunCtx,
                ) -> u64 {
                    // SAFETY: only compiled code calls this entry, with the
                    // run its runner started (`native::call_helper`'s
                    // contract).
                    unsafe { call_native($id as u32, $func, [r1, r2, r3, r4, r5], run) }
                }
                /// What compiled code calls: passes the run, kept in r12,
                /// as `native`'s sixth argument.
                #[unsafe(naked)]
                unsafe extern "sysv64" fn entry() {
                    core::arch::naked_asm!("mov r9, r12", "jmp {native}", native = sym native)
                }
                entry
            },
        }
    };
}

/// Every helper rxdp implements for XDP programs.
pub const HELPERS: &[Helper] = &[
    h!(
        hid::MAP_LOOKUP_ELEM,
        "bpf_map_lookup_elem",
        map::lookup_elem,
    ),
    h!(
        hid::MAP_UPDATE_ELEM,
        "bpf_map_update_elem",
        map::update_elem,
    ),
    h!(
        hid::MAP_DELETE_ELEM,
        "bpf_map_delete_elem",
        map::delete_elem,
    ),
    h!(hid::MAP_PUSH_ELEM, "bpf_map_push_elem", map::push_elem),
    h!(hid::MAP_POP_ELEM, "bpf_map_pop_elem", map::pop_elem),
    h!(hid::MAP_PEEK_ELEM, "bpf_map_peek_elem", map::peek_elem),
    h!(
        hid::MAP_LOOKUP_PERCPU_ELEM,
        "bpf_map_lookup_percpu_elem",
        map::lookup_percpu_elem,
    ),
    h!(hid::KTIME_GET_NS, "bpf_ktime_get_ns", time::ktime_get_ns),
    h!(
        hid::KTIME_GET_BOOT_NS,
        "bpf_ktime_get_boot_ns",
        time::ktime_get_boot_ns,
    ),
    h!(hid::JIFFIES64, "bpf_jiffies64", time::jiffies64),
    h!(
        hid::GET_PRANDOM_U32,
        "bpf_get_prandom_u32",
        time::get_prandom_u32,
    ),
    h!(
        hid::GET_SMP_PROCESSOR_ID,
        "bpf_get_smp_processor_id",
        time::get_smp_processor_id,
    ),
    h!(
        hid::GET_NUMA_NODE_ID,
        "bpf_get_numa_node_id",
        time::get_numa_node_id,
    ),
    h!(
        hid::XDP_ADJUST_HEAD,
        "bpf_xdp_adjust_head",
        packet::adjust_head,
    ),
    h!(
        hid::XDP_ADJUST_META,
        "bpf_xdp_adjust_meta",
        packet::adjust_meta,
    ),
    h!(
        hid::XDP_ADJUST_TAIL,
        "bpf_xdp_adjust_tail",
        packet::adjust_tail,
    ),
    h!(
        hid::XDP_GET_BUFF_LEN,
        "bpf_xdp_get_buff_len",
        packet::get_buff_len,
    ),
    h!(
        hid::XDP_LOAD_BYTES,
        "bpf_xdp_load_bytes",
        packet::load_bytes,
    ),
    h!(
        hid::XDP_STORE_BYTES,
        "bpf_xdp_store_bytes",
        packet::store_bytes,
    ),
    h!(hid::CSUM_DIFF, "bpf_csum_diff", csum::csum_diff),
    h!(hid::REDIRECT, "bpf_redirect", redirect::redirect),
    h!(
        hid::REDIRECT_MAP,
        "bpf_redirect_map",
        redirect::redirect_map,
    ),
    h!(hid::TRACE_PRINTK, "bpf_trace_printk", trace::trace_printk),
    h!(hid::SNPRINTF, "bpf_snprintf", trace::snprintf),
    h!(hid::CHECK_MTU, "bpf_check_mtu", fib::check_mtu),
    h!(hid::FIB_LOOKUP, "bpf_fib_lookup", fib::fib_lookup),
    h!(hid::TAIL_CALL, "bpf_tail_call", callback::tail_call),
    h!(hid::RINGBUF_OUTPUT, "bpf_ringbuf_output", ringbuf::output),
    h!(
        hid::RINGBUF_RESERVE,
        "bpf_ringbuf_reserve",
        ringbuf::reserve,
    ),
    h!(hid::RINGBUF_SUBMIT, "bpf_ringbuf_submit", ringbuf::submit),
    h!(
        hid::RINGBUF_DISCARD,
        "bpf_ringbuf_discard",
        ringbuf::discard,
    ),
    h!(hid::RINGBUF_QUERY, "bpf_ringbuf_query", ringbuf::query),
    h!(
        hid::PERF_EVENT_OUTPUT,
        "bpf_perf_event_output",
        perf::perf_event_output,
    ),
    h!(hid::SPIN_LOCK, "bpf_spin_lock", lock::spin_lock),
    h!(hid::SPIN_UNLOCK, "bpf_spin_unlock", lock::spin_unlock),
    h!(hid::LOOP, "bpf_loop", callback::bpf_loop),
    h!(
        hid::FOR_EACH_MAP_ELEM,
        "bpf_for_each_map_elem",
        callback::for_each_map_elem,
    ),
];

const TABLE_LEN: usize = hid::MAX_ID as usize;

/// [`HELPERS`] indexed by id, built at compile time.
const BY_ID: [Option<HelperFn>; TABLE_LEN] = {
    let mut t: [Option<HelperFn>; TABLE_LEN] = [None; TABLE_LEN];
    let mut i = 0;
    while i < HELPERS.len() {
        assert!(t[HELPERS[i].id as usize].is_none(), "helper listed twice");
        t[HELPERS[i].id as usize] = Some(HELPERS[i].func);
        i += 1;
    }
    t
};

/// The helper with this id, if rxdp implements it for XDP.
pub fn helper(id: u32) -> Option<&'static Helper> {
    HELPERS.iter().find(|h| h.id == id)
}

/// Whether rxdp implements helper `id` for XDP.
pub fn is_supported(id: u32) -> bool {
    BY_ID.get(id as usize).is_some_and(Option::is_some)
}

/// The frame's fixed bounds, which helpers moving `data` and `data_end`
/// stay within.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameBounds {
    /// `data_hard_start`: the frame's first byte.
    pub hard_start: u64,
    /// `xdp_data_hard_end`: one past the last byte packet data may use
    /// (the frame less the `skb_shared_info` tailroom).
    pub hard_end: u64,
}

/// Per-run state of the helpers, kept in the runner so that a run
/// allocates nothing: what the verdict needs afterwards (the redirect
/// target) and what helpers track during the run.
#[derive(Debug)]
pub struct RunState {
    /// Where `bpf_redirect`/`bpf_redirect_map` pointed the frame during
    /// the last run (`None` when neither was called or the last
    /// `bpf_redirect_map` missed).
    pub redirect: Option<Redirect>,
    /// Whether the lists below may hold something: set by every push
    /// ([`XdpEnv::grant`] when it tracks grants, [`RunState::keep`]; a
    /// ring buffer reservation is always granted, and programs that
    /// reserve track grants), so that a run after one that left nothing
    /// pays one compare to start.
    dirty: bool,
    /// Memory helpers handed out this run (map values, ring buffer
    /// records), when the environment tracks grants (see
    /// [`tracks_grants`]).
    granted: Vec<Region>,
    prandom: Prandom,
    /// Memory helpers handed out that must outlive their call (keys of
    /// `bpf_for_each_map_elem`), freed when the next run begins.
    kept: Vec<Box<[u8]>>,
    /// Ring buffer records reserved and not yet committed: (address, map
    /// index). Pushed only together with a grant of the record, in
    /// environments that track grants.
    pub(crate) reserved: Vec<(u64, usize)>,
    /// The first helper failure of a run of compiled code: the helper's
    /// id and the error (see [`crate::native`]).
    pub(crate) native_fault: Option<(u32, HelperError)>,
}

impl RunState {
    /// Fresh state for a runner on `cpu`.
    pub fn new(world: &HelperEnv, cpu: u32) -> RunState {
        RunState {
            redirect: None,
            dirty: false,
            granted: Vec::new(),
            prandom: Prandom::new(world.prandom, cpu),
            kept: Vec::new(),
            reserved: Vec::new(),
            native_fault: None,
        }
    }

    /// Records a helper failure in a run of compiled code, unless one
    /// came first.
    #[cold]
    pub(crate) fn record_native_fault(&mut self, id: u32, error: HelperError) {
        self.native_fault.get_or_insert((id, error));
    }

    /// Clears what one run leaves behind, before the next one.
    #[inline(always)]
    pub fn begin_run(&mut self) {
        self.redirect = None;
        if self.dirty {
            self.clear();
        }
    }

    /// The rare part of [`RunState::begin_run`], out of the run's way.
    #[cold]
    #[inline(never)]
    fn clear(&mut self) {
        self.dirty = false;
        self.granted.clear();
        self.kept.clear();
        self.reserved.clear();
    }

    /// Keeps `bytes` until the next run; their address.
    pub(crate) fn keep(&mut self, bytes: Vec<u8>) -> u64 {
        let b = bytes.into_boxed_slice();
        let addr = b.as_ptr().expose_provenance() as u64;
        self.dirty = true;
        self.kept.push(b);
        addr
    }
}

/// What a program run sees: its frame, its maps, the CPU it runs on, the
/// runtime's [`HelperEnv`] and the helpers' [`RunState`].
///
/// A runner keeps one for all its runs: only the frame changes from one
/// run to the next (see [`XdpEnv::set_frame`]).
pub struct XdpEnv<'a> {
    /// The context of the frame of the current run; set by
    /// [`XdpEnv::set_frame`] before each run and dereferenced only during
    /// it (between runs it may dangle).
    pub(crate) ctx: *mut XdpContext,
    pub(crate) frame: FrameBounds,
    pub(crate) maps: &'a MapTable,
    pub(crate) cpu: u32,
    pub(crate) world: Arc<HelperEnv>,
    pub(crate) run: RunState,
    pub(crate) args: ArgCheck,
    /// Whether [`XdpEnv::grant`] records what it grants (see
    /// [`tracks_grants`]).
    track_grants: bool,
}

/// Whether runs of `insns` need the list of the memory helpers granted
/// them during the run. Checked runs check helpers' pointer arguments
/// against it; a fast run needs it only where a helper follows a pointer
/// no verifier proves (the strings and addresses of `bpf_trace_printk`
/// and `bpf_snprintf`), where any helper may be reached unseen (`callx`;
/// a tail call's target), and to clear ring buffer reservations (which
/// ride on their grant). Other fast runs skip the bookkeeping.
pub(crate) fn tracks_grants(insns: &[Insn], checked: bool) -> bool {
    const NEED: [i32; 4] = [
        hid::TRACE_PRINTK,
        hid::SNPRINTF,
        hid::TAIL_CALL,
        hid::RINGBUF_RESERVE,
    ];
    checked
        || insns.iter().any(|i| match *i {
            Insn::Call(CallKind::Helper(id)) => NEED.contains(&id),
            Insn::Callx { .. } => true,
            _ => false,
        })
}

// SAFETY: the only field that is not `Send`/`Sync` by itself is `ctx`,
// which is dereferenced only during a run, by the thread running it, while
// the runner's caller holds the frame it points to borrowed mutably (see
// `XdpRunner::run`); between runs it is never read.
unsafe impl Send for XdpEnv<'_> {}
// SAFETY: as for `Send`: a shared `XdpEnv` never dereferences `ctx`
// outside a run, and a run needs the environment mutably.
unsafe impl Sync for XdpEnv<'_> {}

impl<'a> XdpEnv<'a> {
    /// An environment for runs of a program with `maps` on `cpu` in
    /// `world`; `args` says whether and where helpers' pointer arguments
    /// are checked, `track_grants` whether grants are recorded (see
    /// [`tracks_grants`]). It has no frame until [`XdpEnv::set_frame`].
    pub(crate) fn new(
        maps: &'a MapTable,
        cpu: u32,
        world: Arc<HelperEnv>,
        args: ArgCheck,
        track_grants: bool,
    ) -> Self {
        XdpEnv {
            ctx: core::ptr::null_mut(),
            frame: FrameBounds::default(),
            maps,
            cpu,
            run: RunState::new(&world, cpu),
            world,
            args,
            track_grants,
        }
    }

    /// The same environment on `cpu` in `world`, its run state fresh.
    pub(crate) fn moved(self, cpu: u32, world: Arc<HelperEnv>) -> Self {
        XdpEnv::new(self.maps, cpu, world, self.args, self.track_grants)
    }

    /// Points the environment at the frame of the next run and clears
    /// what the last run left.
    #[inline(always)]
    pub(crate) fn set_frame(&mut self, ctx: *mut XdpContext, frame: FrameBounds) {
        self.ctx = ctx;
        self.frame = frame;
        self.run.begin_run();
    }

    /// The context of the frame being processed.
    pub(crate) fn ctx(&self) -> &XdpContext {
        // SAFETY: `ctx` points to the live context of this run, which the
        // runner's caller keeps borrowed for the whole run.
        unsafe { &*self.ctx }
    }

    /// The context, mutable (helpers move `data`, `data_end`, `data_meta`).
    pub(crate) fn ctx_mut(&mut self) -> &mut XdpContext {
        // SAFETY: as in `ctx`; the program holds no Rust reference to it.
        unsafe { &mut *self.ctx }
    }

    /// The map a map argument points to, with its index in the table.
    pub(crate) fn map(&self, id: u32, addr: u64) -> Result<(usize, &'a MapRef), HelperError> {
        self.maps
            .by_addr_indexed(addr)
            .ok_or_else(|| HelperError::Failed {
                id,
                reason: format!(
                    "{}: argument {addr:#x} is not a map pointer",
                    hid::helper_name(id as i32).unwrap_or("helper")
                ),
            })
    }

    /// Program memory `[addr, addr + len)` handed to helper `id` as
    /// argument `what`, checked in checked runs; a pointer to it.
    #[inline(always)]
    fn arg_ptr(
        &self,
        id: u32,
        what: &str,
        addr: u64,
        len: u64,
        dir: Dir,
    ) -> Result<*mut u8, HelperError> {
        if self.args.checked && len > 0 {
            self.check_arg(id, what, addr, len, dir)?;
        }
        Ok(core::ptr::with_exposed_provenance_mut(addr as usize))
    }

    /// The checked runs' part of [`XdpEnv::arg_ptr`], out of the fast
    /// runs' way.
    #[inline(never)]
    fn check_arg(
        &self,
        id: u32,
        what: &str,
        addr: u64,
        len: u64,
        dir: Dir,
    ) -> Result<(), HelperError> {
        mem::check(self.program_memory(), addr, len, dir)
            .map_err(|why| mem::bad_arg(id, what, addr, len, why))
    }

    /// Reads `len` bytes of program memory given to helper `id`.
    pub(crate) fn read_arg(
        &self,
        id: u32,
        what: &str,
        addr: u64,
        len: usize,
    ) -> Result<&'a [u8], HelperError> {
        if len == 0 {
            return Ok(&[]);
        }
        let p = self.arg_ptr(id, what, addr, len as u64, Dir::Read)?;
        // SAFETY: a checked run has just checked that the bytes lie in
        // memory the program may read, which the `Env` contract keeps
        // valid for the run; in a fast run the verifier proved it (the
        // kernel's `check_helper_mem_access`).
        Ok(unsafe { core::slice::from_raw_parts(p, len) })
    }

    /// `len` bytes of program memory helper `id` writes.
    pub(crate) fn write_arg(
        &self,
        id: u32,
        what: &str,
        addr: u64,
        len: usize,
    ) -> Result<&'a mut [u8], HelperError> {
        if len == 0 {
            return Ok(&mut []);
        }
        let p = self.arg_ptr(id, what, addr, len as u64, Dir::Write)?;
        // SAFETY: as in `read_arg`, for writable memory; no Rust reference
        // to program memory outlives the helper call that makes it.
        Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
    }

    /// The region a helper may read at `addr` (for strings and addresses
    /// that format conversions follow), checked in every run: these
    /// pointers are arbitrary values no verifier proves.
    pub(crate) fn readable_at(&self, addr: u64) -> Option<Region> {
        self.program_memory().find(|r| r.contains(addr, 1))
    }

    /// The context, read-only.
    fn ctx_region(&self) -> Region {
        Region {
            start: self.ctx as u64,
            len: core::mem::size_of::<XdpContext>() as u64,
            writable: false,
            kind: RegionKind::Context,
        }
    }

    /// The packet, `data_meta..data_end`.
    fn packet_region(&self) -> Region {
        let ctx = self.ctx();
        Region {
            start: ctx.data_meta,
            len: ctx.data_end - ctx.data_meta,
            writable: true,
            kind: RegionKind::Packet,
        }
    }

    /// The values of direct-access maps (global data).
    fn value_regions(&self) -> impl Iterator<Item = Region> + 'a {
        self.maps.iter().filter_map(value_region)
    }

    /// All the memory the program may hand a helper now: what
    /// [`Env::regions`] reports, the stack and what helpers granted (when
    /// tracked). Walked in place: a checked helper call allocates nothing.
    fn program_memory(&self) -> impl Iterator<Item = Region> + '_ {
        [self.ctx_region(), self.packet_region()]
            .into_iter()
            .chain(self.value_regions())
            .chain(self.args.stack)
            .chain(self.run.granted.iter().copied())
    }

    /// Hands memory to the program for the rest of the run.
    pub(crate) fn grant(&mut self, region: Region, hc: &mut Ctx<'_, '_>) {
        if self.track_grants {
            self.run.dirty = true;
            self.run.granted.push(region);
        }
        hc.grant(region);
    }
}

/// The value of a direct-access map (global data), which the program may
/// access without a lookup.
fn value_region(m: &MapRef) -> Option<Region> {
    let addr = m.map.direct_value_addr()?;
    Some(Region {
        start: addr,
        len: u64::from(m.map.def().value_size),
        writable: m.writable,
        kind: RegionKind::MapValue,
    })
}

/// `errno` as a helper's return value: `-errno` in 64-bit two's complement.
pub(crate) fn errno(e: i32) -> u64 {
    (-i64::from(e)) as u64
}

// SAFETY: the regions reported are the live context, the frame's
// `data_meta..data_end` (inside the boxed frame) and map values, which
// live as long as the program's map table that this environment borrows;
// granted map values live while their element does, which for the maps
// that hand out values to programs is at least the run (elements are
// reclaimed after a grace period).
unsafe impl Env for XdpEnv<'_> {
    // Inlined into the interpreter's loop: the table lookup, without a
    // call of its own before the helper's.
    #[inline]
    fn call_helper(
        &mut self,
        id: u32,
        a: [u64; 5],
        hc: &mut HelperCtx<'_, Self>,
    ) -> Result<u64, HelperError> {
        match BY_ID.get(id as usize).copied().flatten() {
            Some(f) => f(self, &a, hc),
            None => Err(HelperError::Unknown(id)),
        }
    }

    fn tail_call_target(
        &mut self,
        prog_array: u64,
        index: u32,
    ) -> Result<TailCallSlot, HelperError> {
        let id = hid::TAIL_CALL as u32;
        let (_, m) = self.map(id, prog_array)?;
        let def = m.map.def();
        if def.map_type != rxdp_maps::map_type::PROG_ARRAY {
            return Err(HelperError::Failed {
                id,
                reason: format!("bpf_tail_call: map '{}' is not a prog array", m.name),
            });
        }
        if index >= def.max_entries {
            return Ok(TailCallSlot::OutOfRange);
        }
        let Some(p) = m.map.prog_at(index) else {
            return Ok(TailCallSlot::Empty);
        };
        let code = p
            .prog
            .downcast_ref::<Code>()
            .ok_or_else(|| HelperError::Failed {
                id,
                reason: format!(
                    "bpf_tail_call: slot {index} of '{}' holds no XDP program",
                    m.name
                ),
            })?;
        // The prog array keeps the program alive until a grace period
        // after it leaves the array, which is after this run (the `Env`
        // contract).
        Ok(TailCallSlot::Prog(TailTarget::new(&code.interp)))
    }

    fn regions(&self, out: &mut Vec<Region>) {
        // Pushed one by one: cheaper than `extend` of an iterator chain on
        // every checked run's entry.
        out.push(self.ctx_region());
        out.push(self.packet_region());
        for m in self.maps.iter() {
            if let Some(r) = value_region(m) {
                out.push(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_kernel_ids_and_names() {
        for (id, name) in [
            (1, "bpf_map_lookup_elem"),
            (5, "bpf_ktime_get_ns"),
            (6, "bpf_trace_printk"),
            (23, "bpf_redirect"),
            (28, "bpf_csum_diff"),
            (44, "bpf_xdp_adjust_head"),
            (51, "bpf_redirect_map"),
            (54, "bpf_xdp_adjust_meta"),
            (65, "bpf_xdp_adjust_tail"),
            (69, "bpf_fib_lookup"),
            (87, "bpf_map_push_elem"),
            (118, "bpf_jiffies64"),
            (125, "bpf_ktime_get_boot_ns"),
            (163, "bpf_check_mtu"),
            (165, "bpf_snprintf"),
            (188, "bpf_xdp_get_buff_len"),
            (189, "bpf_xdp_load_bytes"),
            (190, "bpf_xdp_store_bytes"),
            (195, "bpf_map_lookup_percpu_elem"),
        ] {
            assert_eq!(helper(id).map(|h| h.name), Some(name), "id {id}");
            assert!(is_supported(id));
        }
        for h in HELPERS {
            assert_eq!(hid::helper_name(h.id as i32), Some(h.name), "{h:?}");
        }
        assert!(!is_supported(9), "bpf_skb_store_bytes is not an XDP helper");
        assert!(!is_supported(0));
        assert!(!is_supported(100_000));
    }

    #[test]
    fn only_runs_that_need_them_track_grants() {
        let call = |id| Insn::Call(CallKind::Helper(id));
        let lookup = [call(hid::MAP_LOOKUP_ELEM), Insn::Exit];
        assert!(!tracks_grants(&lookup, false));
        assert!(tracks_grants(&lookup, true), "checked runs always do");
        for id in [
            hid::TRACE_PRINTK,
            hid::SNPRINTF,
            hid::TAIL_CALL,
            hid::RINGBUF_RESERVE,
        ] {
            assert!(tracks_grants(&[call(id), Insn::Exit], false), "{id}");
        }
        let callx = Insn::Callx {
            dst: rxdp_isa::Reg::R1,
        };
        assert!(tracks_grants(&[callx, Insn::Exit], false));
    }

    #[test]
    fn a_run_starts_without_what_the_last_one_left() {
        let mut s = RunState::new(&HelperEnv::deterministic(), 0);
        s.begin_run();
        assert!(!s.dirty);
        let addr = s.keep(vec![1, 2, 3]);
        assert_ne!(addr, 0);
        s.redirect = Some(Redirect::Ifindex(3));
        assert!(s.dirty);
        s.begin_run();
        assert!(!s.dirty);
        assert!(s.kept.is_empty());
        assert_eq!(s.redirect, None);
    }
}
