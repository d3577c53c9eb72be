//! Keeping rayon's other workers awake for the length of a training step.
//!
//! Between two parallel loops of a step (a matrix product, then a bias and activation,
//! then the next product) rayon's idle workers go to sleep within microseconds, and
//! waking one took about 10 µs on this project's 2-core virtual machine: a
//! 784-256-256-10 step has dozens of such loops. PyTorch's OpenMP threads spin between
//! parallel regions instead. [`with_hot_workers`] does the same for the length of one
//! call: the other workers poll for rayon jobs instead of sleeping, and go back to
//! rayon's usual sleep when it returns. Which thread runs which job never changes what a
//! job computes, so no result depends on it.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

thread_local! {
    /// Set on a thread running [`with_hot_workers`]'s `f` or one of its pollers, so that
    /// a nested call (or a poller that lands there) adds no pollers of its own.
    static HOT: Cell<bool> = const { Cell::new(false) };
}

/// Pollers running now, in every pool (for the tests: they must all stop).
static POLLING: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on this thread while each other worker of the current rayon pool waits for
/// work by polling instead of sleeping; returns what `f` returns.
///
/// For calls whose parallel loops are short and many (a training step): each loop then
/// starts without waking a sleeping thread. The pollers keep the other cores busy until
/// `f` returns (or panics), so it is not for calls that are mostly sequential. With one
/// thread, or inside another call of it, `f` simply runs.
///
/// ```
/// use rayon::prelude::*;
/// let total: u64 = unstuck_core::with_hot_workers(|| (0..1000u64).into_par_iter().sum());
/// assert_eq!(total, 499_500);
/// ```
pub fn with_hot_workers<R>(f: impl FnOnce() -> R) -> R {
    let threads = rayon::current_num_threads();
    if threads <= 1 || HOT.with(Cell::get) {
        return f();
    }
    let done = Arc::new(AtomicBool::new(false));
    let caller = rayon::current_thread_index();
    for _ in 1..threads {
        let done = Arc::clone(&done);
        rayon::spawn(move || poll_until(&done, caller));
    }
    /// Stops the pollers however `f` ends.
    struct Stop(Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
            HOT.with(|hot| hot.set(false));
        }
    }
    HOT.with(|hot| hot.set(true));
    let _stop = Stop(done);
    f()
}

/// Training steps of at least this many parameters run under [`with_hot_workers`]
/// ([`with_hot_step`]): their many short parallel loops then start without waking a
/// thread (a 784-256-256-10 step on 2 threads went from about 1.4 to 1.2 ms). Smaller
/// networks (the 2-16-16-2 and digits MLPs) run their loops on one thread anyway, and
/// would pay for a poller they do not use.
pub const HOT_STEP_PARAMS: usize = 1 << 14;

/// A training step of `n_params` parameters: `f` under [`with_hot_workers`] from
/// [`HOT_STEP_PARAMS`] parameters up, else `f` as it is.
///
/// ```
/// let loss = unstuck_core::with_hot_step(100_000, || 0.25);
/// assert_eq!(loss, 0.25);
/// ```
pub fn with_hot_step<R>(n_params: usize, f: impl FnOnce() -> R) -> R {
    if n_params >= HOT_STEP_PARAMS {
        with_hot_workers(f)
    } else {
        f()
    }
}

/// One poller: runs the pool's jobs as they come until `done`.
///
/// It returns at once on the caller's own thread (which could otherwise pick it up while
/// waiting for a job, and never get back to `f`) and on a thread that is already hot (a
/// poller there may be waiting, deeper in its stack, for a job of this caller).
fn poll_until(done: &AtomicBool, caller: Option<usize>) {
    if rayon::current_thread_index() == caller || HOT.with(Cell::get) {
        return;
    }
    HOT.with(|hot| hot.set(true));
    POLLING.fetch_add(1, Ordering::AcqRel);
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
    POLLING.fetch_sub(1, Ordering::AcqRel);
    HOT.with(|hot| hot.set(false));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::time::{Duration, Instant};

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool")
    }

    /// Nested parallel work, nested calls, and calls from inside parallel jobs.
    fn busy() -> u64 {
        with_hot_workers(|| {
            (0..64u64)
                .into_par_iter()
                .map(|i| {
                    let inner: u64 = with_hot_workers(|| (0..i).into_par_iter().sum());
                    let (a, b) = rayon::join(|| inner * 2, || i);
                    a + b
                })
                .sum()
        })
    }

    fn expected() -> u64 {
        (0..64u64).map(|i| i * (i.saturating_sub(1)) + i).sum()
    }

    fn wait_for_pollers_to_stop() {
        let start = Instant::now();
        while POLLING.load(Ordering::Acquire) != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "pollers still running after their call returned"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs `f` on its own thread and fails (instead of hanging) if it takes too long.
    fn within_a_minute(f: impl FnOnce() + Send + 'static) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            f();
            tx.send(()).expect("the test waits");
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("a call of with_hot_workers deadlocked or panicked");
    }

    #[test]
    fn gives_what_f_gives_on_any_pool_and_stops_its_pollers() {
        within_a_minute(|| {
            for threads in [1, 2, 4] {
                for _ in 0..50 {
                    assert_eq!(pool(threads).install(busy), expected(), "{threads} threads");
                }
                // Called from outside any pool: the global pool's workers poll.
                assert_eq!(busy(), expected());
            }
            wait_for_pollers_to_stop();
        });
    }

    #[test]
    fn concurrent_callers_on_one_pool_finish() {
        within_a_minute(|| {
            for threads in [2, 3] {
                let pool = Arc::new(pool(threads));
                let callers: Vec<_> = (0..4)
                    .map(|_| {
                        let pool = Arc::clone(&pool);
                        std::thread::spawn(move || {
                            for _ in 0..50 {
                                assert_eq!(pool.install(busy), expected());
                            }
                        })
                    })
                    .collect();
                for caller in callers {
                    caller.join().expect("a caller");
                }
            }
            wait_for_pollers_to_stop();
        });
    }

    #[test]
    fn a_poller_on_the_callers_thread_or_a_hot_one_returns_at_once() {
        // Neither case arises from the stealing order in the tests above; a poller that
        // spun there would wait for a `done` that never comes.
        within_a_minute(|| {
            let never = AtomicBool::new(false);
            pool(2).install(|| poll_until(&never, rayon::current_thread_index()));
            pool(2).install(|| {
                HOT.with(|hot| hot.set(true));
                poll_until(&never, None);
                HOT.with(|hot| hot.set(false));
            });
        });
    }

    #[test]
    fn a_panic_in_f_stops_the_pollers_too() {
        within_a_minute(|| {
            let caught = std::panic::catch_unwind(|| {
                pool(2).install(|| with_hot_workers(|| panic!("inside the step")))
            });
            assert!(caught.is_err());
            wait_for_pollers_to_stop();
            assert_eq!(pool(2).install(busy), expected());
        });
    }
}
