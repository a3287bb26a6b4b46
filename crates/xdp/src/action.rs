//! XDP verdicts: what a program's return value asks the datapath to do.
//!
//! The values are `enum xdp_action` of the kernel UAPI. A value outside the
//! enum is not an error of the program run itself: BPF_PROG_TEST_RUN hands
//! it back as the return value, and the kernel's datapath warns
//! (`bpf_warn_invalid_xdp_action`) and then treats it as `XDP_ABORTED`,
//! dropping the frame. [`Action::Invalid`] keeps the value so both views
//! are available.

use core::fmt;

/// The verdict of one XDP program run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Action {
    /// `XDP_ABORTED` (0): a program error; the frame is dropped and traced.
    Aborted,
    /// `XDP_DROP` (1): drop the frame.
    Drop,
    /// `XDP_PASS` (2): hand the frame to the normal network stack.
    Pass,
    /// `XDP_TX` (3): send the frame back out of the interface it came in on.
    Tx,
    /// `XDP_REDIRECT` (4): send the frame where a redirect helper pointed.
    Redirect,
    /// Any other value; the datapath handles it as [`Action::Aborted`].
    Invalid(u32),
}

impl Action {
    /// The verdict a program's 32-bit return value stands for.
    pub const fn from_retval(retval: u32) -> Action {
        match retval {
            0 => Action::Aborted,
            1 => Action::Drop,
            2 => Action::Pass,
            3 => Action::Tx,
            4 => Action::Redirect,
            v => Action::Invalid(v),
        }
    }

    /// The return value that stands for this verdict.
    pub const fn retval(self) -> u32 {
        match self {
            Action::Aborted => 0,
            Action::Drop => 1,
            Action::Pass => 2,
            Action::Tx => 3,
            Action::Redirect => 4,
            Action::Invalid(v) => v,
        }
    }

    /// What the datapath does with the frame: an invalid value is aborted.
    pub const fn effective(self) -> Action {
        match self {
            Action::Invalid(_) => Action::Aborted,
            a => a,
        }
    }

    /// The kernel's name of the verdict (`XDP_PASS`), or `INVALID(n)`.
    pub fn name(self) -> String {
        match self {
            Action::Aborted => "XDP_ABORTED".into(),
            Action::Drop => "XDP_DROP".into(),
            Action::Pass => "XDP_PASS".into(),
            Action::Tx => "XDP_TX".into(),
            Action::Redirect => "XDP_REDIRECT".into(),
            Action::Invalid(v) => format!("INVALID({v})"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retvals_round_trip_and_unknown_values_abort() {
        for v in 0..10 {
            assert_eq!(Action::from_retval(v).retval(), v);
        }
        assert_eq!(Action::from_retval(2), Action::Pass);
        assert_eq!(Action::from_retval(7), Action::Invalid(7));
        assert_eq!(Action::from_retval(7).effective(), Action::Aborted);
        assert_eq!(Action::Tx.effective(), Action::Tx);
        assert_eq!(Action::from_retval(u32::MAX).name(), "INVALID(4294967295)");
    }
}
