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
            CliError::Usage(e) | CliError::Program(e) => write_chain(f, e),
            CliError::Silent(c) => write!(f, "exit {c}"),
        }
    }
}

/// Writes an error and its causes as `outer: inner: ...`, leaving out a
/// cause whose text the message before it already ends with: library
/// errors that wrap another as `#[error("{0}")]` would otherwise print
/// it twice (`insn 9: bad map: insn 9: bad map`).
fn write_chain(f: &mut fmt::Formatter<'_>, e: &anyhow::Error) -> fmt::Result {
    let mut last = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if last.ends_with(&msg) {
            continue;
        }
        if !last.is_empty() {
            f.write_str(": ")?;
        }
        f.write_str(&msg)?;
        last = msg;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_prints_each_cause_once() {
        let e = program(anyhow::anyhow!("insn 9: bad map").context("insn 9: bad map"));
        assert_eq!(e.to_string(), "insn 9: bad map");
        let e = usage(anyhow::anyhow!("No such file").context("cannot read x.s"));
        assert_eq!(e.to_string(), "cannot read x.s: No such file");
    }
}
