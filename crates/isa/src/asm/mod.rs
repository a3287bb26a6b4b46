//! The assembler: eBPF programs from text, in the C-like syntax that
//! llvm-objdump prints and the kernel's verifier log uses, so that either
//! can be pasted in. [`crate::disasm`](mod@crate::disasm) prints the same syntax back.
//!
//! # Syntax
//!
//! One instruction per line. Comments start with `;`, `//`, or `#` (after
//! whitespace). Numbers are decimal or `0x` hex; a 32-bit immediate may be
//! written signed or as its unsigned bit pattern (`0xffffffff` is `-1`, as
//! the kernel log prints jump immediates). `r0`..`r10` name 64-bit
//! operations, `w0`..`w10` 32-bit ones (ALU and JMP32 classes).
//!
//! | form | instruction |
//! |---|---|
//! | `r0 = 1`, `w0 = 1`, `r1 = r2`, `r1 += 5`, `w1 s>>= 2`, `r1 s/= r2`, `r1 s%= r2` | ALU |
//! | `r0 = -r0` | neg |
//! | `r1 = (s8)r2`, `w1 = (s16)w2`, `r1 = (s32)r2` | sign-extending mov |
//! | `r0 = be16 r0`, `r0 = le32 r0`, `r0 = bswap64 r0` | byte order |
//! | `r1 = 0x1122334455667788 ll` | `lddw` (without `ll`, `r1 = imm` is a mov) |
//! | `r0 = *(u32 *)(r1 + 4)`, `r0 = *(s8 *)(r1 - 2)`, `w0 = *(u8 *)(r1 + 0)` | load |
//! | `*(u64 *)(r10 - 8) = r1`, `*(u32 *)(r10 - 4) = 7` | store register / immediate |
//! | `lock *(u64 *)(r1 + 0) += r2` (also `\|=`, `&=`, `^=`; `(u32 *)` with `w2`) | atomic |
//! | `r0 = atomic_fetch_add((u64 *)(r1 + 0), r0)` (also `_or`, `_and`, `_xor`) | fetching atomic |
//! | `r0 = xchg_64(r1 + 0, r0)`, `w0 = xchg32_32(r1 + 0, w0)` | exchange |
//! | `r0 = cmpxchg_64(r1 + 0, r0, r2)`, `w0 = cmpxchg32_32(r1 + 0, w0, w2)` | compare-exchange |
//! | `r0 = *(u8 *)skb[23]`, `r0 = *(u16 *)skb[r1 + 4]`, `skb[r1]` | legacy packet loads |
//! | `goto +3`, `goto LABEL`, `gotol +70000` | jumps |
//! | `if r1 > r2 goto +3`, `if w1 s< -1 goto LABEL`, `if r1 & 0x10 goto LABEL` | conditional jumps |
//! | `call 1`, `call bpf_map_lookup_elem`, `call map_lookup_elem` | helper call |
//! | `call LABEL`, `call pc+5` | bpf-to-bpf call |
//! | `call kfunc#123` (also `kfunc:123`) | kfunc call by BTF id |
//! | `callx r5`, `exit` | |
//!
//! Jump and call offsets count slots from the next instruction. Both
//! spellings of a jump target are accepted: llvm's `+3` and the kernel's
//! `pc+3`; a trailing `<LBB0_4>` (llvm-objdump's symbolization) is ignored.
//! The kernel log's other spellings are accepted too: `(r1 +4)`,
//! `atomic64_fetch_add((u64 *)(r1 +0), r1)`, `atomic64_xchg(...)`,
//! `atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)`, `call bpf_map_lookup_elem#1`
//! (a helper) and `call NAME#ID` for any other NAME (a kfunc).
//!
//! Listings paste as they are: a leading `12:` (verifier log slot, or
//! llvm-objdump offset followed by raw bytes) and `(bf)` (the log's opcode)
//! are skipped; with `(18)` a plain `r1 = 0x...` is a `lddw`, as the log
//! prints it. Register-state lines (`12: R1=ctx()`), relocation lines and
//! `0000000000000000 <prog>:` (a label) are understood.
//!
//! # Labels, subprograms and maps
//!
//! `name:` labels the next instruction; any jump, call or `func[...]`
//! may name one, before or after its definition. A file may hold several
//! subprograms, each starting at a label; execution starts at the first
//! instruction. A name used by `call` is a label if one is defined, else a
//! helper name.
//!
//! `.map NAME type=hash key=4 value=8 entries=1024 [flags=1]` declares a
//! map (type by name, `BPF_MAP_TYPE_*` name or number; see
//! [`crate::maptype`]); maps are numbered in declaration order.
//!
//! `lddw` with a pseudo source is written by its kind; the high 32 bits
//! of the immediate follow as `+N` (a map value offset; must be 0 for the
//! kinds that have none, but is accepted so that every encoding has a
//! spelling):
//!
//! | form | pseudo (`src`) | immediate |
//! |---|---|---|
//! | `r1 = map[NAME] ll`, `map[3]` | `MapIdx` (5) | map index |
//! | `r1 = map_value[NAME]+8 ll`, `map_value[3]+8` | `MapIdxValue` (6) | index, offset in the high half |
//! | `r1 = map_fd[3] ll` | `MapFd` (1) | fd |
//! | `r1 = map_fd_value[3]+8 ll` | `MapValue` (2) | fd, offset |
//! | `r1 = btf_id[7] ll` | `BtfId` (3) | BTF id |
//! | `r1 = func[LABEL] ll`, `func[+5]` | `Func` (4) | slots from the next instruction |
//!
//! The `ll` is optional on these. clang's assembly output `r1 = NAME ll`
//! also works: a map name gives `map[NAME]`, a label `func[NAME]`.

mod error;
mod forms;
mod lexer;
mod parser;
mod resolve;

pub use error::AsmError;

use crate::insn::Insn;

/// A map declared with `.map`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapDecl {
    /// Its name, used as `map[NAME]`.
    pub name: String,
    /// `BPF_MAP_TYPE_*` (see [`crate::maptype`]).
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub flags: u32,
}

/// An assembled program.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Assembled {
    /// One instruction per 8-byte slot, `LdImm64` followed by
    /// `LdImm64Hi`, exactly as [`crate::decode`] returns them.
    pub insns: Vec<Insn>,
    /// The declared maps, in declaration order (`map[i]` is `maps[i]`).
    pub maps: Vec<MapDecl>,
    /// Labels and the slots they mark, in definition order.
    pub labels: Vec<(String, usize)>,
}

/// Assembles a whole source text.
pub fn assemble(src: &str) -> Result<Assembled, AsmError> {
    resolve::assemble(src)
}
