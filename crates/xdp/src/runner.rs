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
use crate::helpers::env::HelperEnv;
use crate::helpers::mem::ArgCheck;
use crate::helpers::{FrameBounds, Redirect, RunState, XdpEnv};
use crate::program::XdpProgram;
use crate::test_run::{Engine, RunError};
use rxdp_interp::{Fault, Region, RegionKind, Stack};
use std::sync::Arc;

/// A program bound to an engine, a bpf stack, a CPU and a helper
/// environment, ready to run on frames.
pub struct XdpRunner<'p> {
    prog: &'p XdpProgram,
    stack: Stack,
    engine: Engine,
    cpu: u32,
    world: Arc<HelperEnv>,
    state: RunState,
}

impl XdpProgram {
    /// A runner of this program on `engine`, on CPU 0, in a fresh
    /// [`HelperEnv::deterministic`] environment.
    ///
    /// Unchecked engines run only programs marked trusted (see
    /// [`XdpProgram::trust_unverified`]); for others this is
    /// [`RunError::Unverified`], as for [`XdpProgram::test_run`].
    pub fn runner(&self, engine: Engine) -> Result<XdpRunner<'_>, RunError> {
        if engine != Engine::Checked && !self.is_trusted() {
            return Err(RunError::Unverified(engine.name()));
        }
        let world = Arc::new(HelperEnv::deterministic());
        Ok(XdpRunner {
            prog: self,
            stack: Stack::new(),
            engine,
            cpu: 0,
            state: RunState::new(&world, 0),
            world,
        })
    }
}

impl<'p> XdpRunner<'p> {
    /// The same runner, pretending to run on `cpu`: the per-CPU map slot
    /// and what `bpf_get_smp_processor_id` returns.
    pub fn with_cpu(mut self, cpu: u32) -> XdpRunner<'p> {
        self.cpu = cpu;
        self.state = RunState::new(&self.world, cpu);
        self
    }

    /// The same runner in the helper environment `world` (clocks, random
    /// seed, devices, routes, output sinks).
    pub fn with_env(mut self, world: Arc<HelperEnv>) -> XdpRunner<'p> {
        self.state = RunState::new(&world, self.cpu);
        self.world = world;
        self
    }

    /// The helper environment the runner's runs see.
    pub fn env(&self) -> &Arc<HelperEnv> {
        &self.world
    }

    /// Where the last run redirected its frame, if it called
    /// `bpf_redirect` or `bpf_redirect_map` successfully (what an
    /// `XDP_REDIRECT` verdict acts on).
    pub fn redirect(&self) -> Option<Redirect> {
        self.state.redirect
    }

    /// The program this runner runs.
    pub fn program(&self) -> &'p XdpProgram {
        self.prog
    }

    /// The engine this runner runs the program on.
    pub fn engine(&self) -> Engine {
        self.engine
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
        let frame = FrameBounds {
            hard_start: buff.hard_start(),
            hard_end: buff.hard_end(),
        };
        let ctx: *mut _ = buff.ctx_mut();
        let stack = self.stack.bytes();
        let args = ArgCheck {
            checked: self.engine == Engine::Checked,
            stack: Some(Region {
                start: stack.as_ptr().expose_provenance() as u64,
                len: stack.len() as u64,
                writable: true,
                kind: RegionKind::Stack,
            }),
        };
        self.state.begin_run();
        let mut env = XdpEnv {
            ctx,
            frame,
            maps: self.prog.maps(),
            cpu: self.cpu,
            world: &self.world,
            run: &mut self.state,
            args,
        };
        let interp = self.prog.interp();
        let r0 = match self.engine {
            // SAFETY: `runner` hands out unchecked runners only for
            // programs marked trusted (proven safe for XDP), and `ctx`
            // points to the live context of `buff`, whose frame outlives
            // the run.
            Engine::Interp => unsafe { interp.run(ctx as u64, &mut self.stack, &mut env) },
            Engine::Checked => interp.run_checked(ctx as u64, &mut self.stack, &mut env),
        }?;
        Ok(r0 as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::udp4;
    use rxdp_interp::FaultKind;
    use rxdp_isa::asm::assemble;

    fn load(src: &str, trusted: bool) -> XdpProgram {
        let a = assemble(src).unwrap();
        let mut p = XdpProgram::load(&a.insns, &a.maps).unwrap();
        if trusted {
            // SAFETY: the test programs below only read the packet
            // within the bounds they check.
            unsafe { p.trust_unverified() };
        }
        p
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
    fn unchecked_engines_need_a_trusted_program() {
        let p = load(PROTO, false);
        let e = p.runner(Engine::Interp).err().unwrap();
        assert!(matches!(e, RunError::Unverified("interp")), "{e}");
        assert!(p.runner(Engine::Checked).is_ok());
    }

    #[test]
    fn every_engine_reads_each_frame_it_is_given() {
        let p = load(PROTO, true);
        let mut udp = XdpBuff::new(&udp4(64), 1, 0).unwrap();
        let mut tcp_pkt = udp4(64);
        tcp_pkt[23] = 6;
        let mut tcp = XdpBuff::new(&tcp_pkt, 1, 0).unwrap();
        let mut short = XdpBuff::new(&udp4(64)[..20], 1, 0).unwrap();
        for engine in Engine::ALL {
            let mut r = p.runner(engine).unwrap();
            assert_eq!(r.engine(), engine);
            for _ in 0..3 {
                assert_eq!(r.run(&mut udp), Ok(17), "{engine:?}");
                assert_eq!(r.run(&mut tcp), Ok(6), "{engine:?}");
                assert_eq!(r.run(&mut short), Ok(0), "{engine:?}");
            }
        }
    }

    #[test]
    fn the_cpu_selects_what_the_helper_returns() {
        let p = load("call bpf_get_smp_processor_id\nexit", true);
        let mut buff = XdpBuff::new(&udp4(64), 1, 0).unwrap();
        for engine in Engine::ALL {
            let mut r = p.runner(engine).unwrap().with_cpu(3);
            assert_eq!(r.run(&mut buff), Ok(3));
        }
    }

    #[test]
    fn checked_runs_fault_on_a_read_past_the_packet() {
        // Reads byte 23 without a bounds check: fine on a 64-byte frame,
        // out of the packet on a 20-byte one.
        let p = load("r1 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r1 + 23)\nexit", false);
        let mut r = p.runner(Engine::Checked).unwrap();
        let mut ok = XdpBuff::new(&udp4(64), 1, 0).unwrap();
        assert_eq!(r.run(&mut ok), Ok(17));
        let mut short = XdpBuff::new(&udp4(64)[..20], 1, 0).unwrap();
        let fault = r.run(&mut short).unwrap_err();
        assert_eq!(fault.pc, 1);
        assert!(
            !matches!(fault.kind, FaultKind::InsnLimit { .. }),
            "{fault}"
        );
        // The runner is still usable after a fault.
        assert_eq!(r.run(&mut ok), Ok(17));
    }
}
