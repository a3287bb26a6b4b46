//! A program as the object defines it: linked with its subprograms, its
//! map references numbered, its source lines attached; and the kernel's
//! program tag.

use crate::error::ObjectError;
use crate::secdef::SecDef;
use rxdp_isa::{Insn, Pseudo, RawInsn, encode_raw};
use sha1::{Digest, Sha1};

/// `BPF_F_SLEEPABLE`, a `prog_flags` bit.
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// `BPF_F_XDP_HAS_FRAGS`, a `prog_flags` bit: the XDP program handles
/// multi-buffer frames.
pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// The source position of an instruction (a `.BTF.ext` line_info record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Slot index in the linked program.
    pub insn: usize,
    /// Source file name as the compiler saw it.
    pub file: String,
    /// Line number (1-based).
    pub line: u32,
    /// Column (1-based; 0 when unknown).
    pub col: u32,
    /// The text of the source line.
    pub text: String,
}

/// Where a function starts (a `.BTF.ext` func_info record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// First slot in the linked program.
    pub insn: usize,
    /// The BTF `FUNC` type id.
    pub type_id: u32,
    /// The function's name from BTF.
    pub name: String,
}

/// A subprogram appended to a program by linking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subprog {
    /// The function's symbol name.
    pub name: String,
    /// The ELF section it came from (`.text` usually).
    pub section: String,
    /// Its first slot in the linked program.
    pub start: usize,
    /// Its number of slots.
    pub len: usize,
}

/// One program: an entry function of a program section, linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The function's name (the ELF symbol).
    pub name: String,
    /// The ELF section, as written in `SEC()` (with any `?` prefix).
    pub section: String,
    /// The entry of libbpf's section table that the section matched.
    pub sec_def: SecDef,
    /// `enum bpf_prog_type` (6 for XDP).
    pub prog_type: u32,
    /// `enum bpf_attach_type` given at load: `BPF_XDP` (37),
    /// `BPF_XDP_DEVMAP` (33), `BPF_XDP_CPUMAP` (35), ...
    pub expected_attach_type: u32,
    /// Multi-buffer XDP (`xdp.frags*` sections).
    pub frags: bool,
    /// Whether libbpf would load it by default (`false` for `SEC("?...")`).
    pub autoload: bool,
    /// The linked instructions, one per slot: the program's own, then
    /// every subprogram it reaches. Calls are `CallKind::Local` to the
    /// appended copies, callbacks `Pseudo::Func`, maps `Pseudo::MapIdx`
    /// (imm = index into `Object::maps`), global data
    /// `Pseudo::MapIdxValue` (imm = index | offset << 32).
    pub insns: Vec<Insn>,
    /// Number of slots of the program's own body, before the
    /// subprograms.
    pub own_len: usize,
    /// The appended subprograms, in order.
    pub subprogs: Vec<Subprog>,
    /// func_info records, adjusted to the linked slots.
    pub func_info: Vec<FuncInfo>,
    /// line_info records, adjusted to the linked slots, in slot order.
    pub line_info: Vec<LineInfo>,
    /// Why rxdp cannot run this program (CO-RE relocations, kfunc calls,
    /// extern variables), if anything; the object still parses.
    pub unsupported: Option<String>,
}

impl Program {
    /// `prog_flags` for `BPF_PROG_LOAD`: `BPF_F_XDP_HAS_FRAGS` for
    /// `xdp.frags*`, `BPF_F_SLEEPABLE` for sleepable sections.
    pub fn prog_flags(&self) -> u32 {
        let mut flags = 0;
        if self.frags {
            flags |= BPF_F_XDP_HAS_FRAGS;
        }
        if self.sec_def.flags.sleepable {
            flags |= BPF_F_SLEEPABLE;
        }
        flags
    }

    /// `Ok` if rxdp can run the program, else the error naming what it
    /// needs.
    pub fn check_supported(&self) -> Result<(), ObjectError> {
        match &self.unsupported {
            None => Ok(()),
            Some(what) => Err(ObjectError::Unsupported {
                program: self.name.clone(),
                what: what.clone(),
            }),
        }
    }

    /// The source line of slot `insn`: the last line_info record at or
    /// before it.
    pub fn line_of(&self, insn: usize) -> Option<&LineInfo> {
        let i = self.line_info.partition_point(|l| l.insn <= insn);
        self.line_info[..i].last()
    }

    /// The instructions as raw slots, as they would be given to the
    /// kernel with map indices (`BPF_PSEUDO_MAP_IDX*`).
    pub fn raw_insns(&self) -> Vec<RawInsn> {
        encode_raw(&self.insns)
    }

