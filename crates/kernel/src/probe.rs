//! Whether the running kernel can serve as an oracle: bpf(2) permitted,
//! XDP programs loadable and `BPF_PROG_TEST_RUN` working. Tests that
//! compare with the kernel call [`available`] first and report
//! `skipped: <reason>` when it fails.

use crate::error::{Errno, LoadError, Unavailable};
use crate::prog::{KernelProg, LoadOptions};
use rxdp_isa::{Insn, Operand, Reg, Width};
use std::sync::OnceLock;

/// Whether the kernel can be used: loads `r0 = 2; exit` as XDP and
/// test-runs it on a 64-byte frame. The answer is computed once per
/// process.
pub fn available() -> Result<(), Unavailable> {
    static RESULT: OnceLock<Result<(), Unavailable>> = OnceLock::new();
    RESULT.get_or_init(probe).clone()
}

fn probe() -> Result<(), Unavailable> {
    let prog = [
        Insn::Alu {
            width: Width::W64,
            op: rxdp_isa::AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(2),
        },
        Insn::Exit,
    ];
    let loaded = KernelProg::load_insns(&prog, &LoadOptions::default()).map_err(load_reason)?;
    let run = loaded
        .test_run(&[0u8; 64], 1)
        .map_err(|e| match e.errno() {
            Some(errno @ (Errno::EINVAL | Errno::ENOTSUPP | Errno(libc::ENOTSUP))) => Unavailable {
                reason: format!("BPF_PROG_TEST_RUN unsupported for XDP: {errno}"),
            },
            _ => Unavailable {
                reason: format!("probe test run failed: {e}"),
            },
        })?;
    if run.retval != 2 {
        return Err(Unavailable {
            reason: format!("probe program returned {} instead of 2", run.retval),
        });
    }
    Ok(())
}

fn load_reason(e: LoadError) -> Unavailable {
    let reason = match e.errno() {
        Some(errno @ (Errno::EPERM | Errno::EACCES)) if e.log().is_empty() => {
            format!("bpf(2) not permitted: {errno} (run as root)")
        }
        Some(errno @ Errno(libc::ENOSYS)) => {
            format!("bpf(2) not implemented: {errno} (kernel without CONFIG_BPF_SYSCALL)")
        }
        _ => format!("probe program not loaded: {e}"),
    };
    Unavailable { reason }
}
