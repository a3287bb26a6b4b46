//! A loaded program's code as text: the instructions after fixup
//! (`xlated`, what the engines run) and the JIT's x86-64 code (`jited`),
//! the counterparts of `bpftool prog dump xlated` and `prog dump jited`.
//!
//! The native code prints in Intel syntax with addresses as offsets from
//! the image's start, in blocks: before each block, the BPF instruction
//! it came from (its slot and the instruction in `rxdp disasm`'s syntax)
//! and, for objects with line info, the C source line that starts there.
//! A subprogram's prologue is a block of its own (found where calls land
//! or a callback's address points); its epilogue shows under its last
//! instruction. Targets outside the image (helpers) print as absolute
//! addresses. Map addresses the fixup wrote into `lddw` print
//! as `map[NAME]` / `map_value[NAME]+OFF`, as bpftool prints `map[id:N]`.

use iced_x86::{
    Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, MemorySizeOptions, Mnemonic,
    OpKind, SymbolResolver, SymbolResult,
};
use rxdp_isa::asm::MapDecl;
use rxdp_isa::{DisasmOptions, Insn, Pseudo};
use rxdp_object::Program;
use rxdp_xdp::{MapTable, XdpProgram};
use serde_json::{Value, json};
use std::fmt::Write;

/// One instruction after fixup.
pub(crate) struct XlatedInsn {
    /// Its slot.
    pub(crate) pc: usize,
    /// In `rxdp disasm`'s syntax, map addresses by name.
    pub(crate) text: String,
    /// Its encoding as it runs (16 bytes for a `lddw`).
    pub(crate) bytes: Vec<u8>,
}

/// The declarations of `maps`, for the disassembler to name them.
fn map_decls(maps: &MapTable) -> Vec<MapDecl> {
    maps.iter()
        .map(|m| {
            let d = m.map.def();
            MapDecl {
                name: m.name.clone(),
                map_type: d.map_type,
                key_size: d.key_size,
                value_size: d.value_size,
                max_entries: d.max_entries,
                flags: d.flags,
            }
        })
        .collect()
}

/// `insn` as it reads best: a `lddw` of the address of one of `maps` (or
/// of a value in it) turned back into its pseudo form, so that it prints
/// by name.
fn named(insn: &Insn, maps: &MapTable) -> Insn {
    let Insn::LdImm64 {
        dst,
        pseudo: Pseudo::Imm64,
        imm,
    } = *insn
    else {
        return *insn;
    };
    if let Some((i, _)) = maps.by_addr_indexed(imm) {
        return Insn::LdImm64 {
            dst,
            pseudo: Pseudo::MapIdx,
            imm: i as u64,
        };
    }
    for (i, m) in maps.iter().enumerate() {
        let Some(base) = m.map.direct_value_addr() else {
            continue;
        };
        let off = imm.wrapping_sub(base);
        if imm >= base && off < u64::from(m.map.def().value_size) {
            return Insn::LdImm64 {
                dst,
                pseudo: Pseudo::MapIdxValue,
                imm: i as u64 | off << 32,
            };
        }
    }
    *insn
}

/// The program's instructions after fixup, one per instruction (the
/// second slot of a `lddw` is part of the first).
pub(crate) fn xlated(p: &XdpProgram) -> Vec<XlatedInsn> {
    let decls = map_decls(p.maps());
    let opts = DisasmOptions {
        maps: &decls,
        helper_names: true,
        ..DisasmOptions::default()
    };
    p.xlated()
        .iter()
        .enumerate()
        .filter(|(_, i)| **i != Insn::LdImm64Hi)
        .map(|(pc, insn)| XlatedInsn {
            pc,
            text: rxdp_isa::disasm_insn(&named(insn, p.maps()), pc, &opts),
            bytes: rxdp_isa::encode(std::slice::from_ref(insn)),
        })
        .collect()
}

/// `--xlated` as text: `SLOT: INSN`, with `--opcodes` the bytes between.
pub(crate) fn xlated_text(name: &str, insns: &[XlatedInsn], opcodes: bool) -> String {
    let mut out = format!("{name}:\n");
    for i in insns {
        if opcodes {
            let _ = writeln!(out, "{:5}: {:<47} {}", i.pc, spaced_hex(&i.bytes), i.text);
        } else {
            let _ = writeln!(out, "{:5}: {}", i.pc, i.text);
        }
    }
    out
}

/// `--xlated` as JSON.
pub(crate) fn xlated_json(name: &str, insns: &[XlatedInsn]) -> Value {
    let v: Vec<Value> = insns
        .iter()
        .map(|i| json!({"insn": i.pc, "bpf": i.text, "bytes": crate::input::hex(&i.bytes)}))
        .collect();
    json!({"name": name, "insns": v})
}

/// One x86-64 instruction of an image.
struct NativeInsn {
    /// Offset from the image's start.
    offset: usize,
    /// Its bytes.
    len: usize,
    /// Intel syntax.
    asm: String,
}