    /// The kernel's program tag (`bpf_prog_calc_tag`, kernel/bpf/core.c),
    /// computed with SHA-1 as kernels before 6.18 do: the first 8 bytes of
    /// the digest of the instructions as libbpf submits them, map
    /// references in the `BPF_PSEUDO_MAP_FD`/`MAP_VALUE` form, with the
    /// immediates of both `lddw` slots (fd and value offset) zeroed since
    /// fds are not stable.
    pub fn tag(&self) -> [u8; 8] {
        let digest = Sha1::digest(self.tag_input());
        first8(&digest)
    }

    /// The program tag as kernels from 6.18 compute it: the same input
    /// hashed with SHA-256.
    pub fn tag_sha256(&self) -> [u8; 8] {
        let digest = sha2::Sha256::digest(self.tag_input());
        first8(&digest)
    }

    /// The bytes the kernel hashes for the tag.
    fn tag_input(&self) -> Vec<u8> {
        tag_input(&self.insns)
    }
}

fn first8(digest: &[u8]) -> [u8; 8] {
    let mut tag = [0; 8];
    tag.copy_from_slice(&digest[..8]);
    tag
}

/// The kernel's tag input for `insns`: map index forms are first turned
/// into the fd forms libbpf submits (src 5 → 1, 6 → 2); then, as
/// `bpf_prog_calc_tag` does, the imm of a map `lddw` and of the slot after
/// it (if that slot is a well-formed second half) is zeroed.
pub fn tag_input(insns: &[Insn]) -> Vec<u8> {
    const LDDW: u8 = 0x18;
    let mut raw = encode_raw(insns);
    for r in raw.iter_mut().filter(|r| r.code == LDDW) {
        match Pseudo::from_code(r.src) {
            Some(Pseudo::MapIdx) => r.src = Pseudo::MapFd.code(),
            Some(Pseudo::MapIdxValue) => r.src = Pseudo::MapValue.code(),
            _ => {}
        }
    }
    let mut was_ld_map = false;
    for r in raw.iter_mut() {
        let is_map_ld =
            r.code == LDDW && (r.src == Pseudo::MapFd.code() || r.src == Pseudo::MapValue.code());
        if !was_ld_map && is_map_ld {
            was_ld_map = true;
            r.imm = 0;
        } else if was_ld_map && r.code == 0 && r.dst == 0 && r.src == 0 && r.off == 0 {
            was_ld_map = false;
            r.imm = 0;
        } else {
            was_ld_map = false;
        }
    }
    raw.iter().flat_map(|r| r.to_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxdp_isa::{AluOp, Operand, Reg, Width};

    fn lddw(pseudo: Pseudo, imm: u64) -> [Insn; 2] {
        [
            Insn::LdImm64 {
                dst: Reg::R1,
                pseudo,
                imm,
            },
            Insn::LdImm64Hi,
        ]
    }

    fn slots(bytes: &[u8]) -> Vec<[u8; 8]> {
        bytes.chunks(8).map(|c| c.try_into().unwrap()).collect()
    }

    #[test]
    fn tag_input_zeroes_map_references_in_fd_form() {
        let mut insns = Vec::new();
        insns.extend(lddw(Pseudo::MapIdx, 3));
        insns.extend(lddw(Pseudo::MapIdxValue, 2 | 40 << 32));
        insns.extend(lddw(Pseudo::Imm64, 0x1122_3344_5566_7788));
        insns.push(Insn::Exit);
        let s = slots(&tag_input(&insns));
        // src 5 -> 1 (MAP_FD), imm zeroed in both halves.
        assert_eq!(s[0], [0x18, 0x11, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s[1], [0; 8]);
        // src 6 -> 2 (MAP_VALUE), the offset in the second half zeroed too.
        assert_eq!(s[2], [0x18, 0x21, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s[3], [0; 8]);
        // A plain 64-bit constant is hashed as is.
        assert_eq!(s[4], [0x18, 0x01, 0, 0, 0x88, 0x77, 0x66, 0x55]);
        assert_eq!(s[5], [0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11]);
        assert_eq!(s[6], [0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn tag_ignores_map_numbering_but_not_code() {
        let prog = |map: u64, k: i32| {
            let mut p = Program {
                name: "p".into(),
                section: "xdp".into(),
                sec_def: *crate::secdef::find_sec_def("xdp").unwrap(),
                prog_type: 6,
                expected_attach_type: 37,
                frags: false,
                autoload: true,
                insns: lddw(Pseudo::MapIdx, map).to_vec(),
                own_len: 4,
                subprogs: Vec::new(),
                func_info: Vec::new(),
                line_info: Vec::new(),
                unsupported: None,
            };
            p.insns.push(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Imm(k),
            });
            p.insns.push(Insn::Exit);
            p
        };
        assert_eq!(prog(0, 2).tag(), prog(7, 2).tag());
        assert_ne!(prog(0, 2).tag(), prog(0, 1).tag());
        assert_eq!(prog(0, 2).tag_sha256(), prog(7, 2).tag_sha256());
        assert_ne!(prog(0, 2).tag(), prog(0, 2).tag_sha256());
    }
}
