//! The bpf(2) system call and the parts of `union bpf_attr` rxdp-kernel
//! passes to it, laid out as in `include/uapi/linux/bpf.h`.
//!
//! Each command gets its own `#[repr(C)]` struct instead of one big
//! union: the kernel copies `size` bytes and treats the rest of its
//! `union bpf_attr` as zero, so a struct that ends at the last field we
//! use is valid. Implicit padding is spelled out as `_pad` fields because
//! the kernel rejects non-zero bytes after the last field a command knows
//! (`CHECK_ATTR`), and padding bytes are not guaranteed to be zero.

use crate::error::Errno;
use std::os::fd::{FromRawFd, OwnedFd};

/// A struct that is a prefix of `union bpf_attr` for some command.
///
/// # Safety
///
/// Implementors are `#[repr(C)]`, have no implicit padding and contain
/// only integers, so every byte the kernel reads is initialised.
pub(crate) unsafe trait Attr: Sized {}

/// `BPF_MAP_CREATE`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct MapCreateAttr {
    pub(crate) map_type: u32,
    pub(crate) key_size: u32,
    pub(crate) value_size: u32,
    pub(crate) max_entries: u32,
    pub(crate) map_flags: u32,
    pub(crate) inner_map_fd: u32,
    pub(crate) numa_node: u32,
    pub(crate) map_name: [u8; crate::consts::BPF_OBJ_NAME_LEN],
    pub(crate) map_ifindex: u32,
    pub(crate) btf_fd: u32,
    pub(crate) btf_key_type_id: u32,
    pub(crate) btf_value_type_id: u32,
    pub(crate) btf_vmlinux_value_type_id: u32,
    pub(crate) map_extra: u64,
}

/// `BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM` and `BPF_MAP_GET_NEXT_KEY`;
/// `value` is `next_key` for the latter.
#[repr(C)]
#[derive(Default)]
pub(crate) struct MapElemAttr {
    pub(crate) map_fd: u32,
    pub(crate) _pad: u32,
    pub(crate) key: u64,
    pub(crate) value: u64,
    pub(crate) flags: u64,
}

/// `BPF_PROG_LOAD`, up to `fd_array_cnt` (6.14); the kernel ignores
/// zeroed fields it knows and accepts zeroed ones it does not.
#[repr(C)]
#[derive(Default)]
pub(crate) struct ProgLoadAttr {
    pub(crate) prog_type: u32,
    pub(crate) insn_cnt: u32,
    pub(crate) insns: u64,
    pub(crate) license: u64,
    pub(crate) log_level: u32,
    pub(crate) log_size: u32,
    pub(crate) log_buf: u64,
    pub(crate) kern_version: u32,
    pub(crate) prog_flags: u32,
    pub(crate) prog_name: [u8; crate::consts::BPF_OBJ_NAME_LEN],
    pub(crate) prog_ifindex: u32,
    pub(crate) expected_attach_type: u32,
    pub(crate) prog_btf_fd: u32,
    pub(crate) func_info_rec_size: u32,
    pub(crate) func_info: u64,
    pub(crate) func_info_cnt: u32,
    pub(crate) line_info_rec_size: u32,
    pub(crate) line_info: u64,
    pub(crate) line_info_cnt: u32,
    pub(crate) attach_btf_id: u32,
    pub(crate) attach_prog_fd: u32,
    pub(crate) core_relo_cnt: u32,
    pub(crate) fd_array: u64,
    pub(crate) core_relos: u64,
    pub(crate) core_relo_rec_size: u32,
    /// Output: the log size the whole log needed (6.4+).
    pub(crate) log_true_size: u32,
    pub(crate) prog_token_fd: i32,
    pub(crate) fd_array_cnt: u32,
}

/// `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct BtfLoadAttr {
    pub(crate) btf: u64,
    pub(crate) btf_log_buf: u64,
    pub(crate) btf_size: u32,
    pub(crate) btf_log_size: u32,
    pub(crate) btf_log_level: u32,
    /// Output: the log size the whole log needed (6.4+).
    pub(crate) btf_log_true_size: u32,
    pub(crate) btf_flags: u32,
    pub(crate) btf_token_fd: i32,
}

