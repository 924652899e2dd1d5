//! Threads for CPU-heavy work that should give way to requests: password hashing and
//! reports.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use tracing::Span;

use crate::error::ApiError;

/// How much less CPU the threads get than the HTTP workers when both want it: nice 10
/// weighs about a tenth of nice 0. A storm of sign-ins then takes what requests leave
/// rather than an equal share (`/healthz` p99 in the storm 5.0 ms before), and still
/// progresses on a busy machine, where a `SCHED_IDLE` thread would starve.
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

pub struct LowPriority {
    jobs: Sender<Job>,
}

impl LowPriority {
    /// Starts `threads` threads; they end when this is dropped.
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("low-priority-{n}"))
                .spawn(move || work(&queue))?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on one of the threads, inside the caller's span.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let span = Span::current();
        self.jobs
            .send(Box::new(move || {
                // The caller may have gone (a timeout): nobody to answer.
                let _ = answer.send(span.in_scope(f));
            }))
            .map_err(|_| ApiError::internal(Stopped))?;
        answered.await.map_err(|_| ApiError::internal(Stopped))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    if let Err(error) = rustix::process::nice(NICENESS) {
        tracing::warn!(%error, "could not lower the priority of the low-priority threads");
    }
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the low-priority threads have stopped")]
struct Stopped;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_threads_that_give_way() {
        let threads = LowPriority::start(1).unwrap();
        let before = rustix::process::getpriority_process(None).unwrap();
        let niceness = threads
            .run(|| rustix::process::getpriority_process(None).unwrap())
            .await
            .unwrap();
        assert_eq!(niceness, (before + NICENESS).min(19));
        // The caller's own thread keeps its priority.
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }
}
