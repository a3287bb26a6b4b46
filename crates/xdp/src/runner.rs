//! Running a loaded program on one frame after another: the per-run path
//! that test-run, benchmarks and the datapath share.
//!
//! An [`XdpRunner`] holds everything a run needs besides the frame (the
//! program, the engine, a bpf stack, the CPU index, the helpers' world and
//! per-run state), all set up once when it is created, so that
//! [`XdpRunner::run`] allocates nothing in the steady state and does no
//! setup beyond pointing the environment at the frame. One runner per
//! worker thread; the program and the [`HelperEnv`] are shared.

use crate::buff::XdpBuff;
use crate::ctx::XdpContext;
use crate::helpers::env::HelperEnv;
use crate::helpers::mem::ArgCheck;
use crate::helpers::{FrameBounds, Redirect, XdpEnv, tracks_grants};
use crate::program::XdpProgram;
use crate::test_run::Engine;
use rxdp_interp::{Fault, Interpreter, Region, RegionKind, Stack};
use rxdp_jit::x86_64::{Entry, JitImage, RunCtx};
use std::sync::Arc;

/// A program bound to an engine, a bpf stack, a CPU and a helper
/// environment, ready to run on frames.
pub struct XdpRunner<'p> {
    prog: &'p XdpProgram,
    /// The program's prepared code, one load away.
    interp: &'p Interpreter,
    stack: Stack,
    engine: Engine,
    /// Where the native code a JIT runner runs starts; `None` on the
    /// interpreters and when the JIT did not compile the program (the fast
    /// interpreter runs it then). The image lives as long as the program.
    native: Option<Entry>,
    /// Whether the native code calls helpers (other than lookups compiled
    /// inline) or tail-calls: only then do its runs set up the helpers'
    /// environment.
    uses_run: bool,
    /// Everything helpers see but the frame, built once: a run only points
    /// it at its frame.
    env: XdpEnv<'p>,
}

impl XdpProgram {
    /// A runner of this program on `engine`, on CPU 0, in a fresh
    /// [`HelperEnv::deterministic`] environment. Every engine may run
    /// every loaded program: loading verified it.
    pub fn runner(&self, engine: Engine) -> XdpRunner<'_> {
        let stack = Stack::new();
        let args = arg_check(engine, &stack);
        let world = Arc::new(HelperEnv::deterministic());
        let track = tracks_grants(self.xlated(), engine == Engine::Checked);
        let native = match engine {
            Engine::Jit => self.jit().ok().map(JitImage::entry),
            Engine::Interp | Engine::Checked => None,
        };
        XdpRunner {
            prog: self,
            interp: self.interp(),
            native,
            uses_run: self.jit().map_or(true, JitImage::uses_run),
            env: XdpEnv::new(self.maps(), 0, world, args, track),
            stack,
            engine,
        }
    }
}

/// How helpers check pointer arguments on `engine`: in checked runs,
/// against the regions of the run and `stack`'s memory (which stays where
/// it is: it is boxed).
fn arg_check(engine: Engine, stack: &Stack) -> ArgCheck {
    let bytes = stack.bytes();
    ArgCheck {
        checked: engine == Engine::Checked,
        stack: Some(Region {
            start: bytes.as_ptr().expose_provenance() as u64,
            len: bytes.len() as u64,
            writable: true,
            kind: RegionKind::Stack,
        }),
    }
}

