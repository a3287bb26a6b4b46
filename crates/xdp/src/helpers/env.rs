//! The world outside a program that helpers consult: clocks, the random
//! source, the machine's identity, the network devices and the routing
//! tables, and where trace lines and events go.
//!
//! A [`HelperEnv`] belongs to the runtime: runners share it (`Arc`), and
//! tests and replays replace its parts. [`HelperEnv::deterministic`] (the
//! default) makes every run repeatable: a clock that starts at a fixed
//! value and advances by a fixed step at each read, a seeded random
//! source, and the devices of the kernel's BPF_PROG_TEST_RUN (the loopback
//! device, ifindex 1, MTU 65536). [`HelperEnv::system`] reads the host's
//! `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` and seeds randomness from the OS.

use super::fib::Fib;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// `HZ` of the jiffies clocks: the common distribution kernel setting.
pub const DEFAULT_HZ: u64 = 250;

/// A source of time for `bpf_ktime_get_ns`, `bpf_ktime_get_boot_ns` and
/// `bpf_jiffies64`.
pub trait Clock: Send + Sync + fmt::Debug {
    /// `CLOCK_MONOTONIC` in nanoseconds (`ktime_get_ns`).
    fn monotonic_ns(&self) -> u64;
    /// `CLOCK_BOOTTIME` in nanoseconds: monotonic plus time suspended.
    fn boot_ns(&self) -> u64;
    /// `get_jiffies_64()`: ticks of `HZ` since boot, starting at the
    /// kernel's `INITIAL_JIFFIES`.
    fn jiffies64(&self) -> u64;
}

/// The kernel's `INITIAL_JIFFIES` on 64-bit machines:
/// `(unsigned long)(unsigned int)(-300 * HZ)`, so that the 32-bit jiffies
/// wrap five minutes after boot (include/linux/jiffies.h).
pub const fn initial_jiffies(hz: u64) -> u64 {
    (0u32.wrapping_sub((300 * hz) as u32)) as u64
}

/// A clock for tests and replays: it starts at `start_ns` and every read,
/// of any of its three clocks, advances it by `step_ns` first.
#[derive(Debug)]
pub struct FakeClock {
    now: AtomicU64,
    step_ns: u64,
    boot_offset_ns: u64,
    hz: u64,
}

impl FakeClock {
    /// A clock at `start_ns` advancing `step_ns` per read; boot time runs
    /// `boot_offset_ns` ahead of monotonic time.
    pub fn new(start_ns: u64, step_ns: u64, boot_offset_ns: u64) -> FakeClock {
        FakeClock {
            now: AtomicU64::new(start_ns),
            step_ns,
            boot_offset_ns,
            hz: DEFAULT_HZ,
        }
    }

    /// The monotonic time the next read returns, without reading.
    pub fn peek_ns(&self) -> u64 {
        self.now.load(Ordering::Relaxed) + self.step_ns
    }

    fn tick(&self) -> u64 {
        self.now.fetch_add(self.step_ns, Ordering::Relaxed) + self.step_ns
    }
}

impl Default for FakeClock {
    /// One second after boot, advancing one microsecond per read, with
    /// one second spent suspended.
    fn default() -> Self {
        FakeClock::new(1_000_000_000, 1_000, 1_000_000_000)
    }
}

impl Clock for FakeClock {
    fn monotonic_ns(&self) -> u64 {
        self.tick()
    }

    fn boot_ns(&self) -> u64 {
        self.tick() + self.boot_offset_ns
    }

    fn jiffies64(&self) -> u64 {
        initial_jiffies(self.hz) + self.tick() / (1_000_000_000 / self.hz)
    }
}

/// The host's clocks, through `clock_gettime(2)`. Jiffies are derived from
/// `CLOCK_MONOTONIC` at [`DEFAULT_HZ`]: user space cannot read the
/// kernel's tick counter.
#[derive(Debug, Default)]
pub struct SystemClock;

fn clock_gettime_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used are
    // ones every Linux kernel since 2.6.39 has, so the call cannot fail.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

impl Clock for SystemClock {
    fn monotonic_ns(&self) -> u64 {
        clock_gettime_ns(libc::CLOCK_MONOTONIC)
    }

    fn boot_ns(&self) -> u64 {
        clock_gettime_ns(libc::CLOCK_BOOTTIME)
    }

    fn jiffies64(&self) -> u64 {
        initial_jiffies(DEFAULT_HZ) + self.monotonic_ns() / (1_000_000_000 / DEFAULT_HZ)
    }
}

/// Where `bpf_get_prandom_u32` draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrandomSeed {
    /// A fixed seed: each runner's sequence is a function of the seed and
    /// its CPU, so runs repeat exactly.
    Fixed(u64),
    /// Seeded from the OS at each runner's creation.
    Os,
}

/// One runner's pseudo-random generator (SplitMix64, as published by
/// Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014). The kernel uses a per-CPU generator too.
#[derive(Clone, Debug)]
pub struct Prandom(u64);

