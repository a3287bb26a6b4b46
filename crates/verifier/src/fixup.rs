//! Post-verification rewrites, as the kernel's `convert_ctx_accesses` and
//! `resolve_pseudo_ldimm64` do them.
//!
//! - Context accesses: the program was compiled against the kernel's UAPI
//!   context (`struct xdp_md`, 32-bit fields) but runs on rxdp's native
//!   context, which holds 64-bit pointers. Every access the context
//!   analysis ([`crate::ctx`]) found going through the context is checked
//!   with the program type's rule and rewritten, one slot for one slot, to
//!   the native field's offset and size.
//! - Map references: every `lddw` of a map (by fd or index, of the map or
//!   of its value) becomes a plain 64-bit immediate holding the address the
//!   [`MapResolver`] gives.
//!
//! The rewritten program has the same length as the original, so jump
//! offsets and instruction indices in messages stay valid.

use crate::cfg::{Structure, check_structure};
use crate::ctx::{CtxSite, find_ctx_accesses};
use crate::error::VerifyError;
use crate::prog_type::ProgramType;
use rxdp_isa::{Insn, Pseudo};

/// Gives the addresses that `lddw` of a map loads.
pub trait MapResolver {
    /// The address to load for `lddw` of map `index`: with `value_off`
    /// `None` (`Pseudo::MapIdx`/`MapFd`) the map pointer; with
    /// `Some(off)` (`MapIdxValue`/`MapValue`) the address of the value of
    /// its single element plus `off`, or an error if the map has no direct
    /// value access or `off` is out of range.
    fn resolve(&self, index: u32, value_off: Option<u32>) -> Result<u64, String>;

    /// What the verifier needs to know of map `index`, or None if there is
    /// no such map.
    fn map_info(&self, index: u32) -> Option<MapInfo>;
}