/// What a block of native code came from.
enum Origin {
    /// The prologue of subprogram `subprog` (0 the main program), named
    /// `name`, whose first slot is `start`.
    Prologue {
        subprog: usize,
        name: Option<String>,
        start: usize,
    },
    /// BPF instruction `pc`, with the C line that starts there, if known.
    Insn {
        pc: usize,
        bpf: String,
        source: Option<String>,
    },
}

/// Native code and where it came from.
struct Block {
    origin: Origin,
    /// Where its code starts.
    offset: usize,
    code: Vec<NativeInsn>,
}

/// A compiled program, disassembled.
pub(crate) struct JitedDump {
    name: String,
    slots: usize,
    code: Vec<u8>,
    exec_addr: u64,
    blocks: Vec<Block>,
}

/// Names branch targets and rip-relative addresses outside the image by
/// their absolute address (helpers); targets inside stay offsets.
struct Outside {
    len: u64,
    exec_addr: u64,
}

impl SymbolResolver for Outside {
    fn symbol(
        &mut self,
        instruction: &Instruction,
        _operand: u32,
        instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        let op = instruction_operand?;
        let relative = match instruction.op_kind(op) {
            OpKind::NearBranch64 | OpKind::NearBranch32 | OpKind::NearBranch16 => true,
            OpKind::Memory => instruction.is_ip_rel_memory_operand(),
            _ => false,
        };
        (relative && address >= self.len).then(|| {
            SymbolResult::with_string(
                address,
                format!("{:#x}", address.wrapping_add(self.exec_addr)),
            )
        })
    }
}

/// Every instruction of `code`, decoded as if it started at 0.
fn decode(code: &[u8], exec_addr: u64) -> Vec<(NativeInsn, Option<usize>)> {
    let mut fmt = IntelFormatter::with_options(
        Some(Box::new(Outside {
            len: code.len() as u64,
            exec_addr,
        })),
        None,
    );
    let o = fmt.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_first_operand_char_index(7);
    o.set_space_after_operand_separator(true);
    o.set_branch_leading_zeros(false);
    o.set_memory_size_options(MemorySizeOptions::Always);
    o.set_signed_immediate_operands(true);
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut out = Vec::new();
    let mut insn = Instruction::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        let mut asm = String::new();
        fmt.format(&insn, &mut asm);
        // A near call inside the image enters a subprogram, and so does
        // an address taken rip-relative (a callback's).
        let near_call =
            insn.mnemonic() == Mnemonic::Call && insn.op0_kind() == OpKind::NearBranch64;
        let target = if near_call {
            Some(insn.near_branch_target())
        } else if insn.mnemonic() == Mnemonic::Lea && insn.is_ip_rel_memory_operand() {
            Some(insn.ip_rel_memory_address())
        } else {
            None
        };
        let entry = target
            .and_then(|t| usize::try_from(t).ok())
            .filter(|&t| t < code.len());
        let offset = insn.ip() as usize;
        // An undecodable tail shorter than an instruction still advances.
        let len = insn.len().max(1).min(code.len() - offset);
        out.push((NativeInsn { offset, len, asm }, entry));
    }
    out
}

/// The C source line that starts at slot `pc`, if the object says.
fn source_at(obj: Option<&Program>, pc: usize) -> Option<String> {
    let l = obj?.line_info.iter().rev().find(|l| l.insn == pc)?;
    let file = l.file.rsplit('/').next().unwrap_or(&l.file);
    Some(format!("{file}:{}: {}", l.line, l.text.trim()))
}

