//! A bounds-checked little-endian cursor over a byte slice.

use super::BtfError;

/// Reads `u32`s at checked offsets; every failure becomes the error the
/// caller's closure builds.
#[derive(Clone, Copy)]
pub(super) struct Bytes<'a>(pub(super) &'a [u8]);

impl<'a> Bytes<'a> {
    /// The `u32` at byte offset `off`, if it is inside the slice.
    pub(super) fn u32_at(self, off: usize) -> Option<u32> {
        let end = off.checked_add(4)?;
        let b = self.0.get(off..end)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The `u16` at byte offset `off`.
    pub(super) fn u16_at(self, off: usize) -> Option<u16> {
        let end = off.checked_add(2)?;
        let b = self.0.get(off..end)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    /// The sub-slice `[off, off + len)`, if inside.
    pub(super) fn slice(self, off: usize, len: usize) -> Option<&'a [u8]> {
        self.0.get(off..off.checked_add(len)?)
    }
}

/// The NUL-terminated string at `off` in a BTF string section.
pub(super) fn str_at(strings: &[u8], off: u32) -> Result<&str, BtfError> {
    let start = off as usize;
    let rest = strings.get(start..).ok_or(BtfError::BadString(off))?;
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(BtfError::BadString(off))?;
    // Names are C identifiers; a non-UTF-8 name is malformed input.
    std::str::from_utf8(&rest[..len]).map_err(|_| BtfError::BadString(off))
}
