//! Requests' database work that arrives together, done together.
//!
//! On PostgreSQL every statement is a round trip, with a context switch on each side and
//! the backend's per-statement work; a logged encounter alone was nine of them, and the
//! database alone running those reaches 18% of its bare-INSERT rate (BENCHMARKS.md). When
//! many phones are busy at once, a thread takes the first item waiting and every one
//! that arrived behind it, does them with a few statements in all, and answers each: what
//! arrives while it works is the next batch. Alone, an item is a batch of one and waits
//! for nobody. Encounter writes run two such threads (`together::WRITERS`), so that one
//! batch's statements run while the other's wait for the database; session lookups one.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use faltlogg_persistence::StoreError;
use tokio::sync::oneshot;

/// Most items waiting; past it an item is turned away at once (503 with Retry-After)
/// instead of queueing in memory without bound.
const MOST_WAITING: usize = 1_024;

type Waiting<I, O> = (I, oneshot::Sender<O>);

/// The way to batching threads. They end when the last clone is dropped.
pub struct Batches<I, O> {
    items: mpsc::SyncSender<Waiting<I, O>>,
}

impl<I, O> Clone for Batches<I, O> {
    fn clone(&self) -> Self {
        Self {
            items: self.items.clone(),
        }
    }
}

impl<I: Send + 'static, O: Send + 'static> Batches<I, O> {
    /// Starts `threads` threads, each taking the next batch when it is free. `work`
    /// answers a batch (at most `most_together` items, in the order they arrived) with
    /// one outcome per item, in the same order.
    pub fn start(
        name: &str,
        most_together: usize,
        threads: usize,
        work: impl Fn(Vec<I>) -> Vec<O> + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let (items, queue) = mpsc::sync_channel(MOST_WAITING);
        let queue = Arc::new(Mutex::new(queue));
        let work = Arc::new(work);
        for _ in 0..threads.max(1) {
            let (queue, work) = (Arc::clone(&queue), Arc::clone(&work));
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || work_in_batches(&queue, most_together, &*work))?;
        }
        Ok(Self { items })
    }

    /// Hands the item over and waits for its outcome. [`StoreError::Busy`] when
    /// [`MOST_WAITING`] items are waiting already; [`StoreError::NotCommitted`] when its
    /// batch was given up (a panic).
    pub async fn submit(&self, item: I) -> Result<O, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.items
            .try_send((item, answer))
            .map_err(|refused| match refused {
                mpsc::TrySendError::Full(_) => StoreError::Busy,
                mpsc::TrySendError::Disconnected(_) => StoreError::NotCommitted,
            })?;
        answered.await.map_err(|_| StoreError::NotCommitted)
    }
}

/// A panic drops the batch's answers (its requests hear "not committed"), and the thread
/// goes on.
fn work_in_batches<I, O>(
    queue: &Mutex<mpsc::Receiver<Waiting<I, O>>>,
    most_together: usize,
    work: &impl Fn(Vec<I>) -> Vec<O>,
) {
    while let Some(batch) = next_batch(queue, most_together) {
        // A request that stopped waiting (its client left, or it timed out and was told to
        // try again) is not done behind its back.
        let (items, answers): (Vec<I>, Vec<oneshot::Sender<O>>) = batch
            .into_iter()
            .filter(|(_, answer)| !answer.is_closed())
            .unzip();
        if items.is_empty() {
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| work(items))) {
            Ok(outcomes) => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    // The request may have gone (the client left); nobody is left to tell.
                    let _ = answer.send(outcome);
                }
            }
            Err(_) => tracing::error!("a batch of requests' work panicked; it is given up"),
        }
    }
}

/// The first item waiting and those behind it; `None` once every sender is gone. The
/// thread that holds the queue waits for the first; the others wait for the queue.
fn next_batch<T>(queue: &Mutex<mpsc::Receiver<T>>, most_together: usize) -> Option<Vec<T>> {
    // A thread that panicked while holding the queue left nothing half-taken.
    let queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
    let first = queue.recv().ok()?;
    Some(
        std::iter::once(first)
            .chain(queue.try_iter().take(most_together.saturating_sub(1)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches that map each item with `f`, tell `seen` of every batch, and hold the first
    /// batch (the item 0 alone) until `release` is sent, so that the rest queue behind it.
    #[allow(clippy::type_complexity)]
    fn held_at_first(
        most_together: usize,
        f: fn(u32) -> u32,
    ) -> (
        Batches<u32, u32>,
        std::sync::mpsc::Receiver<Vec<u32>>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (seen, batches_seen) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = std::sync::Mutex::new(released);
        let batches = Batches::start("test-batches", most_together, 1, move |items: Vec<u32>| {
            if items == [0] {
                released.lock().unwrap().recv().unwrap();
            }
            seen.send(items.clone()).unwrap();
            items.into_iter().map(f).collect()
        })
        .unwrap();
        (batches, batches_seen, release)
    }

    #[tokio::test]
    async fn items_waiting_together_are_answered_each_with_its_own_outcome() {
        let (doubling, batches_seen, release) = held_at_first(3, |n| n * 2);
        let first = tokio::spawn({
            let doubling = doubling.clone();
            async move { doubling.submit(0).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let rest: Vec<_> = (1..=5)
            .map(|n| {
                let doubling = doubling.clone();
                tokio::spawn(async move { doubling.submit(n).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 0);
        for (n, answer) in (1..=5).zip(rest) {
            assert_eq!(answer.await.unwrap().unwrap(), n * 2);
        }
        // One alone, then the five that waited, at most three at a time.
        assert_eq!(
            batches_seen.try_iter().map(|b| b.len()).collect::<Vec<_>>(),
            [1, 3, 2]
        );
    }

    #[tokio::test]
    async fn an_item_whose_requester_stopped_waiting_is_not_done() {
        let (echo, batches_seen, release) = held_at_first(8, |n| n);
        let first = tokio::spawn({
            let echo = echo.clone();
            async move { echo.submit(0).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let gone = tokio::spawn({
            let echo = echo.clone();
            async move { echo.submit(1).await }
        });
        let waiting = tokio::spawn({
            let echo = echo.clone();
            async move { echo.submit(2).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 0);
        assert_eq!(waiting.await.unwrap().unwrap(), 2);
        assert_eq!(
            batches_seen.try_iter().collect::<Vec<_>>(),
            [vec![0], vec![2]]
        );
    }

    #[tokio::test]
    async fn with_two_threads_two_batches_are_worked_at_once() {
        // Each batch waits until another is being worked beside it.
        let both = std::sync::Barrier::new(2);
        let pairs = Batches::start("test-batches", 1, 2, move |items: Vec<u32>| {
            both.wait();
            items
        })
        .unwrap();
        let answers = async { tokio::join!(pairs.submit(1), pairs.submit(2)) };
        let (one, two) = tokio::time::timeout(std::time::Duration::from_secs(5), answers)
            .await
            .expect("the second batch waited for the first");
        assert_eq!((one.unwrap(), two.unwrap()), (1, 2));
    }

    #[tokio::test]
    async fn a_batch_that_panics_is_answered_not_committed_and_the_next_is_done() {
        let failing_once = Batches::start("test-batches", 8, 1, |items: Vec<u32>| {
            assert!(items != [13], "unlucky");
            items
        })
        .unwrap();
        assert!(matches!(
            failing_once.submit(13).await,
            Err(StoreError::NotCommitted)
        ));
        assert_eq!(failing_once.submit(7).await.unwrap(), 7);
    }
}
