//! The XDP program type: the context programs see (`struct xdp_md`) and
//! the native one they get, packet frames with the kernel's headroom,
//! verdicts, the helpers XDP programs call, and a user-space
//! BPF_PROG_TEST_RUN.
//!
//! ```text
//! instructions ──load──▶ XdpProgram ──test_run(packet)──▶ retval, action, data_out
//!                 │ maps created, structure checked, ctx loads rewritten
//!                 └──runner(engine)──▶ XdpRunner ──run(&mut XdpBuff)──▶ retval, per frame
//! ```

pub mod action;
pub mod buff;
pub mod ctx;
pub mod helpers;
pub mod maps;
pub mod native;
pub mod object;
pub mod program;
pub mod runner;
pub mod sample;
pub mod setup;
pub mod test_run;

pub use action::Action;
pub use buff::XdpBuff;
pub use ctx::{Xdp, XdpAttach, XdpContext};
pub use helpers::Redirect;
pub use helpers::env::HelperEnv;
pub use maps::MapTable;
pub use object::{ObjectLoadError, ObjectOpts, XdpObject};
pub use program::{LoadError, XdpProgram};
pub use runner::XdpRunner;
pub use test_run::{Engine, RunError, TestRunOpts, TestRunOutput};
