//! Error values: an errno with its name, failures of map and test-run
//! commands, program load failures with the verifier log, and the reason
//! the kernel cannot be used at all.

use core::fmt;
use thiserror::Error;

/// An errno returned by bpf(2), displayed by its name (`EPERM`,
/// `EINVAL`, ...) so a failure reads like the kernel's documentation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Errno(pub i32);

/// Names and short meanings of the errnos bpf(2) returns. `ENOTSUPP`
/// (524) is the kernel-internal value that leaks to user space from
/// the BPF subsystem.
const ERRNO_NAMES: &[(i32, &str, &str)] = &[
    (libc::EPERM, "EPERM", "operation not permitted"),
    (libc::ENOENT, "ENOENT", "no such entry"),
    (libc::ESRCH, "ESRCH", "no such process"),
    (libc::EINTR, "EINTR", "interrupted"),
    (libc::EIO, "EIO", "I/O error"),
    (libc::E2BIG, "E2BIG", "argument list too long"),
    (libc::EBADF, "EBADF", "bad file descriptor"),
    (libc::EAGAIN, "EAGAIN", "try again"),
    (libc::ENOMEM, "ENOMEM", "out of memory"),
    (libc::EACCES, "EACCES", "permission denied"),
    (libc::EFAULT, "EFAULT", "bad address"),
    (libc::EBUSY, "EBUSY", "busy"),
    (libc::EEXIST, "EEXIST", "exists"),
    (libc::EXDEV, "EXDEV", "cross-device link"),
    (libc::ENODEV, "ENODEV", "no such device"),
    (libc::EINVAL, "EINVAL", "invalid argument"),
    (libc::ENFILE, "ENFILE", "too many open files in system"),
    (libc::EMFILE, "EMFILE", "too many open files"),
    (libc::ENOSPC, "ENOSPC", "no space left (buffer too small)"),
    (libc::ERANGE, "ERANGE", "out of range"),
    (libc::ENOSYS, "ENOSYS", "function not implemented"),
    (libc::ELOOP, "ELOOP", "too many levels"),
    (libc::ENOTSUP, "EOPNOTSUPP", "operation not supported"),
    (libc::ETIMEDOUT, "ETIMEDOUT", "timed out"),
    (524, "ENOTSUPP", "operation not supported by the kernel"),
];

impl Errno {
    /// Permission denied by capability checks.
    pub const EPERM: Errno = Errno(libc::EPERM);
    /// No such element.
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// An argument or the program is invalid.
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// The verifier rejected the program (typical load failure).
    pub const EACCES: Errno = Errno(libc::EACCES);
    /// A size is too large, or non-zero bytes follow the known attr.
    pub const E2BIG: Errno = Errno(libc::E2BIG);
    /// A user buffer is too small.
    pub const ENOSPC: Errno = Errno(libc::ENOSPC);
    /// The element exists (`BPF_NOEXIST`).
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    /// The kernel-internal "not supported".
    pub const ENOTSUPP: Errno = Errno(524);

    /// The errno of the last failed libc call on this thread.
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    /// The symbolic name, like `"EPERM"`, if this errno is one bpf(2)
    /// is known to return.
    pub fn name(self) -> Option<&'static str> {
        ERRNO_NAMES
            .iter()
            .find(|(n, _, _)| *n == self.0)
            .map(|(_, name, _)| *name)
    }

    fn meaning(self) -> Option<&'static str> {
        ERRNO_NAMES
            .iter()
            .find(|(n, _, _)| *n == self.0)
            .map(|(_, _, meaning)| *meaning)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.meaning()) {
            (Some(name), Some(meaning)) => write!(f, "{name} ({meaning})"),
            _ => write!(f, "errno {}", self.0),
        }
    }
}

/// A failed map, test-run or info command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Error {
    /// bpf(2) returned an error.
    #[error("{cmd}: {errno}")]
    Sys {
        /// The command, like `"BPF_MAP_UPDATE_ELEM"`.
        cmd: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// A key or value buffer does not have the size the map was created
    /// with (checked before the kernel reads past the caller's slice).
    #[error("{what} is {got} bytes, but the map's {what} size is {expected}")]
    Size {
        /// `"key"` or `"value"`.
        what: &'static str,
        /// The size the map needs (for per-CPU values: rounded to 8 and
        /// multiplied by the number of possible CPUs).
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// An object name with characters the kernel refuses (it accepts
    /// `[A-Za-z0-9_.]`).
    #[error("name {0:?}: only ASCII letters, digits, '_' and '.' are allowed")]
    Name(String),
    /// An XDP test-run frame size the kernel refuses: it needs at least
    /// `ETH_HLEN` (14) bytes, and at most what fits in a page beside the
    /// headroom and `skb_shared_info`.
    #[error(
        "BPF_PROG_TEST_RUN: an XDP frame of {len} bytes is out of range: the kernel needs {min}..={max} bytes"
    )]
    FrameSize {
        /// The size given.
        len: usize,
        /// `ETH_HLEN`.
        min: usize,
        /// The largest linear frame the kernel accepts.
        max: usize,
    },
    /// The kernel refused BTF (`BPF_BTF_LOAD`); `log` is its BTF
    /// verifier's log from a second load with logging.
    #[error("BPF_BTF_LOAD: {errno}\nBTF log:\n{log}")]
    BtfRejected {
        /// What bpf(2) returned.
        errno: Errno,
        /// The kernel's explanation, possibly empty.
        log: String,
    },
    /// Reading a system file failed.
    #[error("reading {path}: {message}")]
    Io {
        /// The file.
        path: &'static str,
        /// The I/O error text.
        message: String,
    },
}

impl Error {
    /// The errno, if the kernel returned one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys { errno, .. } | Error::BtfRejected { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// A failed `BPF_PROG_LOAD`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum LoadError {
    /// The kernel refused the program. `log` is the verifier log (loaded
    /// again with `log_level = 1` when the caller asked for none).
    #[error("BPF_PROG_LOAD: {errno}\nverifier log:\n{log}")]
    Rejected {
        /// What bpf(2) returned: `EACCES` or `EINVAL` from the verifier,
        /// `E2BIG` for too many instructions, `EPERM` without privileges.
        errno: Errno,
        /// The verifier log, possibly empty.
        log: String,
    },
    /// The options cannot be passed to the kernel.
    #[error("BPF_PROG_LOAD: {0}")]
    Options(String),
}

impl LoadError {
    /// The errno, if the kernel refused the program.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            LoadError::Rejected { errno, .. } => Some(*errno),
            LoadError::Options(_) => None,
        }
    }

    /// The verifier log ("" if there is none).
    pub fn log(&self) -> &str {
        match self {
            LoadError::Rejected { log, .. } => log,
            LoadError::Options(_) => "",
        }
    }
}

/// Why the kernel cannot serve as an oracle on this machine.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{reason}")]
pub struct Unavailable {
    /// A sentence naming the failed step and the errno.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_display_names_the_errno() {
        assert_eq!(Errno::EPERM.to_string(), "EPERM (operation not permitted)");
        assert_eq!(Errno::ENOTSUPP.name(), Some("ENOTSUPP"));
        assert_eq!(Errno(4095).to_string(), "errno 4095");
    }

    #[test]
    fn sys_error_mentions_command_and_errno() {
        let e = Error::Sys {
            cmd: "BPF_MAP_CREATE",
            errno: Errno::EINVAL,
        };
        assert_eq!(e.to_string(), "BPF_MAP_CREATE: EINVAL (invalid argument)");
    }
}