/// Disassembles `p`'s native code, or says why there is none (the reason
/// in words). `name` heads the dump; `obj`, the program as the object
/// holds it, gives subprogram names and source lines.
pub(crate) fn jited(
    name: &str,
    p: &XdpProgram,
    obj: Option<&Program>,
) -> Result<JitedDump, String> {
    let image = p.jit().map_err(|_| p.jit_fallback().unwrap_or_default())?;
    let code = image.bytes();
    let offsets = image.insn_offsets();
    let natives = decode(code, image.exec_addr());
    let entries: Vec<usize> = natives.iter().filter_map(|(_, e)| *e).collect();
    let xlated = xlated(p);
    let subprogs = &p.verification().structure.subprogs;
    let offset_of = |pc: usize| offsets.get(pc).map_or(code.len(), |&o| o as usize);
    let mut blocks = Vec::new();
    let mut last_source = None;
    for (k, sub) in subprogs.iter().enumerate() {
        // A subprogram's entry is where calls land (or a callback's
        // address points), before its first slot and after the last slot
        // of the one before.
        let first = offset_of(sub.start);
        let entry = if k == 0 {
            0
        } else {
            let after = offset_of(sub.start.saturating_sub(1));
            entries
                .iter()
                .copied()
                .filter(|&c| c > after && c <= first)
                .min()
                .unwrap_or(first)
        };
        let sub_name = obj.and_then(|o| {
            if k == 0 {
                Some(o.name.clone())
            } else {
                o.subprogs
                    .iter()
                    .find(|s| s.start == sub.start)
                    .map(|s| s.name.clone())
            }
        });
        blocks.push(Block {
            origin: Origin::Prologue {
                subprog: k,
                name: sub_name,
                start: sub.start,
            },
            offset: entry,
            code: Vec::new(),
        });
        for x in xlated
            .iter()
            .filter(|x| (sub.start..sub.end).contains(&x.pc))
        {
            // A line once, where it starts (the compiler repeats it, one
            // record per column).
            let source = source_at(obj, x.pc).filter(|s| last_source.as_ref() != Some(s));
            if source.is_some() {
                last_source.clone_from(&source);
            }
            blocks.push(Block {
                origin: Origin::Insn {
                    pc: x.pc,
                    bpf: x.text.clone(),
                    source,
                },
                offset: offset_of(x.pc),
                code: Vec::new(),
            });
        }
    }
    blocks.sort_by_key(|b| b.offset);
    for (n, _) in natives {
        // The last block starting at or before the instruction holds it.
        let i = blocks.partition_point(|b| b.offset <= n.offset);
        if let Some(b) = i.checked_sub(1).and_then(|i| blocks.get_mut(i)) {
            b.code.push(n);
        }
    }
    Ok(JitedDump {
        name: name.to_string(),
        slots: p.xlated().len(),
        code: code.to_vec(),
        exec_addr: image.exec_addr(),
        blocks,
    })
}

/// Bytes as `55 48 89 e5`.
fn spaced_hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

impl JitedDump {
    /// The dump as text: a header with the native size, then the blocks,
    /// each under its BPF instruction (`; SLOT: INSN`) or `; prologue`,
    /// one x86 instruction a line (`OFFSET:<tab>[BYTES<tab>]ASM`).
    pub(crate) fn text(&self, opcodes: bool) -> String {
        let width = self
            .blocks
            .iter()
            .flat_map(|b| &b.code)
            .map(|n| n.len * 3)
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "{}: {} bytes of native code for {} BPF insns\n",
            self.name,
            self.code.len(),
            self.slots
        );
        for b in &self.blocks {
            match &b.origin {
                Origin::Prologue {
                    subprog: 0, name, ..
                } => {
                    let _ = match name {
                        Some(n) if *n != self.name => writeln!(out, "; prologue of {n}"),
                        _ => writeln!(out, "; prologue"),
                    };
                }
                Origin::Prologue {
                    subprog,
                    name,
                    start,
                } => {
                    let _ = match name {
                        Some(n) => writeln!(out, "\n{n} (subprog {subprog}, insn {start}):"),
                        None => writeln!(out, "\nsubprog {subprog} (insn {start}):"),
                    };
                    let _ = writeln!(out, "; prologue");
                }
                Origin::Insn { pc, bpf, source } => {
                    if let Some(s) = source {
                        let _ = writeln!(out, "; {s}");
                    }
                    let _ = writeln!(out, "; {pc}: {bpf}");
                }
            }
            for n in &b.code {
                if opcodes {
                    let bytes = spaced_hex(&self.code[n.offset..n.offset + n.len]);
                    let _ = writeln!(out, "{:4x}:\t{bytes:<width$}\t{}", n.offset, n.asm);
                } else {
                    let _ = writeln!(out, "{:4x}:\t{}", n.offset, n.asm);
                }
            }
        }
        out
    }

    /// The dump as JSON: name, sizes, the address the code runs at, and
    /// the blocks with every instruction's offset, bytes and text.
    pub(crate) fn json(&self) -> Value {
        let blocks: Vec<Value> = self
            .blocks
            .iter()
            .map(|b| {
                let code: Vec<Value> = b
                    .code
                    .iter()
                    .map(|n| {
                        json!({
                            "offset": n.offset,
                            "bytes": crate::input::hex(&self.code[n.offset..n.offset + n.len]),
                            "asm": n.asm,
                        })
                    })
                    .collect();
                match &b.origin {
                    Origin::Prologue {
                        subprog,
                        name,
                        start,
                    } => json!({
                        "prologue": subprog,
                        "subprog_name": name,
                        "first_insn": start,
                        "offset": b.offset,
                        "code": code,
                    }),
                    Origin::Insn { pc, bpf, source } => {
                        let mut v =
                            json!({"insn": pc, "bpf": bpf, "offset": b.offset, "code": code});
                        if let Some(s) = source {
                            v["source"] = json!(s);
                        }
                        v
                    }
                }
            })
            .collect();
        json!({
            "name": self.name,
            "insns": self.slots,
            "native_size": self.code.len(),
            "exec_addr": format!("{:#x}", self.exec_addr),
            "blocks": blocks,
        })
    }
}

/// What `--json` says of a program the JIT did not compile.
pub(crate) fn not_jited_json(name: &str, why: &str) -> Value {
    json!({"name": name, "not_jited": why})
}
