//! Grace-period behaviour: who synchronize waits for, when deferred
//! callbacks run, and a stress test of publish-then-reclaim.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize};
use std::sync::mpsc;
use std::thread;

/// Spawns a worker of `domain` that registers, reports `ready`, waits for
/// a `go`, then does `then` with its worker handle.
fn worker_thread(
    domain: &Arc<Domain>,
    then: impl FnOnce(&Worker) + Send + 'static,
) -> (mpsc::Sender<()>, mpsc::Receiver<()>, thread::JoinHandle<()>) {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let domain = Arc::clone(domain);
    let handle = thread::spawn(move || {
        let worker = domain.register();
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        then(&worker);
    });
    ready_rx.recv().unwrap();
    (go_tx, ready_rx, handle)
}

#[test]
fn synchronize_waits_for_an_online_worker_until_its_quiescent_point() {
    let domain = Domain::new();
    let passed = Arc::new(AtomicBool::new(false));
    let (go, _ready, worker) = {
        let passed = Arc::clone(&passed);
        worker_thread(&domain, move |w| {
            passed.store(true, Ordering::SeqCst);
            w.quiescent();
            // Stay registered and online until the test ends.
            thread::sleep(Duration::from_millis(50));
        })
    };
    let syncer = {
        let domain = Arc::clone(&domain);
        let passed = Arc::clone(&passed);
        thread::spawn(move || {
            domain.synchronize();
            assert!(
                passed.load(Ordering::SeqCst),
                "returned before the quiescent point"
            );
        })
    };
    thread::sleep(Duration::from_millis(30));
    assert!(
        !syncer.is_finished(),
        "synchronize did not wait for the worker"
    );
    go.send(()).unwrap();
    syncer.join().unwrap();
    worker.join().unwrap();
}

#[test]
fn synchronize_does_not_wait_for_offline_workers() {
    let domain = Domain::new();
    let (go, _ready, worker) = worker_thread(&domain, |_| {});
    // The worker thread is parked in recv(); take it offline from here by
    // a second worker that goes offline itself, and check the first blocks.
    let offline = Domain::new();
    let (go2, ready2, worker2) = worker_thread(&offline, |w| {
        w.offline();
        thread::sleep(Duration::from_millis(10));
    });
    go2.send(()).unwrap();
    worker2.join().unwrap();
    drop(ready2);
    // A worker that went offline and then exited no longer counts either.
    offline.synchronize();
    // The first worker is online and never quiescent: synchronize must
    // wait for it; once it exits (unregisters), synchronize returns.
    let syncer = {
        let domain = Arc::clone(&domain);
        thread::spawn(move || domain.synchronize())
    };
    thread::sleep(Duration::from_millis(20));
    assert!(!syncer.is_finished());
    go.send(()).unwrap();
    worker.join().unwrap();
    syncer.join().unwrap();
}

#[test]
fn an_offline_worker_that_stays_registered_is_not_waited_for() {
    let domain = Domain::new();
    let (tx, rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let d = Arc::clone(&domain);
    let worker = thread::spawn(move || {
        let w = d.register();
        w.offline();
        assert!(!w.is_online());
        tx.send(()).unwrap();
        // Blocked, offline, still registered.
        done_rx.recv().unwrap();
        w.online();
        assert!(w.is_online());
    });
    rx.recv().unwrap();
    domain.synchronize();
    done_tx.send(()).unwrap();
    worker.join().unwrap();
}

#[test]
fn deferred_callbacks_run_once_after_the_grace_period() {
    let domain = Domain::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let (quiesce_tx, quiesce_rx) = mpsc::channel::<()>();
    let (passed_tx, passed_rx) = mpsc::channel::<()>();
    let d = Arc::clone(&domain);
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        let w = d.register();
        ready_tx.send(()).unwrap();
        quiesce_rx.recv().unwrap();
        w.quiescent();
        passed_tx.send(()).unwrap();
        quiesce_rx.recv().unwrap();
    });
    ready_rx.recv().unwrap();
    let r = Arc::clone(&runs);
    domain.defer(Box::new(move || {
        r.fetch_add(1, Ordering::SeqCst);
    }));
    assert_eq!(domain.pending(), 1);
    // The worker has not passed a quiescent point since the defer.
    assert_eq!(domain.collect(), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    quiesce_tx.send(()).unwrap();
    passed_rx.recv().unwrap();
    assert_eq!(domain.collect(), 1);
    assert_eq!(domain.collect(), 0);
    quiesce_tx.send(()).unwrap();
    worker.join().unwrap();
    assert_eq!(domain.barrier(), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(domain.pending(), 0);
}

#[test]
fn cookies_poll_true_only_after_every_online_reader_passed() {
    let domain = Domain::new();
    let cookie = domain.start_poll();
    // No reader: the grace period has passed at once.
    assert!(domain.poll(cookie));
    let worker = domain.register();
    let cookie = domain.start_poll();
    assert!(!domain.poll(cookie));
    worker.quiescent();
    assert!(domain.poll(cookie));
    let later = domain.start_poll();
    assert!(!domain.poll(later));
    worker.offline();
    assert!(domain.poll(later));
    worker.online();
    let again = domain.start_poll();
    assert!(!domain.poll(again));
    drop(worker);
    assert!(domain.poll(again));
}

#[test]
fn quiescent_does_nothing_while_offline() {
    let domain = Domain::new();
    let worker = domain.register();
    worker.offline();
    worker.quiescent();
    assert!(!worker.is_online());
}

#[test]
fn a_read_section_on_another_thread_delays_synchronize() {
    let domain = Domain::new();
    let (tx, rx) = mpsc::channel::<()>();
    let (end_tx, end_rx) = mpsc::channel::<()>();
    let d = Arc::clone(&domain);
    let reader = thread::spawn(move || {
        let guard = d.read_lock();
        tx.send(()).unwrap();
        end_rx.recv().unwrap();
        drop(guard);
    });
    rx.recv().unwrap();
    let cookie = domain.start_poll();
    assert!(!domain.poll(cookie));
    let syncer = {
        let d = Arc::clone(&domain);
        thread::spawn(move || d.synchronize())
    };
    thread::sleep(Duration::from_millis(20));
    assert!(!syncer.is_finished());
    end_tx.send(()).unwrap();
    syncer.join().unwrap();
    reader.join().unwrap();
    assert!(domain.poll(cookie));
}

#[test]
fn nested_read_sections_each_hold_the_grace_period() {
    let domain = Domain::new();
    let outer = domain.read_lock();
    let inner = domain.read_lock();
    let cookie = domain.start_poll();
    drop(inner);
    assert!(!domain.poll(cookie));
    drop(outer);
    assert!(domain.poll(cookie));
}

#[test]
fn a_worker_calling_synchronize_is_a_quiescent_point_not_a_deadlock() {
    let domain = Domain::new();
    let worker = domain.register();
    let ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&ran);
    domain.defer(Box::new(move || r.store(true, Ordering::SeqCst)));
    domain.synchronize();
    assert!(ran.load(Ordering::SeqCst));
    assert!(worker.is_online(), "the worker is online again afterwards");
}

