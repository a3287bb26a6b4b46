//! Map errors: each is one of the kernel's negative errno values, which is
//! what a program sees returned from a map helper, plus a message for the
//! control plane.
//!
//! Errors on the datapath (a full map, a missing key) carry no heap data, so
//! returning them from a helper does not allocate.

use thiserror::Error;

/// The errno values map operations return, as positive numbers
/// (include/uapi/asm-generic/errno-base.h and errno.h).
pub mod errno {
    /// `EPERM`: operation not permitted.
    pub const EPERM: i32 = 1;
    /// `ENOENT`: no such element.
    pub const ENOENT: i32 = 2;
    /// `E2BIG`: no room for a new element, or a size too large.
    pub const E2BIG: i32 = 7;
    /// `ENOMEM`: out of memory.
    pub const ENOMEM: i32 = 12;
    /// `EEXIST`: the element exists.
    pub const EEXIST: i32 = 17;
    /// `EINVAL`: invalid argument.
    pub const EINVAL: i32 = 22;
    /// `EOPNOTSUPP`: the map type does not support the operation.
    pub const EOPNOTSUPP: i32 = 95;
    /// `EAGAIN`: try again (a full ring buffer).
    pub const EAGAIN: i32 = 11;
    /// `ENODEV`: no such device (a CPU that does not exist).
    pub const ENODEV: i32 = 19;
    /// `EOVERFLOW`: a value too large for its field.
    pub const EOVERFLOW: i32 = 75;
    /// `EBADF`: not a valid file descriptor (handle).
    pub const EBADF: i32 = 9;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// `ENOSPC`: no space left (a full ring buffer).
    pub const ENOSPC: i32 = 28;
    /// `ENOTSUPP`: the kernel-internal "not supported" (include/linux/errno.h),
    /// which `bpf(2)` passes on for some map definitions.
    pub const ENOTSUPP: i32 = 524;
}

