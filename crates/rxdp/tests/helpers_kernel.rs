//! Helpers against the kernel: every helper whose effect BPF_PROG_TEST_RUN
//! can observe (the return value, the output bytes, the maps) runs in
//! rxdp's checked and fast engines and in the kernel, which must agree.
//! Edge cases come first: the bounds of the packet helpers, the errno
//! values, the format checks of `bpf_trace_printk`.

mod common;

use common::{MapSetup, Outcome, kernel_or_skip, run_kernel_with, run_rxdp_with};
use rxdp_xdp::Engine;

/// A map to fill before the run: (map index, key, value).
type Setup = MapSetup;

fn rxdp_run(src: &str, pkt: &[u8], setup: &Setup, engine: Engine) -> Outcome {
    let a = rxdp_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    run_rxdp_with(&a.insns, &a.maps, setup, pkt, engine)
}

/// The kernel's outcome, or `None` when this kernel does not offer XDP
/// programs a helper the program calls (kernels differ in what
/// `xdp_func_proto` hands out): the comparison is then skipped, and says
/// so.
fn kernel_run(src: &str, pkt: &[u8], setup: &Setup) -> Option<Outcome> {
    let a = rxdp_isa::asm::assemble(src).unwrap();
    match run_kernel_with(&a.insns, &a.maps, setup, pkt) {
        Ok(k) => Some(k),
        Err(e)
            if e.to_string()
                .contains("program of this type cannot use helper") =>
        {
            let line = e.to_string();
            let why = line
                .lines()
                .find(|l| l.contains("cannot use helper"))
                .unwrap_or_default();
            eprintln!("skipped: the kernel comparison: this kernel says \"{why}\"");
            None
        }
        Err(e) => panic!("kernel: {e}\n{src}"),
    }
}

/// Runs `src` everywhere and checks that all agree; returns rxdp's outcome.
/// `cmp_maps` is false for per-CPU maps, whose dumps differ in CPU count.
fn agree(
    kernel: bool,
    what: &str,
    src: &str,
    pkt: &[u8],
    setup: &Setup,
    cmp_maps: bool,
) -> Outcome {
    let checked = rxdp_run(src, pkt, setup, Engine::Checked);
    let fast = rxdp_run(src, pkt, setup, Engine::Interp);
    assert_eq!(fast, checked, "{what}: interp vs checked");
    let jit = rxdp_run(src, pkt, setup, Engine::Jit);
    assert_eq!(jit, checked, "{what}: jit vs checked");
    if kernel && let Some(mut k) = kernel_run(src, pkt, setup) {
        let mut c = checked.clone();
        if !cmp_maps {
            k.maps.clear();
            c.maps.clear();
        }
        assert_eq!(c, k, "{what}: rxdp vs kernel\n{src}");
    }
    checked
}

fn pkt64() -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(1))
        .collect()
}

/// Assembly that writes `bytes` to the stack at `r10 - at` (8-byte aligned
/// stores, zero padded).
fn stack_bytes(at: i32, bytes: &[u8]) -> String {
    let mut s = String::new();
    for (k, chunk) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        let v = u64::from_le_bytes(w);
        s += &format!(
            "r1 = {v:#x} ll\n*(u64 *)(r10 - {}) = r1\n",
            at - 8 * k as i32
        );
    }
    s
}

