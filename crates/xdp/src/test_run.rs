//! BPF_PROG_TEST_RUN for XDP, in user space: run a program on one packet,
//! `repeat` times, and report the verdict, the output bytes and the mean
//! time per run.
//!
//! As in the kernel, the runs share one frame: a program that rewrites the
//! packet sees its own rewrite on the next repetition, and the output is
//! the frame's `data_meta..data_end` after the last run. The context says
//! the frame arrived on interface 1 queue 0 (the kernel uses the loopback
//! device of the caller's namespace).

use crate::action::Action;
use crate::buff::{PacketError, XdpBuff};
use crate::helpers::Redirect;
use crate::helpers::env::HelperEnv;
use crate::program::XdpProgram;
use rxdp_interp::Fault;
use rxdp_maps::Domain;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// Which engine runs the program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Engine {
    /// The fast interpreter: no run-time checks.
    Interp,
    /// The checked interpreter: every access checked, the reference.
    #[default]
    Checked,
    /// Native code from rxdp's JIT; a program the JIT cannot compile runs
    /// on the fast interpreter instead (see [`XdpProgram::jit_fallback`]).
    Jit,
}

impl Engine {
    /// Every engine, for tests that compare them.
    pub const ALL: [Engine; 3] = [Engine::Interp, Engine::Checked, Engine::Jit];

    /// The engine's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Checked => "checked",
            Engine::Jit => "jit",
        }
    }
}

/// Options of a test run.
#[derive(Clone, Debug)]
pub struct TestRunOpts {
    /// The engine.
    pub engine: Engine,
    /// How many times to run (at least once).
    pub repeat: u32,
    /// `xdp_md.ingress_ifindex`.
    pub ingress_ifindex: u32,
    /// `xdp_md.rx_queue_index`.
    pub rx_queue_index: u32,
    /// The CPU the run pretends to be on (per-CPU map slot).
    pub cpu: u32,
    /// What helpers see of the world; `None` is a fresh
    /// [`HelperEnv::deterministic`] for each test run, so that runs repeat.
    pub env: Option<Arc<HelperEnv>>,
}

impl Default for TestRunOpts {
    fn default() -> Self {
        TestRunOpts {
            engine: Engine::default(),
            repeat: 1,
            ingress_ifindex: 1,
            rx_queue_index: 0,
            cpu: 0,
            env: None,
        }
    }
}

/// The result of a test run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value (the low 32 bits of r0, as the kernel
    /// reports it).
    pub retval: u32,
    /// The verdict it stands for.
    pub action: Action,
    /// The frame's `data_meta..data_end` after the last run.
    pub data_out: Vec<u8>,
    /// Mean wall-clock time per run, in nanoseconds.
    pub duration_ns: u64,
    /// Where the last run redirected the frame (see
    /// [`crate::XdpRunner::redirect`]).
    pub redirect: Option<Redirect>,
}

/// Why a test run failed.
#[derive(Debug, Error)]
pub enum RunError {
    /// The packet does not fit a frame.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// The program faulted (checked engine) or a helper failed.
    #[error("run {run}: {fault}")]
    Fault {
        /// Which repetition, from 1.
        run: u32,
        /// What went wrong.
        fault: Fault,
    },
}

impl XdpProgram {
    /// Runs the program on `packet` as BPF_PROG_TEST_RUN would.
    pub fn test_run(&self, packet: &[u8], opts: &TestRunOpts) -> Result<TestRunOutput, RunError> {
        let env = opts
            .env
            .clone()
            .unwrap_or_else(|| Arc::new(HelperEnv::deterministic()));
        let mut runner = self.runner(opts.engine).with_env(env).with_cpu(opts.cpu);
        let mut buff = XdpBuff::new(packet, opts.ingress_ifindex, opts.rx_queue_index)?;
        let repeat = opts.repeat.max(1);
        let mut retval = 0;
        // The caller's thread is no datapath worker: a read section keeps
        // what the runs reach (map elements, prog array entries) from being
        // reclaimed under them.
        let _rcu = Domain::global().read_lock();
        let start = Instant::now();
        for run in 1..=repeat {
            retval = runner
                .run(&mut buff)
                .map_err(|fault| RunError::Fault { run, fault })?;
        }
        let duration_ns = (start.elapsed().as_nanos() / u128::from(repeat)) as u64;
        Ok(TestRunOutput {
            retval,
            action: Action::from_retval(retval),
            data_out: buff.data_out().to_vec(),
            duration_ns,
            redirect: runner.redirect(),
        })
    }
}
