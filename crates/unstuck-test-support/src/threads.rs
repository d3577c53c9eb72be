//! Running a computation on a rayon pool of a chosen size, for the tests that check
//! results are the same bits on 1 and 2 threads.

/// Runs `f` on a fresh rayon pool of `n` threads (rayon's parallel iterators and faer
/// inside `f` use it).
///
/// # Panics
/// If the pool cannot be built (a test failure, not a user error).
pub fn with_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .expect("a rayon thread pool")
        .install(f)
}