/// `struct bpf_func_info`: where a function starts (in instructions)
/// and its BTF `FUNC` type.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BpfFuncInfo {
    pub(crate) insn_off: u32,
    pub(crate) type_id: u32,
}

/// `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct TestRunAttr {
    pub(crate) prog_fd: u32,
    pub(crate) retval: u32,
    pub(crate) data_size_in: u32,
    pub(crate) data_size_out: u32,
    pub(crate) data_in: u64,
    pub(crate) data_out: u64,
    pub(crate) repeat: u32,
    pub(crate) duration: u32,
    pub(crate) ctx_size_in: u32,
    pub(crate) ctx_size_out: u32,
    pub(crate) ctx_in: u64,
    pub(crate) ctx_out: u64,
    pub(crate) flags: u32,
    pub(crate) cpu: u32,
    pub(crate) batch_size: u32,
    pub(crate) _pad: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct InfoAttr {
    pub(crate) bpf_fd: u32,
    pub(crate) info_len: u32,
    pub(crate) info: u64,
}

/// `struct bpf_prog_info`, as filled by `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct BpfProgInfo {
    pub(crate) prog_type: u32,
    pub(crate) id: u32,
    pub(crate) tag: [u8; crate::consts::BPF_TAG_SIZE],
    pub(crate) jited_prog_len: u32,
    pub(crate) xlated_prog_len: u32,
    pub(crate) jited_prog_insns: u64,
    pub(crate) xlated_prog_insns: u64,
    pub(crate) load_time: u64,
    pub(crate) created_by_uid: u32,
    pub(crate) nr_map_ids: u32,
    pub(crate) map_ids: u64,
    pub(crate) name: [u8; crate::consts::BPF_OBJ_NAME_LEN],
    pub(crate) ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub(crate) flags: u32,
    pub(crate) netns_dev: u64,
    pub(crate) netns_ino: u64,
    pub(crate) nr_jited_ksyms: u32,
    pub(crate) nr_jited_func_lens: u32,
    pub(crate) jited_ksyms: u64,
    pub(crate) jited_func_lens: u64,
    pub(crate) btf_id: u32,
    pub(crate) func_info_rec_size: u32,
    pub(crate) func_info: u64,
    pub(crate) nr_func_info: u32,
    pub(crate) nr_line_info: u32,
    pub(crate) line_info: u64,
    pub(crate) jited_line_info: u64,
    pub(crate) nr_jited_line_info: u32,
    pub(crate) line_info_rec_size: u32,
    pub(crate) jited_line_info_rec_size: u32,
    pub(crate) nr_prog_tags: u32,
    pub(crate) prog_tags: u64,
    pub(crate) run_time_ns: u64,
    pub(crate) run_cnt: u64,
    pub(crate) recursion_misses: u64,
    pub(crate) verified_insns: u32,
    pub(crate) attach_btf_obj_id: u32,
    pub(crate) attach_btf_id: u32,
    pub(crate) _pad: u32,
}

// SAFETY: all of them are #[repr(C)] integer structs whose fields are
// laid out without gaps (checked by the offset assertions below).
unsafe impl Attr for MapCreateAttr {}
// SAFETY: as above.
unsafe impl Attr for MapElemAttr {}
// SAFETY: as above.
unsafe impl Attr for ProgLoadAttr {}
// SAFETY: as above.
unsafe impl Attr for TestRunAttr {}
// SAFETY: as above.
unsafe impl Attr for BtfLoadAttr {}
// SAFETY: as above.
unsafe impl Attr for InfoAttr {}