impl Prandom {
    /// A generator for CPU `cpu` from `seed`.
    pub fn new(seed: PrandomSeed, cpu: u32) -> Prandom {
        let base = match seed {
            PrandomSeed::Fixed(s) => s,
            PrandomSeed::Os => os_seed(),
        };
        Prandom(base ^ (u64::from(cpu) << 32 | u64::from(cpu)))
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 32) as u32
    }
}

fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std seeds each RandomState from the OS's entropy source.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(clock_gettime_ns(libc::CLOCK_MONOTONIC));
    h.finish()
}

/// A network device as helpers see it (`struct net_device`'s fields they
/// read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// The MTU: the largest L3 packet the device sends.
    pub mtu: u32,
    /// Bytes of link-layer header (`hard_header_len`; `ETH_HLEN` for
    /// Ethernet and for the loopback device).
    pub hard_header_len: u32,
    /// The device's MAC address, the source MAC `bpf_fib_lookup` reports.
    pub mac: [u8; 6],
    /// Whether IP forwarding is enabled on it (the `forwarding` sysctl
    /// that `bpf_fib_lookup` checks on the ingress device).
    pub forwarding: bool,
}

impl Device {
    /// An Ethernet device with this MTU, forwarding enabled, a zero MAC.
    pub fn ethernet(mtu: u32) -> Device {
        Device {
            mtu,
            hard_header_len: 14,
            mac: [0; 6],
            forwarding: true,
        }
    }
}

/// The network devices, by ifindex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Devices {
    /// The devices rxdp knows.
    pub by_ifindex: BTreeMap<u32, Device>,
    /// MTU of any other ifindex: `Some(m)` treats every ifindex as an
    /// Ethernet device of MTU `m`, `None` makes unknown ifindexes missing
    /// (`-ENODEV` from `bpf_check_mtu`, as in the kernel).
    pub default_mtu: Option<u32>,
}

/// The MTU of the kernel's loopback device, what test-run programs see.
pub const LOOPBACK_MTU: u32 = 65536;

impl Default for Devices {
    /// The loopback device (ifindex 1, MTU 65536, as in the kernel's
    /// test-run) and 1500 for every other ifindex.
    fn default() -> Self {
        let mut by_ifindex = BTreeMap::new();
        by_ifindex.insert(1, Device::ethernet(LOOPBACK_MTU));
        Devices {
            by_ifindex,
            default_mtu: Some(1500),
        }
    }
}

impl Devices {
    /// The device with this ifindex, or `None` when it does not exist.
    pub fn get(&self, ifindex: u32) -> Option<Device> {
        self.by_ifindex
            .get(&ifindex)
            .copied()
            .or_else(|| self.default_mtu.map(Device::ethernet))
    }
}

/// One `bpf_perf_event_output` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerfEvent {
    /// The perf event array's name.
    pub map: String,
    /// The array index written (the CPU for `BPF_F_CURRENT_CPU`).
    pub index: u32,
    /// The record: the program's data followed by the packet bytes the
    /// flags asked for.
    pub data: Vec<u8>,
}

/// Where helpers' output goes: `bpf_trace_printk` lines (the kernel's
/// trace_pipe), perf event records, ring buffer wakeups.
pub trait EventSink: Send + Sync + fmt::Debug {
    /// One `bpf_trace_printk` line, as formatted, from CPU `cpu`.
    fn trace(&self, cpu: u32, line: &str);
    /// One `bpf_perf_event_output` record.
    fn perf_event(&self, event: PerfEvent);
    /// A ring buffer's consumer was woken (`bpf_ringbuf_submit`,
    /// `bpf_ringbuf_output` without `BPF_RB_NO_WAKEUP`).
    fn ringbuf_wakeup(&self, map: &str);
}

/// What a [`RecordingSink`] has received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Trace lines, each with its CPU.
    pub trace: Vec<(u32, String)>,
    /// Perf event records.
    pub perf: Vec<PerfEvent>,
    /// Ring buffer wakeups, by map name.
    pub ringbuf_wakeups: Vec<String>,
}

/// An [`EventSink`] that keeps everything, for tests and the CLI, up to
/// `limit` entries of each kind (older ones are dropped first).
#[derive(Debug)]
pub struct RecordingSink {
    inner: Mutex<Recorded>,
    limit: usize,
}

impl RecordingSink {
    /// A sink keeping at most `limit` entries of each kind.
    pub fn new(limit: usize) -> RecordingSink {
        RecordingSink {
            inner: Mutex::new(Recorded::default()),
            limit,
        }
    }

    /// Takes what was recorded so far, leaving the sink empty.
    pub fn take(&self) -> Recorded {
        core::mem::take(&mut *self.lock())
    }

    /// A copy of what was recorded so far.
    pub fn snapshot(&self) -> Recorded {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        // A panic while holding the lock leaves plain data: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for RecordingSink {
    /// Keeps up to 65536 entries of each kind.
    fn default() -> Self {
        RecordingSink::new(1 << 16)
    }
}

fn push_bounded<T>(v: &mut Vec<T>, x: T, limit: usize) {
    if v.len() >= limit && !v.is_empty() {
        v.remove(0);
    }
    if limit > 0 {
        v.push(x);
    }
}

impl EventSink for RecordingSink {
    fn trace(&self, cpu: u32, line: &str) {
        let limit = self.limit;
        push_bounded(&mut self.lock().trace, (cpu, line.to_string()), limit);
    }

