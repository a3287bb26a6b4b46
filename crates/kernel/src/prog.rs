//! Programs verified and run by the kernel: `BPF_PROG_LOAD` with the
//! verifier log, `BPF_PROG_TEST_RUN` on XDP frames, and
//! `BPF_OBJ_GET_INFO_BY_FD` for what the kernel made of the program.

use crate::consts::{cmd, log_level, prog_type};
use crate::error::{Errno, Error, LoadError};
use crate::sys::{self, BpfFuncInfo, BpfProgInfo, InfoAttr, ProgLoadAttr, TestRunAttr};
use crate::verifier_log::VerifierStats;
use rxdp_isa::{Insn, RawInsn};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// How to load a program; `LoadOptions::default()` is an XDP program
/// under the GPL with no log.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions<'a> {
    /// `enum bpf_prog_type`; default `BPF_PROG_TYPE_XDP` (6).
    pub prog_type: u32,
    /// The license string; GPL-only helpers need a GPL-compatible one.
    pub license: &'a str,
    /// Map fds that `lddw` with `BPF_PSEUDO_MAP_IDX` (src 5) or
    /// `BPF_PSEUDO_MAP_IDX_VALUE` (src 6) index, passed as
    /// `attr.fd_array` (kernel >= 5.14). Empty: no array.
    pub fd_array: &'a [RawFd],
    /// Verifier log level ([`crate::consts::log_level`]). With 0, a
    /// failed load is repeated with level 1 to get the log for the error.
    pub log_level: u32,
    /// `prog_flags` ([`crate::consts::prog_flags`]).
    pub prog_flags: u32,
    /// `expected_attach_type` (`enum bpf_attach_type`; 0 for a plain XDP
    /// program, `BPF_XDP_DEVMAP` (33) or `BPF_XDP_CPUMAP` (35) for
    /// programs that run from those maps).
    pub expected_attach_type: u32,
    /// Program name, truncated to 15 bytes; `[A-Za-z0-9_.]` only.
    pub name: &'a str,
    /// The BTF ([`crate::KernelBtf::fd`]) that `func_info` refers to.
    /// The verifier needs it for programs with callbacks
    /// (`BPF_PSEUDO_FUNC`) and for global subprograms.
    pub prog_btf_fd: Option<RawFd>,
    /// `(insn_off, type_id)` of every function, the entry first, in
    /// slot order (`struct bpf_func_info`): where each subprogram starts
    /// and its BTF `FUNC` type. Needs `prog_btf_fd`; empty: none.
    pub func_info: &'a [(u32, u32)],
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        LoadOptions {
            prog_type: prog_type::BPF_PROG_TYPE_XDP,
            license: "GPL",
            fd_array: &[],
            log_level: 0,
            prog_flags: 0,
            expected_attach_type: 0,
            name: "",
            prog_btf_fd: None,
            func_info: &[],
        }
    }
}

/// A program loaded into the kernel, unloaded when dropped.
#[derive(Debug)]
pub struct KernelProg {
    fd: OwnedFd,
    log: String,
}

/// The outcome of one `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRun {
    /// The program's return value (`r0`, truncated to 32 bits); for XDP
    /// the verdict.
    pub retval: u32,
    /// The frame after the last run (its length reflects head and tail
    /// adjustments).
    pub data_out: Vec<u8>,
    /// The kernel's mean time per run in nanoseconds.
    pub duration_ns: u32,
}

/// What `BPF_OBJ_GET_INFO_BY_FD` tells about a loaded program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgInfo {
    /// The kernel's program id.
    pub id: u32,
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// The program tag: the first 8 bytes of the SHA-1 of the program
    /// with map fds zeroed, as `bpftool prog` shows it.
    pub tag: [u8; 8],
    /// Bytes of native code from the JIT (0 when interpreted).
    pub jited_prog_len: u32,
    /// Bytes of the program after the verifier's rewrites.
    pub xlated_prog_len: u32,
    /// Instructions the verifier processed (the complexity figure).
    pub verified_insns: u32,
    /// Total run time, counted only while `kernel.bpf_stats_enabled=1`.
    pub run_time_ns: u64,
    /// Number of runs, counted as `run_time_ns`.
    pub run_cnt: u64,
    /// Number of maps the program uses.
    pub nr_map_ids: u32,
    /// The program name as the kernel stored it.
    pub name: String,
}