/// A map as the verifier sees it: the sizes that bound accesses through
/// its pointers and the type that decides which helpers take it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct MapInfo {
    /// The map's name, for messages.
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` flags.
    pub flags: u32,
    /// Whether programs may only read its values (`BPF_F_RDONLY_PROG`,
    /// `.rodata`).
    pub readonly: bool,
    /// Offset of the `struct bpf_spin_lock` in its values, if they hold
    /// one.
    pub spin_lock_off: Option<u32>,
    /// For maps of maps: the inner maps' template.
    pub inner: Option<Box<MapInfo>>,
}

/// A [`MapResolver`] for programs that use no maps: every reference is an
/// error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoMaps;

impl MapResolver for NoMaps {
    fn resolve(&self, index: u32, _value_off: Option<u32>) -> Result<u64, String> {
        Err(format!(
            "fd {index} is not pointing to valid bpf_map: the program has no maps"
        ))
    }

    fn map_info(&self, _index: u32) -> Option<MapInfo> {
        None
    }
}

/// Rewrites a program for execution: context accesses to native ones and
/// map references to addresses. Checks the program's structure first.
pub fn fixup(
    insns: &[Insn],
    prog_type: &dyn ProgramType,
    maps: &dyn MapResolver,
) -> Result<Vec<Insn>, VerifyError> {
    let structure = check_structure(insns)?;
    rewrite(insns, &structure, prog_type, maps).map(|(out, _)| out)
}

/// [`fixup`] for a program whose structure is known; also returns the
/// context accesses found.
pub(crate) fn rewrite(
    insns: &[Insn],
    structure: &Structure,
    prog_type: &dyn ProgramType,
    maps: &dyn MapResolver,
) -> Result<(Vec<Insn>, Vec<CtxSite>), VerifyError> {
    let sites = if prog_type.has_context() {
        find_ctx_accesses(insns, structure)?
    } else {
        Vec::new()
    };
    let out = rewrite_with(insns, &sites, prog_type, maps)?;
    Ok((out, sites))
}

/// Rewrites the given context accesses and resolves map references.
pub(crate) fn rewrite_with(
    insns: &[Insn],
    sites: &[CtxSite],
    prog_type: &dyn ProgramType,
    maps: &dyn MapResolver,
) -> Result<Vec<Insn>, VerifyError> {
    let mut out = insns.to_vec();
    for site in sites {
        out[site.pc] = convert_ctx_access(&insns[site.pc], site, prog_type)?;
    }
    for (pc, insn) in out.iter_mut().enumerate() {
        if let Insn::LdImm64 { .. } = insn {
            *insn = resolve_ldimm64(insn, pc, maps)?;
        }
    }
    Ok(out)
}

/// Rewrites one context access to the native context's layout.
fn convert_ctx_access(
    insn: &Insn,
    site: &CtxSite,
    prog_type: &dyn ProgramType,
) -> Result<Insn, VerifyError> {
    let pc = site.pc;
    let err = |msg: String| VerifyError::at(pc, msg);
    let native = prog_type
        .context_access(site.off, site.size, site.write)
        .map_err(|m| err(format!("{} program: {m}", prog_type.name())))?;
    // The base register still points `ptr_off` bytes into the (native)
    // context, so the instruction's offset is what remains.
    let off = i16::try_from(native.native_off as i32 - site.ptr_off).map_err(|_| {
        err(format!(
            "ctx access off={} through a pointer moved by {} cannot be rewritten",
            site.off, site.ptr_off
        ))
    })?;
    // A store or atomic must keep its size: widening a store would write
    // bytes the program did not mean to.
    let same_size = || {
        if native.native_size == site.size {
            Ok(())
        } else {
            Err(err(format!(
                "ctx write off={} size={} has a native field of {} bytes: not supported",
                site.off,
                site.size.bytes(),
                native.native_size.bytes()
            )))
        }
    };
    match *insn {
        Insn::Ldx { signed: true, .. } => Err(err(format!(
            "sign-extending ctx access off={} size={} is not supported",
            site.off,
            site.size.bytes()
        ))),
        Insn::Ldx { dst, src, .. } => Ok(Insn::Ldx {
            size: native.native_size,
            signed: false,
            dst,
            src,
            off,
        }),
        Insn::Stx { dst, src, size, .. } => same_size().map(|()| Insn::Stx {
            size,
            dst,
            src,
            off,
        }),
        Insn::St { dst, size, imm, .. } => same_size().map(|()| Insn::St {
            size,
            dst,
            off,
            imm,
        }),
        Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            ..
        } => same_size().map(|()| Insn::Atomic {
            size,
            op,
            fetch,
            dst,
            src,
            off,
        }),
        _ => Err(err(
            "verifier bug: ctx access at a non-memory insn".to_string()
        )),
    }
}

/// Resolves the pseudo forms of `lddw`: maps to addresses; function
/// addresses stay for the engines; kernel variables are errors.
fn resolve_ldimm64(insn: &Insn, pc: usize, maps: &dyn MapResolver) -> Result<Insn, VerifyError> {
    let Insn::LdImm64 { dst, pseudo, imm } = *insn else {
        return Ok(*insn);
    };
    // imm layout of the map pseudos: low 32 bits the map (fd or index),
    // high 32 bits (the second slot's imm) the value offset.
    let (index, hi) = (imm as u32, (imm >> 32) as u32);
    let value_off = match pseudo {
        Pseudo::Imm64 => return Ok(*insn),
        Pseudo::MapFd | Pseudo::MapIdx if hi != 0 => {
            return Err(VerifyError::at(
                pc,
                format!(
                    "unrecognized bpf_ld_imm64 insn: map reference with second imm {hi:#x} (must be 0)"
                ),
            ));
        }
        Pseudo::MapFd | Pseudo::MapIdx => None,
        Pseudo::MapValue | Pseudo::MapIdxValue => Some(hi),
        Pseudo::BtfId => {
            return Err(VerifyError::at(
                pc,
                format!("lddw of kernel variable btf_id {index} (ksym) is not supported"),
            ));
        }
        // A callback's address (bpf_loop, bpf_for_each_map_elem): the
        // structural checks made its target a subprogram start; each engine
        // turns it into what its helpers call back.
        Pseudo::Func => return Ok(*insn),
    };
    let addr = maps
        .resolve(index, value_off)
        .map_err(|m| VerifyError::at(pc, m))?;
    Ok(Insn::LdImm64 {
        dst,
        pseudo: Pseudo::Imm64,
        imm: addr,
    })
}
