//! Direct tail calls: where the verifier proved the prog array and the key
//! constant, the code jumps straight to the target, through two patch
//! sites kept in step with the array (the kernel's poke descriptors,
//! `tailcall_bypass` and `tailcall_target`):
//!
//! ```text
//!   mov r9d, [r12 + tail_call_cnt]; cmp r9d, 33; jae out
//!   add r9d, 1; mov [r12 + tail_call_cnt], r9d
//! bypass:  jmp out   | nop5          <- "skip" while the slot is empty
//!   <unwind the frame>
//! target:  nop5      | jmp <entry>   <- the slot's program
//! out:
//! ```
//!
//! The four states of (bypass, target) are A (nop, nop), B (nop, tail),
//! C (skip, nop) and D (skip, tail). A would unwind the frame and then
//! fall into the code after the call with no frame: no thread may ever
//! see it. So an empty slot is C; installing a program goes C -> D -> B
//! (patch the target, then drop the skip); replacing one patches only the
//! target, B -> B; removing goes B -> C (skip first), then waits for a
//! grace period, so that no thread is between the bypass and the target,
//! and only then clears the target (Maciej Fijalkowski's "bpf: tailcalls
//! in BPF subprograms", 2020, the state matrix after Björn Töpel).
//!
//! Each site is a 5-byte instruction at an 8-byte aligned offset (images
//! start 64-byte aligned), patched by one 8-byte store of the site and the
//! three unchanging bytes after it ([`crate::pack::ProgMem::text_poke`]).

use super::{JitImage, Reason, Unsupported};
use crate::pack::PackError;
use crate::x86::{Label, encode_jmp_rel32};
use std::sync::{Mutex, PoisonError};

/// The 5-byte nop a patch site holds when not jumping.
pub(super) const NOP5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];

/// Where a direct tail call's two sites are: labels during emission
/// ([`SiteLabels`]), offsets in the image after it ([`SiteOffsets`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct SiteAt<T> {
    /// The prog array's map index.
    pub(super) map: u32,
    /// The slot.
    pub(super) key: u32,
    /// The `jmp out` / nop5 site.
    pub(super) bypass: T,
    /// The nop5 / `jmp entry` site.
    pub(super) target: T,
}

/// A direct tail call's sites during emission.
pub(super) type SiteLabels = SiteAt<Label>;
/// A direct tail call's sites as offsets in the image.
pub(super) type SiteOffsets = SiteAt<usize>;

/// One direct tail call of a compiled program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailCallSite {
    /// The prog array's map index in the program.
    pub map: u32,
    /// The slot it jumps through.
    pub key: u32,
    /// Address of the bypass site.
    bypass: u64,
    /// Address of the target site.
    target: u64,
    /// The bytes after each site, which a patch rewrites unchanged.
    bypass_tail: [u8; 3],
    target_tail: [u8; 3],
}

/// What the two sites of a direct tail call hold now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SiteState {
    /// Whether the bypass site jumps over the unwinding.
    skip: bool,
    /// The target site's jump destination, 0 for the nop.
    target: u64,
}

/// The direct tail calls of an image and their current states; patches of
/// one image are serialised by the mutex (prog arrays serialise their
/// updates too).
#[derive(Debug, Default)]
pub(super) struct Sites {
    sites: Vec<TailCallSite>,
    state: Mutex<Vec<SiteState>>,
}

impl Sites {
    /// The sites of an image at `base` whose bytes are `code`, at
    /// `offsets`: every site starts in state C.
    pub(super) fn new(
        offsets: &[SiteOffsets],
        base: u64,
        code: &[u8],
    ) -> Result<Sites, Unsupported> {
        let mut sites = Vec::with_capacity(offsets.len());
        for l in offsets {
            let at = |off: usize| -> Result<(u64, [u8; 3]), Unsupported> {
                let tail = code
                    .get(off + 5..off + 8)
                    .filter(|_| off.is_multiple_of(8))
                    .ok_or_else(|| {
                        Unsupported::whole(Reason::Encoder(crate::x86::X86Error::Operand {
                            offset: off,
                            what: "a tail-call patch site is not 8-byte aligned",
                        }))
                    })?;
                Ok((base + off as u64, [tail[0], tail[1], tail[2]]))
            };
            let (bypass, bypass_tail) = at(l.bypass)?;
            let (target, target_tail) = at(l.target)?;
            sites.push(TailCallSite {
                map: l.map,
                key: l.key,
                bypass,
                target,
                bypass_tail,
                target_tail,
            });
        }
        let state = vec![
            SiteState {
                skip: true,
                target: 0
            };
            sites.len()
        ];
        Ok(Sites {
            sites,
            state: Mutex::new(state),
        })
    }

