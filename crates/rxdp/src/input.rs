//! Reading what the user hands the command: programs (assembly or raw
//! bytecode) and hex strings.

use crate::error::{CliResult, usage};
use anyhow::{Context, anyhow};
use rxdp_isa::Insn;
use rxdp_isa::asm::{Assembled, MapDecl};
use std::path::Path;

/// A program read from a file: its instructions and the maps it declares.
pub(crate) struct Source {
    pub(crate) insns: Vec<Insn>,
    pub(crate) maps: Vec<MapDecl>,
}

/// Reads a program: `.s` is assembly, `.bin` raw little-endian bytecode.
pub(crate) fn read_program(path: &Path) -> CliResult<Source> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "s" | "asm" => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(usage)?;
            let Assembled { insns, maps, .. } = rxdp_isa::asm::assemble(&text)
                .map_err(|e| usage(anyhow!("{}: {e}", path.display())))?;
            Ok(Source { insns, maps })
        }
        "bin" => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map_err(usage)?;
            let insns =
                rxdp_isa::decode(&bytes).map_err(|e| usage(anyhow!("{}: {e}", path.display())))?;
            Ok(Source {
                insns,
                maps: Vec::new(),
            })
        }
        _ => Err(usage(anyhow!(
            "{}: unknown program format: expected an assembly file (.s) or raw bytecode (.bin)",
            path.display()
        ))),
    }
}

/// Parses hex bytes, as pairs of digits that may be separated by
/// whitespace: `"b7 00 00 00"` or `"b7000000"`.
pub(crate) fn parse_hex(what: &str, s: &str) -> CliResult<Vec<u8>> {
    let digits: Vec<(usize, char)> = s
        .char_indices()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    if let Some(&(i, c)) = digits.iter().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(usage(anyhow!(
            "{what}: '{c}' at position {} is not a hex digit",
            i + 1
        )));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(usage(anyhow!(
            "{what}: odd number of hex digits ({})",
            digits.len()
        )));
    }
    Ok(digits
        .chunks(2)
        .map(|p| {
            let hi = p[0].1.to_digit(16).unwrap_or(0);
            let lo = p[1].1.to_digit(16).unwrap_or(0);
            (hi * 16 + lo) as u8
        })
        .collect())
}

/// Formats bytes as lowercase hex without separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the packet of a test run: `--data`, `--data-file`, or the
/// built-in 64-byte UDP packet.
pub(crate) fn read_packet(data: Option<&str>, data_file: Option<&Path>) -> CliResult<Vec<u8>> {
    match (data, data_file) {
        (Some(_), Some(_)) => Err(usage(anyhow!("--data and --data-file exclude each other"))),
        (Some(h), None) => parse_hex("--data", h),
        (None, Some(p)) => std::fs::read(p)
            .with_context(|| format!("cannot read packet file {}", p.display()))
            .map_err(usage),
        (None, None) => Ok(rxdp_xdp::sample::udp4(64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_and_without_spaces() {
        assert_eq!(
            parse_hex("x", "b7 00\n0a ff").ok(),
            Some(vec![0xb7, 0, 0x0a, 0xff])
        );
        assert_eq!(
            parse_hex("x", "b7000aFF").ok(),
            Some(vec![0xb7, 0, 0x0a, 0xff])
        );
        assert_eq!(parse_hex("x", "").ok(), Some(vec![]));
        let e = parse_hex("--data", "b7 0g").err().unwrap();
        assert!(e.to_string().contains("'g' at position 5"), "{e}");
        assert!(parse_hex("x", "b7 0").is_err());
        assert_eq!(hex(&[0xb7, 0, 0x0a]), "b7000a");
    }
}