    fn perf_event(&self, event: PerfEvent) {
        let limit = self.limit;
        push_bounded(&mut self.lock().perf, event, limit);
    }

    fn ringbuf_wakeup(&self, map: &str) {
        let limit = self.limit;
        push_bounded(&mut self.lock().ringbuf_wakeups, map.to_string(), limit);
    }
}

/// Everything outside the program that helpers consult; see the module
/// documentation.
#[derive(Clone, Debug)]
pub struct HelperEnv {
    /// Time for the ktime and jiffies helpers.
    pub clock: Arc<dyn Clock>,
    /// Seed of each runner's `bpf_get_prandom_u32` generator.
    pub prandom: PrandomSeed,
    /// What `bpf_get_numa_node_id` returns.
    pub numa_node: u32,
    /// The network devices (MTUs for `bpf_check_mtu`, MACs and forwarding
    /// for `bpf_fib_lookup`).
    pub devices: Devices,
    /// Routes and neighbours for `bpf_fib_lookup`.
    pub fib: Fib,
    /// Where trace lines, perf events and ring buffer wakeups go.
    pub sink: Arc<dyn EventSink>,
}

impl HelperEnv {
    /// Repeatable: a [`FakeClock`], prandom seed 0, NUMA node 0, the
    /// test-run devices, an empty FIB, a [`RecordingSink`].
    pub fn deterministic() -> HelperEnv {
        HelperEnv {
            clock: Arc::new(FakeClock::default()),
            prandom: PrandomSeed::Fixed(0),
            numa_node: 0,
            devices: Devices::default(),
            fib: Fib::default(),
            sink: Arc::new(RecordingSink::default()),
        }
    }

    /// The host's clocks and OS-seeded randomness; otherwise as
    /// [`HelperEnv::deterministic`].
    pub fn system() -> HelperEnv {
        HelperEnv {
            clock: Arc::new(SystemClock),
            prandom: PrandomSeed::Os,
            ..HelperEnv::deterministic()
        }
    }

    /// The same environment with another sink.
    pub fn with_sink(mut self, sink: Arc<dyn EventSink>) -> HelperEnv {
        self.sink = sink;
        self
    }

    /// The same environment with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> HelperEnv {
        self.clock = clock;
        self
    }
}

impl Default for HelperEnv {
    fn default() -> Self {
        HelperEnv::deterministic()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_clock_advances_one_step_per_read() {
        let c = FakeClock::new(1000, 10, 5);
        assert_eq!(c.peek_ns(), 1010);
        assert_eq!(c.monotonic_ns(), 1010);
        assert_eq!(c.monotonic_ns(), 1020);
        assert_eq!(c.boot_ns(), 1035);
        let j = c.jiffies64();
        assert_eq!(j, initial_jiffies(DEFAULT_HZ));
    }

    #[test]
    fn initial_jiffies_is_five_minutes_before_the_32_bit_wrap() {
        assert_eq!(initial_jiffies(250), (1u64 << 32) - 75_000);
        assert_eq!(initial_jiffies(1000), (1u64 << 32) - 300_000);
    }

    #[test]
    fn system_clocks_are_ordered_and_move() {
        let c = SystemClock;
        let a = c.monotonic_ns();
        let b = c.monotonic_ns();
        assert!(b >= a && a > 0);
        assert!(c.boot_ns() >= a, "boot time includes suspended time");
        assert!(c.jiffies64() >= initial_jiffies(DEFAULT_HZ));
    }

    #[test]
    fn prandom_repeats_for_a_seed_and_differs_per_cpu() {
        let seq = |seed, cpu| {
            let mut p = Prandom::new(seed, cpu);
            (0..8).map(|_| p.next_u32()).collect::<Vec<_>>()
        };
        let a = seq(PrandomSeed::Fixed(7), 0);
        assert_eq!(a, seq(PrandomSeed::Fixed(7), 0));
        assert_ne!(a, seq(PrandomSeed::Fixed(7), 1));
        assert_ne!(a, seq(PrandomSeed::Fixed(8), 0));
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(distinct.len(), 8);
    }

    #[test]
    fn devices_default_to_loopback_and_1500() {
        let d = Devices::default();
        assert_eq!(d.get(1).unwrap().mtu, 65536);
        assert_eq!(d.get(7).unwrap().mtu, 1500);
        let strict = Devices {
            default_mtu: None,
            ..d
        };
        assert!(strict.get(7).is_none());
    }

    #[test]
    fn the_recording_sink_keeps_the_newest_entries() {
        let s = RecordingSink::new(2);
        for i in 0..3 {
            s.trace(0, &format!("line {i}"));
        }
        let r = s.take();
        assert_eq!(r.trace, vec![(0, "line 1".into()), (0, "line 2".into())]);
        assert!(s.snapshot().trace.is_empty());
    }
}
