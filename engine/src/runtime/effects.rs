//! The side effects of a durable batch: task dispatch, bucket access,
//! resumptions, timers armed, EXPRESS runs and waiters woken.

use super::*;

impl Engine {
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
                    self.inner.runtime.spawn(async move {
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
                    self.inner.runtime.spawn(async move {
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
                    self.inner.runtime.spawn(async move {
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
                    self.inner.runtime.spawn(async move {
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
