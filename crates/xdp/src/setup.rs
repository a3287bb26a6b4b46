//! Setup files: what to put in an object's maps and global variables
//! before a run, one directive a line, `#` starting a comment.
//!
//! ```text
//! var .rodata blocked_port 3500        # a global variable, before verification
//! map ports 3500 01                    # update one element (key, value in hex)
//! mapfill backends 0:4 0a000002020000000002   # array-like maps: keys 0..4
//! progarray jump_table 1 xdp_l3        # a program of this object into a prog array
//! load xdp_l4                          # load (and verify) another program too
//! ```
//!
//! Keys and values are hex bytes in memory order (a `__u32` key 5 is
//! `05000000`). The same file drives rxdp and, in the differential tests,
//! the kernel, so every directive is plain data here and the two sides
//! apply it each in their own way.

use thiserror::Error;

/// One directive of a setup file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Directive {
    /// `var SECTION NAME VALUE_HEX`: set a global variable before load.
    Var {
        /// The data section (`.rodata`, `.data`, `.bss`, ...).
        section: String,
        /// The variable's BTF name.
        name: String,
        /// Its new bytes.
        value: Vec<u8>,
    },
    /// `map NAME KEY_HEX VALUE_HEX`: update one element.
    Map {
        /// The map's name.
        map: String,
        /// The key's bytes.
        key: Vec<u8>,
        /// The value's bytes.
        value: Vec<u8>,
    },
    /// `mapfill NAME FIRST:COUNT VALUE_HEX`: set the same value at `u32`
    /// keys `FIRST..FIRST+COUNT`.
    MapFill {
        /// The map's name.
        map: String,
        /// The first key.
        first: u32,
        /// How many keys.
        count: u32,
        /// The value's bytes.
        value: Vec<u8>,
    },
    /// `progarray MAP INDEX PROG`: put program PROG at INDEX.
    ProgArray {
        /// The prog array's name.
        map: String,
        /// The slot.
        index: u32,
        /// The program's name.
        prog: String,
    },
    /// `load PROG`: load and verify another program of the object.
    Load {
        /// The program's name.
        prog: String,
    },
}

/// A parsed setup file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// The directives, in file order.
    pub directives: Vec<Directive>,
}

/// A line of a setup file that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {msg}")]
pub struct SetupError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// Parses hex bytes (pairs of digits, no separators).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("'{s}' has an odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("'{s}' is not hex bytes"))
        })
        .collect()
}

fn number(s: &str, what: &str) -> Result<u32, String> {
    s.parse()
        .map_err(|_| format!("{what} '{s}' is not a number"))
}

impl Setup {
    /// Parses a setup file.
    pub fn parse(text: &str) -> Result<Setup, SetupError> {
        let mut directives = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let d = Self::directive(&words).map_err(|msg| SetupError { line: i + 1, msg })?;
            directives.push(d);
        }
        Ok(Setup { directives })
    }

    fn directive(w: &[&str]) -> Result<Directive, String> {
        let arity = |n: usize, usage: &str| {
            if w.len() == n {
                Ok(())
            } else {
                Err(format!("expected '{usage}'"))
            }
        };
        Ok(match w[0] {
            "var" => {
                arity(4, "var SECTION NAME VALUE_HEX")?;
                Directive::Var {
                    section: w[1].into(),
                    name: w[2].into(),
                    value: parse_hex(w[3])?,
                }
            }
            "map" => {
                arity(4, "map NAME KEY_HEX VALUE_HEX")?;
                Directive::Map {
                    map: w[1].into(),
                    key: parse_hex(w[2])?,
                    value: parse_hex(w[3])?,
                }
            }
            "mapfill" => {
                arity(4, "mapfill NAME FIRST:COUNT VALUE_HEX")?;
                let (first, count) = w[2]
                    .split_once(':')
                    .ok_or_else(|| format!("'{}' is not FIRST:COUNT", w[2]))?;
                Directive::MapFill {
                    map: w[1].into(),
                    first: number(first, "first key")?,
                    count: number(count, "count")?,
                    value: parse_hex(w[3])?,
                }
            }
            "progarray" => {
                arity(4, "progarray MAP INDEX PROG")?;
                Directive::ProgArray {
                    map: w[1].into(),
                    index: number(w[2], "index")?,
                    prog: w[3].into(),
                }
            }
            "load" => {
                arity(2, "load PROG")?;
                Directive::Load { prog: w[1].into() }
            }
            other => {
                return Err(format!(
                    "unknown directive '{other}' (var, map, mapfill, progarray, load)"
                ));
            }
        })
    }

    /// The global variables to set before loading.
    pub fn vars(&self) -> impl Iterator<Item = (String, String, Vec<u8>)> + '_ {
        self.directives.iter().filter_map(|d| match d {
            Directive::Var {
                section,
                name,
                value,
            } => Some((section.clone(), name.clone(), value.clone())),
            _ => None,
        })
    }

    /// The map updates, with `mapfill` expanded: (map, key, value).
    pub fn map_updates(&self) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for d in &self.directives {
            match d {
                Directive::Map { map, key, value } => {
                    out.push((map.clone(), key.clone(), value.clone()))
                }
                Directive::MapFill {
                    map,
                    first,
                    count,
                    value,
                } => {
                    for k in *first..first.saturating_add(*count) {
                        out.push((map.clone(), k.to_ne_bytes().to_vec(), value.clone()));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directive_parses() {
        let s = Setup::parse(
            "# comment\n\nvar .rodata knob 0a00\nmap ports 0a00 01 # trailing\nmapfill b 2:2 ff\nprogarray jt 1 l3\nload l4\n",
        )
        .unwrap();
        assert_eq!(s.directives.len(), 5);
        assert_eq!(
            s.vars().collect::<Vec<_>>(),
            vec![(".rodata".into(), "knob".into(), vec![10, 0])]
        );
        assert_eq!(
            s.map_updates(),
            vec![
                ("ports".into(), vec![10, 0], vec![1]),
                ("b".into(), 2u32.to_ne_bytes().to_vec(), vec![0xff]),
                ("b".into(), 3u32.to_ne_bytes().to_vec(), vec![0xff]),
            ]
        );
        assert_eq!(
            s.directives[3],
            Directive::ProgArray {
                map: "jt".into(),
                index: 1,
                prog: "l3".into()
            }
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = Setup::parse("map a 00 00\nmap a 0 00\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.msg.contains("odd number"), "{e}");
        let e = Setup::parse("\nfrob x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: unknown directive 'frob' (var, map, mapfill, progarray, load)"
        );
        let e = Setup::parse("mapfill a 3 00\n").unwrap_err();
        assert!(e.msg.contains("FIRST:COUNT"), "{e}");
        let e = Setup::parse("load\n").unwrap_err();
        assert!(e.msg.contains("expected 'load PROG'"), "{e}");
    }
}
