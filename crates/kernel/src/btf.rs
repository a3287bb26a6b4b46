//! BTF loaded into the kernel (`BPF_BTF_LOAD`): the type information a
//! program's `func_info` refers to. The kernel's verifier needs it for
//! programs with callbacks (`BPF_PSEUDO_FUNC`, as `bpf_loop` and
//! `bpf_for_each_map_elem` take) and for global functions.

use crate::consts::{cmd, log_level};
use crate::error::{Errno, Error};
use crate::sys::{self, BtfLoadAttr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The first BTF log buffer size tried when a load fails.
const FIRST_LOG_SIZE: usize = 64 << 10;
/// The largest BTF log buffer we grow to.
const MAX_LOG_SIZE: usize = 16 << 20;

/// A BTF object in the kernel, released when dropped (programs loaded
/// with it keep their own reference).
#[derive(Debug)]
pub struct KernelBtf {
    fd: OwnedFd,
}

impl KernelBtf {
    /// Loads a `.BTF` section as the kernel wants it (header, types,
    /// strings; `DATASEC` sizes and variable offsets filled in). When the
    /// kernel refuses it, the load is repeated with a log and the error
    /// carries the kernel's reason.
    pub fn load(raw_btf: &[u8]) -> Result<KernelBtf, Error> {
        if u32::try_from(raw_btf.len()).is_err() {
            return Err(Error::BtfRejected {
                errno: Errno::E2BIG,
                log: format!("{} bytes of BTF do not fit btf_size", raw_btf.len()),
            });
        }
        match load_once(raw_btf, &mut []) {
            Ok(fd) => Ok(KernelBtf { fd }),
            Err(errno) => Err(Error::BtfRejected {
                errno,
                log: rejection_log(raw_btf),
            }),
        }
    }

    /// The BTF object's file descriptor, for `prog_btf_fd`.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// One `BPF_BTF_LOAD`, with a log if `log` is not empty.
fn load_once(raw_btf: &[u8], log: &mut [u8]) -> Result<OwnedFd, Errno> {
    let mut attr = BtfLoadAttr {
        btf: sys::ptr(raw_btf.as_ptr()),
        btf_size: raw_btf.len() as u32,
        ..Default::default()
    };
    if !log.is_empty() {
        attr.btf_log_buf = sys::ptr(log.as_mut_ptr());
        attr.btf_log_size = log.len() as u32;
        attr.btf_log_level = log_level::BPF_LOG_LEVEL1;
    }
    // SAFETY: btf points to btf_size readable bytes and btf_log_buf, if
    // set, to btf_log_size writable bytes; both outlive the call.
    unsafe { sys::bpf_fd(cmd::BPF_BTF_LOAD, &mut attr) }
}

/// The kernel's log for BTF it refused, loading it again with a log
/// buffer grown until the log fits.
fn rejection_log(raw_btf: &[u8]) -> String {
    let mut size = FIRST_LOG_SIZE;
    loop {
        let mut log = vec![0u8; size];
        match load_once(raw_btf, &mut log) {
            Err(Errno::ENOSPC) if size < MAX_LOG_SIZE => size *= 4,
            Err(_) => return crate::prog::log_text(&log),
            Ok(_) => return "(the BTF loaded when repeated with a log)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal BTF: the header, one `INT` type named "int" and the
    /// string table (layout of include/uapi/linux/btf.h).
    fn int_btf(size: u32) -> Vec<u8> {
        let strings = b"\0int\0";
        let mut types = Vec::new();
        // name_off 1, info: kind INT (1) << 24, size, encoding: 32 bits.
        for w in [1u32, 1 << 24, size, 32] {
            types.extend_from_slice(&w.to_le_bytes());
        }
        let mut out = Vec::new();
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [24u32, 0, types.len() as u32, types.len() as u32, 5] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&types);
        out.extend_from_slice(strings);
        out
    }

    #[test]
    fn loads_valid_btf_and_explains_refusals() {
        if let Err(e) = crate::available() {
            eprintln!("SKIPPED loads_valid_btf_and_explains_refusals: {e}");
            return;
        }
        let btf = KernelBtf::load(&int_btf(4)).unwrap();
        assert!(btf.fd() >= 0);
        // An INT of 3 bytes with 32 bits does not fit: the kernel says why.
        let err = KernelBtf::load(&int_btf(3)).unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EINVAL));
        let Error::BtfRejected { log, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(!log.is_empty(), "{err}");
    }
}
