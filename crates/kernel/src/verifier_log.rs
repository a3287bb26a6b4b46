//! The statistics the kernel verifier prints at the end of its log
//! (`print_verification_stats` in kernel/bpf/verifier.c), for comparing
//! rxdp's verifier effort with the kernel's in benchmarks.
//!
//! The lines look like:
//!
//! ```text
//! verification time 27 usec
//! stack depth 16+0
//! processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
//! ```
//!
//! Parsing is by keyword so that fields added or removed by other kernel
//! versions are tolerated.

/// Verifier statistics from a load with a `log_level`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifierStats {
    /// Instructions processed across all paths ("processed N insns").
    pub processed_insns: u64,
    /// The complexity limit the kernel applied.
    pub insn_limit: Option<u64>,
    /// Most states kept at one instruction.
    pub max_states_per_insn: Option<u64>,
    /// States created in total.
    pub total_states: Option<u64>,
    /// Most states alive at once.
    pub peak_states: Option<u64>,
    /// Wall-clock verification time in microseconds.
    pub verification_time_usec: Option<u64>,
    /// Stack depth of each subprogram, main program first.
    pub stack_depth: Vec<u64>,
}

impl VerifierStats {
    /// Extracts the statistics from a verifier log; `None` if the log has
    /// no "processed N insns" line.
    pub fn parse(log: &str) -> Option<VerifierStats> {
        let mut stats = VerifierStats::default();
        let mut found = false;
        for line in log.lines() {
            if let Some(rest) = line.strip_prefix("verification time ") {
                stats.verification_time_usec = first_number(rest);
            } else if let Some(rest) = line.strip_prefix("stack depth ") {
                stats.stack_depth = rest
                    .split('+')
                    .filter_map(|d| d.trim().parse().ok())
                    .collect();
            } else if line.starts_with("processed ") {
                let words: Vec<&str> = line.split_whitespace().collect();
                stats.processed_insns = value_after(&words, "processed")?;
                stats.insn_limit = value_after(&words, "(limit");
                stats.max_states_per_insn = value_after(&words, "max_states_per_insn");
                stats.total_states = value_after(&words, "total_states");
                stats.peak_states = value_after(&words, "peak_states");
                found = true;
            }
        }
        found.then_some(stats)
    }
}

/// The number following `key` in a list of words, ignoring a trailing
/// `)`.
fn value_after(words: &[&str], key: &str) -> Option<u64> {
    let i = words.iter().position(|w| *w == key)?;
    words.get(i + 1)?.trim_end_matches(')').parse().ok()
}

fn first_number(s: &str) -> Option<u64> {
    s.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_stats_lines() {
        let log = "0: R1=ctx() R10=fp0\n\
                   verification time 27 usec\n\
                   stack depth 16+8\n\
                   processed 12 insns (limit 1000000) max_states_per_insn 3 total_states 4 peak_states 5 mark_read 0\n";
        let s = VerifierStats::parse(log).unwrap();
        assert_eq!(s.processed_insns, 12);
        assert_eq!(s.insn_limit, Some(1_000_000));
        assert_eq!(s.max_states_per_insn, Some(3));
        assert_eq!(s.total_states, Some(4));
        assert_eq!(s.peak_states, Some(5));
        assert_eq!(s.verification_time_usec, Some(27));
        assert_eq!(s.stack_depth, vec![16, 8]);
    }

    #[test]
    fn no_stats_without_processed_line() {
        assert_eq!(VerifierStats::parse("R0 !read_ok\n"), None);
    }
}
