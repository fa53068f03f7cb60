//! The engine's async facade: every call that changes state is a command
//! sent to the writer, answered once its batch is durable.

use super::*;

impl Engine {
    /// Create or replace `alias` of `workflow`: one or two routes whose
    /// weights (percent) add up to 100. Starts of `NAME:ALIAS` pick a route.
    pub async fn put_alias(
        &self,
        workflow: &str,
        alias: &str,
        routes: Vec<AliasRoute>,
    ) -> Result<(), EngineError> {
        self.call(|reply| Command::PutAlias {
            workflow: workflow.to_string(),
            alias: alias.to_string(),
            routes,
            reply,
        })
        .await
    }

    /// False when the workflow has no such alias.
    pub async fn delete_alias(&self, workflow: &str, alias: &str) -> Result<bool, EngineError> {
        self.call(|reply| Command::DeleteAlias {
            workflow: workflow.to_string(),
            alias: alias.to_string(),
            reply,
        })
        .await
    }

    /// Delete one version of a workflow (false: no such version); a
    /// conflict while an alias routes to it. Its executions go on.
    pub async fn delete_version(&self, workflow: &str, version: u64) -> Result<bool, EngineError> {
        self.call(|reply| Command::DeleteVersion {
            workflow: workflow.to_string(),
            version,
            reply,
        })
        .await
    }

    /// Delete a workflow, its versions and aliases; a conflict while any of
    /// its executions is RUNNING. Its executions stay readable.
    pub async fn delete_workflow(&self, workflow: &str) -> Result<(), EngineError> {
        self.call(|reply| Command::DeleteWorkflow {
            workflow: workflow.to_string(),
            reply,
        })
        .await
    }

    /// Delete an execution that has ended, with its history.
    pub async fn delete_execution(&self, id: &str) -> Result<(), EngineError> {
        self.call(|reply| Command::DeleteExecution {
            execution: id.to_string(),
            reply,
        })
        .await
    }

    /// Store `body` as the next version of the `kind` document `name`; the
    /// same body as the latest version returns that version unchanged.
    pub async fn put_document(
        &self,
        kind: &str,
        name: &str,
        body: Value,
    ) -> Result<Document, EngineError> {
        let changes = self.inner.documents.clone();
        self.call(|reply| Command::PutDocument {
            kind: kind.to_string(),
            name: name.to_string(),
            body,
            changes,
            reply,
        })
        .await
    }

    /// Store (or remove) records under their full keys (source
    /// checkpoints, the status feed), durably and atomically.
    pub(crate) async fn store_keys(
        &self,
        entries: Vec<(String, Option<Value>)>,
    ) -> Result<(), EngineError> {
        self.call(|reply| Command::SetKeys { entries, reply }).await
    }

    /// Delete every version and alias; false when there was no such document.
    pub async fn delete_document(&self, kind: &str, name: &str) -> Result<bool, EngineError> {
        let changes = self.inner.documents.clone();
        self.call(|reply| Command::DeleteDocument {
            kind: kind.to_string(),
            name: name.to_string(),
            changes,
            reply,
        })
        .await
    }

    /// Remove `alias` of a document (false: it has no such alias); its
    /// versions stay.
    pub async fn delete_document_alias(
        &self,
        kind: &str,
        name: &str,
        alias: &str,
    ) -> Result<bool, EngineError> {
        let changes = self.inner.documents.clone();
        self.call(|reply| Command::DeleteDocumentAlias {
            kind: kind.to_string(),
            name: name.to_string(),
            alias: alias.to_string(),
            changes,
            reply,
        })
        .await
    }

    /// Point `alias` at an existing version.
    pub async fn put_document_alias(
        &self,
        kind: &str,
        name: &str,
        alias: &str,
        version: u64,
    ) -> Result<(), EngineError> {
        let changes = self.inner.documents.clone();
        self.call(|reply| Command::PutDocumentAlias {
            kind: kind.to_string(),
            name: name.to_string(),
            alias: alias.to_string(),
            version,
            changes,
            reply,
        })
        .await
    }

    pub(crate) fn event_counters(&self) -> &EventCounters {
        &self.inner.events
    }

    pub(crate) fn dedupe_window_ms(&self) -> i64 {
        self.inner.dedupe_window_ms
    }

    /// Events in, through the writer (see [`crate::EventSink`]).
    pub(crate) async fn ingest(
        &self,
        events: Vec<InboundEvent>,
    ) -> Result<Vec<EventOutcome>, EngineError> {
        let counters = self.inner.events.clone();
        let window_ms = self.inner.dedupe_window_ms;
        self.call(|reply| Command::Ingest {
            events,
            window_ms,
            counters,
            reply,
        })
        .await
    }

    /// Store a message in the dead-letter inbox; returns its id.
    pub async fn store_dead_letter(&self, letter: DeadLetter) -> Result<String, EngineError> {
        let counters = self.inner.events.clone();
        self.call(|reply| Command::DeadLetter {
            letter,
            counters,
            reply,
        })
        .await
    }

    pub(crate) async fn delete_dead_letter_ids(
        &self,
        ids: Vec<String>,
    ) -> Result<usize, EngineError> {
        self.call(|reply| Command::DeleteDeadLetters { ids, reply })
            .await
    }

