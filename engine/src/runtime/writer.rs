//! The single writer (batches of commands applied to sled, with
//! savepoints) and the flusher (one flush per batch, then the batch's
//! replies and side effects, in batch order).

use super::*;

impl Engine {
    /// The single writer: applies each batch of commands to sled, then
    /// hands it to the flusher and goes on with the next batch while the
    /// flusher waits for the disk. sled shows applied writes to readers
    /// before they are flushed either way; what waits for durability are
    /// the replies and the side effects (tasks, timers, waiters), and the
    /// flusher releases them in batch order, each after its batch's flush.
    pub(super) fn writer_loop(self, mut rx: mpsc::Receiver<Command>, config: EngineConfig) {
        // One batch flushing, one waiting in the channel and one the writer
        // is handing over: at most three batches ahead of the disk.
        let (applied, to_flush) = std::sync::mpsc::sync_channel::<Applied>(1);
        let flusher = self.clone();
        let flusher_config = config.clone();
        let flusher = std::thread::Builder::new()
            .name("sluice-flusher".into())
            .spawn(move || flusher.flusher_loop(to_flush, flusher_config));
        if let Err(e) = flusher {
            tracing::error!(error = %e, "cannot start the flusher thread; the engine stops");
            return;
        }
        let mut definitions = Definitions::default();
        let mut seq = 0u64;
        let mut disk = crate::disk::DiskGuard::new(&config.data_dir, config.disk_reserve_bytes);
        // The engine's own progress held back while the disk is low.
        let mut held: Vec<Command> = Vec::new();
        loop {
            let mut batch = std::mem::take(&mut held);
            if batch.is_empty() {
                match rx.blocking_recv() {
                    Some(first) => batch.push(first),
                    None => return,
                }
            }
            let mut closed = false;
            while batch.len() < config.max_batch {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            if let Some(full) = disk.check() {
                let mut allowed = Vec::new();
                for cmd in batch {
                    match cmd.when_disk_low() {
                        LowDisk::Refuse => cmd.refuse(&full),
                        LowDisk::Hold => held.push(cmd),
                        LowDisk::Allow => allowed.push(cmd),
                    }
                }
                if closed {
                    // Shutting down: what is held is in the store, and a
                    // restart resumes it.
                    return;
                }
                if allowed.is_empty() {
                    std::thread::sleep(crate::disk::RECHECK);
                    continue;
                }
                batch = allowed;
            }
            let mut machine = Machine::new(&self.inner.tree, &mut definitions, &config.limits);
            machine.status_feed = config.status_feed;
            let mut replies: Vec<Deferred> = Vec::new();
            let flush = batch.iter().any(Command::needs_flush);
            for cmd in batch {
                apply(&mut machine, cmd, &mut replies);
            }
            // Numbered before the batch becomes visible, so a reader that
            // saw it waits for its flush (see `durable_barrier`). A batch
            // that is not flushed on its own promises nothing to readers:
            // a barrier does not wait for it (it may wait minutes for the
            // next flush).
            seq += 1;
            if flush {
                self.inner.applied.store(seq, Ordering::Release);
            }
            let outcome = machine.finish().and_then(|(tx, actions)| {
                let changed = self
                    .inner
                    .watch
                    .has_subscribers()
                    .then(|| tx.written_executions());
                tx.commit()?;
                // Read now, while the tree holds exactly this batch.
                let updates = changed
                    .map(|ids| crate::watch::Watch::updates(&self.inner.tree, ids))
                    .unwrap_or_default();
                Ok((actions, updates))
            });
            let batch = match outcome {
                Ok((actions, updates)) => {
                    // EXPRESS runs start now, while the flusher makes their
                    // start durable: nothing of theirs is acknowledged
                    // before that flush, and they run at least once anyway
                    // (see `express.rs`). Everything else waits for it.
                    let is_run = |a: &Action| matches!(a, Action::RunExpress(_));
                    let actions = if actions.iter().any(is_run) {
                        let (express, rest): (Vec<Action>, Vec<Action>) =
                            actions.into_iter().partition(is_run);
                        self.perform(express);
                        rest
                    } else {
                        actions
                    };
                    Applied {
                        seq,
                        flush,
                        replies,
                        actions,
                        updates,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "a batch could not be stored; its commands failed");
                    definitions.forget_triggers();
                    replies.into_iter().for_each(|r| r(Some(&e)));
                    // Still through the flusher, so its number is passed.
                    Applied {
                        seq,
                        flush: true,
                        replies: Vec::new(),
                        actions: Vec::new(),
                        updates: Vec::new(),
                    }
                }
            };
            if applied.send(batch).is_err() {
                tracing::error!("the flusher stopped; the engine stops");
                return;
            }
        }
    }

    /// Makes each applied batch durable, then answers its callers and
    /// performs its side effects. A flush makes every write before it
    /// durable, so a batch applied while the previous one was flushing is
    /// covered by its own flush.
    ///
    /// A failed flush stops the engine: the batch's writes are in the
    /// tree, so a later flush could still make durable what its callers
    /// were told failed. Every batch not yet flushed fails; a restart
    /// recovers from what is on disk.
    fn flusher_loop(self, batches: std::sync::mpsc::Receiver<Applied>, config: EngineConfig) {
        let mut power = super::power_sync::PowerSync::default();
        while let Ok(batch) = batches.recv() {
            let flushed = if batch.flush {
                self.make_durable(&config, &mut power)
            } else {
                Ok(())
            };
            match flushed {
                Ok(()) => {
                    if batch.flush {
                        // Every batch up to this one is durable now.
                        self.inner.durable.send_replace(batch.seq);
                    }
                    batch.replies.into_iter().for_each(|r| r(None));
                    self.inner.watch.publish(batch.updates);
                    self.perform(batch.actions);
                }
                Err(e) => {
                    tracing::error!(error = %e, "the store could not be flushed; the engine stops (restart it to recover from what is on disk)");
                    batch.replies.into_iter().for_each(|r| r(Some(&e)));
                    while let Ok(b) = batches.try_recv() {
                        b.replies.into_iter().for_each(|r| r(Some(&e)));
                    }
                    // Wake every barrier; they see `stopped` and fail.
                    self.inner.stopped.store(true, Ordering::Release);
                    self.inner.durable.send_replace(u64::MAX);
                    return;
                }
            }
        }
    }

    /// Waits until everything applied so far is durable. The tree shows
    /// applied writes before the flusher has flushed them, so a reader
    /// that passes on what it read (a status feed publishing to a broker,
    /// `wait` returning a final status) calls this after reading.
    pub async fn durable_barrier(&self) -> Result<(), EngineError> {
        let target = self.inner.applied.load(Ordering::Acquire);
        let mut durable = self.inner.durable.subscribe();
        let reached = durable.wait_for(|d| *d >= target).await.is_ok();
        if !reached || self.inner.stopped.load(Ordering::Acquire) {
            return Err(EngineError::ShuttingDown);
        }
        Ok(())
    }

    fn make_durable(
        &self,
        config: &EngineConfig,
        power: &mut super::power_sync::PowerSync,
    ) -> Result<(), EngineError> {
        #[cfg(test)]
        std::thread::sleep(config.slow_flush);
        self.inner.db.flush()?;
        if config.durability == Durability::Power {
            power.sync(&config.data_dir)?;
        }
        Ok(())
    }
}
