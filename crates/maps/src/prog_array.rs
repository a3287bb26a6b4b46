//! `BPF_MAP_TYPE_PROG_ARRAY`: the table `bpf_tail_call` jumps through,
//! after the kernel's fd-array maps in kernel/bpf/arraymap.c.
//!
//! Keys are `u32` indices below `max_entries`; a value is a program. In
//! `bpf(2)` the value is a program fd and a lookup returns the program's
//! id; in rxdp the control plane stores a [`ProgRef`] (an opaque program
//! with its id) with [`ProgArray::set`], and `lookup_copy` returns the id.
//! Programs cannot look entries up (the verifier refuses it; `lookup`
//! returns NULL); the tail-call path reads them with [`Map::prog_at`].
//!
//! As in the kernel: `value_size` must be 4, `BPF_F_RDONLY_PROG` and
//! `BPF_F_WRONLY_PROG` are refused, updates take `BPF_ANY` only
//! (`-EINVAL`), an index past the end is `-E2BIG`, deleting an empty entry
//! is `-ENOENT`, and iteration visits every index, empty or not.
//!
//! Next to the programs the array keeps the table compiled code jumps
//! through ([`ProgArray::entries`]): each slot's
//! [`ProgRef::tail_call_entry`], 0 when empty, read without a lock, as the
//! kernel's JIT reads `array->ptrs[index]`. An update stores the new entry
//! with release ordering after the program is in place.
//!
//! Generated code may also jump to a slot's program directly, where the
//! verifier proved the array and the key constant: such code registers a
//! [`PokeTracker`] with [`ProgArray::track`] and is told of every change
//! of the slots (the kernel's `map_poke_track` / `map_poke_run`), with
//! updates serialised by one mutex so that its patches happen in update
//! order. Readers never take that mutex: a tracker may wait for a grace
//! period while patching.
//!
//! A program replaced or removed stays alive until a grace period of the
//! map's domain has passed ([`rxdp_rcu::Domain::defer`]), so a worker in
//! the middle of a tail call into it, or generated code jumping to it
//! directly, finishes first.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use rxdp_rcu::Domain;

use crate::def::MapDef;
use crate::error::MapError;
use crate::flags::{BPF_ANY, BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG};
use crate::map::{Map, ProgRef};
use crate::map_type;

/// Generated code that jumps directly to the programs of some slots of a
/// prog array (the kernel's poke descriptors), told of every change.
pub trait PokeTracker: Send + Sync {
    /// Slot `index` of `array` changes from tail-call entry `old` to `new`
    /// (0 for an empty slot or a program without native code). Called in
    /// update order, before a replaced program is released; a tracker
    /// may wait for a grace period of `array.domain()` here.
    fn poke(&self, array: &ProgArray, index: u32, old: u64, new: u64) -> Result<(), String>;
}

/// A prog array.
pub struct ProgArray {
    def: MapDef,
    domain: Arc<Domain>,
    progs: RwLock<Vec<Option<ProgRef>>>,
    /// Each slot's tail-call entry, written under `progs`' write lock.
    entries: Box<[AtomicU64]>,
    /// The code jumping directly through this array; the mutex also
    /// serialises updates.
    trackers: Mutex<Vec<Weak<dyn PokeTracker>>>,
}

impl std::fmt::Debug for ProgArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgArray")
            .field("def", &self.def)
            .finish_non_exhaustive()
    }
}

/// The checks of `fd_array_map_alloc_check` shared by prog arrays and
/// arrays of maps: a 4-byte value (an fd), no program access flags, then
/// the array checks.
pub(crate) fn check_fd_array_def(def: &MapDef) -> Result<(), MapError> {
    if def.value_size != 4 {
        return Err(def.invalid(format!(
            "value_size is {}, an fd array needs 4",
            def.value_size
        )));
    }
    if def.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) != 0 {
        return Err(def.invalid("BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG on an fd array"));
    }
    // The kernel then runs array_map_alloc_check on the definition.
    let as_array = MapDef {
        map_type: map_type::ARRAY,
        ..def.clone()
    };
    crate::array::check_def(&as_array, false, 1)
}

/// The index a 4-byte key names, `-E2BIG` past `max_entries`.
pub(crate) fn fd_array_index(def: &MapDef, key: &[u8]) -> Result<usize, MapError> {
    def.check_key(key)?;
    let index = u32::from_ne_bytes(key.try_into().unwrap_or_default());
    if index >= def.max_entries {
        return Err(MapError::IndexOutOfRange {
            index,
            max_entries: def.max_entries,
        });
    }
    Ok(index as usize)
}

