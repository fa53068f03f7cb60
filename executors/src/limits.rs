//! `concurrency` and the bounded wait queue in front of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sluice_engine::TaskError;

use crate::names;

/// At most `concurrency` invocations in flight; up to `max_queued` more
/// wait (each at most `wait`); beyond that, `Sluice.Throttled` at once.
pub struct Limiter {
    slots: Arc<Semaphore>,
    queued: AtomicU64,
    max_queued: u64,
    concurrency: u64,
}

/// Decrements the queue count however the wait ends (also when the caller
/// is cancelled).
struct Queued<'a>(&'a AtomicU64);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limiter {
    pub fn new(concurrency: u64, max_queued: u64) -> Self {
        Limiter {
            slots: Arc::new(Semaphore::new(concurrency.max(1) as usize)),
            queued: AtomicU64::new(0),
            max_queued,
            concurrency,
        }
    }

    pub fn in_flight(&self) -> u64 {
        self.concurrency - self.slots.available_permits() as u64
    }

    pub async fn acquire(
        &self,
        name: &str,
        wait: Duration,
    ) -> Result<OwnedSemaphorePermit, TaskError> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(TaskError::new(
                names::THROTTLED,
                format!(
                    "function '{name}' has {} invocations in flight (its concurrency) and {} waiting (its maxQueued); retry later or raise them",
                    self.concurrency, self.max_queued
                ),
            ));
        }
        let _queued = Queued(&self.queued);
        match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(TaskError::new(names::THROTTLED, format!("function '{name}' is being removed"))),
            Err(_) => Err(TaskError::new(
                names::THROTTLED,
                format!(
                    "function '{name}' had no free slot within {} s ({} in flight, its concurrency)",
                    wait.as_secs(),
                    self.concurrency
                ),
            )),
        }
    }
}
