//! The helpers XDP programs may call, and the environment a run sees.
//!
//! Helper ids and semantics are the kernel's (`include/uapi/linux/bpf.h`,
//! `___BPF_FUNC_MAPPER`). A helper returns what the kernel's would,
//! including negative errno values as 64-bit two's complement. Memory a
//! helper hands out (a map value) is granted to the checked engine so that
//! the program may touch it and nothing else.

use crate::ctx::XdpContext;
use crate::maps::{MapRef, MapTable};
use rxdp_interp::{Env, HelperError, Region, RegionKind};

/// `bpf_map_lookup_elem(map, key)`.
pub const BPF_FUNC_MAP_LOOKUP_ELEM: u32 = 1;
/// `bpf_map_update_elem(map, key, value, flags)`.
pub const BPF_FUNC_MAP_UPDATE_ELEM: u32 = 2;
/// `bpf_map_delete_elem(map, key)`.
pub const BPF_FUNC_MAP_DELETE_ELEM: u32 = 3;
/// `bpf_get_smp_processor_id()`.
pub const BPF_FUNC_GET_SMP_PROCESSOR_ID: u32 = 8;

/// The helper ids this program type implements so far.
pub const SUPPORTED: &[u32] = &[
    BPF_FUNC_MAP_LOOKUP_ELEM,
    BPF_FUNC_MAP_UPDATE_ELEM,
    BPF_FUNC_MAP_DELETE_ELEM,
    BPF_FUNC_GET_SMP_PROCESSOR_ID,
];

/// What one program run sees: its context, its maps and the CPU it runs
/// on (the per-CPU slot of per-CPU maps).
pub struct XdpEnv<'a> {
    /// The native context of the frame being processed.
    pub ctx: *mut XdpContext,
    /// The program's maps.
    pub maps: &'a MapTable,
    /// The worker (CPU) index.
    pub cpu: u32,
}

impl XdpEnv<'_> {
    fn map(&self, id: u32, addr: u64) -> Result<&MapRef, HelperError> {
        self.maps.by_addr(addr).ok_or_else(|| HelperError::Failed {
            id,
            reason: format!("{addr:#x} is not a map pointer"),
        })
    }

    /// Reads `len` bytes a program handed to a helper.
    ///
    /// # Safety
    /// `addr..addr + len` must be readable: the verifier proves helper
    /// memory arguments, as the kernel's `check_helper_mem_access` does.
    unsafe fn arg_bytes<'m>(addr: u64, len: usize) -> &'m [u8] {
        // SAFETY: the caller's contract.
        unsafe { core::slice::from_raw_parts(addr as *const u8, len) }
    }
}

fn errno(e: i32) -> u64 {
    i64::from(e) as u64
}

// SAFETY: the regions reported are the live context, the frame's
// `data_meta..data_end` (inside the boxed frame) and map values, which
// live as long as the program's map table that this environment borrows.
unsafe impl Env for XdpEnv<'_> {
    fn call_helper(
        &mut self,
        id: u32,
        a: [u64; 5],
        grant: &mut dyn FnMut(Region),
    ) -> Result<u64, HelperError> {
        match id {
            BPF_FUNC_MAP_LOOKUP_ELEM => {
                let m = self.map(id, a[0])?;
                let def = m.map.def();
                // SAFETY: the key argument is key_size readable bytes (verifier).
                let key = unsafe { Self::arg_bytes(a[1], def.key_size as usize) };
                Ok(match m.map.lookup_percpu(key, self.cpu) {
                    Some(p) => {
                        grant(Region {
                            start: p as u64,
                            len: u64::from(def.value_size),
                            writable: m.writable,
                            kind: RegionKind::MapValue,
                        });
                        p as u64
                    }
                    None => 0,
                })
            }
            BPF_FUNC_MAP_UPDATE_ELEM => {
                let m = self.map(id, a[0])?;
                let def = m.map.def();
                // SAFETY: key and value are key_size and value_size readable
                // bytes (verifier).
                let (key, value) = unsafe {
                    (
                        Self::arg_bytes(a[1], def.key_size as usize),
                        Self::arg_bytes(a[2], def.value_size as usize),
                    )
                };
                Ok(match m.map.update_percpu(key, value, a[3], self.cpu) {
                    Ok(()) => 0,
                    Err(e) => errno(e.errno()),
                })
            }
            BPF_FUNC_MAP_DELETE_ELEM => {
                let m = self.map(id, a[0])?;
                // SAFETY: the key argument is key_size readable bytes.
                let key = unsafe { Self::arg_bytes(a[1], m.map.def().key_size as usize) };
                Ok(match m.map.delete(key) {
                    Ok(()) => 0,
                    Err(e) => errno(e.errno()),
                })
            }
            BPF_FUNC_GET_SMP_PROCESSOR_ID => Ok(u64::from(self.cpu)),
            _ => Err(HelperError::Unknown(id)),
        }
    }

    fn regions(&self, out: &mut Vec<Region>) {
        // SAFETY: `ctx` points to the live context of this run.
        let ctx = unsafe { &*self.ctx };
        out.push(Region {
            start: self.ctx as u64,
            len: core::mem::size_of::<XdpContext>() as u64,
            writable: false,
            kind: RegionKind::Context,
        });
        out.push(Region {
            start: ctx.data_meta,
            len: ctx.data_end - ctx.data_meta,
            writable: true,
            kind: RegionKind::Packet,
        });
        for m in self.maps.iter() {
            if let Some(addr) = m.map.direct_value_addr() {
                out.push(Region {
                    start: addr,
                    len: u64::from(m.map.def().value_size),
                    writable: m.writable,
                    kind: RegionKind::MapValue,
                });
            }
        }
    }
}
