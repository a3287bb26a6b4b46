//! The command's errors and their exit statuses: 2 for what the user got
//! wrong on the command line or in a file (bad flag, unreadable file, bad
//! hex, a program that does not assemble), 1 for a program that was read
//! but rejected or failed when run.

use std::fmt;

/// A command failure.
pub(crate) enum CliError {
    /// Bad input: exit status 2.
    Usage(anyhow::Error),
    /// A rejected or failed program: exit status 1.
    Program(anyhow::Error),
    /// Already reported; exit with this status.
    Silent(u8),
}

impl CliError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Program(_) => 1,
            CliError::Silent(c) => *c,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(e) | CliError::Program(e) => write!(f, "{e:#}"),
            CliError::Silent(c) => write!(f, "exit {c}"),
        }
    }
}

/// Shorthand for results of commands.
pub(crate) type CliResult<T = ()> = Result<T, CliError>;

/// Marks an error as the user's input being wrong (exit 2).
pub(crate) fn usage(e: impl Into<anyhow::Error>) -> CliError {
    CliError::Usage(e.into())
}

/// Marks an error as the program being rejected or failing (exit 1).
pub(crate) fn program(e: impl Into<anyhow::Error>) -> CliError {
    CliError::Program(e.into())
}
