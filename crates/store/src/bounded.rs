//! Many requests at once, never more than a bound.

use std::future::Future;

use tokio::task::JoinSet;

/// Run `work` on every item, at most `jobs` at a time, each a task of the
/// runtime (so on all its threads); every result, in the order they ended.
/// A panicking task panics the caller.
pub async fn run<I, F, Fut>(items: I, jobs: usize, work: F) -> Vec<Fut::Output>
where
    I: IntoIterator,
    F: Fn(I::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let mut results = Vec::new();
    let mut in_flight = JoinSet::new();
    let mut pending = items.into_iter();
    loop {
        while in_flight.len() < jobs.max(1) {
            let Some(item) = pending.next() else {
                break;
            };
            in_flight.spawn(work(item));
        }
        let Some(done) = in_flight.join_next().await else {
            return results;
        };
        match done {
            Ok(output) => results.push(output),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}
