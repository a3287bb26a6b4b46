//! Grace periods for rxdp: quiescent-state-based reclamation (QSBR), the
//! one mechanism the whole runtime uses to free or reuse memory that
//! datapath workers may still be reading, as the kernel uses RCU.
//!
//! # The model
//!
//! A [`Domain`] (the process-wide [`Domain::global`], or one per runtime)
//! knows its *readers*: datapath [`Worker`]s, each registered by the thread
//! that polls, and short [`Guard`] read sections of other threads. A reader
//! may hold pointers into shared memory (map values, programs, dispatcher
//! images) only between two of its quiescent points:
//!
//! - a worker calls [`Worker::quiescent`] between poll batches, when it
//!   holds no such pointer; it goes [`Worker::offline`] around anything
//!   that blocks (waiting for packets), and [`Worker::online`] after;
//! - a [`Guard`] is a read section: its thread holds pointers only while
//!   the guard lives.
//!
//! The control plane changes shared state in two steps: it *publishes* the
//! new state (unlinks an element, stores a new program pointer) so that no
//! reader can newly find the old, then either waits with
//! [`Domain::synchronize`] until every online reader has passed a
//! quiescent point and frees the old state itself, or hands the freeing to
//! [`Domain::defer`] (the kernel's `call_rcu`), which runs it once a grace
//! period has passed, from the next [`Domain::synchronize`],
//! [`Domain::collect`] or [`Domain::barrier`] on any thread. Code that
//! cannot allocate or block (a hash map deleting an element on a worker)
//! takes a [`Cookie`] with [`Domain::start_poll`] and asks
//! [`Domain::poll`] later, the kernel's `start_poll_synchronize_rcu` and
//! `poll_state_synchronize_rcu`.
//!
//! # How the maps use it
//!
//! Each map is created in a domain (`rxdp_maps::create` uses
//! [`Domain::global`], `create_in` a given one). A hash map retires the
//! slot of a deleted or replaced element with a cookie and reuses it only
//! once [`Domain::poll`] says a grace period has passed, so a value
//! pointer a program got from `bpf_map_lookup_elem` keeps pointing at that
//! element's value until its worker's next quiescent point. Prog-array and
//! map-in-map updates [`Domain::defer`] the drop of the program or map they
//! replace.
//!
//! # Threads that are not workers
//!
//! The control plane is *offline* by default: a thread that only copies
//! values in and out through map operations needs nothing, since those
//! copies happen under the map's own lock. A thread that holds raw
//! pointers into shared memory outside a worker, above all a program run
//! on the caller's thread (`test-run`), must hold a [`Domain::read_lock`]
//! guard for the whole run (or register as a worker): memory the program
//! reaches is then reclaimed only after the run ends.
//!
//! # Counters
//!
//! The domain keeps a grace-period counter `gp`, starting at 1, that every
//! new grace period increments. Each reader has a counter `ctr`: 0 while
//! offline, else the value of `gp` it saw at its last quiescent point. A
//! grace period numbered `t` has passed when every online reader has
//! `ctr >= t`. A quiescent point is one acquire load of `gp` and, when it
//! changed, one release store of `ctr`: no lock, no read-modify-write.
//! Going online and scanning the readers each add a sequentially
//! consistent fence, so that a reader coming online either is seen by the
//! scan or sees everything published before it (the store-load pattern
//! that liburcu's QSBR flavour closes with the same two barriers).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

/// A reader's counter value while it is offline.
const OFFLINE: u64 = 0;

/// A deferred function, run once after a grace period.
pub type Callback = Box<dyn FnOnce() + Send>;

/// One reader's counter, alone on its cache line so that workers passing
/// quiescent points do not slow each other down.
#[derive(Debug)]
#[repr(align(64))]
struct ReaderState {
    ctr: AtomicU64,
}

/// A callback waiting for grace period `target`.
struct Deferred {
    target: u64,
    f: Callback,
}

