//! The instruction forms: what follows a line's first word, turned into
//! an [`Insn`]. The line-level syntax (prefixes, labels, directives) and
//! the operand parsers live in [`super::parser`].

use super::lexer::{Kind, Tok};
use super::parser::{
    FixKind, Fixup, PResult, Parser, RegW, Target, parse_reg_name, to_imm32, to_imm64,
};
use crate::insn::{
    AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width,
};

/// Operator tokens of ALU instructions, with their operation.
const ALU_OPS: &[(&str, AluOp)] = &[
    ("+=", AluOp::Add),
    ("-=", AluOp::Sub),
    ("*=", AluOp::Mul),
    ("/=", AluOp::Div),
    ("s/=", AluOp::Sdiv),
    ("%=", AluOp::Mod),
    ("s%=", AluOp::Smod),
    ("|=", AluOp::Or),
    ("&=", AluOp::And),
    ("<<=", AluOp::Lsh),
    (">>=", AluOp::Rsh),
    ("s>>=", AluOp::Arsh),
    ("^=", AluOp::Xor),
];

/// Condition tokens of conditional jumps.
const CONDS: &[(&str, Cond)] = &[
    ("==", Cond::Eq),
    ("!=", Cond::Ne),
    (">", Cond::Gt),
    (">=", Cond::Ge),
    ("<", Cond::Lt),
    ("<=", Cond::Le),
    ("&", Cond::Set),
    ("s>", Cond::Sgt),
    ("s>=", Cond::Sge),
    ("s<", Cond::Slt),
    ("s<=", Cond::Sle),
];

/// Operator tokens of non-fetching atomics (`lock *(u64 *)(r1 + 0) += r2`).
const LOCK_OPS: &[(&str, AtomicOp)] = &[
    ("+=", AtomicOp::Add),
    ("|=", AtomicOp::Or),
    ("&=", AtomicOp::And),
    ("^=", AtomicOp::Xor),
];

/// The pseudo `lddw` forms by keyword.
const PSEUDOS: &[(&str, Pseudo)] = &[
    ("map", Pseudo::MapIdx),
    ("map_value", Pseudo::MapIdxValue),
    ("map_fd", Pseudo::MapFd),
    ("map_fd_value", Pseudo::MapValue),
    ("btf_id", Pseudo::BtfId),
    ("func", Pseudo::Func),
];

impl<'a> Parser<'a> {
    pub(super) fn instruction(&mut self) -> PResult<(Insn, Option<Fixup>)> {
        let t = self.peek().expect("caller checked a token is left");
        if self.peek_is_reg() {
            return self.assignment();
        }
        if t.is_punct("*") {
            return Ok((self.store()?, None));
        }
        self.pos += 1;
        match t.text.as_str() {
            "exit" => Ok((Insn::Exit, None)),
            "goto" | "ja" => self.goto(false),
            "gotol" => self.goto(true),
            "if" => self.cond_jump(),
            "call" => self.call(),
            "callx" => Ok((
                Insn::Callx {
                    dst: self.reg_of(Width::W64, "the call target")?,
                },
                None,
            )),
            "lock" => Ok((self.lock()?, None)),
            _ => self.err(t.col, format!("unknown instruction `{}`", t.text)),
        }
    }

    fn goto(&mut self, long: bool) -> PResult<(Insn, Option<Fixup>)> {
        let col = self.col();
        match self.target()? {
            Target::Rel(v) if long => match i32::try_from(v) {
                Ok(off) => Ok((Insn::Ja { off, long }, None)),
                Err(_) => self.err(col, format!("gotol offset {v} does not fit in 32 bits")),
            },
            Target::Rel(v) => match i16::try_from(v) {
                Ok(off) => Ok((
                    Insn::Ja {
                        off: off.into(),
                        long,
                    },
                    None,
                )),
                Err(_) => self.err(
                    col,
                    format!("goto offset {v} does not fit in 16 bits; use gotol"),
                ),
            },
            Target::Label(name, col) => {
                let kind = if long {
                    FixKind::JumpLong
                } else {
                    FixKind::Jump
                };
                Ok((Insn::Ja { off: 0, long }, self.fixup(kind, name, col)))
            }
        }
    }

