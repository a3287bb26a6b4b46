//! Splitting one source line into tokens, each with its column.
//!
//! Comments start with `;`, `//`, or a `#` that follows whitespace or
//! opens the line; a `#` glued to a name is a token, because the kernel's
//! verifier log writes helper calls as `call bpf_map_lookup_elem#1`.
//! Operators that begin with `s` (`s>`, `s>>=`, `s/=`, ...) are single
//! tokens when the `s` stands alone before them.

use super::error::AsmError;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A name: registers, keywords, labels, helper and map names. Starts
    /// with a letter, `_` or `.`.
    Ident,
    /// A number as written (`42`, `0x2a`); validated by the parser. Starts
    /// with a digit.
    Num,
    /// An operator or punctuation mark.
    Punct,
}

/// One token of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Tok {
    /// What it is.
    pub kind: Kind,
    /// Its text exactly as written.
    pub text: String,
    /// 1-based column of its first character.
    pub col: usize,
}

impl Tok {
    /// Whether this is the punctuation `p`.
    pub(super) fn is_punct(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    /// Whether this is the name `name`.
    pub(super) fn is_ident(&self, name: &str) -> bool {
        self.kind == Kind::Ident && self.text == name
    }

    /// Whether the token is two hex digits, as in the raw-bytes column of
    /// `llvm-objdump -d`.
    pub(super) fn is_hex_byte(&self) -> bool {
        self.kind != Kind::Punct
            && self.text.len() == 2
            && self.text.chars().all(|c| c.is_ascii_hexdigit())
    }
}

/// Operators, longest first so that the first match is the longest.
const PUNCT: &[&str] = &[
    "<<=", ">>=", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "=", "<",
    ">", "&", "(", ")", "[", "]", "*", "+", "-", ",", ":", "#",
];

/// The operators that a lone `s` turns into signed ones.
const SIGNED: &[&str] = &[">>=", "<=", ">=", "/=", "%=", ">", "<"];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Splits line `line_no` (1-based, for errors) into tokens, dropping the
/// comment.
pub(super) fn lex_line(line_no: usize, text: &str) -> Result<Vec<Tok>, AsmError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let glued = i > 0 && !chars[i - 1].is_whitespace();
        if c == ';' || (c == '/' && chars.get(i + 1) == Some(&'/')) || (c == '#' && !glued) {
            break;
        }
        if is_ident_start(c) || c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == "s"
                && let Some(op) = match_punct(&chars[i..], SIGNED)
            {
                i += op.len();
                toks.push(punct(format!("s{op}"), col));
                continue;
            }
            let kind = if c.is_ascii_digit() {
                Kind::Num
            } else {
                Kind::Ident
            };
            toks.push(Tok {
                kind,
                text: word,
                col,
            });
            continue;
        }
        match match_punct(&chars[i..], PUNCT) {
            Some(op) => {
                i += op.len();
                toks.push(punct(op.to_string(), col));
            }
            None => {
                return Err(AsmError::new(
                    line_no,
                    col,
                    format!("unexpected character {c:?}"),
                ));
            }
        }
    }
    Ok(toks)
}

fn punct(text: String, col: usize) -> Tok {
    Tok {
        kind: Kind::Punct,
        text,
        col,
    }
}

fn match_punct(rest: &[char], table: &[&'static str]) -> Option<&'static str> {
    table
        .iter()
        .copied()
        .find(|p| p.len() <= rest.len() && p.chars().zip(rest).all(|(a, b)| a == *b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        lex_line(1, line)
            .unwrap()
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn operators_and_signed_operators() {
        assert_eq!(texts("r1 s>>= 2"), ["r1", "s>>=", "2"]);
        assert_eq!(
            texts("if w1 s< -1 goto +3"),
            ["if", "w1", "s<", "-", "1", "goto", "+", "3"]
        );
        assert_eq!(texts("r1 <<= r2"), ["r1", "<<=", "r2"]);
        assert_eq!(
            texts("r0 = *(s8 *)skb[1]"),
            ["r0", "=", "*", "(", "s8", "*", ")", "skb", "[", "1", "]"]
        );
    }

    #[test]
    fn comments() {
        assert_eq!(texts("exit ; done"), ["exit"]);
        assert_eq!(texts("exit // done"), ["exit"]);
        assert_eq!(texts("exit # done"), ["exit"]);
        assert_eq!(texts("# whole line"), Vec::<String>::new());
        assert_eq!(
            texts("call bpf_map_lookup_elem#1"),
            ["call", "bpf_map_lookup_elem", "#", "1"]
        );
    }

    #[test]
    fn columns_and_bad_characters() {
        let toks = lex_line(1, "  r0 = 1").unwrap();
        assert_eq!(toks.iter().map(|t| t.col).collect::<Vec<_>>(), [3, 6, 8]);
        let err = lex_line(4, "r0 = @").unwrap_err();
        assert_eq!((err.line, err.column), (4, 6));
    }
}
