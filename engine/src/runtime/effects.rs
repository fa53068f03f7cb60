//! The side effects of a durable batch: task dispatch, bucket access,
//! resumptions, timers armed, EXPRESS runs and waiters woken.
//!
//! The asynchronous ones run as tasks of one tracker, each until it is done
//! or the engine shuts down ([`Engine::shutdown`]): a dispatch ended that
//! way reports nothing, and the next start dispatches it again under the
//! same idempotency key, as after a crash.

use super::*;

impl Engine {
    /// Run `work` as a tracked effect that shutdown cancels.
    fn effect(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let cancel = self.inner.cancel.clone();
        self.inner.effects.spawn_on(
            async move {
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => {}
                    _ = work => {}
                }
            },
            &self.inner.runtime,
        );
    }

    /// Stop taking on effects, cancel the ones in flight and wait for them
    /// to end, at most `grace` (a function process is killed when its
    /// invocation is dropped). Called once the API no longer takes
    /// requests; the store stays consistent either way.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.inner.cancel.cancel();
        self.inner.effects.close();
        let in_flight = self.inner.effects.len();
        if tokio::time::timeout(grace, self.inner.effects.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight,
                grace_ms = grace.as_millis() as u64,
                "side effects still ending after the grace period"
            );
        }
    }

    pub(super) fn perform(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Dispatch {
                    execution,
                    frame,
                    attempt,
                    invocation,
                } => {
                    let executor = self.inner.executor.clone();
                    let commands = self.inner.commands.clone();
                    self.effect(async move {
                        let outcome = executor.invoke_metered(*invocation).await;
                        let _ = commands
                            .send(Command::TaskDone {
                                execution,
                                frame,
                                attempt,
                                outcome,
                            })
                            .await;
                    });
                }
                Action::ReadItems {
                    execution,
                    frame,
                    attempt,
                    request,
                } => {
                    let buckets = self.inner.buckets.read().expect("buckets lock").clone();
                    let commands = self.inner.commands.clone();
                    self.effect(async move {
                        let items = crate::machine::read_items(&*buckets, &request).await;
                        let outcome = BucketOutcome::Items(items);
                        let _ = commands
                            .send(Command::BucketDone {
                                execution,
                                frame,
                                attempt,
                                outcome,
                            })
                            .await;
                    });
                }
                Action::WriteResults {
                    execution,
                    frame,
                    attempt,
                    bucket,
                    files,
                } => {
                    let buckets = self.inner.buckets.read().expect("buckets lock").clone();
                    let commands = self.inner.commands.clone();
                    self.effect(async move {
                        let written = crate::machine::write_files(&*buckets, &bucket, files).await;
                        let outcome = BucketOutcome::Written(written);
                        let _ = commands
                            .send(Command::BucketDone {
                                execution,
                                frame,
                                attempt,
                                outcome,
                            })
                            .await;
                    });
                }
                Action::Resume { execution, frame } => {
                    let commands = self.inner.commands.clone();
                    self.effect(async move {
                        let _ = commands.send(Command::Resume { execution, frame }).await;
                    });
                }
                Action::ArmTimer { due_ms } => {
                    tracing::trace!(due_ms, "timer armed");
                    self.inner.timers.notify_one()
                }
                Action::RunExpress(run) => self.run_express(*run),
                Action::Finished { execution } => {
                    self.inner.express.stop(&execution);
                    let waiters = self
                        .inner
                        .waiters
                        .lock()
                        .expect("waiters lock")
                        .remove(&execution);
                    for w in waiters.into_iter().flatten() {
                        let _ = w.send(());
                    }
                }
            }
        }
    }
}
