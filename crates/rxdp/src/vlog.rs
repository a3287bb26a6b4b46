//! The verifier on the command line: the flags every command that loads
//! a program takes (`--privileged`, `--log-level`), and how its log and
//! statistics are shown, in the kernel's words (`processed N insns
//! (limit 1000000) ...`, as `bpftool prog load` prints them).

use crate::error::CliError;
use rxdp_verifier::{COMPLEXITY_LIMIT, Options, Stats, SubprogInfo, VerifyError};
use rxdp_xdp::{LoadError, ObjectLoadError};

/// How the verifier checks the program, on the command line.
#[derive(clap::Args, Clone, Copy, Debug)]
pub(crate) struct VerifierArgs {
    /// Verify as the kernel does for a privileged loader (root):
    /// uninitialised stack reads, pointers in maps and return values and
    /// pointer comparisons are accepted. The default is for untrusted code.
    #[arg(long)]
    privileged: bool,
    /// The verifier's log: 0 none, 1 the state at a rejection and the
    /// statistics, 2 every instruction with the registers.
    #[arg(long, value_name = "LEVEL", value_parser = clap::value_parser!(u32).range(0..=2))]
    log_level: Option<u32>,
}

impl VerifierArgs {
    /// The verifier's options, with `default_level` when `--log-level`
    /// was not given.
    pub(crate) fn options(&self, default_level: u32) -> Options {
        Options {
            privileged: self.privileged,
            log_level: self.log_level.unwrap_or(default_level),
        }
    }
}

/// The verifier's rejection behind a failed load, when that is why it
/// failed (the load error of a single program or of an object's).
pub(crate) fn rejection(e: &CliError) -> Option<&VerifyError> {
    let CliError::Program(e) = e else {
        return None;
    };
    e.downcast_ref::<LoadError>()
        .and_then(LoadError::verify_error)
        .or_else(|| {
            e.downcast_ref::<ObjectLoadError>()
                .and_then(ObjectLoadError::verify_error)
        })
}

/// Prints the log of a rejection on stderr, if there is one, before the
/// command reports the error itself.
pub(crate) fn print_rejection_log(e: &CliError) {
    if let Some(v) = rejection(e)
        && !v.log.is_empty()
    {
        eprint!("{}", with_newline(&v.log));
    }
}

/// `text`, ending with a newline if it is not empty.
pub(crate) fn with_newline(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

/// The statistics as the kernel's log ends with them: instructions
/// processed, states, time, and the stack depth of each subprogram
/// (joined by `+`, none when `subprogs` is empty, as after a rejection).
pub(crate) fn stats_text(stats: &Stats, subprogs: &[SubprogInfo]) -> String {
    let mut s = format!(
        "processed {} insns (limit {COMPLEXITY_LIMIT}) max_states_per_insn {} total_states {} \
         peak_states {}\nverification time {} usec\n",
        stats.insns_processed,
        stats.max_states_per_insn,
        stats.states,
        stats.peak_states,
        stats.time.as_micros()
    );
    if !subprogs.is_empty() {
        let depths: Vec<String> = subprogs.iter().map(|p| p.stack_depth.to_string()).collect();
        s += &format!("stack depth {}\n", depths.join("+"));
    }
    s
}

/// The statistics as JSON.
pub(crate) fn stats_json(stats: &Stats) -> serde_json::Value {
    serde_json::json!({
        "insns_processed": stats.insns_processed,
        "insns_limit": COMPLEXITY_LIMIT,
        "max_states_per_insn": stats.max_states_per_insn,
        "total_states": stats.states,
        "peak_states": stats.peak_states,
        "time_usec": stats.time.as_micros() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stats_read_as_the_kernel_prints_them() {
        let stats = Stats {
            insns_processed: 17,
            states: 3,
            peak_states: 2,
            max_states_per_insn: 1,
            time: Duration::from_micros(42),
        };
        let subs = [
            SubprogInfo {
                stack_depth: 16,
                ..SubprogInfo::default()
            },
            SubprogInfo {
                stack_depth: 8,
                ..SubprogInfo::default()
            },
        ];
        assert_eq!(
            stats_text(&stats, &subs),
            "processed 17 insns (limit 1000000) max_states_per_insn 1 total_states 3 \
             peak_states 2\nverification time 42 usec\nstack depth 16+8\n"
        );
        assert!(!stats_text(&stats, &[]).contains("stack depth"));
    }
}
