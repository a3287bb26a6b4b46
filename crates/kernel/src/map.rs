//! Kernel maps, created and edited through bpf(2): the reference for
//! rxdp's own map types, and the maps a kernel-loaded program refers to
//! (by fd in `lddw`, or by index through `fd_array`).

use crate::consts::{cmd, map_type};
use crate::error::{Errno, Error};
use crate::sys::{self, MapCreateAttr, MapElemAttr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// One (key, value) pair as bytes, as [`KernelMap::dump`] lists them.
pub type Entry = (Vec<u8>, Vec<u8>);

/// A map living in the kernel, closed when dropped.
#[derive(Debug)]
pub struct KernelMap {
    fd: OwnedFd,
    map_type: u32,
    key_size: usize,
    value_size: usize,
}

/// Whether values of maps of this type are stored once per possible CPU.
pub fn is_percpu(map_type: u32) -> bool {
    matches!(
        map_type,
        map_type::BPF_MAP_TYPE_PERCPU_HASH
            | map_type::BPF_MAP_TYPE_PERCPU_ARRAY
            | map_type::BPF_MAP_TYPE_LRU_PERCPU_HASH
            | map_type::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    )
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`), the
/// number of slots in a per-CPU map value as the syscall sees it.
pub fn possible_cpus() -> Result<usize, Error> {
    const PATH: &str = "/sys/devices/system/cpu/possible";
    static CACHE: OnceLock<Result<usize, Error>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let text = std::fs::read_to_string(PATH).map_err(|e| Error::Io {
                path: PATH,
                message: e.to_string(),
            })?;
            parse_cpu_list(&text).ok_or_else(|| Error::Io {
                path: PATH,
                message: format!("unexpected contents {text:?}"),
            })
        })
        .clone()
}

/// Counts the CPUs of a list like `0-3,5,7-8`: the highest one plus one,
/// since per-CPU values have a slot for every CPU number up to it.
fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut max = None;
    for part in text.trim().split(',') {
        let last = match part.split_once('-') {
            Some((_, hi)) => hi.parse::<usize>().ok()?,
            None => part.parse::<usize>().ok()?,
        };
        max = Some(max.map_or(last, |m: usize| m.max(last)));
    }
    max.map(|m| m + 1)
}

impl KernelMap {
    /// Creates a map (`BPF_MAP_CREATE`). `name` is truncated to 15 bytes.
    pub fn create(
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        flags: u32,
        name: &str,
    ) -> Result<KernelMap, Error> {
        let map_name = sys::obj_name(name).ok_or_else(|| Error::Name(name.to_owned()))?;
        let mut attr = MapCreateAttr {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags: flags,
            map_name,
            ..Default::default()
        };
        // SAFETY: the attr holds no pointers.
        let fd =
            unsafe { sys::bpf_fd(cmd::BPF_MAP_CREATE, &mut attr) }.map_err(|errno| Error::Sys {
                cmd: "BPF_MAP_CREATE",
                errno,
            })?;
        Ok(KernelMap {
            fd,
            map_type,
            key_size: key_size as usize,
            value_size: value_size as usize,
        })
    }

    /// The map's file descriptor, for `lddw` immediates and `fd_array`.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The map type it was created with.
    pub fn map_type(&self) -> u32 {
        self.map_type
    }

    /// The key size in bytes.
    pub fn key_size(&self) -> usize {
        self.key_size
    }

    /// The size of a value as the syscall side sees it: `value_size`, or
    /// for per-CPU maps `value_size` rounded up to 8 times the number of
    /// possible CPUs.
    pub fn syscall_value_size(&self) -> Result<usize, Error> {
        if is_percpu(self.map_type) {
            Ok(self.value_size.next_multiple_of(8) * possible_cpus()?)
        } else {
            Ok(self.value_size)
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), Error> {
        check_size("key", self.key_size, key.len())
    }

    fn elem_attr(&self, key: &[u8], value: u64, flags: u64) -> MapElemAttr {
        MapElemAttr {
            map_fd: self.fd() as u32,
            key: if key.is_empty() {
                0
            } else {
                sys::ptr(key.as_ptr())
            },
            value,
            flags,
            ..Default::default()
        }
    }

    /// Creates or replaces the element at `key` (`BPF_MAP_UPDATE_ELEM`)
    /// with `flags` from [`crate::consts::update`].
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), Error> {
        self.check_key(key)?;
        check_size("value", self.syscall_value_size()?, value.len())?;
        let mut attr = self.elem_attr(key, sys::ptr(value.as_ptr()), flags);
        // SAFETY: key and value point to slices of the map's key and
        // (syscall) value sizes, checked above; the kernel only reads them.
        unsafe { sys::bpf(cmd::BPF_MAP_UPDATE_ELEM, &mut attr) }
            .map(drop)
            .map_err(|errno| Error::Sys {
                cmd: "BPF_MAP_UPDATE_ELEM",
                errno,
            })
    }

    /// The value at `key` (`BPF_MAP_LOOKUP_ELEM`), `None` if there is no
    /// such element. Per-CPU maps return every CPU's value, each padded
    /// to a multiple of 8 bytes, CPU 0 first.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        self.check_key(key)?;
        let mut value = vec![0u8; self.syscall_value_size()?];
        let mut attr = self.elem_attr(key, sys::ptr(value.as_mut_ptr()), 0);
        // SAFETY: key has the map's key size; value is a writable buffer
        // of the size the kernel copies out for this map type.
        match unsafe { sys::bpf(cmd::BPF_MAP_LOOKUP_ELEM, &mut attr) } {
            Ok(_) => Ok(Some(value)),
            Err(Errno::ENOENT) => Ok(None),
            Err(errno) => Err(Error::Sys {
                cmd: "BPF_MAP_LOOKUP_ELEM",
                errno,
            }),
        }
    }

    /// Deletes the element at `key` (`BPF_MAP_DELETE_ELEM`); `ENOENT` if
    /// there is none, `EINVAL` for arrays, whose elements always exist.
    pub fn delete(&self, key: &[u8]) -> Result<(), Error> {
        self.check_key(key)?;
        let mut attr = self.elem_attr(key, 0, 0);
        // SAFETY: key has the map's key size; nothing is written.
        unsafe { sys::bpf(cmd::BPF_MAP_DELETE_ELEM, &mut attr) }
            .map(drop)
            .map_err(|errno| Error::Sys {
                cmd: "BPF_MAP_DELETE_ELEM",
                errno,
            })
    }

    /// The key following `key`, or the first key for `None`
    /// (`BPF_MAP_GET_NEXT_KEY`); `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        let mut next = vec![0u8; self.key_size];
        let mut attr = self.elem_attr(key.unwrap_or(&[]), sys::ptr(next.as_mut_ptr()), 0);
        // SAFETY: key is NULL or has the map's key size; next_key is a
        // writable buffer of the key size.
        match unsafe { sys::bpf(cmd::BPF_MAP_GET_NEXT_KEY, &mut attr) } {
            Ok(_) => Ok(Some(next)),
            Err(Errno::ENOENT) => Ok(None),
            Err(errno) => Err(Error::Sys {
                cmd: "BPF_MAP_GET_NEXT_KEY",
                errno,
            }),
        }
    }

    /// Every key, in the kernel's iteration order, by walking
    /// `BPF_MAP_GET_NEXT_KEY` from the start.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, Error> {
        let mut keys = Vec::new();
        let mut cur = self.next_key(None)?;
        while let Some(k) = cur {
            cur = self.next_key(Some(&k))?;
            keys.push(k);
        }
        Ok(keys)
    }

    /// Every (key, value) pair, in iteration order. Elements deleted
    /// between the walk and the lookup are left out.
    pub fn dump(&self) -> Result<Vec<Entry>, Error> {
        let mut out = Vec::new();
        for k in self.keys()? {
            if let Some(v) = self.lookup(&k)? {
                out.push((k, v));
            }
        }
        Ok(out)
    }
}

fn check_size(what: &'static str, expected: usize, got: usize) -> Result<(), Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::Size {
            what,
            expected,
            got,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0\n"), Some(1));
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0-3,5,7-8"), Some(9));
        assert_eq!(parse_cpu_list("x"), None);
    }
}
