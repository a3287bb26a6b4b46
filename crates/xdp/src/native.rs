//! The XDP program type's side of the JIT: the [`Runtime`] programs are
//! compiled against, the native entries of the helpers, callbacks run
//! from compiled code, and helper failures.
//!
//! Compiled code calls a helper's native entry ([`Helper::native`]) with
//! `r1..r5` in place and the run's [`RunCtx`] (whose `env` is the
//! runner's [`XdpEnv`]) in r12; the entry, two instructions, moves it to
//! the sixth argument register and jumps to a Rust function of the
//! helper's, so that no call site spends bytes on it. That function runs
//! the same helper function the interpreter calls, with a
//! [`HelperCtx::native`] whose callbacks are calls of compiled code
//! ([`rxdp_jit::x86_64::call_subprogram`]).
//!
//! A helper that fails (an error the verifier cannot rule out, such as a
//! `bpf_trace_printk` string no check proved readable) cannot stop
//! compiled code in its tracks: its entry records the first failure in the
//! run state and returns 0, which every helper prototype allows, and the
//! runner reports the run as faulted at the program's first call of that
//! helper once the code returns, discarding what it computed.
//!
//! [`Helper::native`]: crate::helpers::Helper::native

use crate::helpers::{HelperFn, XdpEnv};
use crate::maps::MapTable;
use crate::program::Code;
use rxdp_interp::{Fault, HelperCtx, HelperError, NativeCaller, Region, RegionKind};
use rxdp_jit::x86_64::{ArrayLayout, JitImage, RunCtx, Runtime, Unsupported, call_subprogram};
use rxdp_maps::{ArrayMap, Map, MapError, PokeTracker, ProgArray, map_type};
use std::sync::Arc;

/// A helper's native entry, what compiled code calls: `r1..r5` in the
/// argument registers, the run in r12, r0 back in rax. Never called from
/// Rust.
pub type NativeHelper = unsafe extern "sysv64" fn();

/// Runs helper `f` (id `id`) for compiled code: what every
/// [`NativeHelper`] ends in, with the run as the sixth argument.
///
/// # Safety
///
/// `run` must be the [`RunCtx`] of a run the runner started, its `env`
/// the runner's [`XdpEnv`], which nothing else references while compiled
/// code runs, and `args` what a verified program passes the helper.
#[inline(always)]
pub(crate) unsafe fn call_helper(id: u32, f: HelperFn, args: [u64; 5], run: *mut RunCtx) -> u64 {
    // SAFETY: per the contract, `env` is the runner's environment and the
    // only live path to it is this one (a helper that ran the callback we
    // are in handed its own borrow over; see `JitCaller::call`).
    let env = unsafe { &mut *(*run).env.cast::<XdpEnv<'_>>() };
    // The program's stack is the native stack between this frame and the
    // runner's, where `run` lives: what helpers following pointers no
    // verifier proved (format strings) may read of it.
    let here = core::ptr::from_ref(&run).addr() as u64;
    env.args.stack = Some(Region {
        start: here,
        len: (run.addr() as u64).saturating_sub(here),
        writable: true,
        kind: RegionKind::Stack,
    });
    let mut caller = JitCaller { run };
    let mut hc = HelperCtx::native(&mut caller);
    match f(env, &args, &mut hc) {
        Ok(r0) => r0,
        Err(e) => {
            env.run.record_native_fault(id, e);
            0
        }
    }
}

/// Runs callbacks of compiled code for a helper.
struct JitCaller {
    run: *mut RunCtx,
}

impl<'a> NativeCaller<XdpEnv<'a>> for JitCaller {
    unsafe fn call(
        &mut self,
        env: &mut XdpEnv<'a>,
        func: u64,
        args: [u64; 5],
    ) -> Result<u64, Fault> {
        // SAFETY: `run` is the live run (see `call_helper`). The callback's
        // helpers reach the environment through `run.env`, so it is set to
        // the helper's own borrow for the call and restored after. `func`
        // is a value the program loaded with `lddw rX, <subprogram>` and
        // passed as the helper's callback, which the verifier proved (the
        // JIT loads the subprogram's code address there), and the caller
        // vouches for `args`.
        unsafe {
            let saved = (*self.run).env;
            (*self.run).env = core::ptr::from_mut(env).cast();
            let r0 = call_subprogram(func, self.run, args);
            (*self.run).env = saved;
            Ok(r0)
        }
    }
}

/// What XDP programs are compiled against: the helpers' native entries and
/// the program's arrays and prog arrays. Loading compiles every program
/// with it; benchmarks and tools compiling a program's verified form again
/// use it too.
pub struct XdpRuntime<'m> {
    maps: &'m MapTable,
}