    fn cond_jump(&mut self) -> PResult<(Insn, Option<Fixup>)> {
        let dst = self.reg()?;
        let t = self.next("a condition")?;
        let Some(&(_, cond)) = CONDS.iter().find(|(s, _)| t.is_punct(s)) else {
            return self.err(
                t.col,
                format!(
                    "expected a condition (==, !=, >, s<, &, ...), found `{}`",
                    t.text
                ),
            );
        };
        let src = self.operand(dst.width)?;
        self.expect_ident("goto")?;
        let col = self.col();
        let mut insn = Insn::Jmp {
            width: dst.width,
            cond,
            dst: dst.reg,
            src,
            off: 0,
        };
        match self.target()? {
            Target::Rel(v) => {
                let Ok(v) = i16::try_from(v) else {
                    return self.err(col, format!("jump offset {v} does not fit in 16 bits"));
                };
                if let Insn::Jmp { off, .. } = &mut insn {
                    *off = v;
                }
                Ok((insn, None))
            }
            Target::Label(name, col) => Ok((insn, self.fixup(FixKind::Jump, name, col))),
        }
    }

    fn call(&mut self) -> PResult<(Insn, Option<Fixup>)> {
        let t = self.next("a call target")?;
        let next = self.peek();
        let insn = if t.is_ident("pc") && next.is_some_and(|n| n.is_punct("+") || n.is_punct("-")) {
            Insn::Call(CallKind::Local(self.imm32()?))
        } else if t.kind == Kind::Ident && next.is_some_and(|n| n.is_punct("#")) {
            self.pos += 1;
            self.call_name_id(t)?
        } else if t.is_ident("kfunc") && next.is_some_and(|n| n.is_punct(":")) {
            self.pos += 1;
            Insn::Call(CallKind::Kfunc(self.imm32()?))
        } else if t.is_ident("kernel")
            && next.is_some_and(|n| n.is_punct("-"))
            && self.peek_at(1).is_some_and(|n| n.is_ident("function"))
        {
            // Older kernels log a kfunc call as `call kernel-function#ID`.
            self.pos += 2;
            self.expect_punct("#")?;
            Insn::Call(CallKind::Kfunc(self.imm32()?))
        } else if t.kind == Kind::Ident {
            self.skip_objdump_symbol();
            return Ok((
                Insn::Call(CallKind::Helper(0)),
                self.fixup(FixKind::Call, t.text.clone(), t.col),
            ));
        } else {
            self.pos -= 1;
            Insn::Call(CallKind::Helper(self.imm32()?))
        };
        self.skip_objdump_symbol();
        Ok((insn, None))
    }

    /// The kernel log's `call NAME#ID`: a helper when NAME is one, else a
    /// kfunc (the log prints kfuncs by their BTF name, or as
    /// `kernel-function`).
    fn call_name_id(&mut self, name: &Tok) -> PResult<Insn> {
        let col = self.col();
        let id = self.imm32()?;
        match crate::helper_id::helper_by_name(&name.text) {
            Some(h) if h == id => Ok(Insn::Call(CallKind::Helper(id))),
            Some(h) => self.err(col, format!("helper `{}` is #{h}, not #{id}", name.text)),
            None => Ok(Insn::Call(CallKind::Kfunc(id))),
        }
    }

    fn lock(&mut self) -> PResult<Insn> {
        self.expect_punct("*")?;
        let (size, dst, off) = self.atomic_target()?;
        let t = self.next("an atomic operator")?;
        let Some(&(_, op)) = LOCK_OPS.iter().find(|(s, _)| t.is_punct(s)) else {
            return self.err(
                t.col,
                format!("expected +=, |=, &= or ^=, found `{}`", t.text),
            );
        };
        let src = self.atomic_reg(size)?;
        Ok(Insn::Atomic {
            size,
            op,
            fetch: false,
            dst,
            src,
            off,
        })
    }

    /// `(u64 *)(rB + off)` of an atomic: only 32 and 64 bits exist.
    fn atomic_target(&mut self) -> PResult<(Size, Reg, i16)> {
        let col = self.col();
        let (size, signed) = self.size_cast()?;
        if signed || !matches!(size, Size::W | Size::DW) {
            return self.err(col, "atomic operations are (u32 *) or (u64 *)");
        }
        let (dst, off) = self.address()?;
        Ok((size, dst, off))
    }

    /// An atomic's value register: `r` for 64 bits; `w` (llvm) or `r` (the
    /// kernel log) for 32.
    fn atomic_reg(&mut self, size: Size) -> PResult<Reg> {
        if size == Size::DW {
            self.reg_of(Width::W64, "a 64-bit atomic operand")
        } else {
            Ok(self.reg()?.reg)
        }
    }

