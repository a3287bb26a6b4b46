//! What programs emit while `test-run` runs them: `bpf_trace_printk`
//! lines, perf event records and ring buffer records, printed on stderr
//! as they happen (stdout keeps the result, one JSON object with
//! `--json`).

use crate::input::hex;
use rxdp_maps::RingBuf;
use rxdp_xdp::MapTable;
use rxdp_xdp::helpers::{EventSink, PerfEvent};
use std::sync::{Arc, OnceLock};

/// Prints events on stderr; drains a ring buffer when the program wakes
/// its consumer, as a user-space reader polling it would.
#[derive(Default)]
pub(crate) struct PrintSink {
    maps: OnceLock<Arc<MapTable>>,
}

impl std::fmt::Debug for PrintSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrintSink").finish_non_exhaustive()
    }
}

impl PrintSink {
    /// Gives the sink the maps whose ring buffers it drains.
    pub(crate) fn attach(&self, maps: Arc<MapTable>) {
        let _ = self.maps.set(maps);
    }

    /// Prints and consumes every record waiting in ring buffer `name`.
    fn drain(&self, name: &str) {
        let Some(m) = self.maps.get().and_then(|t| t.by_name(name)) else {
            return;
        };
        if let Some(rb) = m.map.as_any().downcast_ref::<RingBuf>() {
            rb.ring()
                .consume(|rec| eprintln!("ringbuf {name}: {} bytes: {}", rec.len(), hex(rec)));
        }
    }

    /// Prints whatever ring buffers still hold (records submitted without
    /// waking the consumer).
    pub(crate) fn drain_all(&self) {
        let names: Vec<String> = match self.maps.get() {
            Some(t) => t.iter().map(|m| m.name.clone()).collect(),
            None => return,
        };
        for n in names {
            self.drain(&n);
        }
    }
}

impl EventSink for PrintSink {
    fn trace(&self, cpu: u32, line: &str) {
        eprintln!("trace_printk [cpu {cpu}]: {}", line.trim_end_matches('\n'));
    }

    fn perf_event(&self, event: PerfEvent) {
        eprintln!(
            "perf_event {}[{}]: {} bytes: {}",
            event.map,
            event.index,
            event.data.len(),
            hex(&event.data)
        );
    }

    fn ringbuf_wakeup(&self, map: &str) {
        self.drain(map);
    }
}