impl<'p> XdpRunner<'p> {
    /// The same runner, pretending to run on `cpu`: the per-CPU map slot
    /// and what `bpf_get_smp_processor_id` returns.
    pub fn with_cpu(mut self, cpu: u32) -> XdpRunner<'p> {
        let world = Arc::clone(&self.env.world);
        self.env = self.env.moved(cpu, world);
        self
    }

    /// The same runner in the helper environment `world` (clocks, random
    /// seed, devices, routes, output sinks).
    pub fn with_env(mut self, world: Arc<HelperEnv>) -> XdpRunner<'p> {
        let cpu = self.env.cpu;
        self.env = self.env.moved(cpu, world);
        self
    }

    /// The helper environment the runner's runs see.
    pub fn env(&self) -> &Arc<HelperEnv> {
        &self.env.world
    }

    /// Where the last run redirected its frame, if it called
    /// `bpf_redirect` or `bpf_redirect_map` successfully (what an
    /// `XDP_REDIRECT` verdict acts on).
    pub fn redirect(&self) -> Option<Redirect> {
        self.env.run.redirect
    }

    /// The program this runner runs.
    pub fn program(&self) -> &'p XdpProgram {
        self.prog
    }

    /// The engine this runner runs the program on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The engine that runs the program: [`XdpRunner::engine`], except
    /// [`Engine::Interp`] for a JIT runner of a program the JIT did not
    /// compile ([`XdpProgram::jit_fallback`] says why).
    pub fn engine_used(&self) -> Engine {
        match (self.engine, self.native) {
            (Engine::Jit, None) => Engine::Interp,
            (engine, _) => engine,
        }
    }

    /// Runs the program once on `buff` and returns its return value (the
    /// low 32 bits of `r0`, the verdict for XDP). Helpers may move the
    /// frame's `data`, `data_end` and `data_meta`; the packet bytes are
    /// whatever the program left.
    ///
    /// Nothing is allocated: the checked engine's region lists live in the
    /// runner's stack and keep their capacity from one run to the next.
    #[inline(always)]
    pub fn run(&mut self, buff: &mut XdpBuff) -> Result<u32, Fault> {
        if let (Some(entry), false) = (self.native, self.uses_run) {
            // Native code that calls nothing needs nothing but the frame.
            let ctx: *mut XdpContext = buff.ctx_mut();
            // SAFETY: as in `run_native`; no helper (nor tail call) reads
            // the run, which may be null.
            let r0 = unsafe { entry.call(ctx.cast(), core::ptr::null_mut()) };
            return Ok(r0 as u32);
        }
        let frame = FrameBounds {
            hard_start: buff.hard_start(),
            hard_end: buff.hard_end(),
        };
        let ctx: *mut _ = buff.ctx_mut();
        self.env.set_frame(ctx, frame);
        if let Some(entry) = self.native {
            return self.run_native(entry, ctx).map(|r0| r0 as u32);
        }
        let interp = self.interp;
        let r0 = match self.engine {
            // SAFETY: the program passed rxdp's verifier when it was
            // loaded (an `XdpProgram` exists only then), which proves it
            // safe for XDP with no run-time checks; `ctx` points to the live context of `buff`, whose frame outlives
            // the run.
            Engine::Interp => unsafe { interp.run(ctx as u64, &mut self.stack, &mut self.env) },
            Engine::Checked => self.run_checked(ctx as u64).map_err(unbox),
            // Without native code (see `engine_used`). SAFETY: as for
            // `Engine::Interp` above.
            Engine::Jit => unsafe { interp.run(ctx as u64, &mut self.stack, &mut self.env) },
        }?;
        Ok(r0 as u32)
    }

    /// A run of compiled code, its helpers' environment `env`.
    #[inline(always)]
    fn run_native(&mut self, entry: Entry, ctx: *mut XdpContext) -> Result<u64, Fault> {
        // The code's frames lie below `run` (see `native::call_helper`).
        let mut run = RunCtx::new(core::ptr::from_mut(&mut self.env).cast());
        // SAFETY: as for the fast interpreter: the verifier proved the
        // program safe for XDP and the JIT compiled what it verified, with
        // the XDP runtime whose helpers expect `run.env` to be this
        // runner's environment, which nothing else touches during the
        // run. `ctx` is the live native context of the frame, and the
        // maps and prog arrays the code reaches live in the program's
        // table (programs leaving a prog array are freed only after a
        // grace period, after this run).
        let r0 = unsafe { entry.call(ctx.cast(), &mut run) };
        if self.env.run.native_fault.is_some()
            && let Some(fault) = self.take_native_fault()
        {
            return Err(fault);
        }
        Ok(r0)
    }

    /// The fault a helper recorded in the last run of compiled code.
    #[cold]
    #[inline(never)]
    fn take_native_fault(&mut self) -> Option<Fault> {
        let (id, e) = self.env.run.native_fault.take()?;
        Some(crate::native::helper_fault(self.prog.xlated(), id, e))
    }

    /// The checked engine's run, out of line: `run` is inlined into its
    /// callers, which then hold one interpreter loop, not two (and a small
    /// enough caller, such as a benchmark's closure, is inlined in turn).
    /// The fault comes boxed, so that the result fits two registers.
    #[inline(never)]
    fn run_checked(&mut self, ctx: u64) -> Result<u64, Box<Fault>> {
        self.interp
            .run_checked(ctx, &mut self.stack, &mut self.env)
            .map_err(Box::new)
    }
}

