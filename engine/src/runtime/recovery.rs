//! Recovery at start-up: every execution that was RUNNING when the store
//! was opened goes on from what its records hold.

use super::*;

impl Engine {
    /// Resume every RUNNING execution: re-dispatch tasks that were
    /// dispatched but not completed (same idempotency key) and continue
    /// frames that were about to run. Timers fire from the store by
    /// themselves.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        let mut resumed = 0;
        let ids = std::mem::take(&mut *self.inner.to_recover.lock().expect("recovery list lock"));
        for id in ids {
            let rec = crate::store::get::<crate::records::ExecutionRecord>(
                &self.inner.tree,
                &keys::execution(&id),
            );
            match rec {
                Ok(Some(rec)) if rec.status() == crate::api::Status::Running => {
                    if rec.express {
                        self.recover_express(&rec).await?;
                        resumed += 1;
                        continue;
                    }
                }
                _ => continue, // ended since the store was opened
            }
            for item in self
                .inner
                .tree
                .scan_prefix(keys::frame_prefix(&id).as_bytes())
            {
                let (key, bytes) = item?;
                let key = String::from_utf8_lossy(&key).into_owned();
                let frame: Frame = match crate::store::parse(&key, &bytes) {
                    Ok(f) => f,
                    Err(e) => {
                        // The execution cannot go on from a record it cannot
                        // read: set the record aside and end the execution.
                        tracing::error!(execution = %id, error = %e, "a corrupt frame stops its execution");
                        self.report_corrupt(&key);
                        let _ = self
                            .stop(
                                &id,
                                Some("Sluice.CorruptRecord".into()),
                                Some(e.to_string()),
                            )
                            .await;
                        break;
                    }
                };
                match frame.phase {
                    // A child execution started by a Task runs (and reports) by itself.
                    Phase::Task { ref resource, .. }
                        if crate::machine::child_wait(resource).is_some() => {}
                    // Handed out its token; only the callback is awaited.
                    Phase::Task {
                        delivered: true, ..
                    } => {}
                    Phase::Task { .. } => {
                        self.perform(vec![crate::machine::dispatch_action(&id, &frame)])
                    }
                    Phase::Reading { .. } | Phase::Writing { .. } => {
                        self.perform(vec![crate::machine::bucket_action(&id, &frame)])
                    }
                    // Ready to run, or a Map with iterations still to admit.
                    Phase::Fork(ref f)
                        if !(f.map && f.run.is_none() && f.next_item < f.total()) => {}
                    Phase::Ready | Phase::Fork(_) => {
                        let cmd = Command::Resume {
                            execution: id.clone(),
                            frame: frame.id,
                        };
                        self.inner
                            .commands
                            .send(cmd)
                            .await
                            .map_err(|_| EngineError::ShuttingDown)?;
                    }
                    _ => {}
                }
            }
            resumed += 1;
        }
        self.inner.timers.notify_one();
        self.inner.recovered.store(true, Ordering::Release);
        tracing::info!(executions = resumed, "recovery done");
        Ok(resumed)
    }
}