/// The largest verifier log buffer we grow to (the kernel caps
/// `log_size` at `UINT_MAX >> 2`).
const MAX_LOG_SIZE: usize = 256 << 20;
/// The first log buffer size tried.
const FIRST_LOG_SIZE: usize = 256 << 10;
/// How often a load interrupted by a signal (`EAGAIN`) is retried.
const EAGAIN_RETRIES: u32 = 5;

impl KernelProg {
    /// Loads raw slots (`BPF_PROG_LOAD`). On failure the error carries
    /// the errno and the verifier log.
    pub fn load(insns: &[RawInsn], opts: &LoadOptions<'_>) -> Result<KernelProg, LoadError> {
        let slots: Vec<u64> = insns.iter().map(|i| i.to_u64()).collect();
        KernelProg::load_slots(&slots, opts)
    }

    /// Loads typed instructions (one per slot, as `rxdp_isa::decode`
    /// returns them).
    pub fn load_insns(insns: &[Insn], opts: &LoadOptions<'_>) -> Result<KernelProg, LoadError> {
        KernelProg::load(&rxdp_isa::encode_raw(insns), opts)
    }

    /// Loads slots given as the `u64`s `struct bpf_insn` is in memory.
    pub fn load_slots(slots: &[u64], opts: &LoadOptions<'_>) -> Result<KernelProg, LoadError> {
        let prepared = Prepared::new(slots, opts)?;
        if opts.log_level == 0 {
            return match prepared.load(0, 0) {
                Ok((fd, _)) => Ok(KernelProg {
                    fd,
                    log: String::new(),
                }),
                Err((errno, _)) => Err(prepared.rejection_with_log(errno)),
            };
        }
        let mut size = FIRST_LOG_SIZE;
        loop {
            match prepared.load(opts.log_level, size) {
                Ok((fd, log)) => return Ok(KernelProg { fd, log }),
                Err((Errno::ENOSPC, _)) if size < MAX_LOG_SIZE => size *= 4,
                Err((errno, log)) => return Err(LoadError::Rejected { errno, log }),
            }
        }
    }

    /// The program's file descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The verifier log of the load ("" when loaded with `log_level` 0).
    pub fn verifier_log(&self) -> &str {
        &self.log
    }

    /// The verifier's statistics from the log, when it was loaded with a
    /// `log_level` (`BPF_LOG_STATS` = 4 is the cheapest that has them).
    pub fn verifier_stats(&self) -> Option<VerifierStats> {
        VerifierStats::parse(&self.log)
    }

    /// Runs the program `repeat` times (0 counts as 1) on a copy of
    /// `data_in` (`BPF_PROG_TEST_RUN`) and returns the last run's result.
    ///
    /// For XDP the kernel needs at least `ETH_HLEN` (14) bytes (fewer:
    /// `EINVAL`). Up to [`XDP_MAX_LINEAR`] bytes the frame is one linear
    /// buffer that the program sees whole between `data` and `data_end`;
    /// beyond that the kernel puts the rest in page fragments (even for a
    /// program loaded without `BPF_F_XDP_HAS_FRAGS`), which the program
    /// reaches only through helpers, up to [`XDP_MAX_FRAME`] in total
    /// (more: `ENOMEM`). Sizes outside `14..=XDP_MAX_FRAME` are refused
    /// here with [`Error::FrameSize`] rather than with a bare errno.
    pub fn test_run(&self, data_in: &[u8], repeat: u32) -> Result<TestRun, Error> {
        if !(crate::consts::ETH_HLEN..=XDP_MAX_FRAME).contains(&data_in.len()) {
            return Err(Error::FrameSize {
                len: data_in.len(),
                min: crate::consts::ETH_HLEN,
                max: XDP_MAX_FRAME,
            });
        }
        // Room for bpf_xdp_adjust_head/tail growth, which stays within a
        // page (or the last fragment's page); the kernel answers ENOSPC if
        // the buffer is too small.
        let mut data_out = vec![0u8; data_in.len() + 4096];
        let mut attr = TestRunAttr {
            prog_fd: self.fd() as u32,
            data_size_in: data_in.len() as u32,
            data_size_out: data_out.len() as u32,
            data_in: sys::ptr(data_in.as_ptr()),
            data_out: sys::ptr(data_out.as_mut_ptr()),
            repeat,
            ..Default::default()
        };
        // SAFETY: data_in and data_out are live buffers of the sizes
        // given; the kernel reads the first and writes at most
        // data_size_out bytes to the second.
        unsafe { sys::bpf(cmd::BPF_PROG_TEST_RUN, &mut attr) }.map_err(|errno| Error::Sys {
            cmd: "BPF_PROG_TEST_RUN",
            errno,
        })?;
        data_out.truncate(attr.data_size_out as usize);
        Ok(TestRun {
            retval: attr.retval,
            data_out,
            duration_ns: attr.duration,
        })
    }

