//! `bpf_trace_printk` and `bpf_snprintf`: the kernel's restricted printf
//! (kernel/bpf/helpers.c `bpf_bprintf_prepare`, kernel/trace/bpf_trace.c).
//!
//! The format is checked as the kernel checks it, before anything is
//! printed: printable ASCII or whitespace only, at most as many
//! conversions as arguments (3 for `bpf_trace_printk`, 12 for
//! `bpf_snprintf`), and only these conversions, each with optional flags
//! `0 + - space` and a width (no precision):
//!
//! - `%d %i %u %x %X` with an optional `l` or `ll`;
//! - `%c`; `%s`, `%pks`, `%pus` (followed by the end, a space or a
//!   punctuation character);
//! - `%p` (likewise followed), `%pK %px %ps %pS %pB`, `%pI4 %pi4 %pI6 %pi6`;
//! - `%%`.
//!
//! Anything else is `-EINVAL`. Strings and IP addresses are read from
//! memory the program may access; elsewhere they print as the kernel
//! prints a faulting read (an empty string, a zero address). Pointers
//! print as 16 hex digits (the kernel hashes `%p`; rxdp prints the value)
//! and symbols (`%ps %pS %pB`) as `0x` and the address.

use super::Ctx;
use super::packet::e;
use super::{XdpEnv, errno};
use core::fmt::Write;
use rxdp_interp::HelperError;
use rxdp_isa::helper_id as hid;

/// `MAX_TRACE_PRINTK_VARARGS`.
pub const MAX_TRACE_PRINTK_VARARGS: usize = 3;
/// `MAX_BPRINTF_VARARGS`.
pub const MAX_BPRINTF_VARARGS: usize = 12;
/// `MAX_BPRINTF_BUF`: a trace line is cut to this less one byte.
pub const MAX_BPRINTF_BUF: usize = 512;

/// The kernel's `isspace` on ASCII.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The kernel's `ispunct` on ASCII.
fn is_punct(c: u8) -> bool {
    c.is_ascii_punctuation()
}

/// Whether a `%s`/`%p` conversion may be followed by `c`.
fn ends_conversion(c: u8) -> bool {
    c == 0 || is_space(c) || is_punct(c)
}

/// One conversion, parsed.
#[derive(Clone, Copy, Debug, Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
}

/// The memory `%s` and `%pI4` read: whatever the program may read now.
trait Memory {
    /// Up to `max` bytes at `addr`, stopping after a NUL if `stop_at_nul`;
    /// `None` if `addr` is not readable program memory.
    fn read(&self, addr: u64, max: usize, stop_at_nul: bool) -> Option<Vec<u8>>;
}

impl Memory for XdpEnv<'_> {
    fn read(&self, addr: u64, max: usize, stop_at_nul: bool) -> Option<Vec<u8>> {
        let r = self.readable_at(addr)?;
        let avail = (r.end() - addr).min(max as u64) as usize;
        // SAFETY: `addr..addr + avail` lies in a region the program may
        // read, valid memory for the run (the `Env` contract).
        let bytes = unsafe {
            core::slice::from_raw_parts(
                core::ptr::with_exposed_provenance::<u8>(addr as usize),
                avail,
            )
        };
        let n = if stop_at_nul {
            bytes.iter().position(|&b| b == 0).map_or(avail, |i| i)
        } else {
            avail
        };
        if !stop_at_nul && n < max {
            return None;
        }
        Some(bytes[..n].to_vec())
    }
}

/// Formats `fmt` (without its NUL) with `args` as `bpf_bprintf_prepare`
/// and `bstr_printf` would; `Err` is the errno.
fn format(mem: &dyn Memory, fmt: &[u8], args: &[u64]) -> Result<String, i32> {
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut out = String::new();
    let mut n = 0;
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        if !c.is_ascii() || !(c.is_ascii_graphic() || c == b' ' || is_space(c)) {
            return Err(e::EINVAL);
        }
        if c != b'%' {
            out.push(c as char);
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            out.push('%');
            i += 2;
            continue;
        }
        if n >= args.len() {
            return Err(e::EINVAL);
        }
        let arg = args[n];
        n += 1;
        i += 1;
        let mut spec = Spec::default();
        loop {
            match at(i) {
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b'-' => spec.left = true,
                b' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        while at(i).is_ascii_digit() {
            spec.width = (spec.width * 10 + usize::from(at(i) - b'0')).min(4096);
            i += 1;
        }
        let body = match at(i) {
            b'p' => {
                let (text, used) = pointer(mem, &fmt[i + 1..], arg)?;
                i += used;
                text
            }
            b's' => {
                if !ends_conversion(at(i + 1)) {
                    return Err(e::EINVAL);
                }
                string(mem, arg)
            }
            b'c' => (arg as u8 as char).to_string(),
            _ => {
                let mut long = 0;
                while at(i) == b'l' && long < 2 {
                    long += 1;
                    i += 1;
                }
                integer(at(i), long > 0, arg, &spec)?
            }
        };
        i += 1;
        pad(&mut out, &body, &spec);
    }
    Ok(out)
}

