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

/// The helper, as `NAME#ID`, that a failed program load names in "program
/// of this type cannot use helper NAME#ID": the running kernel does not
/// offer it to XDP programs (kernels differ in what `xdp_func_proto`
/// hands out; some builds refuse `bpf_xdp_adjust_meta`). Tests comparing
/// with the kernel skip such a program and say so, rather than fail.
pub fn unavailable_helper(load_error: &str) -> Option<&str> {
    const MARK: &str = "program of this type cannot use helper ";
    let at = load_error.find(MARK)? + MARK.len();
    load_error[at..].split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refused_helper_is_read_off_the_log() {
        let log = "14: (85) call bpf_xdp_adjust_meta#54\n\
                   program of this type cannot use helper bpf_xdp_adjust_meta#54\n\
                   processed 14 insns";
        assert_eq!(unavailable_helper(log), Some("bpf_xdp_adjust_meta#54"));
        assert_eq!(unavailable_helper("R1 invalid mem access"), None);
    }
}