    fn store(&mut self) -> PResult<Insn> {
        self.expect_punct("*")?;
        let col = self.col();
        let (size, signed) = self.size_cast()?;
        if signed {
            return self.err(col, "stores take an unsigned size (u8, u16, u32, u64)");
        }
        let (dst, off) = self.address()?;
        self.expect_punct("=")?;
        if !self.peek_is_reg() {
            let imm = self.imm32()?;
            return Ok(Insn::St {
                size,
                dst,
                off,
                imm,
            });
        }
        let src = if size == Size::DW {
            self.reg_of(Width::W64, "a 64-bit store's source")?
        } else {
            self.reg()?.reg
        };
        Ok(Insn::Stx {
            size,
            dst,
            src,
            off,
        })
    }

    fn assignment(&mut self) -> PResult<(Insn, Option<Fixup>)> {
        self.dst_col = self.col();
        let dst = self.reg()?;
        let t = self.next("an operator")?;
        if t.is_punct("=") {
            return self.rhs(dst);
        }
        let Some(&(_, op)) = ALU_OPS.iter().find(|(s, _)| t.is_punct(s)) else {
            return self.err(
                t.col,
                format!("expected an assignment operator, found `{}`", t.text),
            );
        };
        let src = self.operand(dst.width)?;
        Ok((
            Insn::Alu {
                width: dst.width,
                op,
                dst: dst.reg,
                src,
            },
            None,
        ))
    }

    /// What follows `dst =`.
    fn rhs(&mut self, dst: RegW) -> PResult<(Insn, Option<Fixup>)> {
        let Some(t) = self.peek() else {
            return self.err(self.end_col, "expected a value after `=`");
        };
        if self.peek_is_reg() {
            let src = self.reg_of(dst.width, "the source")?;
            return Ok((
                Insn::Alu {
                    width: dst.width,
                    op: AluOp::Mov,
                    dst: dst.reg,
                    src: Operand::Reg(src),
                },
                None,
            ));
        }
        let next_is_reg = self
            .peek_at(1)
            .is_some_and(|n| n.kind == Kind::Ident && parse_reg_name(&n.text).is_some());
        if t.is_punct("-") && next_is_reg {
            self.pos += 1;
            return Ok((self.neg(dst)?, None));
        }
        if t.is_punct("(") {
            return Ok((self.movsx(dst)?, None));
        }
        if t.is_punct("*") {
            self.pos += 1;
            return Ok((self.load(dst)?, None));
        }
        if t.kind == Kind::Ident {
            return self.named_rhs(dst, t);
        }
        self.immediate(dst)
    }

    fn neg(&mut self, dst: RegW) -> PResult<Insn> {
        let col = self.col();
        let src = self.reg()?;
        if src != dst {
            return self.err(col, "negation works in place: write `rX = -rX`");
        }
        Ok(Insn::Neg {
            width: dst.width,
            dst: dst.reg,
        })
    }

    fn movsx(&mut self, dst: RegW) -> PResult<Insn> {
        self.pos += 1;
        let t = self.next("a sign-extension width")?;
        let from = match t.text.as_str() {
            "s8" => Size::B,
            "s16" => Size::H,
            "s32" if dst.width == Width::W64 => Size::W,
            "s32" => return self.err(t.col, "`(s32)` needs a 64-bit destination"),
            _ => {
                return self.err(
                    t.col,
                    format!("expected (s8), (s16) or (s32), found `{}`", t.text),
                );
            }
        };
        self.expect_punct(")")?;
        let src = self.reg_of(dst.width, "the source")?;
        Ok(Insn::MovSx {
            width: dst.width,
            dst: dst.reg,
            src,
            from,
        })
    }

    /// `*(size *)(rB + off)` or the legacy `*(size *)skb[...]`.
    fn load(&mut self, dst: RegW) -> PResult<Insn> {
        let col = self.col();
        let (size, signed) = self.size_cast()?;
        if self.eat_ident("skb") {
            return self.packet_load(dst, size, signed, col);
        }
        let (src, off) = self.address()?;
        let narrow_w = dst.width == Width::W32 && !signed && size != Size::DW;
        if dst.width == Width::W32 && !narrow_w {
            return self.err(
                col,
                "only unsigned loads of up to 32 bits can name a w register",
            );
        }
        Ok(Insn::Ldx {
            size,
            signed,
            dst: dst.reg,
            src,
            off,
        })
    }

