//! Parsing one line of assembly into statements: labels, `.map`
//! declarations and instructions.
//!
//! Instructions whose operand is a name (a label, a map) come out with a
//! [`Fixup`] that the program pass resolves once every line has been read,
//! so that names may be used before they are defined.

use super::MapDecl;
use super::error::AsmError;
use super::lexer::{Kind, Tok, lex_line};
use crate::insn::{Insn, Operand, Reg, Size, Width};
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
pub(super) struct Parser<'a> {
    pub(super) toks: &'a [Tok],
    pub(super) pos: usize,
    pub(super) line: usize,
    pub(super) end_col: usize,
    /// The line carried the kernel log's `(18)` opcode prefix, so a plain
    /// `rX = imm` is a `lddw` (the kernel prints it without `ll`).
    pub(super) lddw_hint: bool,
    /// Column of the destination register of the assignment being parsed.
    pub(super) dst_col: usize,
}

pub(super) type PResult<T> = Result<T, AsmError>;

/// A register operand and the width its name (`r` or `w`) selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RegW {
    pub(super) reg: Reg,
    pub(super) width: Width,
}

/// Where a jump or call goes.
pub(super) enum Target {
    /// A number of slots from the next instruction.
    Rel(i128),
    /// A label, resolved later.
    Label(String, usize),
}

impl<'a> Parser<'a> {
    // ----- cursor primitives -----

    pub(super) fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos)
    }

    pub(super) fn peek_at(&self, n: usize) -> Option<&'a Tok> {
        self.toks.get(self.pos + n)
    }

    pub(super) fn col(&self) -> usize {
        self.peek().map_or(self.end_col, |t| t.col)
    }

    pub(super) fn err<T>(&self, col: usize, msg: impl Into<String>) -> PResult<T> {
        Err(AsmError::new(self.line, col, msg))
    }

    pub(super) fn next(&mut self, what: &str) -> PResult<&'a Tok> {
        match self.peek() {
            Some(t) => {
                self.pos += 1;
                Ok(t)
            }
            None => self.err(self.end_col, format!("expected {what} at end of line")),
        }
    }

    pub(super) fn eat_punct(&mut self, p: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_punct(p));
        self.pos += usize::from(hit);
        hit
    }

    pub(super) fn eat_ident(&mut self, name: &str) -> bool {
        let hit = self.peek().is_some_and(|t| t.is_ident(name));
        self.pos += usize::from(hit);
        hit
    }

    pub(super) fn expect_punct(&mut self, p: &str) -> PResult<()> {
        if self.eat_punct(p) {
            return Ok(());
        }
        let found = self.describe_next();
        self.err(self.col(), format!("expected `{p}`, found {found}"))
    }

    pub(super) fn expect_ident(&mut self, name: &str) -> PResult<()> {
        if self.eat_ident(name) {
            return Ok(());
        }
        let found = self.describe_next();
        self.err(self.col(), format!("expected `{name}`, found {found}"))
    }

    pub(super) fn describe_next(&self) -> String {
        self.peek()
            .map_or("end of line".to_string(), |t| format!("`{}`", t.text))
    }

    pub(super) fn expect_end(&mut self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => self.err(
                t.col,
                format!("unexpected `{}` after the instruction", t.text),
            ),
        }
    }

    // ----- statements -----

    pub(super) fn statements(&mut self) -> PResult<Vec<Stmt>> {
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
    pub(super) fn objdump_symbol(&mut self) -> Option<Stmt> {
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
    pub(super) fn skip_prefixes(&mut self) -> bool {
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
    pub(super) fn address_prefix(&self) -> bool {
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

    pub(super) fn directive(&mut self) -> PResult<Stmt> {
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

    pub(super) fn map_fields(&mut self, name: String) -> PResult<MapDecl> {
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

    pub(super) fn map_type(&mut self) -> PResult<u32> {
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
    pub(super) fn signed_value(&mut self, what: &str) -> PResult<(i128, usize)> {
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

    pub(super) fn u32_value(&mut self) -> PResult<u32> {
        let (v, col) = self.signed_value("a number")?;
        u32::try_from(v).map_or_else(
            |_| self.err(col, format!("{v} is not a 32-bit unsigned number")),
            Ok,
        )
    }

    /// A 32-bit immediate: signed, or unsigned up to `0xffffffff` taken as
    /// its bit pattern (the kernel log prints jump immediates as `0x%x`).
    pub(super) fn imm32(&mut self) -> PResult<i32> {
        let (v, col) = self.signed_value("an immediate")?;
        to_imm32(v).map_or_else(
            || self.err(col, format!("immediate {v} does not fit in 32 bits")),
            Ok,
        )
    }

    pub(super) fn off16(&mut self) -> PResult<i16> {
        let (v, col) = self.signed_value("an offset")?;
        i16::try_from(v).map_or_else(
            |_| self.err(col, format!("offset {v} does not fit in 16 bits")),
            Ok,
        )
    }

    // ----- operands -----

    pub(super) fn reg(&mut self) -> PResult<RegW> {
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

    pub(super) fn peek_is_reg(&self) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == Kind::Ident && parse_reg_name(&t.text).is_some())
    }

    /// A register that must have the width `width`.
    pub(super) fn reg_of(&mut self, width: Width, what: &str) -> PResult<Reg> {
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
    pub(super) fn size_cast(&mut self) -> PResult<(Size, bool)> {
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
    pub(super) fn base_off(&mut self) -> PResult<(Reg, i16)> {
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
    pub(super) fn address(&mut self) -> PResult<(Reg, i16)> {
        self.expect_punct("(")?;
        let a = self.base_off()?;
        self.expect_punct(")")?;
        Ok(a)
    }

    /// A register or an immediate of the given width.
    pub(super) fn operand(&mut self, width: Width) -> PResult<Operand> {
        if self.peek_is_reg() {
            Ok(Operand::Reg(self.reg_of(width, "the source")?))
        } else {
            Ok(Operand::Imm(self.imm32()?))
        }
    }

    /// A jump or call target: `+3`, `-2`, `pc+3`, `LABEL`, optionally
    /// followed by llvm-objdump's `<LBB0_4>`.
    pub(super) fn target(&mut self) -> PResult<Target> {
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

    pub(super) fn skip_objdump_symbol(&mut self) {
        let sym = (self.peek(), self.peek_at(1), self.peek_at(2));
        if let (Some(a), Some(b), Some(c)) = sym
            && a.is_punct("<")
            && b.kind == Kind::Ident
            && c.is_punct(">")
        {
            self.pos += 3;
        }
    }

    pub(super) fn fixup(&self, kind: FixKind, name: String, col: usize) -> Option<Fixup> {
        Some(Fixup {
            kind,
            name,
            line: self.line,
            col,
        })
    }
}

/// `r3` or `w3`; `Some(Err)` for a register-like name out of range
/// (`r11`), `None` for anything else.
pub(super) fn parse_reg_name(s: &str) -> Option<Result<RegW, ()>> {
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
