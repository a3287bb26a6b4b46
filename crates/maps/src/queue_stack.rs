//! `BPF_MAP_TYPE_QUEUE` and `BPF_MAP_TYPE_STACK`: values without keys,
//! pushed and popped in FIFO or LIFO order, after the kernel's
//! kernel/bpf/queue_stack_maps.c.
//!
//! Programs use `bpf_map_push_elem`, `bpf_map_pop_elem` and
//! `bpf_map_peek_elem` ([`Map::push`], [`Map::pop`], [`Map::peek`]); the
//! control plane's update pushes and lookup peeks, as `bpf(2)` does.
//! Kernel rules kept: key_size 0, value_size > 0, `max_entries` > 0, only
//! `BPF_F_NUMA_NODE` and the access flags (`-EINVAL`); push takes
//! `BPF_ANY` or `BPF_EXIST` (`-EINVAL` otherwise), fails on a full map
//! with `-E2BIG` unless `BPF_EXIST` asks to overwrite the oldest value;
//! pop and peek on an empty map fail with `-ENOENT`; element operations
//! with keys are `-EINVAL`.
//!
//! Values are copied in and out, never pointed to, so the storage is one
//! preallocated ring of `max_entries + 1` values under a lock: pushes and
//! pops do not allocate.

use std::any::Any;
use std::sync::{Mutex, PoisonError};

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_NUMA_NODE, BPF_NOEXIST};
use crate::hashtab::KMALLOC_MAX_SIZE;
use crate::map::Map;
use crate::map_type;

/// A queue or a stack.
#[derive(Debug)]
pub struct QueueStack {
    def: MapDef,
    stack: bool,
    ring: Mutex<Ring>,
}

/// `size` value slots; `head` is where the next push goes, `tail` the
/// oldest value; empty when equal, full when `head + 1 == tail`.
#[derive(Debug)]
struct Ring {
    bytes: Vec<u8>,
    size: usize,
    head: usize,
    tail: usize,
}

impl QueueStack {
    /// Creates a queue or stack with the kernel's
    /// `queue_stack_map_alloc_check` rules.
    pub fn new(def: &MapDef) -> Result<Self, MapError> {
        let stack = match def.map_type {
            map_type::QUEUE => false,
            map_type::STACK => true,
            _ => return Err(def.invalid("not a queue or stack")),
        };
        if def.max_entries == 0 || def.key_size != 0 || def.value_size == 0 {
            return Err(def.invalid(format!(
                "queue/stack needs key_size 0, value_size > 0, max_entries > 0 (got {}, {}, {})",
                def.key_size, def.value_size, def.max_entries
            )));
        }
        def.check_flags(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        if u64::from(def.value_size) > KMALLOC_MAX_SIZE {
            return Err(def.too_big(format!("value_size {}", def.value_size)));
        }
        let size = def.max_entries as usize + 1;
        let total = size
            .checked_mul(def.value_size as usize)
            .ok_or_else(|| def.too_big("max_entries * value_size overflows"))?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(total)
            .map_err(|_| MapError::NoMemory {
                name: def.name.clone(),
                bytes: total as u64,
            })?;
        bytes.resize(total, 0);
        Ok(Self {
            def: def.clone(),
            stack,
            ring: Mutex::new(Ring {
                bytes,
                size,
                head: 0,
                tail: 0,
            }),
        })
    }

    /// The number of values held.
    pub fn len(&self) -> usize {
        let r = self.lock();
        (r.head + r.size - r.tail) % r.size
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // Nothing panics under the lock; the ring stays consistent.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies out (and with `delete`, removes) the next value.
    fn take(&self, out: &mut [u8], delete: bool) -> Result<(), MapError> {
        let vs = self.def.value_size as usize;
        MapDef::check_value(out, vs)?;
        let mut r = self.lock();
        if r.head == r.tail {
            return Err(MapError::NoEntry);
        }
        let index = match self.stack {
            true => (r.head + r.size - 1) % r.size,
            false => r.tail,
        };
        out.copy_from_slice(&r.bytes[index * vs..][..vs]);
        if delete {
            match self.stack {
                true => r.head = index,
                false => r.tail = (r.tail + 1) % r.size,
            }
        }
        Ok(())
    }
}

impl Map for QueueStack {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, _key: &[u8], _cpu: u32) -> Option<*mut u8> {
        None
    }

    fn update_percpu(&self, _: &[u8], _: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        Err(MapError::Invalid(
            "queues and stacks have no keys: use push",
        ))
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(MapError::Invalid("queues and stacks have no keys: use pop"))
    }

    fn get_next_key(&self, _key: Option<&[u8]>, _next: &mut [u8]) -> Result<(), MapError> {
        Err(MapError::Invalid("queues and stacks have no keys"))
    }

    fn lookup_copy(&self, _key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.def.check_sys_lookup()?;
        let mut out = vec![0; self.def.value_size as usize];
        self.take(&mut out, false)?;
        Ok(out)
    }

    fn update_copy(&self, _key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        self.push(value, flags)
    }

    fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & BPF_NOEXIST != 0 || flags > BPF_EXIST {
            return Err(MapError::BadFlags { flags });
        }
        let vs = self.def.value_size as usize;
        MapDef::check_value(value, vs)?;
        let mut r = self.lock();
        let next = (r.head + 1) % r.size;
        if next == r.tail {
            if flags & BPF_EXIST == 0 {
                return Err(MapError::Full {
                    max_entries: self.def.max_entries,
                });
            }
            // Overwrite the oldest value.
            r.tail = (r.tail + 1) % r.size;
        }
        let head = r.head;
        r.bytes[head * vs..][..vs].copy_from_slice(value);
        r.head = next;
        Ok(())
    }

    fn pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, true)
    }

    fn peek(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.take(out, false)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