/// A string argument, read as `bpf_trace_copy_string` reads one.
fn string(mem: &dyn Memory, addr: u64) -> String {
    mem.read(addr, MAX_BPRINTF_BUF - 1, true)
        .map(|b| b.iter().map(|&c| c as char).collect())
        .unwrap_or_default()
}

/// A `%p` conversion; `rest` follows the `p`. Returns the text and how
/// many bytes of `rest` the conversion used.
fn pointer(mem: &dyn Memory, rest: &[u8], arg: u64) -> Result<(String, usize), i32> {
    let at = |i: usize| rest.get(i).copied().unwrap_or(0);
    let hex = || format!("{arg:016x}");
    if ends_conversion(at(0)) {
        return Ok((hex(), 0));
    }
    match (at(0), at(1)) {
        (b'k' | b'u', b's') => {
            if !ends_conversion(at(2)) {
                return Err(e::EINVAL);
            }
            Ok((string(mem, arg), 2))
        }
        (b'K' | b'x', _) => Ok((hex(), 1)),
        (b's' | b'S' | b'B', _) => Ok((format!("{arg:#x}"), 1)),
        (b'i' | b'I', b'4' | b'6') => {
            let len = if at(1) == b'4' { 4 } else { 16 };
            let ip = mem.read(arg, len, false).unwrap_or_else(|| vec![0; len]);
            Ok((ip_text(&ip, at(0) == b'i'), 2))
        }
        _ => Err(e::EINVAL),
    }
}

/// `%pI4 %pi4 %pI6 %pi6` of the address bytes `ip`.
fn ip_text(ip: &[u8], fixed: bool) -> String {
    let mut s = String::new();
    if ip.len() == 4 {
        let parts: Vec<String> = ip
            .iter()
            .map(|b| {
                if fixed {
                    format!("{b:03}")
                } else {
                    b.to_string()
                }
            })
            .collect();
        return parts.join(".");
    }
    for (k, pair) in ip.chunks(2).enumerate() {
        if k > 0 && !fixed {
            s.push(':');
        }
        let _ = write!(s, "{:02x}{:02x}", pair[0], pair[1]);
    }
    s
}

/// An integer conversion `conv` (`d i u x X`) of an `int` or a `long`.
fn integer(conv: u8, long: bool, arg: u64, spec: &Spec) -> Result<String, i32> {
    let v = if long { arg } else { u64::from(arg as u32) };
    Ok(match conv {
        b'd' | b'i' => {
            let s = if long {
                v as i64
            } else {
                i64::from(v as u32 as i32)
            };
            let sign = if s < 0 {
                "-"
            } else if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            };
            zero_fill(sign, &s.unsigned_abs().to_string(), spec)
        }
        b'u' => zero_fill("", &v.to_string(), spec),
        b'x' => zero_fill("", &format!("{v:x}"), spec),
        b'X' => zero_fill("", &format!("{v:X}"), spec),
        _ => return Err(e::EINVAL),
    })
}

/// A number with the `0` flag's zeros between its sign and its digits.
fn zero_fill(sign: &str, digits: &str, spec: &Spec) -> String {
    let len = sign.len() + digits.len();
    if spec.zero && !spec.left && spec.width > len {
        format!("{sign}{}{digits}", "0".repeat(spec.width - len))
    } else {
        format!("{sign}{digits}")
    }
}

/// Appends `body` padded with spaces to the conversion's width.
fn pad(out: &mut String, body: &str, spec: &Spec) {
    let fill = spec.width.saturating_sub(body.len());
    if spec.left {
        out.push_str(body);
        out.extend(core::iter::repeat_n(' ', fill));
    } else {
        out.extend(core::iter::repeat_n(' ', fill));
        out.push_str(body);
    }
}

/// `long bpf_trace_printk(const char *fmt, u32 fmt_size, ...)` (6): formats
/// up to three arguments, sends the line to the environment's sink and
/// returns its length.
pub fn trace_printk(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::TRACE_PRINTK as u32;
    let fmt = env.read_arg(id, "fmt", a[0], a[1] as u32 as usize)?;
    let Some(nul) = fmt.iter().position(|&b| b == 0) else {
        return Ok(errno(e::EINVAL));
    };
    let line = match format(env, &fmt[..nul], &a[2..5]) {
        Ok(l) => l,
        Err(err) => return Ok(errno(err)),
    };
    let shown = &line[..line.len().min(MAX_BPRINTF_BUF - 1)];
    env.world.sink.trace(env.cpu, shown);
    Ok(line.len() as u64)
}