#[test]
fn adjust_head_bounds_and_metadata() {
    let kernel = kernel_or_skip("adjust_head_bounds_and_metadata");
    for off in [
        -300,
        -217,
        -216,
        -208,
        -100,
        -1,
        0,
        1,
        49,
        50,
        51,
        64,
        1000,
        i32::MIN,
        i32::MAX,
    ] {
        let src = format!("r6 = r1\nr2 = {off}\ncall bpf_xdp_adjust_head\nexit");
        agree(
            kernel,
            &format!("adjust_head {off}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
    // Metadata written, then the head moved: the metadata moves along.
    for off in [-209, -208, -16, 8, 50, 51] {
        let src = format!(
            "r6 = r1
            r2 = -8
            call bpf_xdp_adjust_meta
            r2 = *(u32 *)(r6 + 8)
            r3 = *(u32 *)(r6 + 0)
            r4 = r2
            r4 += 8
            if r4 > r3 goto out
            r5 = 0x1122334455667788 ll
            *(u64 *)(r2 + 0) = r5
            r1 = r6
            r2 = {off}
            call bpf_xdp_adjust_head
            exit
        out:
            r0 = 99
            exit"
        );
        agree(
            kernel,
            &format!("meta then head {off}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
}

#[test]
fn adjust_meta_bounds() {
    let kernel = kernel_or_skip("adjust_meta_bounds");
    for off in [
        -256, -220, -217, -216, -212, -40, -36, -33, -32, -4, -2, 0, 1, 4,
    ] {
        let src = format!("r6 = r1\nr2 = {off}\ncall bpf_xdp_adjust_meta\nexit");
        agree(
            kernel,
            &format!("adjust_meta {off}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
    // Shrinking metadata, and metadata after the head moved.
    for (first, second) in [(-8, 4), (-8, 8), (-8, 12), (-8, 6)] {
        let src = format!(
            "r6 = r1\nr2 = {first}\ncall bpf_xdp_adjust_meta\nr1 = r6\nr2 = {second}\ncall bpf_xdp_adjust_meta\nexit"
        );
        agree(
            kernel,
            &format!("meta {first} then {second}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
    let src = "r6 = r1\nr2 = -40\ncall bpf_xdp_adjust_head\nr1 = r6\nr2 = -176\ncall bpf_xdp_adjust_meta\nr7 = r0\nr1 = r6\nr2 = -4\ncall bpf_xdp_adjust_meta\nr0 <<= 8\nr0 |= r7\nexit";
    agree(kernel, "head then meta", src, &pkt64(), &[], true);
}

#[test]
fn adjust_tail_bounds_and_buff_len() {
    let kernel = kernel_or_skip("adjust_tail_bounds_and_buff_len");
    for off in [
        -100,
        -51,
        -50,
        -1,
        0,
        1,
        100,
        3455,
        3456,
        3457,
        i32::MIN,
        i32::MAX,
    ] {
        let src = format!(
            "r6 = r1\nr2 = {off}\ncall bpf_xdp_adjust_tail\nr7 = r0\nr1 = r6\ncall bpf_xdp_get_buff_len\nr0 <<= 16\nr0 |= r7\nexit"
        );
        agree(
            kernel,
            &format!("adjust_tail {off}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
    // Growth is zeroed even where an earlier store left bytes.
    let src = "r6 = r1
        r2 = -20
        call bpf_xdp_adjust_tail
        r1 = r6
        r2 = 30
        call bpf_xdp_adjust_tail
        exit";
    let o = agree(kernel, "shrink then grow", src, &pkt64(), &[], true);
    assert_eq!(o.data_out.len(), 74);
    assert!(o.data_out[44..].iter().all(|&b| b == 0));
}

#[test]
fn load_and_store_bytes() {
    let kernel = kernel_or_skip("load_and_store_bytes");
    for (off, len) in [
        (0, 8),
        (56, 8),
        (57, 8),
        (63, 1),
        (64, 1),
        (0, 64),
        (1, 64),
        (0xffff, 1),
        (0x10000, 1),
        (-1i64, 4),
    ] {
        // The buffer is zeroed first; the result is the return value, or
        // the first and last words loaded, XORed.
        let zero: String = (1..=8)
            .map(|k| format!("*(u64 *)(r10 - {}) = 0\n", 8 * k))
            .collect();
        let last = 64 - (len - 1) / 4 * 4;
        let load = format!(
            "r6 = r1
            {zero}
            r1 = r6
            r2 = {off} ll
            r3 = r10
            r3 += -64
            r4 = {len}
            call bpf_xdp_load_bytes
            if r0 != 0 goto out
            r0 = *(u32 *)(r10 - 64)
            r1 = *(u32 *)(r10 - {last})
            r0 ^= r1
        out:
            exit"
        );
        agree(
            kernel,
            &format!("load_bytes {off},{len}"),
            &load,
            &pkt64(),
            &[],
            true,
        );
        let store = format!(
            "r6 = r1
            {fill}
            r1 = r6
            r2 = {off} ll
            r3 = r10
            r3 += -64
            r4 = {len}
            call bpf_xdp_store_bytes
            exit",
            fill = stack_bytes(64, &(0..64).map(|i| 0xa0 ^ i as u8).collect::<Vec<_>>())
        );
        agree(
            kernel,
            &format!("store_bytes {off},{len}"),
            &store,
            &pkt64(),
            &[],
            true,
        );
    }
}

#[test]
fn csum_diff_on_stack_and_packet() {
    let kernel = kernel_or_skip("csum_diff_on_stack_and_packet");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut cases: Vec<(u32, u32, u64, Vec<u8>)> = vec![
        (0, 0, 0, vec![0; 128]),
        (0, 8, 0, vec![0xff; 128]),
        (8, 8, 0xffff_ffff, vec![0xff; 128]),
        (64, 64, 0, vec![0xff; 128]),
        (4, 0, 0, vec![0; 128]),
    ];
    for _ in 0..40 {
        let f = (next() % 65) as u32;
        let t = (next() % 65) as u32;
        let seed = next();
        let bytes: Vec<u8> = (0..128).map(|_| next() as u8).collect();
        cases.push((f, t, seed, bytes));
    }
    for (f, t, seed, bytes) in cases {
        let src = format!(
            "{fill}r1 = r10\nr1 += -128\nr2 = {f}\nr3 = r10\nr3 += -64\nr4 = {t}\nr5 = {seed:#x} ll\ncall bpf_csum_diff\nexit",
            fill = stack_bytes(128, &bytes)
        );
        agree(
            kernel,
            &format!("csum_diff {f} {t} {seed:#x}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
    // A whole packet (81 bytes: the 80-byte loop and an odd tail).
    let pkt: Vec<u8> = (0..200).map(|i| (i * 37 + 11) as u8).collect();
    for n in [20, 40, 80, 81, 120, 161, 200] {
        let src = format!(
            "r2 = *(u32 *)(r1 + 4)
            r3 = *(u32 *)(r1 + 0)
            r0 = 0
            r4 = r3
            r4 += {n}
            if r4 > r2 goto out
            r1 = 0
            r2 = 0
            r4 = {n}
            r5 = 0
            call bpf_csum_diff
        out:
            exit"
        );
        agree(
            kernel,
            &format!("csum_diff packet {n}"),
            &src,
            &pkt,
            &[],
            true,
        );
    }
}

#[test]
fn redirect_and_redirect_map() {
    let kernel = kernel_or_skip("redirect_and_redirect_map");
    for flags in [0u64, 1, 8, 1 << 40] {
        let src = format!("r1 = 1\nr2 = {flags} ll\ncall bpf_redirect\nexit");
        agree(
            kernel,
            &format!("redirect flags {flags}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
    let setup = [(
        0usize,
        0u32.to_ne_bytes().to_vec(),
        1u32.to_ne_bytes().to_vec(),
    )];
    for (key, flags) in [
        (0u64, 0u64),
        (1, 0),
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 8),
        (1, 4),
        (0, 0x20),
        (0, 0x10),
        (1 << 32, 0),
        (99, 2),
    ] {
        let src = format!(
            ".map tx type=devmap key=4 value=4 entries=4\nr1 = map[tx] ll\nr2 = {key} ll\nr3 = {flags} ll\ncall bpf_redirect_map\nexit"
        );
        agree(
            kernel,
            &format!("redirect_map key {key} flags {flags:#x}"),
            &src,
            &pkt64(),
            &setup,
            false,
        );
    }
}

#[test]
fn map_helpers() {
    let kernel = kernel_or_skip("map_helpers");
    // Hash: insert, insert again with BPF_NOEXIST, delete twice, look up.
    let src = "
        .map h type=hash key=4 value=8 entries=4
        *(u32 *)(r10 - 4) = 7
        r1 = 0x55 ll
        *(u64 *)(r10 - 16) = r1
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 1
        call bpf_map_update_elem
        r6 = r0
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 1
        call bpf_map_update_elem
        r6 <<= 8
        r6 |= r0
        *(u32 *)(r10 - 4) = 8
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        call bpf_map_delete_elem
        r6 <<= 8
        r0 &= 0xff
        r6 |= r0
        *(u32 *)(r10 - 4) = 7
        r1 = map[h] ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = *(u64 *)(r0 + 0)
        r1 += 1
        *(u64 *)(r0 + 0) = r1
        r6 <<= 8
        r6 |= r1
    out:
        r0 = r6
        exit";
    agree(kernel, "hash", src, &pkt64(), &[], true);
    // Queue and stack: push three into two slots (the third with
    // BPF_EXIST drops the oldest), peek, pop, pop, pop on empty.
    for ty in ["queue", "stack"] {
        let mut src = format!(".map q type={ty} key=0 value=4 entries=2\nr6 = 0\n");
        for (v, flags) in [(10, 0), (20, 0), (30, 0), (40, 2)] {
            src += &format!(
                "*(u32 *)(r10 - 4) = {v}\nr1 = map[q] ll\nr2 = r10\nr2 += -4\nr3 = {flags}\ncall bpf_map_push_elem\nr6 <<= 4\nr0 &= 0xf\nr6 |= r0\n"
            );
        }
        for op in ["peek", "pop", "pop", "pop"] {
            src += &format!(
                "*(u32 *)(r10 - 4) = 0\nr1 = map[q] ll\nr2 = r10\nr2 += -4\ncall bpf_map_{op}_elem\nr6 <<= 4\nr0 &= 0xf\nr6 |= r0\nr1 = *(u32 *)(r10 - 4)\nr6 += r1\n"
            );
        }
        src += "r0 = r6\nexit";
        agree(kernel, ty, &src, &pkt64(), &[], true);
    }
    // Per-CPU lookups: this CPU's slot, and a CPU that does not exist.
    let src = "
        .map pc type=percpu_array key=4 value=8 entries=2
        *(u32 *)(r10 - 4) = 1
        r1 = map[pc] ll
        r2 = r10
        r2 += -4
        r3 = 0
        call bpf_map_lookup_percpu_elem
        r6 = 0
        if r0 == 0 goto next
        r6 = 1
    next:
        r1 = map[pc] ll
        r2 = r10
        r2 += -4
        r3 = 100000
        call bpf_map_lookup_percpu_elem
        if r0 == 0 goto out
        r6 |= 2
    out:
        r0 = r6
        exit";
    let o = agree(kernel, "lookup_percpu_elem", src, &pkt64(), &[], false);
    assert_eq!(o.retval, 1);
}

#[test]
fn check_mtu_on_loopback() {
    let kernel = kernel_or_skip("check_mtu_on_loopback");
    for (ifindex, mtu_len, len_diff, flags) in [
        (0u32, 0u32, 0i32, 0u64),
        (1, 0, 0, 0),
        (0, 0, 65486, 0),
        (0, 0, 65487, 0),
        (0, 65536, 0, 0),
        (0, 65537, 0, 0),
        (0, 1500, -100, 0),
        (0, 0, -1000, 0),
        (0, 0, 0, 1),
        (1, 0x8000_0000, 0, 0),
    ] {
        let src = format!(
            "r6 = r1
            *(u32 *)(r10 - 4) = {mtu_len}
            r2 = {ifindex}
            r3 = r10
            r3 += -4
            r4 = {len_diff}
            r5 = {flags}
            call bpf_check_mtu
            r0 <<= 24
            r1 = *(u32 *)(r10 - 4)
            r1 &= 0xffffff
            r0 |= r1
            exit"
        );
        agree(
            kernel,
            &format!("check_mtu {ifindex} {mtu_len} {len_diff} {flags}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
}

#[test]
fn trace_printk_formats_and_lengths() {
    let kernel = kernel_or_skip("trace_printk_formats_and_lengths");
    let fmts: &[(&str, [i64; 3])] = &[
        ("%d\n", [42, 0, 0]),
        ("[%5d|%-5d|%05d]\n", [42, -42, -42]),
        ("%+d % d %i\n", [7, 7, -7]),
        ("%lld %llu %ld\n", [-1, -1, i64::MIN]),
        ("%u %x %X\n", [-1, 255, 255]),
        ("%lx %llx\n", [1 << 40, -1, 0]),
        ("%c%c%c\n", [b'o' as i64, b'k' as i64, b'!' as i64]),
        ("100%% sure\n", [0, 0, 0]),
        ("%p %px\n", [0x1234, 0x1234, 0]),
        ("%d %d %d %d\n", [1, 2, 3]),
        ("%f\n", [1, 0, 0]),
        ("%.2d\n", [1, 0, 0]),
        ("%#x\n", [1, 0, 0]),
        ("%hd\n", [1, 0, 0]),
        ("%lllx\n", [1, 0, 0]),
        ("%sx\n", [0, 0, 0]),
        ("%pZ\n", [0, 0, 0]),
        ("tab\tok\n", [0, 0, 0]),
        ("\x01\n", [0, 0, 0]),
        ("%", [0, 0, 0]),
        ("%5%\n", [0, 0, 0]),
    ];
    for (fmt, args) in fmts {
        let mut bytes = fmt.as_bytes().to_vec();
        bytes.push(0);
        let size = bytes.len();
        let src = format!(
            "{fill}r1 = r10\nr1 += -64\nr2 = {size}\nr3 = {} ll\nr4 = {} ll\nr5 = {} ll\ncall bpf_trace_printk\nexit",
            args[0],
            args[1],
            args[2],
            fill = stack_bytes(64, &bytes)
        );
        agree(
            kernel,
            &format!("trace_printk {fmt:?}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
    }
    // Strings and addresses from the stack; a format without its NUL.
    let src = format!(
        "{}{}r1 = r10\nr1 += -64\nr2 = 12\nr3 = r10\nr3 += -32\nr4 = r10\nr4 += -24\ncall bpf_trace_printk\nexit",
        stack_bytes(64, b"%s|%pI4|%pi4\n\0"),
        stack_bytes(32, b"hello\0\0\0\x0a\x00\x00\x01")
    );
    agree(
        kernel,
        "trace_printk %s %pI4",
        &src.replace("r2 = 12", "r2 = 15"),
        &pkt64(),
        &[],
        true,
    );
    agree(
        kernel,
        "trace_printk unterminated",
        &src.replace("r2 = 12", "r2 = 14"),
        &pkt64(),
        &[],
        true,
    );
}

/// Callbacks. The kernel loads a program with callbacks only with BTF
/// describing its functions, which assembly has none of; the kernel
/// comparison of callbacks runs on the C examples that use them
/// (tests/objects.rs), and here the values are the ones the kernel's
/// documentation of `bpf_loop` gives: the number of iterations made
/// (counting the one whose callback returned 1), `-E2BIG` past 1 << 23.
#[test]
fn callbacks_loop_and_for_each() {
    eprintln!(
        "callbacks_loop_and_for_each: rxdp engines only; kernel comparison in tests/objects.rs"
    );
    let kernel = false;
    for (n, stop, iterations, sum) in [
        (0u64, 100u64, 0u64, 0u64),
        (5, 100, 5, 10),
        (10, 3, 4, 6),
        (1 << 23, 2, 3, 3),
        ((1 << 23) + 1, 2, (-7i64) as u64, 0),
    ] {
        let src = format!(
            "*(u64 *)(r10 - 8) = 0
            r1 = {n}
            r2 = func[body] ll
            r3 = r10
            r3 += -8
            r4 = 0
            call bpf_loop
            r1 = *(u64 *)(r10 - 8)
            r0 <<= 16
            r0 |= r1
            exit
        body:
            r3 = *(u64 *)(r2 + 0)
            r3 += r1
            *(u64 *)(r2 + 0) = r3
            r0 = 0
            if r1 != {stop} goto cont
            r0 = 1
        cont:
            exit"
        );
        let out = agree(
            kernel,
            &format!("bpf_loop {n} stop {stop}"),
            &src,
            &pkt64(),
            &[],
            true,
        );
        assert_eq!(
            out.retval,
            ((iterations << 16) | sum) as u32,
            "bpf_loop {n} stop {stop}"
        );
    }
    let setup: Vec<(usize, Vec<u8>, Vec<u8>)> = (0..4u32)
        .map(|k| {
            (
                0,
                k.to_ne_bytes().to_vec(),
                u64::from(k * 10 + 1).to_ne_bytes().to_vec(),
            )
        })
        .collect();
    for ty in ["array", "hash"] {
        let src = format!(
            ".map m type={ty} key=4 value=8 entries=4
            *(u64 *)(r10 - 8) = 0
            r1 = map[m] ll
            r2 = func[visit] ll
            r3 = r10
            r3 += -8
            r4 = 0
            call bpf_for_each_map_elem
            r1 = *(u64 *)(r10 - 8)
            r0 <<= 16
            r0 |= r1
            exit
        visit:                      ; (map, key, value, ctx)
            r5 = *(u64 *)(r4 + 0)
            r0 = *(u64 *)(r3 + 0)
            r5 += r0
            *(u64 *)(r4 + 0) = r5
            r0 = 0
            exit"
        );
        let out = agree(
            kernel,
            &format!("for_each {ty}"),
            &src,
            &pkt64(),
            &setup,
            true,
        );
        // Four elements visited, their values 1 + 11 + 21 + 31 summed.
        assert_eq!(out.retval, (4 << 16) | 64, "for_each {ty}");
    }
}

#[test]
fn ring_buffer_helpers() {
    let kernel = kernel_or_skip("ring_buffer_helpers");
    // Output 16 bytes, reserve-and-submit 8, reserve-and-discard 24, fail
    // a reservation with flags; then each query, one per run.
    for query in 0..4 {
        let src = format!(
            ".map rb type=ringbuf key=0 value=0 entries=4096
            *(u64 *)(r10 - 8) = 1
            *(u64 *)(r10 - 16) = 2
            r1 = map[rb] ll
            r2 = r10
            r2 += -16
            r3 = 16
            r4 = 0
            call bpf_ringbuf_output
            r6 = r0
            r1 = map[rb] ll
            r2 = 8
            r3 = 0
            call bpf_ringbuf_reserve
            if r0 == 0 goto out
            r1 = 7
            *(u64 *)(r0 + 0) = r1
            r1 = r0
            r2 = 0
            call bpf_ringbuf_submit
            r1 = map[rb] ll
            r2 = 24
            r3 = 0
            call bpf_ringbuf_reserve
            if r0 == 0 goto out
            r1 = r0
            r2 = 0
            call bpf_ringbuf_discard
            r1 = map[rb] ll
            r2 = 8
            r3 = 1
            call bpf_ringbuf_reserve
            if r0 == 0 goto query
            r1 = r0
            r2 = 0
            call bpf_ringbuf_discard
            r6 |= 0x80
        query:
            r1 = map[rb] ll
            r2 = {query}
            call bpf_ringbuf_query
            r0 <<= 8
            r0 |= r6
            exit
        out:
            r0 = 99
            exit"
        );
        agree(
            kernel,
            &format!("ringbuf query {query}"),
            &src,
            &pkt64(),
            &[],
            false,
        );
    }
}