    pub(super) fn list(&self) -> &[TailCallSite] {
        &self.sites
    }
}

/// The 8 bytes at a site: its instruction and the three after it.
fn word(insn: [u8; 5], tail: [u8; 3]) -> [u8; 8] {
    let mut w = [0; 8];
    w[..5].copy_from_slice(&insn);
    w[5..].copy_from_slice(&tail);
    w
}

impl TailCallSite {
    /// The bypass instruction: `jmp out` (out is right after the target
    /// site) or the nop.
    fn bypass_bytes(&self, skip: bool) -> Result<[u8; 8], PokeError> {
        let insn = match skip {
            true => jmp(self.bypass, self.target + 5)?,
            false => NOP5,
        };
        Ok(word(insn, self.bypass_tail))
    }

    /// The target instruction: `jmp entry`, or the nop for 0.
    fn target_bytes(&self, entry: u64) -> Result<[u8; 8], PokeError> {
        let insn = match entry {
            0 => NOP5,
            e => jmp(self.target, e)?,
        };
        Ok(word(insn, self.target_tail))
    }
}

/// Why a direct tail call could not follow its slot.
#[derive(Debug, thiserror::Error)]
pub enum PokeError {
    /// The target is not within rel32 reach of the site.
    #[error("tail-call target {to:#x} is out of rel32 reach of the site at {site:#x}")]
    OutOfReach {
        /// The site.
        site: u64,
        /// The target.
        to: u64,
    },
    /// The patch itself failed.
    #[error(transparent)]
    Pack(#[from] PackError),
}

fn jmp(site: u64, to: u64) -> Result<[u8; 5], PokeError> {
    encode_jmp_rel32(site, to).map_err(|_| PokeError::OutOfReach { site, to })
}

impl JitImage {
    /// The direct tail calls of this program, in code order.
    pub fn tail_call_sites(&self) -> &[TailCallSite] {
        self.sites.list()
    }

    /// Follows a change of the slot direct tail call `site` jumps through
    /// to tail-call entry `new` (0 = empty), through the state matrix of
    /// the module docs; `grace` waits until no thread runs code
    /// it could reach before (a grace period of the domain the program's
    /// runners are readers of), and is called only when a program leaves.
    pub fn poke_tail_call(&self, site: usize, new: u64, grace: &dyn Fn()) -> Result<(), PokeError> {
        let Some(s) = self.sites.sites.get(site) else {
            return Ok(());
        };
        let mut states = self
            .sites
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let state = &mut states[site];
        let poke = |addr, old: [u8; 8], new: [u8; 8]| -> Result<(), PokeError> {
            Ok(self.mem.text_poke(addr, &old, &new)?)
        };
        if new != 0 {
            // C -> D -> B on install, B -> B on update.
            poke(
                s.target,
                s.target_bytes(state.target)?,
                s.target_bytes(new)?,
            )?;
            state.target = new;
            if state.skip {
                poke(s.bypass, s.bypass_bytes(true)?, s.bypass_bytes(false)?)?;
                state.skip = false;
            }
        } else if state.target != 0 {
            // B -> C: skip first, let every thread between the two sites
            // leave, then clear the target.
            if !state.skip {
                poke(s.bypass, s.bypass_bytes(false)?, s.bypass_bytes(true)?)?;
                state.skip = true;
            }
            grace();
            poke(s.target, s.target_bytes(state.target)?, s.target_bytes(0)?)?;
            state.target = 0;
        }
        Ok(())
    }
}
