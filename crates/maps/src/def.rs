//! The definition of a map, as `BPF_MAP_CREATE` receives it, and the checks
//! every map type shares when it is created or used from the control plane
//! (kernel/bpf/syscall.c).

use crate::error::MapError;
use crate::flags::{BPF_F_LOCK, BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_F_WRONLY_PROG};

/// What a map is: the `BPF_MAP_CREATE` attributes rxdp uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MapDef {
    /// The `BPF_MAP_TYPE_*` number (see [`crate::map_type`]).
    pub map_type: u32,
    /// Size of a key in bytes.
    pub key_size: u32,
    /// Size of a value in bytes, as programs see it (one CPU's value for
    /// per-CPU maps).
    pub value_size: u32,
    /// Capacity: the number of elements (array length for arrays).
    pub max_entries: u32,
    /// `map_flags`: `BPF_F_*` creation flags (see [`crate::flags`]).
    pub flags: u32,
    /// The map's name, for messages and listings. Not checked against the
    /// kernel's 15-character limit: object loaders truncate as libbpf does.
    pub name: String,
}

impl MapDef {
    /// An `-EINVAL` error naming this map and `reason`.
    pub(crate) fn invalid(&self, reason: impl Into<String>) -> MapError {
        MapError::InvalidDef {
            name: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// An `-ENOTSUPP` error naming this map and `reason`.
    pub(crate) fn not_supported(&self, reason: impl Into<String>) -> MapError {
        MapError::DefNotSupported {
            name: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// An `-E2BIG` error naming this map and `reason`.
    pub(crate) fn too_big(&self, reason: impl Into<String>) -> MapError {
        MapError::DefTooBig {
            name: self.name.clone(),
            reason: reason.into(),
        }
    }

    /// Refuses flag bits outside `allowed`, and contradictory access flags,
    /// as each map type's `map_alloc_check` does with its `*_CREATE_FLAG_MASK`
    /// and `bpf_map_flags_access_ok`.
    pub(crate) fn check_flags(&self, allowed: u32) -> Result<(), MapError> {
        let unknown = self.flags & !allowed;
        if unknown != 0 {
            return Err(self.invalid(format!(
                "map_flags {:#x} not allowed for map type {}",
                unknown,
                crate::map_type::describe(self.map_type)
            )));
        }
        let prog_rw = BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
        let sys_rw = BPF_F_RDONLY | BPF_F_WRONLY;
        if self.flags & prog_rw == prog_rw || self.flags & sys_rw == sys_rw {
            return Err(self.invalid("map_flags ask for read-only and write-only at once"));
        }
        Ok(())
    }

    /// The value size rounded up to 8 bytes: the distance between values in
    /// an array, and between CPUs' values in the control plane's per-CPU
    /// buffers (the kernel's `round_up(value_size, 8)`).
    pub fn value_stride(&self) -> usize {
        round_up8(self.value_size as usize)
    }

    /// Checks a key from the control plane against `key_size`.
    pub(crate) fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        check_len(key, self.key_size as usize).map_err(|got| MapError::KeySize {
            expected: self.key_size as usize,
            got,
        })
    }

    /// Checks a value against the `expected` length.
    pub(crate) fn check_value(value: &[u8], expected: usize) -> Result<(), MapError> {
        check_len(value, expected).map_err(|got| MapError::ValueSize { expected, got })
    }

    /// The checks `bpf(2)` makes before a control-plane update reaches a
    /// map whose values hold no spin lock: `BPF_F_RDONLY` maps refuse
    /// with `-EPERM`, `BPF_F_LOCK` with `-EINVAL`.
    pub(crate) fn check_sys_update(&self, flags: u64) -> Result<(), MapError> {
        self.check_sys_update_lock(flags, false)
    }

    /// [`MapDef::check_sys_update`] for a map whose values hold a
    /// `bpf_spin_lock` when `has_lock`, which makes `BPF_F_LOCK` valid.
    pub(crate) fn check_sys_update_lock(&self, flags: u64, has_lock: bool) -> Result<(), MapError> {
        if self.flags & BPF_F_RDONLY != 0 {
            return Err(MapError::ReadOnly);
        }
        if flags & BPF_F_LOCK != 0 && !has_lock {
            return Err(MapError::LockWithoutSpinLock);
        }
        Ok(())
    }

    /// The check `bpf(2)` makes before a control-plane lookup:
    /// `BPF_F_WRONLY` maps refuse with `-EPERM`.
    pub(crate) fn check_sys_lookup(&self) -> Result<(), MapError> {
        if self.flags & BPF_F_WRONLY != 0 {
            return Err(MapError::ReadOnly);
        }
        Ok(())
    }

    /// The checks of `BPF_MAP_LOOKUP_ELEM` with `flags`, in the kernel's
    /// order (syscall.c `map_lookup_elem`): flags other than `BPF_F_LOCK`
    /// are `-EINVAL`, as is `BPF_F_LOCK` when the value has no spin lock
    /// (`!has_lock`); then the `BPF_F_WRONLY` check.
    pub(crate) fn check_sys_lookup_flags(
        &self,
        flags: u64,
        has_lock: bool,
    ) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK != 0 {
            return Err(MapError::BadFlags { flags });
        }
        if flags & BPF_F_LOCK != 0 && !has_lock {
            return Err(MapError::LockWithoutSpinLock);
        }
        self.check_sys_lookup()
    }
}

/// `n` rounded up to a multiple of 8.
pub(crate) fn round_up8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// `Err(actual length)` unless `bytes` is `expected` long.
fn check_len(bytes: &[u8], expected: usize) -> Result<(), usize> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::BPF_F_MMAPABLE;

    fn def(flags: u32) -> MapDef {
        MapDef {
            map_type: crate::map_type::ARRAY,
            key_size: 4,
            value_size: 13,
            max_entries: 1,
            flags,
            name: "d".into(),
        }
    }

    #[test]
    fn stride_rounds_up_to_eight() {
        assert_eq!(def(0).value_stride(), 16);
        assert_eq!(round_up8(8), 8);
        assert_eq!(round_up8(1), 8);
        assert_eq!(round_up8(0), 0);
    }

    #[test]
    fn flags_outside_the_mask_or_contradictory_are_invalid() {
        assert!(def(BPF_F_MMAPABLE).check_flags(BPF_F_MMAPABLE).is_ok());
        let e = def(BPF_F_MMAPABLE).check_flags(0).unwrap_err();
        assert_eq!(e.errno(), -22);
        assert!(e.to_string().contains("0x400"), "{e}");
        let both = BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
        assert_eq!(def(both).check_flags(both).unwrap_err().errno(), -22);
    }

    #[test]
    fn read_only_maps_refuse_control_plane_updates() {
        assert_eq!(
            def(BPF_F_RDONLY).check_sys_update(0),
            Err(MapError::ReadOnly)
        );
        assert_eq!(
            def(BPF_F_WRONLY).check_sys_lookup(),
            Err(MapError::ReadOnly)
        );
        assert_eq!(
            def(0).check_sys_update(BPF_F_LOCK),
            Err(MapError::LockWithoutSpinLock)
        );
    }
}
