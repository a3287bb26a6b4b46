//! Run-time faults: why a run ended without an `exit`.
//!
//! The fast mode faults only where a check costs nothing on the hot path
//! (call depth, helper errors, running off the end); the checked mode also
//! faults on every bad memory access and on its instruction budget.

use core::fmt;

use crate::env::{HelperError, Region};

/// Direction of a memory access. Atomics are writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store or an atomic read-modify-write.
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
        })
    }
}

/// A run that stopped at an instruction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("insn {pc}: {kind}")]
pub struct Fault {
    /// Slot index of the faulting instruction, in the program running at
    /// that moment (after a tail call, the target).
    pub pc: usize,
    /// What went wrong.
    pub kind: FaultKind,
}

/// What went wrong in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// An access outside every accessible region (checked mode).
    OutOfBounds {
        /// Read or write.
        access: Access,
        /// First byte accessed.
        addr: u64,
        /// Bytes accessed.
        size: u64,
        /// The accessible region closest to the access, if any.
        near: Option<Region>,
    },
    /// An access to a stack frame below the current one: a callee frame
    /// that has returned (checked mode).
    DeadStackFrame {
        /// Read or write.
        access: Access,
        /// First byte accessed.
        addr: u64,
        /// Bytes accessed.
        size: u64,
        /// The live stack at that moment.
        live: Region,
    },
    /// A store or atomic into a read-only region (checked mode).
    ReadOnly {
        /// First byte written.
        addr: u64,
        /// Bytes written.
        size: u64,
        /// The region.
        region: Region,
    },
    /// An atomic operation on an address not aligned to its size (checked
    /// mode; the verifier requires aligned atomics).
    MisalignedAtomic {
        /// The address.
        addr: u64,
        /// The access size.
        size: u64,
    },
    /// The checked run executed its budget of instructions.
    InsnLimit {
        /// The budget.
        max_insns: u64,
    },
    /// A bpf-to-bpf call or a callback beyond the 8 frames the kernel
    /// allows.
    CallDepth,
    /// A helper call failed.
    Helper(HelperError),
    /// `callx` with a register value that is no helper id.
    BadCallx {
        /// The register's value.
        target: u64,
    },
    /// A helper asked to run a callback that is not one of the calling
    /// program's subprograms (see [`crate::CALLBACK_TAG`]).
    BadCallback {
        /// The value the helper passed.
        func: u64,
    },
    /// `LD_ABS`/`LD_IND` in an environment without a legacy packet.
    NoLegacyPacket,
    /// Execution ran past the last instruction.
    FellOffEnd,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::OutOfBounds {
                access,
                addr,
                size,
                near,
            } => {
                write!(
                    f,
                    "{access} of {size} bytes at {addr:#x} is outside every accessible region"
                )?;
                match near {
                    Some(r) => write!(f, "; nearest is {}", Near(r, *addr, *size)),
                    None => f.write_str(" (none is accessible)"),
                }
            }
            FaultKind::DeadStackFrame {
                access,
                addr,
                size,
                live,
            } => write!(
                f,
                "{access} of {size} bytes at {addr:#x} is in a stack frame that is not live \
                 (the live stack is {:#x}..{:#x}): a callee frame after its return",
                live.start,
                live.end()
            ),
            FaultKind::ReadOnly { addr, size, region } => write!(
                f,
                "write of {size} bytes at {addr:#x} into read-only {} {:#x}..{:#x}",
                region.kind.name(),
                region.start,
                region.end()
            ),
            FaultKind::MisalignedAtomic { addr, size } => {
                write!(
                    f,
                    "atomic access of {size} bytes at misaligned address {addr:#x}"
                )
            }
            FaultKind::InsnLimit { max_insns } => {
                write!(f, "instruction budget of {max_insns} exhausted")
            }
            FaultKind::CallDepth => {
                write!(f, "call exceeds {} frames", crate::stack::MAX_CALL_FRAMES)
            }
            FaultKind::Helper(e) => write!(f, "{e}"),
            FaultKind::BadCallx { target } => {
                write!(f, "callx target {target:#x} is no helper id")
            }
            FaultKind::BadCallback { func } => {
                write!(
                    f,
                    "callback {func:#x} is no subprogram address of the program"
                )
            }
            FaultKind::NoLegacyPacket => {
                f.write_str("legacy packet load in a program type without a legacy packet")
            }
            FaultKind::FellOffEnd => f.write_str("execution fell off the end of the program"),
        }
    }
}

/// A region described relative to an access, e.g. "packet 0x10..0x50 (3
/// bytes past its end)".
struct Near<'a>(&'a Region, u64, u64);

impl fmt::Display for Near<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Near(r, addr, size) = *self;
        write!(f, "{} {:#x}..{:#x} ", r.kind.name(), r.start, r.end())?;
        let end = addr.saturating_add(size);
        if addr < r.start {
            write!(f, "({} bytes before its start)", r.start - addr)
        } else if end > r.end() {
            write!(f, "({} bytes past its end)", end - r.end())
        } else {
            f.write_str("(inside it)")
        }
    }
}
