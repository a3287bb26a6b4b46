//! Parsing one line of assembly into statements: labels, `.map`
//! declarations and instructions.
//!
//! Instructions whose operand is a name (a label, a map) come out with a
//! [`Fixup`] that the program pass resolves once every line has been read,
//! so that names may be used before they are defined.

use super::MapDecl;
use super::error::AsmError;
use super::lexer::{Kind, Tok, lex_line};
use crate::insn::{
    AluOp, AtomicOp, CallKind, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width,
};
use crate::maptype;

/// What a [`Fixup`] patches once its name is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FixKind {
    /// The 16-bit offset of `goto` or a conditional jump, to a label.
    Jump,
    /// The 32-bit immediate of `gotol`, to a label.
    JumpLong,
    /// `call NAME`: a label (bpf-to-bpf call) or else a helper name.
    Call,
    /// `func[LABEL]`: the low immediate of a `lddw`, relative to a label.
    Func,
    /// `map[NAME]` / `map_value[NAME]`: the low immediate is the map index.
    Map,
    /// `rX = NAME ll` as clang's assembly output writes it: a map
    /// (`map[NAME]`) or a label (`func[NAME]`).
    Symbol,
}

/// A name an instruction refers to, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fixup {
    /// What to patch.
    pub kind: FixKind,
    /// The name.
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column of the name.
    pub col: usize,
}

/// One statement of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Stmt {
    /// `name:` marks the next instruction's slot.
    Label {
        /// The label.
        name: String,
        /// Where it was written (line, column).
        at: (usize, usize),
    },
    /// `.map NAME type=... key=... value=... entries=... [flags=...]`.
    Map {
        /// The declaration.
        decl: MapDecl,
        /// Where its name was written (line, column).
        at: (usize, usize),
    },
    /// An instruction, with the name it still needs resolved, if any.
    Insn(Insn, Option<Fixup>),
}

/// Parses line `line_no` (1-based) of the source.
pub(super) fn parse_line(line_no: usize, text: &str) -> Result<Vec<Stmt>, AsmError> {
    let toks = lex_line(line_no, text)?;
    let end_col = text.chars().count() + 1;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        line: line_no,
        end_col,
        lddw_hint: false,
        dst_col: 1,
    };
    p.statements()
}

/// A cursor over the tokens of one line.
struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    line: usize,
    end_col: usize,
    /// The line carried the kernel log's `(18)` opcode prefix, so a plain
    /// `rX = imm` is a `lddw` (the kernel prints it without `ll`).
    lddw_hint: bool,
    /// Column of the destination register of the assignment being parsed.
    dst_col: usize,
}

type PResult<T> = Result<T, AsmError>;

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

/// A register operand and the width its name (`r` or `w`) selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RegW {
    reg: Reg,
    width: Width,
}

/// Where a jump or call goes.
enum Target {
    /// A number of slots from the next instruction.
    Rel(i128),
    /// A label, resolved later.
    Label(String, usize),
}

impl<'a> Parser<'a> {
    // ----- cursor primitives -----

    fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&'a Tok> {
        self.toks.get(self.pos + n)
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    fn err<T>(&self, col: usize, msg: impl Into<String>) -> PResult<T> {
        Err(AsmError::new(self.line, col, msg))
    }

