//! Applying one command to the machine: the disk-low policy, the
//! quarantine of corrupt records, and the match from a [`Command`] to the
//! machine's transition (issue 16 turns it into commands as data).

use super::*;
/// What the writer does with a command while the disk is below its reserve.
pub(super) enum LowDisk {
    /// New work from a client: answered [`EngineError::DiskFull`].
    Refuse,
    /// The engine's own progress: kept until space returns.
    Hold,
    /// Deletions, which free space.
    Allow,
}

impl Command {
    pub(super) fn when_disk_low(&self) -> LowDisk {
        match self {
            Command::TaskDone { .. }
            | Command::BucketDone { .. }
            | Command::ExpressDone { .. }
            | Command::Timer { .. }
            | Command::Resume { .. } => LowDisk::Hold,
            Command::DeleteWorkflow { .. }
            | Command::DeleteExecution { .. }
            | Command::DeleteDeadLetters { .. }
            | Command::PruneDedupe { .. }
            | Command::Quarantine { .. } => LowDisk::Allow,
            _ => LowDisk::Refuse,
        }
    }

    /// Answer the caller with `e` without applying the command.
    pub(super) fn refuse(self, e: &EngineError) {
        fn send<T>(reply: Reply<T>, e: &EngineError) {
            let _ = reply.send(Err(EngineError::DiskFull(e.to_string())));
        }
        match self {
            Command::Deploy { reply, .. } => send(reply, e),
            Command::Start { reply, .. } => send(reply, e),
            Command::Stop { reply, .. } => send(reply, e),
            Command::Callback { reply, .. } => send(reply, e),
            Command::Redrive { reply, .. } => send(reply, e),
            Command::PutAlias { reply, .. } => send(reply, e),
            Command::DeleteAlias { reply, .. } => send(reply, e),
            Command::DeleteVersion { reply, .. } => send(reply, e),
            Command::DeleteWorkflow { reply, .. } => send(reply, e),
            Command::DeleteExecution { reply, .. } => send(reply, e),
            Command::SetKeys { reply, .. } => send(reply, e),
            Command::PutDocument { reply, .. } => send(reply, e),
            Command::DeleteDocument { reply, .. } => send(reply, e),
            Command::PutDocumentAlias { reply, .. } => send(reply, e),
            Command::DeleteDocumentAlias { reply, .. } => send(reply, e),
            Command::Ingest { reply, .. } => send(reply, e),
            Command::DeadLetter { reply, .. } => send(reply, e),
            Command::DeleteDeadLetters { reply, .. } => send(reply, e),
            Command::PruneDedupe { reply, .. } => send(reply, e),
            Command::TaskDone { .. }
            | Command::BucketDone { .. }
            | Command::ExpressDone { .. }
            | Command::Timer { .. }
            | Command::Resume { .. }
            | Command::Quarantine { .. } => {}
        }
    }
}

/// After a command failed on a record that does not parse: quarantine it,
/// so the next command does not fail the same way.
fn set_aside(machine: &mut Machine, e: &EngineError) {
    if let EngineError::Corrupt { key, .. } = e {
        match machine.quarantine(key) {
            Ok(_) => machine.savepoint(),
            Err(e) => {
                tracing::error!(error = %e, key, "a corrupt record could not be set aside");
                machine.rollback();
            }
        }
    }
}