/// A grace-period domain: the readers that must pass quiescent points
/// before memory they may reference is reclaimed, and the callbacks
/// waiting for that. See the crate documentation.
pub struct Domain {
    /// The number of the newest grace period started.
    gp: AtomicU64,
    /// The newest grace period known to have passed (a cache for `poll`).
    completed: AtomicU64,
    /// Every registered reader, online or not.
    readers: RwLock<Vec<Arc<ReaderState>>>,
    /// Callbacks waiting for their grace period.
    callbacks: Mutex<VecDeque<Deferred>>,
}

/// A grace period to wait for: from [`Domain::start_poll`], to give to
/// [`Domain::poll`]. Cookies of one domain only mean something to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cookie(u64);

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Domain")
            .field("gp", &self.gp.load(Ordering::Relaxed))
            .field("completed", &self.completed.load(Ordering::Relaxed))
            .field("readers", &read(&self.readers).len())
            .field("pending", &self.pending())
            .finish()
    }
}

/// What the current thread has registered, so that `synchronize` can tell
/// a worker calling it (a quiescent point) from a read section calling it
/// (a deadlock).
struct LocalReader {
    domain: *const Domain,
    state: Arc<ReaderState>,
    guard: bool,
}

thread_local! {
    static LOCAL: RefCell<Vec<LocalReader>> = const { RefCell::new(Vec::new()) };
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned lock still
    // guards consistent data.
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Domain {
    /// A new domain with no readers.
    pub fn new() -> Arc<Domain> {
        Arc::new(Domain {
            gp: AtomicU64::new(1),
            completed: AtomicU64::new(0),
            readers: RwLock::new(Vec::new()),
            callbacks: Mutex::new(VecDeque::new()),
        })
    }

    /// The process-wide default domain, for maps and programs created
    /// without one.
    pub fn global() -> &'static Arc<Domain> {
        static GLOBAL: OnceLock<Arc<Domain>> = OnceLock::new();
        GLOBAL.get_or_init(Domain::new)
    }

    /// Registers the calling thread as a datapath worker, online. The
    /// worker belongs to this thread (it is not `Send`); dropping it
    /// unregisters it.
    pub fn register(self: &Arc<Self>) -> Worker {
        let state = self.add_reader(false);
        Worker {
            domain: Arc::clone(self),
            state,
            _thread_bound: PhantomData,
        }
    }

    /// Opens a read section on the calling thread: until the guard is
    /// dropped, memory reclaimed through this domain stays valid for this
    /// thread. For control-plane threads and program runs outside a
    /// worker. Read sections may nest. Registering costs a lock and an
    /// allocation: workers use [`Domain::register`] instead.
    pub fn read_lock(&self) -> Guard<'_> {
        let state = self.add_reader(true);
        Guard {
            domain: self,
            state,
            _thread_bound: PhantomData,
        }
    }

    /// Adds an online reader for the calling thread.
    fn add_reader(&self, guard: bool) -> Arc<ReaderState> {
        let state = Arc::new(ReaderState {
            ctr: AtomicU64::new(OFFLINE),
        });
        write(&self.readers).push(Arc::clone(&state));
        self.go_online(&state);
        LOCAL.with(|l| {
            l.borrow_mut().push(LocalReader {
                domain: self,
                state: Arc::clone(&state),
                guard,
            })
        });
        state
    }

    /// Removes a reader of the calling thread, which goes offline first.
    fn remove_reader(&self, state: &Arc<ReaderState>) {
        state.ctr.store(OFFLINE, Ordering::Release);
        write(&self.readers).retain(|r| !Arc::ptr_eq(r, state));
        // The thread-local list may already be gone at thread exit.
        let _ = LOCAL.try_with(|l| l.borrow_mut().retain(|r| !Arc::ptr_eq(&r.state, state)));
    }

    /// Marks `state` online: from now on grace periods wait for it.
    fn go_online(&self, state: &ReaderState) {
        state
            .ctr
            .store(self.gp.load(Ordering::Acquire), Ordering::Relaxed);
        // Pairs with the fence in `safe_gp`: either the scan sees this
        // reader online, or this reader's loads after the fence see
        // everything published before the scan.
        fence(Ordering::SeqCst);
    }

    /// Starts a grace period and returns a cookie for it: once
    /// [`Domain::poll`] returns true for it, every reader online now has
    /// passed a quiescent point. Costs one atomic add; never blocks.
    pub fn start_poll(&self) -> Cookie {
        // A read-modify-write, not a load: a reader that later sees this
        // value (or a newer one) of `gp` also sees everything this thread
        // published before the call.
        Cookie(self.gp.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// Whether the grace period of `cookie` has passed. Never blocks; when
    /// the answer is not already known it scans the readers under a read
    /// lock.
    pub fn poll(&self, cookie: Cookie) -> bool {
        if self.completed.load(Ordering::Acquire) >= cookie.0 {
            return true;
        }
        self.safe_gp() >= cookie.0
    }

    /// The newest grace period that has passed: the smallest counter of
    /// the online readers, or the newest started one when none is online.
    fn safe_gp(&self) -> u64 {
        // Pairs with the fence in `go_online` (see there) and orders the
        // caller's earlier publication before the counter loads.
        fence(Ordering::SeqCst);
        let readers = read(&self.readers);
        let newest = self.gp.load(Ordering::Acquire);
        let safe = readers
            .iter()
            .map(|r| r.ctr.load(Ordering::Acquire))
            .filter(|&c| c != OFFLINE)
            .min()
            .unwrap_or(newest);
        self.completed.fetch_max(safe, Ordering::AcqRel);
        safe
    }

    /// Waits until every reader online at the call has passed a quiescent
    /// point (or gone offline), then runs the deferred callbacks whose
    /// grace period has passed. The kernel's `synchronize_rcu`.
    ///
    /// Called by a registered worker of this domain, the call is itself a
    /// quiescent point of that worker (as in liburcu's QSBR flavour): the
    /// worker must hold no pointer it wants kept across it.
    ///
    /// # Panics
    ///
    /// When the calling thread is inside a [`Guard`] read section of this
    /// domain: the call could never return, since the grace period waits
    /// for the section to end.
    pub fn synchronize(&self) {
        let target = self.wait_grace_period();
        self.run_ready(target);
    }

    /// Starts a grace period and waits until it has passed; returns its
    /// number.
    fn wait_grace_period(&self) -> u64 {
        let own = self.own_workers_offline();
        let target = self.start_poll().0;
        let mut backoff = Backoff::default();
        while self.safe_gp() < target {
            backoff.wait();
        }
        for state in own {
            self.go_online(&state);
        }
        target
    }

    /// Takes the calling thread's online workers of this domain offline
    /// for the duration of a `synchronize`, and returns them.
    fn own_workers_offline(&self) -> Vec<Arc<ReaderState>> {
        LOCAL.with(|l| {
            let local = l.borrow();
            let mine = local.iter().filter(|r| std::ptr::eq(r.domain, self));
            let mut own = Vec::new();
            for r in mine {
                assert!(
                    !r.guard,
                    "rxdp-rcu: synchronize() inside a read section of the same domain would never return"
                );
                if r.state.ctr.load(Ordering::Relaxed) != OFFLINE {
                    r.state.ctr.store(OFFLINE, Ordering::Release);
                    own.push(Arc::clone(&r.state));
                }
            }
            own
        })
    }

    /// Queues `f` to run once after a grace period that starts now: after
    /// every reader online now has passed a quiescent point. The kernel's
    /// `call_rcu`. `f` runs on whichever thread next calls
    /// [`Domain::synchronize`], [`Domain::collect`] or [`Domain::barrier`]
    /// once the grace period has passed, or when the domain is dropped.
    pub fn defer(&self, f: Callback) {
        let target = self.start_poll().0;
        self.callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(Deferred { target, f });
    }

    /// [`Domain::defer`] under the kernel's name.
    pub fn call_rcu(&self, f: Callback) {
        self.defer(f)
    }

    /// Runs, without waiting, the deferred callbacks whose grace period
    /// has already passed; returns how many ran.
    pub fn collect(&self) -> usize {
        let safe = self.safe_gp();
        self.run_ready(safe)
    }

    /// Waits for a grace period, then runs every callback deferred before
    /// the call (the kernel's `rcu_barrier`); returns how many ran.
    /// Callbacks those callbacks defer wait for a later grace period.
    ///
    /// # Panics
    ///
    /// As [`Domain::synchronize`], inside a read section of this domain.
    pub fn barrier(&self) -> usize {
        let target = self.wait_grace_period();
        self.run_ready(target)
    }

    /// The number of deferred callbacks not yet run.
    pub fn pending(&self) -> usize {
        self.callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Runs the callbacks waiting for grace period `safe` or an older one,
    /// outside the lock (they may defer more).
    fn run_ready(&self, safe: u64) -> usize {
        let ready: VecDeque<Deferred> = {
            let mut queue = self
                .callbacks
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (ready, waiting) = queue.drain(..).partition(|d| d.target <= safe);
            *queue = waiting;
            ready
        };
        let n = ready.len();
        for d in ready {
            (d.f)();
        }
        n
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        // Workers hold the domain and guards borrow it: no reader is left,
        // so every callback may run.
        let queue = std::mem::take(
            self.callbacks
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for d in queue {
            (d.f)();
        }
    }
}

/// A datapath worker of a [`Domain`]: the thread that registered it passes
/// quiescent points between poll batches. Not `Send`: it belongs to the
/// thread that registered it. Dropping it unregisters it.
#[derive(Debug)]
pub struct Worker {
    domain: Arc<Domain>,
    state: Arc<ReaderState>,
    _thread_bound: PhantomData<*const ()>,
}

impl Worker {
    /// A quiescent point: the worker holds no pointer into memory reclaimed
    /// through the domain (call it between poll batches). One load and at
    /// most one store; does nothing while the worker is offline.
    #[inline]
    pub fn quiescent(&self) {
        let gp = self.domain.gp.load(Ordering::Acquire);
        // Only this thread writes its counter, so a relaxed load suffices.
        let ctr = self.state.ctr.load(Ordering::Relaxed);
        if ctr != OFFLINE && ctr != gp {
            // Release: everything this worker read before happens before
            // whatever the reclaimer does after seeing the new counter.
            self.state.ctr.store(gp, Ordering::Release);
        }
    }

    /// Takes the worker offline (before blocking, or idling): grace periods
    /// stop waiting for it. It must hold no pointer into reclaimable
    /// memory until [`Worker::online`].
    pub fn offline(&self) {
        self.state.ctr.store(OFFLINE, Ordering::Release);
    }

    /// Brings the worker back online after [`Worker::offline`].
    pub fn online(&self) {
        if self.state.ctr.load(Ordering::Relaxed) == OFFLINE {
            self.domain.go_online(&self.state);
        }
    }

    /// Whether grace periods wait for this worker.
    pub fn is_online(&self) -> bool {
        self.state.ctr.load(Ordering::Relaxed) != OFFLINE
    }

    /// The domain the worker belongs to.
    pub fn domain(&self) -> &Arc<Domain> {
        &self.domain
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.domain.remove_reader(&self.state);
    }
}

/// A read section of a thread that is not a worker (see
/// [`Domain::read_lock`]); it ends when dropped. Not `Send`.
#[derive(Debug)]
pub struct Guard<'a> {
    domain: &'a Domain,
    state: Arc<ReaderState>,
    _thread_bound: PhantomData<*const ()>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.domain.remove_reader(&self.state);
    }
}

/// Waiting for readers: spin briefly, then yield, then sleep, since a
/// worker may be in the middle of a long batch.
#[derive(Default)]
struct Backoff {
    step: u32,
}

impl Backoff {
    fn wait(&mut self) {
        self.step = self.step.saturating_add(1);
        match self.step {
            0..=16 => std::hint::spin_loop(),
            17..=64 => std::thread::yield_now(),
            n => std::thread::sleep(Duration::from_micros(u64::from((n - 64).min(20)) * 50)),
        }
    }
}

#[cfg(test)]
mod tests;