#[test]
#[should_panic(expected = "inside a read section")]
fn synchronize_inside_a_read_section_panics_instead_of_hanging() {
    let domain = Domain::new();
    let _guard = domain.read_lock();
    domain.synchronize();
}

#[test]
fn dropping_the_domain_runs_what_is_left() {
    let domain = Domain::new();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let r = Arc::clone(&ran);
        domain.call_rcu(Box::new(move || {
            r.fetch_add(1, Ordering::SeqCst);
        }));
    }
    drop(domain);
    assert_eq!(ran.load(Ordering::SeqCst), 3);
}

#[test]
fn callbacks_may_defer_more() {
    let domain = Domain::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let (d, r) = (Arc::clone(&domain), Arc::clone(&ran));
    domain.defer(Box::new(move || {
        let r2 = Arc::clone(&r);
        d.defer(Box::new(move || {
            r2.fetch_add(10, Ordering::SeqCst);
        }));
        r.fetch_add(1, Ordering::SeqCst);
    }));
    assert_eq!(domain.barrier(), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(domain.barrier(), 1);
    assert_eq!(ran.load(Ordering::SeqCst), 11);
}

/// Readers follow a published pointer and check the object's canary while
/// a writer keeps replacing it and frees the old one after a grace period.
/// A use after free shows up as a wrong canary (freed objects are poisoned
/// first).
#[test]
fn stress_publish_and_reclaim() {
    const CANARY: u64 = 0x5eed_cafe_f00d_d00d;
    struct Obj {
        canary: AtomicU64,
        n: u64,
    }
    fn free(p: *mut Obj) {
        // SAFETY: `p` came from Box::into_raw and is freed once, after
        // the grace period that followed its unpublishing.
        let obj = unsafe { Box::from_raw(p) };
        obj.canary.store(0xdead, Ordering::Relaxed);
    }
    let domain = Domain::new();
    let first = Box::into_raw(Box::new(Obj {
        canary: AtomicU64::new(CANARY),
        n: 0,
    }));
    let current = Arc::new(AtomicPtr::new(first));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (d, cur, stop) = (Arc::clone(&domain), Arc::clone(&current), Arc::clone(&stop));
            thread::spawn(move || {
                let w = d.register();
                let mut last = 0;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        let p = cur.load(Ordering::Acquire);
                        // SAFETY: published objects are freed only after a
                        // grace period, and this worker is between
                        // quiescent points.
                        let obj = unsafe { &*p };
                        assert_eq!(obj.canary.load(Ordering::Relaxed), CANARY);
                        assert!(obj.n >= last, "went back in time");
                        last = obj.n;
                    }
                    w.quiescent();
                    // Two cores are shared with the writer and other tests.
                    thread::yield_now();
                }
            })
        })
        .collect();
    for n in 1..300u64 {
        let new = Box::into_raw(Box::new(Obj {
            canary: AtomicU64::new(CANARY),
            n,
        }));
        let old = current.swap(new, Ordering::AcqRel) as usize;
        if n % 2 == 0 {
            domain.synchronize();
            free(old as *mut Obj);
        } else {
            domain.defer(Box::new(move || free(old as *mut Obj)));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    domain.barrier();
    assert_eq!(domain.pending(), 0);
    free(current.load(Ordering::Acquire));
}
