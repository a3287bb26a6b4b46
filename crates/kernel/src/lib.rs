//! The running Linux kernel as an oracle for rxdp's tests: programs are
//! verified by the kernel's verifier and run by `BPF_PROG_TEST_RUN`, maps
//! are created and edited through bpf(2), BTF is loaded for programs
//! whose verification needs it ([`KernelBtf`], with
//! [`LoadOptions::func_info`]: callbacks, global functions), so that
//! rxdp's verdicts, output frames and map contents can be compared with
//! the kernel's.
//!
//! Everything goes through the raw system call
//! (`libc::syscall(SYS_bpf, cmd, &attr, size)`), with the pieces of
//! `union bpf_attr` laid out as the UAPI header does (module `sys`).
//! Call [`available`] first: without root (or without a kernel with BPF)
//! every comparison must be skipped, loudly.
//!
//! [`create_maps`] creates an rxdp object's maps ([`rxdp_object::Object`])
//! in the kernel, in the object's order, for loading its programs there.
//!
//! [`progen`] generates random programs the kernel verifier accepts, for
//! differential testing of rxdp's engines against the kernel.

mod btf;
pub mod consts;
mod error;
/// Random XDP programs biased toward what breaks verifiers, safe or not,
/// for testing rxdp's verifier for soundness.
pub mod hostile;
mod map;
mod object;
mod probe;
mod prog;
pub mod progen;
mod sys;
mod verifier_log;

pub use btf::KernelBtf;
pub use error::{Errno, Error, LoadError, Unavailable};
pub use map::{Entry, KernelMap, is_percpu, possible_cpus};
pub use object::{MapCreateError, create_asm_maps, create_maps, obj_name};
pub use probe::{available, unavailable_helper};
pub use prog::{
    KernelProg, LoadOptions, ProgInfo, TestRun, XDP_MAX_FRAME, XDP_MAX_LINEAR, pin_current_thread,
};
pub use verifier_log::VerifierStats;