/// `long bpf_snprintf(char *str, u32 str_size, const char *fmt, u64 *data,
/// u32 data_len)` (165): formats `data_len / 8` arguments into `str`
/// (always NUL-terminated when `str_size > 0`) and returns the length the
/// whole output needs, NUL included.
pub fn snprintf(
    env: &mut XdpEnv<'_>,
    a: &[u64; 5],
    _: &mut Ctx<'_, '_>,
) -> Result<u64, HelperError> {
    let id = hid::SNPRINTF as u32;
    let data_len = a[4] as u32 as usize;
    if !data_len.is_multiple_of(8)
        || data_len > MAX_BPRINTF_VARARGS * 8
        || (data_len > 0 && a[3] == 0)
    {
        return Ok(errno(e::EINVAL));
    }
    let Some(fmt) = env.read(a[2], usize::MAX, true) else {
        return Err(super::mem::bad_arg(
            id,
            "fmt",
            a[2],
            1,
            "is not a string the program may read",
        ));
    };
    let raw = env.read_arg(id, "data", a[3], data_len)?;
    let args: Vec<u64> = raw
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
        .collect();
    let text = match format(env, &fmt, &args) {
        Ok(t) => t,
        Err(err) => return Ok(errno(err)),
    };
    let size = a[1] as u32 as usize;
    let out = env.write_arg(id, "str", a[0], size)?;
    if let Some(last) = size.checked_sub(1) {
        let n = text.len().min(last);
        out[..n].copy_from_slice(&text.as_bytes()[..n]);
        out[n] = 0;
    }
    Ok(text.len() as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Program memory for the tests: one block at 0x1000.
    struct Block(Vec<u8>);

    impl Memory for Block {
        fn read(&self, addr: u64, max: usize, stop_at_nul: bool) -> Option<Vec<u8>> {
            let off = addr.checked_sub(0x1000)? as usize;
            let rest = self.0.get(off..)?;
            let avail = rest.len().min(max);
            let n = if stop_at_nul {
                rest[..avail].iter().position(|&b| b == 0).unwrap_or(avail)
            } else {
                avail
            };
            if !stop_at_nul && n < max {
                return None;
            }
            Some(rest[..n].to_vec())
        }
    }

    fn f(fmt: &str, args: &[u64]) -> Result<String, i32> {
        let mem = Block(b"hello\0\x0a\x00\x00\x01".to_vec());
        format(&mem, fmt.as_bytes(), args)
    }

    #[test]
    fn integers_follow_printf() {
        assert_eq!(f("%d %i", &[(-5i64) as u64, 7]).unwrap(), "-5 7");
        assert_eq!(
            f("%d", &[0xffff_ffff_0000_0001]).unwrap(),
            "1",
            "an int is 32 bits"
        );
        assert_eq!(f("%ld", &[(-5i64) as u64]).unwrap(), "-5");
        assert_eq!(
            f("%lld %llu", &[u64::MAX, u64::MAX]).unwrap(),
            "-1 18446744073709551615"
        );
        assert_eq!(f("%u", &[(-1i64) as u64]).unwrap(), "4294967295");
        assert_eq!(
            f("%x %X %lx", &[255, 255, 1 << 40]).unwrap(),
            "ff FF 10000000000"
        );
        assert_eq!(
            f(
                "[%5d|%-5d|%05d|%+d|% d]",
                &[42, 42, (-42i64) as u64, 42, 42]
            )
            .unwrap(),
            "[   42|42   |-0042|+42| 42]"
        );
        assert_eq!(f("100%%", &[]).unwrap(), "100%");
    }

    #[test]
    fn strings_chars_and_addresses() {
        assert_eq!(f("%s!", &[0x1000]).unwrap(), "hello!");
        assert_eq!(f("[%7s]", &[0x1000]).unwrap(), "[  hello]");
        assert_eq!(
            f("%s.", &[0x9999]).unwrap(),
            ".",
            "unreadable strings print empty"
        );
        assert_eq!(f("%c%c", &[b'o' as u64, b'k' as u64]).unwrap(), "ok");
        assert_eq!(
            f("%pI4 %pi4", &[0x1006, 0x1006]).unwrap(),
            "10.0.0.1 010.000.000.001"
        );
        assert_eq!(f("%pI4", &[0x9999]).unwrap(), "0.0.0.0");
        assert_eq!(
            f("%px %p", &[0xabc, 1]).unwrap(),
            "0000000000000abc 0000000000000001"
        );
        assert_eq!(f("%pks", &[0x1000]).unwrap(), "hello");
    }

    #[test]
    fn the_kernel_refuses_these_formats() {
        for bad in [
            "%d %d", "%f", "%.2d", "%#x", "%hd", "%sx", "%pZ", "%lllx", "%n", "\x01", "é", "%",
        ] {
            assert_eq!(f(bad, &[1]), Err(e::EINVAL), "{bad:?}");
        }
    }

    #[test]
    fn ipv6_forms() {
        let mut ip = vec![0u8; 16];
        ip[0] = 0x20;
        ip[1] = 0x01;
        ip[15] = 1;
        assert_eq!(
            ip_text(&ip, false),
            "2001:0000:0000:0000:0000:0000:0000:0001"
        );
        assert_eq!(ip_text(&ip, true), "20010000000000000000000000000001");
    }
}