// The UAPI offsets of the fields the kernel reads, so a wrong layout
// fails to compile rather than passing garbage.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(MapCreateAttr, map_name) == 28);
    assert!(offset_of!(MapCreateAttr, map_extra) == 64);
    assert!(size_of::<MapCreateAttr>() == 72);
    assert!(offset_of!(MapElemAttr, key) == 8);
    assert!(size_of::<MapElemAttr>() == 32);
    assert!(offset_of!(ProgLoadAttr, log_buf) == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, prog_btf_fd) == 72);
    assert!(offset_of!(ProgLoadAttr, func_info) == 80);
    assert!(offset_of!(ProgLoadAttr, func_info_cnt) == 88);
    assert!(offset_of!(ProgLoadAttr, fd_array) == 120);
    assert!(offset_of!(ProgLoadAttr, log_true_size) == 140);
    assert!(size_of::<ProgLoadAttr>() == 152);
    assert!(offset_of!(TestRunAttr, repeat) == 32);
    assert!(offset_of!(TestRunAttr, flags) == 64);
    assert!(size_of::<TestRunAttr>() == 80);
    assert!(size_of::<InfoAttr>() == 16);
    assert!(offset_of!(BtfLoadAttr, btf_size) == 16);
    assert!(offset_of!(BtfLoadAttr, btf_token_fd) == 36);
    assert!(size_of::<BtfLoadAttr>() == 40);
    assert!(size_of::<BpfFuncInfo>() == 8);
    assert!(offset_of!(BpfProgInfo, name) == 64);
    assert!(offset_of!(BpfProgInfo, netns_dev) == 88);
    assert!(offset_of!(BpfProgInfo, btf_id) == 128);
    assert!(offset_of!(BpfProgInfo, run_time_ns) == 192);
    assert!(offset_of!(BpfProgInfo, verified_insns) == 216);
    assert!(size_of::<BpfProgInfo>() == 232);
};

/// A pointer as the `__aligned_u64` the UAPI wants.
pub(crate) fn ptr<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// Copies `name` into a NUL-terminated `BPF_OBJ_NAME_LEN` array,
/// truncating it to 15 bytes as libbpf does. `None` if it has characters
/// the kernel's `bpf_obj_name_cpy` refuses.
pub(crate) fn obj_name(name: &str) -> Option<[u8; crate::consts::BPF_OBJ_NAME_LEN]> {
    let mut out = [0u8; crate::consts::BPF_OBJ_NAME_LEN];
    for (slot, b) in out[..crate::consts::BPF_OBJ_NAME_LEN - 1]
        .iter_mut()
        .zip(name.bytes())
    {
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
            return None;
        }
        *slot = b;
    }
    Some(out)
}

/// Calls bpf(2) and returns its non-negative result.
///
/// # Safety
///
/// Every pointer stored in `attr` must be valid for the reads and writes
/// the command does with the sizes stored beside it.
pub(crate) unsafe fn bpf<A: Attr>(cmd: u32, attr: &mut A) -> Result<i64, Errno> {
    // SAFETY: `attr` is a valid, fully initialised prefix of
    // `union bpf_attr` (trait `Attr`) of the size we pass; the pointers
    // inside are the caller's responsibility (this function's contract).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut A,
            core::mem::size_of::<A>() as libc::c_long,
        )
    };
    if ret < 0 { Err(Errno::last()) } else { Ok(ret) }
}

/// Like [`bpf`], for commands that return a new file descriptor.
///
/// # Safety
///
/// As for [`bpf`].
pub(crate) unsafe fn bpf_fd<A: Attr>(cmd: u32, attr: &mut A) -> Result<OwnedFd, Errno> {
    // SAFETY: forwarded contract.
    let fd = unsafe { bpf(cmd, attr) }?;
    // SAFETY: the command returns a new file descriptor that nothing
    // else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_truncated_and_checked() {
        let n = obj_name("a_very_long_program_name").unwrap();
        assert_eq!(&n[..15], b"a_very_long_pro");
        assert_eq!(n[15], 0);
        assert!(obj_name("bad-name").is_none());
        assert_eq!(obj_name("").unwrap(), [0; 16]);
    }
}