impl<'m> XdpRuntime<'m> {
    /// The runtime of a program whose maps are `maps`.
    pub fn new(maps: &'m MapTable) -> XdpRuntime<'m> {
        XdpRuntime { maps }
    }
}

impl Runtime for XdpRuntime<'_> {
    fn helper(&self, id: u32) -> Option<u64> {
        crate::helpers::helper(id).map(|h| h.native as usize as u64)
    }

    fn array(&self, index: u32) -> Option<ArrayLayout> {
        let m = self.maps.get(index as usize)?;
        let def = m.map.def();
        if def.map_type != map_type::ARRAY {
            return None;
        }
        let array = m.map.as_any().downcast_ref::<ArrayMap>()?;
        Some(ArrayLayout {
            values: array.plane_base(0)? as u64,
            stride: u32::try_from(array.elem_size()).ok()?,
            max_entries: def.max_entries,
        })
    }

    fn prog_array(&self, index: u32) -> Option<u32> {
        prog_array(self.maps, index).map(|a| a.def().max_entries)
    }
}

/// Keeps the direct tail calls of `code` in step with their prog arrays:
/// registers it with each array its sites jump through (which patches in
/// what the slots hold now).
pub(crate) fn track_tail_calls(code: &Arc<Code>, maps: &MapTable) -> Result<(), MapError> {
    let Ok(image) = &code.jit else {
        return Ok(());
    };
    let mut arrays: Vec<u32> = image.tail_call_sites().iter().map(|s| s.map).collect();
    arrays.sort_unstable();
    arrays.dedup();
    for index in arrays {
        if let Some(array) = prog_array(maps, index) {
            let tracker: Arc<dyn PokeTracker> = Arc::clone(code) as Arc<dyn PokeTracker>;
            array.track(Arc::downgrade(&tracker))?;
        }
    }
    Ok(())
}

/// The address of the prog array each direct tail call of `jit` jumps
/// through (0 if the map is none).
pub(crate) fn site_arrays(jit: &Result<JitImage, Unsupported>, maps: &MapTable) -> Vec<usize> {
    let Ok(image) = jit else {
        return Vec::new();
    };
    image
        .tail_call_sites()
        .iter()
        .map(|s| prog_array(maps, s.map).map_or(0, |a| core::ptr::from_ref(a).addr()))
        .collect()
}

/// Map `index` of `maps` as a prog array.
fn prog_array(maps: &MapTable, index: u32) -> Option<&ProgArray> {
    maps.get(index as usize)?
        .map
        .as_any()
        .downcast_ref::<ProgArray>()
}

impl PokeTracker for Code {
    fn poke(&self, array: &ProgArray, index: u32, _old: u64, new: u64) -> Result<(), String> {
        let Ok(image) = &self.jit else {
            return Ok(());
        };
        let grace = || array.domain().synchronize();
        let array_addr = core::ptr::from_ref(array).addr();
        for (i, site) in image.tail_call_sites().iter().enumerate() {
            if self.site_arrays.get(i) == Some(&array_addr) && site.key == index {
                image
                    .poke_tail_call(i, new, &grace)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// The fault of a run whose helper `id` failed with `error`, at the first
/// call of that helper in `insns`.
pub(crate) fn helper_fault(insns: &[rxdp_isa::Insn], id: u32, error: HelperError) -> Fault {
    let call = rxdp_isa::Insn::Call(rxdp_isa::CallKind::Helper(id as i32));
    let pc = insns.iter().position(|i| *i == call).unwrap_or(0);
    match error {
        HelperError::Callback(fault) => *fault,
        e => Fault {
            pc,
            kind: rxdp_interp::FaultKind::Helper(e),
        },
    }
}