    fn raw_info(&self, info: &mut BpfProgInfo) -> Result<(), Error> {
        let mut attr = InfoAttr {
            bpf_fd: self.fd() as u32,
            info_len: core::mem::size_of::<BpfProgInfo>() as u32,
            info: sys::ptr(info as *const BpfProgInfo),
        };
        // SAFETY: info points to a writable bpf_prog_info of info_len
        // bytes; any array pointers inside it are null or valid for the
        // lengths set beside them (see `xlated`).
        unsafe { sys::bpf(cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr) }
            .map(drop)
            .map_err(|errno| Error::Sys {
                cmd: "BPF_OBJ_GET_INFO_BY_FD",
                errno,
            })
    }

    /// What the kernel knows about the program (`BPF_OBJ_GET_INFO_BY_FD`).
    pub fn info(&self) -> Result<ProgInfo, Error> {
        let mut raw = BpfProgInfo::default();
        self.raw_info(&mut raw)?;
        let name_len = raw
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(raw.name.len());
        Ok(ProgInfo {
            id: raw.id,
            prog_type: raw.prog_type,
            tag: raw.tag,
            jited_prog_len: raw.jited_prog_len,
            xlated_prog_len: raw.xlated_prog_len,
            verified_insns: raw.verified_insns,
            run_time_ns: raw.run_time_ns,
            run_cnt: raw.run_cnt,
            nr_map_ids: raw.nr_map_ids,
            name: String::from_utf8_lossy(&raw.name[..name_len]).into_owned(),
        })
    }

    /// The program as the kernel rewrote it after verification (map fds
    /// replaced by addresses, context accesses converted, ...).
    pub fn xlated(&self) -> Result<Vec<RawInsn>, Error> {
        let len = self.info()?.xlated_prog_len as usize;
        let mut buf = vec![0u8; len];
        let mut raw = BpfProgInfo {
            xlated_prog_len: len as u32,
            xlated_prog_insns: sys::ptr(buf.as_mut_ptr()),
            ..Default::default()
        };
        self.raw_info(&mut raw)?;
        buf.truncate((raw.xlated_prog_len as usize).min(len));
        Ok(buf
            .chunks_exact(8)
            .map(|c| RawInsn::from_bytes(c.try_into().expect("chunks of 8")))
            .collect())
    }
}

/// The largest linear XDP test frame: `PAGE_SIZE` minus
/// `XDP_PACKET_HEADROOM` minus `SKB_DATA_ALIGN(sizeof(struct
/// skb_shared_info))` on x86-64 (4096 - 256 - 320; see
/// `bpf_prog_test_run_xdp` in net/bpf/test_run.c). Larger frames
/// continue in fragments.
pub const XDP_MAX_LINEAR: usize = 3520;

/// The largest XDP test frame the kernel accepts: the linear part plus
/// `MAX_SKB_FRAGS` (17) pages of fragments, found by experiment on Linux
/// 6.18 (one more byte gives `ENOMEM`).
pub const XDP_MAX_FRAME: usize = XDP_MAX_LINEAR + 17 * 4096;

/// A program and options ready to pass: owned copies of the strings
/// the kernel reads.
struct Prepared<'a> {
    slots: &'a [u64],
    license: CString,
    name: [u8; crate::consts::BPF_OBJ_NAME_LEN],
    func_info: Vec<BpfFuncInfo>,
    opts: &'a LoadOptions<'a>,
}