    /// `r0 = *(u16 *)skb[23]`, `r0 = *(u16 *)skb[r1 + 4]`, `skb[r1]`.
    fn packet_load(&mut self, dst: RegW, size: Size, signed: bool, col: usize) -> PResult<Insn> {
        if signed || size == Size::DW {
            return self.err(col, "packet loads are (u8 *), (u16 *) or (u32 *)");
        }
        if dst.reg != Reg::R0 || dst.width != Width::W64 {
            return self.err(col, "packet loads always load into r0");
        }
        self.expect_punct("[")?;
        let insn = if self.peek_is_reg() {
            let src = self.reg()?.reg;
            let imm = if self
                .peek()
                .is_some_and(|t| t.is_punct("+") || t.is_punct("-"))
            {
                self.imm32()?
            } else {
                0
            };
            Insn::LdInd { size, src, imm }
        } else {
            Insn::LdAbs {
                size,
                imm: self.imm32()?,
            }
        };
        self.expect_punct("]")?;
        Ok(insn)
    }

    fn named_rhs(&mut self, dst: RegW, t: &'a Tok) -> PResult<(Insn, Option<Fixup>)> {
        let name = t.text.as_str();
        if let Some(bits) = endian_kind(name) {
            self.pos += 1;
            return Ok((self.endian(dst, bits, t.col)?, None));
        }
        if let Some(&(_, pseudo)) = PSEUDOS.iter().find(|(s, _)| *s == name)
            && self.peek_at(1).is_some_and(|n| n.is_punct("["))
        {
            self.pos += 1;
            return self.pseudo_load(dst, pseudo);
        }
        if let Some(insn) = self.fetch_atomic(dst, t)? {
            return Ok((insn, None));
        }
        // `r1 = my_map ll`, as clang's assembly output names a map.
        if self.peek_at(1).is_some_and(|n| n.is_ident("ll")) {
            self.pos += 2;
            let insn = Insn::LdImm64 {
                dst: self.lddw_dst(dst)?,
                pseudo: Pseudo::MapIdx,
                imm: 0,
            };
            return Ok((insn, self.fixup(FixKind::Symbol, name.to_string(), t.col)));
        }
        self.err(t.col, format!("unexpected `{name}` after `=`"))
    }

    fn endian(&mut self, dst: RegW, (kind, bits): (Endian, u8), col: usize) -> PResult<Insn> {
        if dst.width != Width::W64 {
            return self.err(
                col,
                "byte swaps are written with r registers: `r0 = be16 r0`",
            );
        }
        let src_col = self.col();
        if self.reg()? != dst {
            return self.err(src_col, "byte swaps work in place: write `rX = be16 rX`");
        }
        Ok(Insn::End {
            kind,
            dst: dst.reg,
            bits,
        })
    }

    fn lddw_dst(&self, dst: RegW) -> PResult<Reg> {
        if dst.width != Width::W64 {
            return self.err(self.dst_col, "a 64-bit load needs an r register");
        }
        Ok(dst.reg)
    }

    /// `map[NAME]`, `map_value[3]+8`, `func[+5]`, `btf_id[7]` ... `ll`.
    fn pseudo_load(&mut self, dst: RegW, pseudo: Pseudo) -> PResult<(Insn, Option<Fixup>)> {
        let dst = self.lddw_dst(dst)?;
        self.expect_punct("[")?;
        let mut fixup = None;
        let low = match self.peek() {
            Some(t)
                if t.kind == Kind::Ident
                    && matches!(pseudo, Pseudo::MapIdx | Pseudo::MapIdxValue | Pseudo::Func) =>
            {
                self.pos += 1;
                let kind = if pseudo == Pseudo::Func {
                    FixKind::Func
                } else {
                    FixKind::Map
                };
                fixup = self.fixup(kind, t.text.clone(), t.col);
                0
            }
            _ => self.imm32()?,
        };
        self.expect_punct("]")?;
        let high = if self
            .peek()
            .is_some_and(|t| t.is_punct("+") || t.is_punct("-"))
        {
            self.imm32()?
        } else {
            0
        };
        self.eat_ident("ll");
        let imm = u64::from(low as u32) | (u64::from(high as u32) << 32);
        Ok((Insn::LdImm64 { dst, pseudo, imm }, fixup))
    }

    /// `rX = imm` (a mov) or `rX = imm ll` (a lddw).
    fn immediate(&mut self, dst: RegW) -> PResult<(Insn, Option<Fixup>)> {
        let (v, col) = self.signed_value("a value")?;
        if self.eat_ident("ll") || self.lddw_hint {
            let Some(imm) = to_imm64(v) else {
                return self.err(col, format!("{v} does not fit in 64 bits"));
            };
            let insn = Insn::LdImm64 {
                dst: self.lddw_dst(dst)?,
                pseudo: Pseudo::Imm64,
                imm,
            };
            return Ok((insn, None));
        }
        let Some(imm) = to_imm32(v) else {
            return self.err(
                col,
                format!("immediate {v} does not fit in 32 bits; add `ll` for a 64-bit load"),
            );
        };
        Ok((
            Insn::Alu {
                width: dst.width,
                op: AluOp::Mov,
                dst: dst.reg,
                src: Operand::Imm(imm),
            },
            None,
        ))
    }

