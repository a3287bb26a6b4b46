//! One module per subcommand.

pub(crate) mod asm;
pub(crate) mod conformance;
pub(crate) mod prog;
pub(crate) mod prog_dump;
pub(crate) mod test_run;
pub(crate) mod verify;