    pub(crate) async fn prune_dedupe_keys(
        &self,
        index_keys: Vec<String>,
        before_ms: i64,
    ) -> Result<usize, EngineError> {
        self.call(|reply| Command::PruneDedupe {
            index_keys,
            before_ms,
            reply,
        })
        .await
    }

    /// A reader met a record that does not parse: the writer sets it
    /// aside (best effort; the next reader asks again).
    pub(crate) fn report_corrupt(&self, key: &str) {
        let _ = self.inner.commands.try_send(Command::Quarantine {
            key: key.to_string(),
        });
    }

    /// The keys of the records set aside as corrupt (`q/`).
    pub fn quarantined(&self) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for k in self
            .inner
            .tree
            .scan_prefix(keys::QUARANTINE.as_bytes())
            .keys()
        {
            let k = k?;
            out.push(String::from_utf8_lossy(&k[keys::QUARANTINE.len()..]).into_owned());
        }
        Ok(out)
    }

    /// True once recovery has re-dispatched every unfinished task.
    pub fn recovered(&self) -> bool {
        self.inner.recovered.load(Ordering::Acquire)
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .commands
            .send(make(tx))
            .await
            .map_err(|_| EngineError::ShuttingDown)?;
        rx.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Deploy a definition as a new immutable version (the same definition
    /// as the latest version returns that version).
    pub async fn deploy(
        &self,
        name: &str,
        definition: Value,
    ) -> Result<WorkflowVersion, EngineError> {
        self.deploy_as(name, definition, None).await
    }

    /// [`Engine::deploy`] with the workflow's type: the type a new workflow
    /// gets, or (for an existing one) the type it must have — a conflict
    /// otherwise, since the type is fixed at creation.
    pub async fn deploy_as(
        &self,
        name: &str,
        definition: Value,
        kind: Option<WorkflowType>,
    ) -> Result<WorkflowVersion, EngineError> {
        self.call(|reply| Command::Deploy {
            name: name.to_string(),
            definition,
            kind,
            reply,
        })
        .await
    }

    /// Start an execution of `workflow` (`NAME`, `NAME:VERSION` or
    /// `NAME:ALIAS`). Returns once the start is durable.
    pub async fn start(
        &self,
        workflow: &str,
        req: StartRequest,
    ) -> Result<(Execution, bool), EngineError> {
        self.start_command(workflow, req, true).await
    }

    /// [`Engine::start`] for a caller that answers only once the
    /// execution has ended and that end is durable ([`Engine::wait`]),
    /// as StartSyncExecution does: a batch of nothing but such starts is
    /// not flushed on its own, since the flush of the end (or of any
    /// later batch) makes it durable too, and until then nobody was told
    /// of it. Returns once the start is applied.
    pub async fn start_unflushed(
        &self,
        workflow: &str,
        req: StartRequest,
    ) -> Result<(Execution, bool), EngineError> {
        self.start_command(workflow, req, false).await
    }

    async fn start_command(
        &self,
        workflow: &str,
        req: StartRequest,
        flush: bool,
    ) -> Result<(Execution, bool), EngineError> {
        self.call(|reply| Command::Start {
            workflow: workflow.to_string(),
            req,
            flush,
            reply,
        })
        .await
    }

    pub async fn stop(
        &self,
        id: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<Execution, EngineError> {
        self.call(|reply| Command::Stop {
            execution: id.to_string(),
            error,
            cause,
            reply,
        })
        .await
    }

    pub async fn redrive(&self, id: &str) -> Result<Execution, EngineError> {
        self.call(|reply| Command::Redrive {
            execution: id.to_string(),
            reply,
        })
        .await
    }

    pub async fn task_success(&self, token: &str, output: Value) -> Result<(), EngineError> {
        self.call(|reply| Command::Callback {
            token: token.to_string(),
            outcome: CallbackOutcome::Success(output),
            reply,
        })
        .await
    }

    pub async fn task_failure(
        &self,
        token: &str,
        error: String,
        cause: String,
    ) -> Result<(), EngineError> {
        let outcome = CallbackOutcome::Failure { error, cause };
        self.call(|reply| Command::Callback {
            token: token.to_string(),
            outcome,
            reply,
        })
        .await
    }

    pub async fn task_heartbeat(&self, token: &str) -> Result<(), EngineError> {
        self.call(|reply| Command::Callback {
            token: token.to_string(),
            outcome: CallbackOutcome::Heartbeat,
            reply,
        })
        .await
    }

    /// Wait until the execution ends or `timeout` passes; returns it as it is then.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Execution, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.inner
            .waiters
            .lock()
            .expect("waiters lock")
            .entry(id.to_string())
            .or_default()
            .push(tx);
        let current = self.execution(id)?;
        if current.status.is_terminal() {
            self.durable_barrier().await?;
            return Ok(current);
        }
        let _ = tokio::time::timeout(timeout, rx).await;
        let current = self.execution(id)?;
        if current.status.is_terminal() {
            self.durable_barrier().await?;
        }
        Ok(current)
    }
}