    /// The fetching atomics, in llvm's spelling (`atomic_fetch_add((u64
    /// *)(r1 + 0), r0)`, `xchg_64(r1 + 0, r0)`, `cmpxchg_64(r1 + 0, r0,
    /// r2)`, and the `32_32` forms) and the kernel log's (`atomic64_xchg(
    /// (u64 *)(r1 +0), r0)`, `atomic_cmpxchg((u32 *)(r1 +0), r0, r2)`).
    fn fetch_atomic(&mut self, dst: RegW, t: &'a Tok) -> PResult<Option<Insn>> {
        let Some(form) = atomic_form(&t.text) else {
            return Ok(None);
        };
        self.pos += 1;
        self.expect_punct("(")?;
        let (size, base, off) = match form.size {
            Some(size) => {
                let (b, o) = self.base_off()?;
                (size, b, o)
            }
            None => {
                let col = self.col();
                let (size, base, off) = self.atomic_target()?;
                if form.is64 && size != Size::DW {
                    return self.err(col, format!("`{}` needs (u64 *)", t.text));
                }
                (size, base, off)
            }
        };
        if size == Size::DW && dst.width != Width::W64 {
            return self.err(t.col, "a 64-bit atomic fetches into an r register");
        }
        self.expect_punct(",")?;
        if form.op == AtomicOp::Cmpxchg {
            let col = self.col();
            if self.reg()?.reg != Reg::R0 || dst.reg != Reg::R0 {
                return self.err(
                    col,
                    "cmpxchg compares with r0: write `r0 = cmpxchg_64(rB + off, r0, rS)`",
                );
            }
            self.expect_punct(",")?;
        }
        let col = self.col();
        let src = self.atomic_reg(size)?;
        if form.op != AtomicOp::Cmpxchg && src != dst.reg {
            return self.err(
                col,
                "the fetched value goes back to the operand register: write `rS = op(..., rS)`",
            );
        }
        self.expect_punct(")")?;
        let fetch = true;
        Ok(Some(Insn::Atomic {
            size,
            op: form.op,
            fetch,
            dst: base,
            src,
            off,
        }))
    }
}

/// A fetching atomic's spelling.
struct AtomicForm {
    op: AtomicOp,
    /// The size the name fixes (llvm's `xchg_64`), or `None` when a cast
    /// follows.
    size: Option<Size>,
    /// Kernel spelling with `64` (`atomic64_xchg`), which needs `(u64 *)`.
    is64: bool,
}

fn atomic_form(name: &str) -> Option<AtomicForm> {
    let fixed = |op, size| {
        Some(AtomicForm {
            op,
            size: Some(size),
            is64: false,
        })
    };
    match name {
        "xchg_64" => return fixed(AtomicOp::Xchg, Size::DW),
        "xchg32_32" => return fixed(AtomicOp::Xchg, Size::W),
        "cmpxchg_64" => return fixed(AtomicOp::Cmpxchg, Size::DW),
        "cmpxchg32_32" => return fixed(AtomicOp::Cmpxchg, Size::W),
        _ => {}
    }
    let (is64, rest) = match name.strip_prefix("atomic64_") {
        Some(rest) => (true, rest),
        None => (false, name.strip_prefix("atomic_")?),
    };
    let op = match rest {
        "fetch_add" => AtomicOp::Add,
        "fetch_or" => AtomicOp::Or,
        "fetch_and" => AtomicOp::And,
        "fetch_xor" => AtomicOp::Xor,
        "xchg" => AtomicOp::Xchg,
        "cmpxchg" => AtomicOp::Cmpxchg,
        _ => return None,
    };
    Some(AtomicForm {
        op,
        size: None,
        is64,
    })
}

/// `be16`, `le32`, `bswap64` ...
fn endian_kind(name: &str) -> Option<(Endian, u8)> {
    let (kind, bits) = if let Some(b) = name.strip_prefix("bswap") {
        (Endian::Swap, b)
    } else if let Some(b) = name.strip_prefix("be") {
        (Endian::Be, b)
    } else {
        (Endian::Le, name.strip_prefix("le")?)
    };
    match bits {
        "16" => Some((kind, 16)),
        "32" => Some((kind, 32)),
        "64" => Some((kind, 64)),
        _ => None,
    }
}