    fn next(&mut self, what: &str) -> PResult<&'a Tok> {
        match self.peek() {
            Some(t) => {
                self.pos += 1;
                Ok(t)
            }
            None => self.err(self.end_col, format!("expected {what} at end of line")),
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_punct(p));
        self.pos += usize::from(hit);
        hit
    }

    fn eat_ident(&mut self, name: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_ident(name));
        self.pos += usize::from(hit);
        hit
    }

    fn expect_punct(&mut self, p: &str) -> PResult<()> {
        if self.eat_punct(p) {
            return Ok(());
        }
        let found = self.describe_next();
        self.err(self.col(), format!("expected `{p}`, found {found}"))
    }

    fn expect_ident(&mut self, name: &str) -> PResult<()> {
        if self.eat_ident(name) {
            return Ok(());
        }
        let found = self.describe_next();
        self.err(self.col(), format!("expected `{name}`, found {found}"))
    }

    fn describe_next(&self) -> String {
        self.peek()
            .map_or("end of line".to_string(), |t| format!("`{}`", t.text))
    }

    fn expect_end(&mut self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => self.err(
                t.col,
                format!("unexpected `{}` after the instruction", t.text),
            ),
        }
    }

    // ----- statements -----

    fn statements(&mut self) -> PResult<Vec<Stmt>> {
        let mut out = Vec::new();
        if let Some(label) = self.objdump_symbol() {
            out.push(label);
            return Ok(out);
        }
        if !self.skip_prefixes() {
            return Ok(out);
        }
        while let (Some(t), Some(colon)) = (self.peek(), self.peek_at(1)) {
            if t.kind != Kind::Ident || !colon.is_punct(":") {
                break;
            }
            if parse_reg_name(&t.text).is_some() {
                return self.err(
                    t.col,
                    format!("`{}` is a register and cannot be a label", t.text),
                );
            }
            out.push(Stmt::Label {
                name: t.text.clone(),
                at: (self.line, t.col),
            });
            self.pos += 2;
        }
        let Some(first) = self.peek() else {
            return Ok(out);
        };
        if first.kind == Kind::Ident && first.text.starts_with('.') {
            out.push(self.directive()?);
        } else {
            let (insn, fixup) = self.instruction()?;
            out.push(Stmt::Insn(insn, fixup));
        }
        self.expect_end()?;
        Ok(out)
    }

    /// `0000000000000000 <prog>:`, llvm-objdump's symbol line, is a label.
    fn objdump_symbol(&mut self) -> Option<Stmt> {
        let t = self.toks;
        let is_sym = t.len() == 5
            && t[0].kind == Kind::Num
            && t[1].is_punct("<")
            && t[2].kind == Kind::Ident
            && t[3].is_punct(">")
            && t[4].is_punct(":");
        is_sym.then(|| Stmt::Label {
            name: t[2].text.clone(),
            at: (self.line, t[2].col),
        })
    }

    /// Skips what listings put before an instruction: the kernel log's
    /// `12: (bf)` and llvm-objdump's `60: bf 12 00 00 00 00 00 00`.
    /// Returns false for listing lines that hold no instruction (register
    /// states `12: R1=ctx()`, relocations `18: R_BPF_64_64 map`).
    fn skip_prefixes(&mut self) -> bool {
        if self.address_prefix() {
            self.pos += 2;
            while self.peek().is_some_and(Tok::is_hex_byte) {
                self.pos += 1;
            }
            if let Some(t) = self.peek()
                && t.kind == Kind::Ident
                && (t.text.starts_with("R_") || is_reg_state(&t.text))
            {
                return false;
            }
        }
        let opcode = match (self.peek(), self.peek_at(1), self.peek_at(2)) {
            (Some(a), Some(b), Some(c))
                if a.is_punct("(") && b.is_hex_byte() && c.is_punct(")") =>
            {
                Some(b.text.to_ascii_lowercase())
            }
            _ => None,
        };
        if let Some(code) = opcode {
            self.lddw_hint = code == "18";
            self.pos += 3;
        }
        true
    }

    /// Whether the line opens with `N:` (a slot index or byte offset), as
    /// opposed to a label.
    fn address_prefix(&self) -> bool {
        let (Some(a), Some(colon)) = (self.peek(), self.peek_at(1)) else {
            return false;
        };
        if !colon.is_punct(":") {
            return false;
        }
        match a.kind {
            Kind::Num => true,
            // A hex offset such as `a8:` is told from a label by the raw
            // bytes llvm-objdump prints after it.
            Kind::Ident => {
                a.text.chars().all(|c| c.is_ascii_hexdigit())
                    && (2..10).all(|i| self.peek_at(i).is_some_and(Tok::is_hex_byte))
            }
            Kind::Punct => false,
        }
    }

    fn directive(&mut self) -> PResult<Stmt> {
        let t = self.next("a directive")?;
        if t.text != ".map" {
            return self.err(t.col, format!("unknown directive `{}`", t.text));
        }
        let name = self.next("a map name")?;
        if name.kind != Kind::Ident {
            return self.err(
                name.col,
                format!("expected a map name, found `{}`", name.text),
            );
        }
        let decl = self.map_fields(name.text.clone())?;
        Ok(Stmt::Map {
            decl,
            at: (self.line, name.col),
        })
    }

    fn map_fields(&mut self, name: String) -> PResult<MapDecl> {
        let mut fields: [Option<u32>; 5] = [None; 5];
        const KEYS: [&[&str]; 5] = [
            &["type", "map_type"],
            &["key", "key_size"],
            &["value", "value_size"],
            &["entries", "max_entries"],
            &["flags", "map_flags"],
        ];
        while let Some(k) = self.peek() {
            self.pos += 1;
            let Some(slot) = KEYS.iter().position(|ks| ks.contains(&k.text.as_str())) else {
                return self.err(
                    k.col,
                    format!(
                        "unknown map field `{}` (type, key, value, entries, flags)",
                        k.text
                    ),
                );
            };
            if fields[slot].is_some() {
                return self.err(k.col, format!("map field `{}` given twice", k.text));
            }
            self.expect_punct("=")?;
            fields[slot] = Some(if slot == 0 {
                self.map_type()?
            } else {
                self.u32_value()?
            });
        }
        let get = |i: usize| match fields[i] {
            Some(v) => Ok(v),
            None if i == 4 => Ok(0),
            None => self.err(
                self.end_col,
                format!("map `{name}` needs `{}=`", KEYS[i][0]),
            ),
        };
        Ok(MapDecl {
            map_type: get(0)?,
            key_size: get(1)?,
            value_size: get(2)?,
            max_entries: get(3)?,
            flags: get(4)?,
            name: name.clone(),
        })
    }

    fn map_type(&mut self) -> PResult<u32> {
        let t = self.next("a map type")?;
        if t.kind == Kind::Num {
            self.pos -= 1;
            return self.u32_value();
        }
        maptype::map_type_by_name(&t.text).map_or_else(
            || self.err(t.col, format!("unknown map type `{}`", t.text)),
            Ok,
        )
    }

    // ----- numbers -----

    /// A number with an optional sign (`-8`, `+3`, `0x2a`, `- 0x10`).
    fn signed_value(&mut self, what: &str) -> PResult<(i128, usize)> {
        let col = self.col();
        let mut sign = 1;
        while let Some(t) = self.peek() {
            if t.is_punct("-") {
                sign = -sign;
            } else if !t.is_punct("+") {
                break;
            }
            self.pos += 1;
        }
        let t = self.next(what)?;
        if t.kind != Kind::Num {
            return self.err(t.col, format!("expected {what}, found `{}`", t.text));
        }
        let mag = parse_number(&t.text)
            .map_or_else(|| self.err(t.col, format!("bad number `{}`", t.text)), Ok)?;
        Ok((sign * mag, col))
    }

    fn u32_value(&mut self) -> PResult<u32> {
        let (v, col) = self.signed_value("a number")?;
        u32::try_from(v).map_or_else(
            |_| self.err(col, format!("{v} is not a 32-bit unsigned number")),
            Ok,
        )
    }

    /// A 32-bit immediate: signed, or unsigned up to `0xffffffff` taken as
    /// its bit pattern (the kernel log prints jump immediates as `0x%x`).
    fn imm32(&mut self) -> PResult<i32> {
        let (v, col) = self.signed_value("an immediate")?;
        to_imm32(v).map_or_else(
            || self.err(col, format!("immediate {v} does not fit in 32 bits")),
            Ok,
        )
    }

    fn off16(&mut self) -> PResult<i16> {
        let (v, col) = self.signed_value("an offset")?;
        i16::try_from(v).map_or_else(
            |_| self.err(col, format!("offset {v} does not fit in 16 bits")),
            Ok,
        )
    }

    // ----- operands -----

    fn reg(&mut self) -> PResult<RegW> {
        let t = self.next("a register")?;
        match (t.kind, parse_reg_name(&t.text)) {
            (Kind::Ident, Some(Ok(r))) => Ok(r),
            (Kind::Ident, Some(Err(()))) => self.err(
                t.col,
                format!(
                    "invalid register `{}`: registers are r0..r10 (w0..w10)",
                    t.text
                ),
            ),
            _ => self.err(t.col, format!("expected a register, found `{}`", t.text)),
        }
    }

    fn peek_is_reg(&self) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == Kind::Ident && parse_reg_name(&t.text).is_some())
    }

    /// A register that must have the width `width`.
    fn reg_of(&mut self, width: Width, what: &str) -> PResult<Reg> {
        let col = self.col();
        let r = self.reg()?;
        if r.width != width {
            return self.err(
                col,
                format!(
                    "{what} must be a{} register here (no encoding mixes r and w)",
                    width_name(width)
                ),
            );
        }
        Ok(r.reg)
    }

    /// `(u32 *)`, `(s8 *)`, `(u64*)`: the size and whether it is signed.
    fn size_cast(&mut self) -> PResult<(Size, bool)> {
        self.expect_punct("(")?;
        let t = self.next("a size")?;
        let (size, signed) = match t.text.as_str() {
            "u8" => (Size::B, false),
            "u16" => (Size::H, false),
            "u32" => (Size::W, false),
            "u64" => (Size::DW, false),
            "s8" => (Size::B, true),
            "s16" => (Size::H, true),
            "s32" => (Size::W, true),
            _ => {
                return self.err(
                    t.col,
                    format!(
                        "expected a size (u8, u16, u32, u64, s8, s16, s32), found `{}`",
                        t.text
                    ),
                );
            }
        };
        self.expect_punct("*")?;
        self.expect_punct(")")?;
        Ok((size, signed))
    }

    /// `rB + off`, `rB - off`, `rB +off`, `rB`: a base register and offset.
    fn base_off(&mut self) -> PResult<(Reg, i16)> {
        let base = self.reg()?.reg;
        let off = if self
            .peek()
            .is_some_and(|t| t.is_punct("+") || t.is_punct("-"))
        {
            self.off16()?
        } else {
            0
        };
        Ok((base, off))
    }

    /// `(rB + off)`.
    fn address(&mut self) -> PResult<(Reg, i16)> {
        self.expect_punct("(")?;
        let a = self.base_off()?;
        self.expect_punct(")")?;
        Ok(a)
    }

    /// A register or an immediate of the given width.
    fn operand(&mut self, width: Width) -> PResult<Operand> {
        if self.peek_is_reg() {
            Ok(Operand::Reg(self.reg_of(width, "the source")?))
        } else {
            Ok(Operand::Imm(self.imm32()?))
        }
    }

    /// A jump or call target: `+3`, `-2`, `pc+3`, `LABEL`, optionally
    /// followed by llvm-objdump's `<LBB0_4>`.
    fn target(&mut self) -> PResult<Target> {
        let t = match self.peek() {
            Some(t) => t,
            None => return self.err(self.end_col, "expected a jump target at end of line"),
        };
        let tgt = if t.is_ident("pc")
            && self
                .peek_at(1)
                .is_some_and(|n| n.is_punct("+") || n.is_punct("-"))
        {
            self.pos += 1;
            Target::Rel(self.signed_value("an offset")?.0)
        } else if t.kind == Kind::Ident {
            self.pos += 1;
            Target::Label(t.text.clone(), t.col)
        } else {
            Target::Rel(self.signed_value("a jump offset or label")?.0)
        };
        self.skip_objdump_symbol();
        Ok(tgt)
    }

    fn skip_objdump_symbol(&mut self) {
        let sym = (self.peek(), self.peek_at(1), self.peek_at(2));
        if let (Some(a), Some(b), Some(c)) = sym
            && a.is_punct("<")
            && b.kind == Kind::Ident
            && c.is_punct(">")
        {
            self.pos += 3;
        }
    }

    fn fixup(&self, kind: FixKind, name: String, col: usize) -> Option<Fixup> {
        Some(Fixup {
            kind,
            name,
            line: self.line,
            col,
        })
    }

    // ----- instructions -----

    fn instruction(&mut self) -> PResult<(Insn, Option<Fixup>)> {
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

/// `r3` or `w3`; `Some(Err)` for a register-like name out of range
/// (`r11`), `None` for anything else.
fn parse_reg_name(s: &str) -> Option<Result<RegW, ()>> {
    let width = match s.as_bytes().first()? {
        b'r' => Width::W64,
        b'w' => Width::W32,
        _ => return None,
    };
    let digits = &s[1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let reg = digits.parse::<u8>().ok().and_then(Reg::new);
    Some(reg.map(|reg| RegW { reg, width }).ok_or(()))
}

/// The kernel log's register-state words (`R1=ctx()`, `R0_w=2`).
fn is_reg_state(s: &str) -> bool {
    let mut b = s.bytes();
    b.next() == Some(b'R') && b.next().is_some_and(|c| c.is_ascii_digit())
}

fn width_name(w: Width) -> &'static str {
    match w {
        Width::W32 => " w (32-bit)",
        Width::W64 => "n r (64-bit)",
    }
}

/// A decimal or `0x` hexadecimal literal.
pub(super) fn parse_number(s: &str) -> Option<i128> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u128::from_str_radix(hex, 16).ok()?,
        None => s.parse::<u128>().ok()?,
    };
    // Anything past 64 bits is out of every field's range; clamp so the
    // range checks still say so.
    Some(v.min(u128::from(u64::MAX) + 1) as i128)
}

/// A value for a 32-bit field: `i32`, or up to `u32::MAX` as bits.
pub(super) fn to_imm32(v: i128) -> Option<i32> {
    i32::try_from(v)
        .ok()
        .or_else(|| u32::try_from(v).ok().map(|u| u as i32))
}

/// A value for the 64-bit `lddw` immediate: `i64`, or up to `u64::MAX`.
pub(super) fn to_imm64(v: i128) -> Option<u64> {
    i64::try_from(v)
        .ok()
        .map(|i| i as u64)
        .or_else(|| u64::try_from(v).ok())
}