/// A checked run's fault out of its box, off the run's way.
#[cold]
#[inline(never)]
#[expect(clippy::boxed_local, reason = "the checked run's faults come boxed")]
fn unbox(fault: Box<Fault>) -> Fault {
    *fault
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::udp4;
    use rxdp_isa::asm::assemble;

    fn load(src: &str) -> XdpProgram {
        load_with(src, false)
    }

    fn load_with(src: &str, privileged: bool) -> XdpProgram {
        let a = assemble(src).unwrap();
        let opts = rxdp_verifier::Options {
            privileged,
            ..Default::default()
        };
        XdpProgram::load_with_options(&a.insns, &a.maps, &opts).unwrap()
    }

    /// Returns the byte at packet offset 23 (the IPv4 protocol of an
    /// Ethernet/IPv4 frame), or 0 if the frame is too short.
    const PROTO: &str = "
        r2 = *(u32 *)(r1 + 4)
        r1 = *(u32 *)(r1 + 0)
        r0 = 0
        r3 = r1
        r3 += 24
        if r3 > r2 goto out
        r0 = *(u8 *)(r1 + 23)
    out:
        exit
    ";

    #[test]
    fn every_engine_reads_each_frame_it_is_given() {
        let p = load(PROTO);
        let mut udp = XdpBuff::new(&udp4(64), 1, 0).unwrap();
        let mut tcp_pkt = udp4(64);
        tcp_pkt[23] = 6;
        let mut tcp = XdpBuff::new(&tcp_pkt, 1, 0).unwrap();
        let mut short = XdpBuff::new(&udp4(64)[..20], 1, 0).unwrap();
        for engine in Engine::ALL {
            let mut r = p.runner(engine);
            assert_eq!(r.engine(), engine);
            for _ in 0..3 {
                assert_eq!(r.run(&mut udp), Ok(17), "{engine:?}");
                assert_eq!(r.run(&mut tcp), Ok(6), "{engine:?}");
                assert_eq!(r.run(&mut short), Ok(0), "{engine:?}");
            }
        }
    }

    #[test]
    fn the_jit_engine_runs_native_code_when_there_is_some() {
        let p = load(PROTO);
        assert!(
            p.native_size().is_some_and(|n| n > 0),
            "{:?}",
            p.jit_fallback()
        );
        assert_eq!(p.runner(Engine::Jit).engine_used(), Engine::Jit);
        assert_eq!(p.runner(Engine::Interp).engine_used(), Engine::Interp);
    }

    #[test]
    fn helpers_called_from_native_code_see_the_runners_environment() {
        let p = load("call bpf_get_smp_processor_id\nexit");
        assert!(p.native_size().is_some(), "{:?}", p.jit_fallback());
        let mut r = p.runner(Engine::Jit).with_cpu(5);
        assert_eq!(r.engine_used(), Engine::Jit);
        let mut buff = XdpBuff::new(&udp4(64), 1, 0).unwrap();
        assert_eq!(r.run(&mut buff), Ok(5));
    }

    #[test]
    fn the_cpu_selects_what_the_helper_returns() {
        let p = load("call bpf_get_smp_processor_id\nexit");
        let mut buff = XdpBuff::new(&udp4(64), 1, 0).unwrap();
        for engine in Engine::ALL {
            let mut r = p.runner(engine).with_cpu(3);
            assert_eq!(r.run(&mut buff), Ok(3));
        }
    }

    #[test]
    fn fast_runs_of_format_helpers_see_the_map_values_they_were_granted() {
        // "%s" of a map value the program got from a lookup: the fast
        // engine follows the pointer only because the runner tracks the
        // run's grants for programs that call `bpf_snprintf`. Passing the
        // spilled pointer to a helper leaks it: privileged mode only.
        let p = load_with(
            ".map v type=array key=4 value=8 entries=1
            .map fmt type=array key=4 value=8 entries=1 flags=0x80
            r1 = 0
            *(u32 *)(r10 - 4) = r1
            r1 = map[v] ll
            r2 = r10
            r2 += -4
            call bpf_map_lookup_elem
            if r0 == 0 goto out
            r1 = 0x6968
            *(u64 *)(r0 + 0) = r1
            *(u64 *)(r10 - 16) = r0
            *(u64 *)(r10 - 32) = 0
            r1 = r10
            r1 += -32
            r2 = 8
            r3 = map_value[fmt]+0 ll
            r4 = r10
            r4 += -16
            r5 = 8
            call bpf_snprintf
            r0 = *(u16 *)(r10 - 32)
        out:
            exit",
            true,
        );
        let fmt = &p.maps().get(1).unwrap().map;
        fmt.update_copy(&0u32.to_ne_bytes(), b"%s\0\0\0\0\0\0", 0)
            .unwrap();
        let mut buff = XdpBuff::new(&udp4(64), 1, 0).unwrap();
        for engine in Engine::ALL {
            let mut r = p.runner(engine);
            for _ in 0..2 {
                assert_eq!(r.run(&mut buff), Ok(u32::from_le_bytes(*b"hi\0\0")));
            }
        }
    }

    #[test]
    fn a_read_past_an_unchecked_packet_never_reaches_a_runner() {
        // Reads byte 23 with no bounds check: the unchecked engine would
        // read past a 20-byte frame, so the program must not load.
        let a = assemble("r1 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r1 + 23)\nexit").unwrap();
        let e = XdpProgram::load(&a.insns, &a.maps).err().unwrap();
        let v = e.verify_error().expect("a verifier rejection");
        assert_eq!(v.pc, Some(1), "{v}");
        assert!(v.msg.contains("outside of the packet"), "{v}");
    }
}