impl<'a> Prepared<'a> {
    fn new(slots: &'a [u64], opts: &'a LoadOptions<'a>) -> Result<Prepared<'a>, LoadError> {
        if slots.is_empty() {
            return Err(LoadError::Options("the program has no instructions".into()));
        }
        if u32::try_from(slots.len()).is_err() {
            return Err(LoadError::Options(format!(
                "{} instructions do not fit insn_cnt",
                slots.len()
            )));
        }
        let license = CString::new(opts.license).map_err(|_| {
            LoadError::Options(format!("license {:?} contains a NUL byte", opts.license))
        })?;
        let name = sys::obj_name(opts.name).ok_or_else(|| {
            LoadError::Options(format!(
                "program name {:?}: only ASCII letters, digits, '_' and '.' are allowed",
                opts.name
            ))
        })?;
        if !opts.func_info.is_empty() && opts.prog_btf_fd.is_none() {
            return Err(LoadError::Options(
                "func_info refers to BTF types: prog_btf_fd is needed".into(),
            ));
        }
        if u32::try_from(opts.func_info.len()).is_err() {
            return Err(LoadError::Options(format!(
                "{} func_info records do not fit func_info_cnt",
                opts.func_info.len()
            )));
        }
        let func_info = opts
            .func_info
            .iter()
            .map(|&(insn_off, type_id)| BpfFuncInfo { insn_off, type_id })
            .collect();
        Ok(Prepared {
            slots,
            license,
            name,
            func_info,
            opts,
        })
    }

    /// One `BPF_PROG_LOAD` with a log buffer of `log_size` bytes (none
    /// for 0). Returns the fd and log, or the errno and log.
    fn load(&self, log_level: u32, log_size: usize) -> Result<(OwnedFd, String), (Errno, String)> {
        let mut log = vec![0u8; log_size];
        let mut attempts = 0;
        loop {
            let mut attr = ProgLoadAttr {
                prog_type: self.opts.prog_type,
                insn_cnt: self.slots.len() as u32,
                insns: sys::ptr(self.slots.as_ptr()),
                license: sys::ptr(self.license.as_ptr()),
                log_level: if log_size == 0 { 0 } else { log_level },
                log_size: log_size as u32,
                log_buf: if log_size == 0 {
                    0
                } else {
                    sys::ptr(log.as_mut_ptr())
                },
                prog_flags: self.opts.prog_flags,
                expected_attach_type: self.opts.expected_attach_type,
                prog_name: self.name,
                fd_array: if self.opts.fd_array.is_empty() {
                    0
                } else {
                    sys::ptr(self.opts.fd_array.as_ptr())
                },
                ..Default::default()
            };
            if let Some(btf_fd) = self.opts.prog_btf_fd {
                attr.prog_btf_fd = btf_fd as u32;
            }
            if !self.func_info.is_empty() {
                attr.func_info_rec_size = core::mem::size_of::<BpfFuncInfo>() as u32;
                attr.func_info = sys::ptr(self.func_info.as_ptr());
                attr.func_info_cnt = self.func_info.len() as u32;
            }
            // SAFETY: insns points to insn_cnt slots, license to a
            // NUL-terminated string, log_buf to log_size writable bytes,
            // func_info to func_info_cnt records of func_info_rec_size
            // bytes, fd_array to the caller's fds (the kernel reads the entries
            // the program's lddw indexes; out-of-range indexes are the
            // verifier's to reject, as with libbpf).
            let res = unsafe { sys::bpf_fd(cmd::BPF_PROG_LOAD, &mut attr) };
            let text = log_text(&log);
            match res {
                Err(Errno(libc::EAGAIN)) if attempts < EAGAIN_RETRIES => attempts += 1,
                Ok(fd) => return Ok((fd, text)),
                Err(errno) => return Err((errno, text)),
            }
        }
    }

    /// The error for a load without log that failed with `errno`: the
    /// load is repeated at log level 1 to say why.
    fn rejection_with_log(&self, errno: Errno) -> LoadError {
        let mut size = FIRST_LOG_SIZE;
        let log = loop {
            match self.load(log_level::BPF_LOG_LEVEL1, size) {
                Err((Errno::ENOSPC, _)) if size < MAX_LOG_SIZE => size *= 4,
                Err((_, log)) => break log,
                Ok((_, log)) => {
                    break format!("(the program loaded when repeated with a log)\n{log}");
                }
            }
        };
        LoadError::Rejected { errno, log }
    }
}

/// The log up to its terminating NUL.
pub(crate) fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Pins the calling thread to `cpu`. `BPF_PROG_TEST_RUN` runs the program
/// on the CPU of the calling thread, so a test that compares per-CPU map
/// slots with rxdp's pins itself first to know which slot the kernel used.
pub fn pin_current_thread(cpu: usize) -> Result<(), Error> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    // SAFETY: CPU_SET writes inside `set` for cpu < CPU_SETSIZE, checked
    // by the libc macro's own bounds handling.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::Sys {
            cmd: "sched_setaffinity",
            errno: Errno::last(),
        })
    }
}