/// `get_next_key` of array-shaped maps: every index in order; a missing
/// or out-of-range key restarts at 0.
pub(crate) fn array_next_key(
    def: &MapDef,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> Result<(), MapError> {
    def.check_key(next)?;
    let index = match key {
        None => 0,
        Some(key) => {
            def.check_key(key)?;
            match u32::from_ne_bytes(key.try_into().unwrap_or_default()) {
                i if i >= def.max_entries => 0,
                i if i + 1 == def.max_entries => return Err(MapError::NoEntry),
                i => i + 1,
            }
        }
    };
    next.copy_from_slice(&index.to_ne_bytes());
    Ok(())
}

impl ProgArray {
    /// Creates a prog array in grace-period domain `domain`, with the
    /// kernel's `fd_array_map_alloc_check` rules.
    pub fn new_in(def: &MapDef, domain: &Arc<Domain>) -> Result<Self, MapError> {
        if def.map_type != map_type::PROG_ARRAY {
            return Err(def.invalid("not a prog array"));
        }
        check_fd_array_def(def)?;
        Ok(Self {
            def: def.clone(),
            domain: Arc::clone(domain),
            progs: RwLock::new(vec![None; def.max_entries as usize]),
            entries: (0..def.max_entries).map(|_| AtomicU64::new(0)).collect(),
            trackers: Mutex::new(Vec::new()),
        })
    }

    /// The grace-period domain programs leaving the array are freed in.
    pub fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }

    /// Registers `tracker` and tells it what every filled slot holds now
    /// (as a change from empty), atomically with respect to updates.
    pub fn track(&self, tracker: Weak<dyn PokeTracker>) -> Result<(), MapError> {
        let mut trackers = self.lock_trackers();
        trackers.retain(|t| t.strong_count() > 0);
        let result = match tracker.upgrade() {
            Some(t) => (0..self.def.max_entries)
                .map(|i| (i, self.entries[i as usize].load(Ordering::Acquire)))
                .filter(|&(_, e)| e != 0)
                .try_for_each(|(i, e)| t.poke(self, i, 0, e)),
            None => Ok(()),
        };
        trackers.push(tracker);
        result.map_err(MapError::TextPoke)
    }

    fn lock_trackers(&self) -> MutexGuard<'_, Vec<Weak<dyn PokeTracker>>> {
        self.trackers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces slot `i` (under the update mutex `trackers`): the table
    /// and the entry first, then the trackers, then the old program is
    /// released after a grace period. Every tracker is told even when one
    /// fails; the first failure is returned.
    fn replace(
        &self,
        trackers: &[Weak<dyn PokeTracker>],
        i: usize,
        prog: Option<ProgRef>,
    ) -> (Option<ProgRef>, Result<(), MapError>) {
        let new = prog.as_ref().map_or(0, |p| p.tail_call_entry);
        let (old_prog, old) = {
            let mut progs = self.write();
            let old = self.entries[i].swap(new, Ordering::AcqRel);
            (std::mem::replace(&mut progs[i], prog), old)
        };
        let mut result = Ok(());
        if old != new {
            for t in trackers.iter().filter_map(Weak::upgrade) {
                let r = t.poke(self, i as u32, old, new);
                if result.is_ok() {
                    result = r.map_err(MapError::TextPoke);
                }
            }
        }
        (old_prog, result)
    }

    /// The table compiled tail calls jump through: `max_entries` entry
    /// addresses, 0 for an empty slot or a program without native code.
    /// It lives as long as the array.
    pub fn entries(&self) -> *const AtomicU64 {
        self.entries.as_ptr()
    }

    /// Stores `prog` at `index` (`BPF_MAP_UPDATE_ELEM` with a program fd,
    /// flags `BPF_ANY` only). The program it replaces is dropped after a
    /// grace period.
    pub fn set(&self, index: u32, prog: ProgRef, flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        if flags != BPF_ANY {
            return Err(MapError::BadFlags { flags });
        }
        let i = fd_array_index(&self.def, &index.to_ne_bytes())?;
        let trackers = self.lock_trackers();
        let (old, result) = self.replace(&trackers, i, Some(prog));
        drop(trackers);
        self.drop_later(old);
        result
    }

    /// Empties `index` (`BPF_MAP_DELETE_ELEM`); `-ENOENT` when it was.
    pub fn clear(&self, index: u32) -> Result<(), MapError> {
        self.delete(&index.to_ne_bytes())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Option<ProgRef>>> {
        // Nothing panics under the lock; the table stays consistent.
        self.progs.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Option<ProgRef>>> {
        self.progs.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops a program no longer in the table once workers have passed a
    /// quiescent point.
    fn drop_later(&self, old: Option<ProgRef>) {
        if let Some(old) = old {
            self.domain.defer(Box::new(move || drop(old)));
        }
    }
}

impl Map for ProgArray {
    fn def(&self) -> &MapDef {
        &self.def
    }

    fn lookup_percpu(&self, _key: &[u8], _cpu: u32) -> Option<*mut u8> {
        // fd_array_map_lookup_elem: programs may not read a prog array.
        None
    }

    fn update_percpu(&self, _: &[u8], value: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        // Programs cannot update prog arrays (the verifier refuses it).
        Err(self.raw_value(value))
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let i = fd_array_index(&self.def, key)?;
        let trackers = self.lock_trackers();
        if self.read()[i].is_none() {
            return Err(MapError::NoEntry);
        }
        let (old, result) = self.replace(&trackers, i, None);
        drop(trackers);
        self.drop_later(old);
        result
    }

    fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<(), MapError> {
        array_next_key(&self.def, key, next)
    }

    fn lookup_copy(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.def.check_sys_lookup()?;
        let i = fd_array_index(&self.def, key).map_err(|_| MapError::NoEntry)?;
        let id = self.read()[i].as_ref().map(|p| p.id);
        Ok(id.ok_or(MapError::NoEntry)?.to_ne_bytes().to_vec())
    }

    fn update_copy(&self, _key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.def.check_sys_update(flags)?;
        Err(self.raw_value(value))
    }

    fn prog_at(&self, index: u32) -> Option<ProgRef> {
        self.read().get(index as usize)?.clone()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl ProgArray {
    /// The error for a raw value where a program reference is needed.
    fn raw_value(&self, value: &[u8]) -> MapError {
        MapError::BadHandle {
            what: "program",
            value: value.try_into().map(u32::from_ne_bytes).unwrap_or_default(),
        }
    }
}