/// Apply one command, keeping its effects only if it succeeded; queue its
/// reply until the batch is durable.
pub(super) fn apply(machine: &mut Machine, cmd: Command, replies: &mut Vec<Deferred>) {
    fn finish<T: Send + 'static>(
        machine: &mut Machine,
        result: Result<T, EngineError>,
        reply: Reply<T>,
        replies: &mut Vec<Deferred>,
    ) {
        match result {
            Ok(v) => {
                machine.savepoint();
                replies.push(Box::new(move |batch_error| {
                    let _ = reply.send(match batch_error {
                        None => Ok(v),
                        Some(e) => Err(EngineError::Storage(e.to_string())),
                    });
                }));
            }
            Err(e) => {
                machine.rollback();
                set_aside(machine, &e);
                // Also after the flush: the error may come from an earlier
                // batch's writes (a task token already used, a name taken)
                // that are applied but not durable yet.
                replies.push(Box::new(move |_| {
                    let _ = reply.send(Err(e));
                }));
            }
        }
    }
    fn internal(machine: &mut Machine, result: Result<(), EngineError>) {
        match result {
            Ok(()) => machine.savepoint(),
            Err(e) => {
                tracing::error!(error = %e, "an engine command failed");
                machine.rollback();
                set_aside(machine, &e);
            }
        }
    }
    match cmd {
        Command::Deploy {
            name,
            definition,
            kind,
            reply,
        } => {
            let r = machine.deploy(&name, definition, kind);
            finish(machine, r, reply, replies)
        }
        Command::Start {
            workflow,
            req,
            reply,
            ..
        } => {
            let r = machine.start(&workflow, req);
            finish(machine, r, reply, replies)
        }
        Command::Stop {
            execution,
            error,
            cause,
            reply,
        } => {
            let r = machine.stop(&execution, error, cause);
            finish(machine, r, reply, replies)
        }
        Command::Redrive { execution, reply } => {
            let r = machine.redrive(&execution);
            finish(machine, r, reply, replies)
        }
        Command::Callback {
            token,
            outcome,
            reply,
        } => {
            let r = machine.callback(&token, outcome);
            finish(machine, r, reply, replies)
        }
        Command::TaskDone {
            execution,
            frame,
            attempt,
            outcome,
        } => {
            let r = machine.task_done(&execution, frame, attempt, outcome, false);
            internal(machine, r)
        }
        Command::Timer {
            key,
            timer,
            execution,
            frame,
        } => {
            let r = machine.timer_fired(&key, timer, &execution, frame);
            internal(machine, r)
        }
        Command::BucketDone {
            execution,
            frame,
            attempt,
            outcome,
        } => {
            let r = machine.bucket_done(&execution, frame, attempt, outcome);
            internal(machine, r)
        }
        Command::ExpressDone { execution, end } => {
            let r = machine.express_done(&execution, end);
            internal(machine, r)
        }
        Command::Quarantine { key } => {
            let r = machine.quarantine(&key).map(|_| ());
            internal(machine, r)
        }
        Command::Resume { execution, frame } => {
            let r = machine.resume(&execution, frame);
            internal(machine, r)
        }
        Command::PutAlias {
            workflow,
            alias,
            routes,
            reply,
        } => {
            let r = machine.put_alias(&workflow, &alias, routes);
            finish(machine, r, reply, replies)
        }
        Command::DeleteAlias {
            workflow,
            alias,
            reply,
        } => {
            let r = machine.delete_alias(&workflow, &alias);
            finish(machine, r, reply, replies)
        }
        Command::DeleteVersion {
            workflow,
            version,
            reply,
        } => {
            let r = machine.delete_version(&workflow, version);
            finish(machine, r, reply, replies)
        }
        Command::DeleteWorkflow { workflow, reply } => {
            let r = machine.delete_workflow(&workflow);
            finish(machine, r, reply, replies)
        }
        Command::DeleteExecution { execution, reply } => {
            let r = machine.delete_execution(&execution);
            finish(machine, r, reply, replies)
        }
        Command::SetKeys { entries, reply } => {
            let mut r = Ok(());
            for (key, value) in entries {
                match value {
                    Some(v) => r = r.and_then(|()| machine.tx.put(key, &v)),
                    None => machine.tx.remove(key),
                }
            }
            finish(machine, r, reply, replies)
        }
        Command::PutDocument {
            kind,
            name,
            body,
            changes,
            reply,
        } => {
            let r = machine.put_document(&kind, &name, body);
            if let Ok((doc, true)) = &r {
                let change = DocumentChange {
                    kind,
                    name,
                    version: Some(doc.version),
                };
                announce(replies, changes, change);
            }
            finish(machine, r.map(|(doc, _)| doc), reply, replies)
        }
        Command::DeleteDocument {
            kind,
            name,
            changes,
            reply,
        } => {
            let r = machine.delete_document(&kind, &name);
            if let Ok(true) = r {
                let change = DocumentChange {
                    kind,
                    name,
                    version: None,
                };
                announce(replies, changes, change);
            }
            finish(machine, r, reply, replies)
        }
        Command::PutDocumentAlias {
            kind,
            name,
            alias,
            version,
            changes,
            reply,
        } => {
            let r = machine.put_document_alias(&kind, &name, &alias, version);
            if r.is_ok() {
                // Watchers that resolve aliases (the function executors) reload.
                let change = DocumentChange {
                    kind,
                    name,
                    version: Some(version),
                };
                announce(replies, changes, change);
            }
            finish(machine, r, reply, replies)
        }
        Command::DeleteDocumentAlias {
            kind,
            name,
            alias,
            changes,
            reply,
        } => {
            let r = machine.delete_document_alias(&kind, &name, &alias);
            if let Ok(Some(version)) = r {
                let change = DocumentChange {
                    kind,
                    name,
                    version: Some(version),
                };
                announce(replies, changes, change);
            }
            finish(machine, r.map(|v| v.is_some()), reply, replies)
        }
        Command::Ingest {
            events,
            window_ms,
            counters,
            reply,
        } => {
            let r = machine.ingest(events, window_ms);
            if let Ok(outcomes) = &r {
                let outcomes = outcomes.clone();
                replies.push(Box::new(move |batch_error| {
                    if batch_error.is_none() {
                        counters.count(&outcomes);
                    }
                }));
            }
            finish(machine, r, reply, replies)
        }
        Command::DeadLetter {
            letter,
            counters,
            reply,
        } => {
            let r = machine.store_dead_letter(letter, None);
            if r.is_ok() {
                replies.push(Box::new(move |batch_error| {
                    if batch_error.is_none() {
                        counters.count_dead_letter();
                    }
                }));
            }
            finish(machine, r, reply, replies)
        }
        Command::DeleteDeadLetters { ids, reply } => {
            let r = machine.delete_dead_letters(&ids);
            finish(machine, r, reply, replies)
        }
        Command::PruneDedupe {
            index_keys,
            before_ms,
            reply,
        } => {
            let r = machine.prune_dedupe(&index_keys, before_ms);
            finish(machine, r, reply, replies)
        }
    }
}

/// Announce a catalog change once its batch is durable.
fn announce(
    replies: &mut Vec<Deferred>,
    changes: broadcast::Sender<DocumentChange>,
    change: DocumentChange,
) {
    replies.push(Box::new(move |batch_error| {
        if batch_error.is_none() {
            // No receiver is fine: nobody watches this kind yet.
            let _ = changes.send(change);
        }
    }));
}