/// Why a map operation or map creation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MapError {
    /// The key is not in the map (`-ENOENT`), or iteration has passed the
    /// last key.
    #[error("no such element")]
    NoEntry,
    /// `BPF_NOEXIST` on a key that exists (`-EEXIST`); on an array every
    /// key exists.
    #[error("element exists (BPF_NOEXIST)")]
    Exists,
    /// A new element would exceed `max_entries` (`-E2BIG`).
    #[error("map is full (max_entries {max_entries})")]
    Full {
        /// The map's capacity.
        max_entries: u32,
    },
    /// A new element in a full LPM trie (`-ENOSPC`).
    #[error("map is full (max_entries {max_entries})")]
    NoSpace {
        /// The map's capacity.
        max_entries: u32,
    },
    /// An LPM trie key whose prefix is longer than its data (`-EINVAL`).
    #[error("prefixlen {prefixlen} exceeds the trie's {max_prefixlen} bits")]
    PrefixTooLong {
        /// The prefix length given.
        prefixlen: u32,
        /// `8 * (key_size - 4)`.
        max_prefixlen: u32,
    },
    /// An array index at or past `max_entries` (`-E2BIG`).
    #[error("index {index} out of range (max_entries {max_entries})")]
    IndexOutOfRange {
        /// The index asked for.
        index: u32,
        /// The array's length.
        max_entries: u32,
    },
    /// Update flags other than one of `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`
    /// plus optionally `BPF_F_LOCK` (`-EINVAL`).
    #[error("invalid update flags {flags:#x}")]
    BadFlags {
        /// The flags given.
        flags: u64,
    },
    /// `BPF_F_LOCK` on a map whose value has no `bpf_spin_lock` (`-EINVAL`).
    #[error("BPF_F_LOCK given but the map value has no bpf_spin_lock")]
    LockWithoutSpinLock,
    /// Deleting from an array, whose elements always exist (`-EINVAL`).
    #[error("array elements cannot be deleted")]
    ArrayDelete,
    /// A key of the wrong length from the control plane (`-EINVAL`).
    #[error("key is {got} bytes, the map's key_size is {expected}")]
    KeySize {
        /// The map's key size.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A value of the wrong length from the control plane (`-EINVAL`).
    #[error("value is {got} bytes, expected {expected}")]
    ValueSize {
        /// The length the operation needs.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A CPU (worker) index at or past the map's CPU count (`-EINVAL`).
    #[error("cpu {cpu} out of range (the map has {nr_cpus} cpus)")]
    BadCpu {
        /// The CPU asked for.
        cpu: u32,
        /// The map's CPU count.
        nr_cpus: u32,
    },
    /// A write from the control plane to a `BPF_F_RDONLY` map (`-EPERM`).
    #[error("map is read-only for the control plane (BPF_F_RDONLY)")]
    ReadOnly,
    /// The map type refuses this operation with the kernel-internal
    /// `-ENOTSUPP` (a ring buffer's element operations).
    #[error("operation not supported by this map type (ENOTSUPP)")]
    NotSupp,
    /// The map type does not implement this operation (`-EOPNOTSUPP`).
    #[error("operation not supported by this map type")]
    OpNotSupported,
    /// A raw value where the map stores a handle (a program or map
    /// reference, which `bpf(2)` takes as a file descriptor): set such
    /// entries through the map type's own method (`-EBADF`).
    #[error("this map stores {what} references; raw value {value} names none")]
    BadHandle {
        /// What the map stores.
        what: &'static str,
        /// The raw value given.
        value: u32,
    },
    /// An inner map that does not match the map-in-map's template
    /// (`-EINVAL`); the message names the first field that differs.
    #[error("inner map does not match the template: {field} is {got}, expected {expected}")]
    InnerMapMismatch {
        /// The field.
        field: &'static str,
        /// The template's value.
        expected: u64,
        /// The inner map's value.
        got: u64,
    },
    /// A CPU that is not among the runtime's workers (`-ENODEV`).
    #[error("cpu {cpu} is not one of the {nr_cpus} workers")]
    NoSuchCpu {
        /// The CPU asked for.
        cpu: u32,
        /// The number of workers.
        nr_cpus: u32,
    },
    /// A cpumap queue size above the kernel's limit of 16384 (`-EOVERFLOW`).
    #[error("qsize {qsize} exceeds 16384")]
    QueueTooLarge {
        /// The size asked for.
        qsize: u32,
    },
    /// The ring buffer has no room for a record (`-EAGAIN` from
    /// `bpf_ringbuf_output`; `bpf_ringbuf_reserve` returns NULL).
    #[error("ring buffer full")]
    RingFull,
    /// A pinned map that does not match the definition that would reuse
    /// it (`-EINVAL`, libbpf's "couldn't reuse pinned map").
    #[error(
        "couldn't reuse pinned map {name:?}: {field} is {pinned}, the definition asks for {wanted}"
    )]
    PinMismatch {
        /// The pinned name.
        name: String,
        /// The first field that differs.
        field: &'static str,
        /// The pinned map's value.
        pinned: u64,
        /// The definition's value.
        wanted: u64,
    },
    /// An operation or value the map type refuses with `-EINVAL`, other
    /// than a bad definition: the message says what.
    #[error("{0}")]
    Invalid(&'static str),
    /// Generated code that jumps directly through a prog array slot could
    /// not be patched to follow an update (`-EFAULT`); the update itself
    /// took place, and those sites fall through as for an empty slot.
    #[error("patching direct tail calls: {0}")]
    TextPoke(String),
    /// A delete at an index past the end of an array-shaped map that
    /// answers `-EINVAL` there (devmap, cpumap, xskmap).
    #[error("index {index} out of range (max_entries {max_entries})")]
    BadIndex {
        /// The index given.
        index: u32,
        /// The map's length.
        max_entries: u32,
    },
    /// A `bpf_spin_lock` in the value of a map type that may not hold one
    /// (`-EOPNOTSUPP`, the kernel's `map_check_btf`): only plain arrays
    /// and hash maps may.
    #[error("map {name:?}: a {} value cannot hold a bpf_spin_lock (only array and hash maps)", crate::map_type::describe(*.map_type))]
    SpinLockNotAllowed {
        /// The map's name.
        name: String,
        /// The `BPF_MAP_TYPE_*` number.
        map_type: u32,
    },
    /// A map type rxdp does not implement yet (`-EINVAL`, as the kernel
    /// answers for a type it was built without).
    #[error("map type {} is not supported yet", crate::map_type::describe(*.map_type))]
    UnsupportedType {
        /// The `BPF_MAP_TYPE_*` number.
        map_type: u32,
    },
    /// A map definition the kernel refuses with `-EINVAL`; the message
    /// names the field.
    #[error("invalid map definition for {name:?}: {reason}")]
    InvalidDef {
        /// The map's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A map definition whose sizes the kernel refuses with `-E2BIG`.
    #[error("map definition for {name:?} too big: {reason}")]
    DefTooBig {
        /// The map's name.
        name: String,
        /// What is too big.
        reason: String,
    },
    /// A map definition the kernel refuses with `-ENOTSUPP`; the message
    /// names the field.
    #[error("map definition for {name:?} not supported: {reason}")]
    DefNotSupported {
        /// The map's name.
        name: String,
        /// What is not supported.
        reason: String,
    },
    /// The map's memory could not be allocated (`-ENOMEM`).
    #[error("cannot allocate {bytes} bytes for map {name:?}")]
    NoMemory {
        /// The map's name.
        name: String,
        /// The size asked for.
        bytes: u64,
    },
}

impl MapError {
    /// The negative errno a program sees from a map helper, or the control
    /// plane from `bpf(2)`: `-ENOENT` is `-2`.
    pub fn errno(&self) -> i32 {
        use errno::*;
        -match self {
            Self::NoEntry => ENOENT,
            Self::Exists => EEXIST,
            Self::Full { .. } | Self::IndexOutOfRange { .. } | Self::DefTooBig { .. } => E2BIG,
            Self::BadFlags { .. }
            | Self::LockWithoutSpinLock
            | Self::ArrayDelete
            | Self::KeySize { .. }
            | Self::ValueSize { .. }
            | Self::BadCpu { .. }
            | Self::PrefixTooLong { .. }
            | Self::InnerMapMismatch { .. }
            | Self::PinMismatch { .. }
            | Self::Invalid(_)
            | Self::BadIndex { .. }
            | Self::UnsupportedType { .. }
            | Self::InvalidDef { .. } => EINVAL,
            Self::ReadOnly => EPERM,
            Self::OpNotSupported | Self::SpinLockNotAllowed { .. } => EOPNOTSUPP,
            Self::NoMemory { .. } => ENOMEM,
            Self::NoSpace { .. } => ENOSPC,
            Self::BadHandle { .. } => EBADF,
            Self::NoSuchCpu { .. } => ENODEV,
            Self::TextPoke(_) => EFAULT,
            Self::QueueTooLarge { .. } => EOVERFLOW,
            Self::RingFull => EAGAIN,
            Self::DefNotSupported { .. } | Self::NotSupp => ENOTSUPP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_values_are_the_kernels() {
        assert_eq!(MapError::NoEntry.errno(), -2);
        assert_eq!(MapError::Exists.errno(), -17);
        assert_eq!(MapError::Full { max_entries: 1 }.errno(), -7);
        assert_eq!(MapError::BadFlags { flags: 3 }.errno(), -22);
        assert_eq!(MapError::ReadOnly.errno(), -1);
        let oom = MapError::NoMemory {
            name: "m".into(),
            bytes: 1,
        };
        assert_eq!(oom.errno(), -12);
    }

    #[test]
    fn unsupported_type_message_names_the_type() {
        let e = MapError::UnsupportedType { map_type: 11 };
        assert_eq!(e.to_string(), "map type lpm_trie (11) is not supported yet");
        assert_eq!(e.errno(), -22);
    }
}
