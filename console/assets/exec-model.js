// What happened to each state of an execution, read from its history
// (GET /api/v1/executions/{id}/history). Task events name their state
// (`state`). Histories stored before they did are read by a guess:
// TaskScheduled follows the state's Entered event (previousEventId), and a
// Task result goes to the in-flight task with the same resource that was
// scheduled first (wrong when parallel branches call the same function).

const STATUS_END = ['ExecutionFailed', 'ExecutionTimedOut', 'ExecutionAborted'];

function blank(name) {
  return {
    name, status: 'running', visits: 0, attempts: 0, failures: 0, caught: false,
    pendingError: false, exited: false, events: [],
  };
}

/** Map of state name → {status, input, output, error, cause, attempts,
 * failures (retries = attempts - 1), enteredAt, exitedAt, events, meter
 * (what the last task attempt cost, when its executor measured it)}. */
export function stateRuns(events) {
  const runs = new Map();
  const owner = new Map(); // event id → state name
  const inflight = []; // {name, resource}
  const run = (name) => {
    if (!runs.has(name)) runs.set(name, blank(name));
    return runs.get(name);
  };
  const linked = (ev) => owner.get(ev.previousEventId);
  for (const ev of events) {
    const t = ev.type || '';
    let name;
    if (t.endsWith('StateEntered')) {
      name = ev.name;
      const s = run(name);
      s.visits++;
      s.exited = false;
      s.status = s.failures ? 'retried' : 'running';
      s.input = ev.input;
      s.enteredAt = ev.timestamp;
    } else if (t.endsWith('StateExited')) {
      name = ev.name;
      const s = run(name);
      s.exited = true;
      s.output = ev.output;
      s.exitedAt = ev.timestamp;
      // What the state assigned ({name: JSON text}), latest visit first.
      if (ev.assignedVariables) s.assigned = ev.assignedVariables;
      if (s.pendingError) s.caught = true;
      s.pendingError = false;
      s.status = s.caught ? 'caught' : s.failures ? 'retried' : 'succeeded';
    } else if (t === 'TaskScheduled') {
      name = ev.state || linked(ev);
      if (name) {
        const s = run(name);
        s.attempts++;
        s.parameters = ev.parameters;
        s.resource = ev.resource;
        if (s.failures) s.status = 'retried';
        s.pendingError = false;
        inflight.push({ name, resource: ev.resource });
      }
    } else if (t === 'TaskSucceeded' || t === 'TaskFailed' || t === 'TaskTimedOut') {
      // Without `state` (an old history): by resource, else the oldest.
      let i = inflight.findIndex((f) => (ev.state ? f.name === ev.state : f.resource === ev.resource));
      if (i < 0 && !ev.state && inflight.length) i = 0;
      name = i >= 0 ? inflight.splice(i, 1)[0].name : ev.state;
      if (name) {
        const s = run(name);
        s.meter = ev.meter;
        if (t === 'TaskSucceeded') s.taskOutput = ev.output;
        else {
          s.failures++;
          s.error = ev.error;
          s.cause = ev.cause;
          s.pendingError = true;
        }
      }
    } else if (/^(Map|Parallel)State(Failed)$/.test(t)) {
      name = linked(ev);
      if (name) {
        const s = run(name);
        s.error = ev.error;
        s.cause = ev.cause;
        s.pendingError = true;
      }
    } else if (t === 'ExecutionRedriven') {
      for (const s of runs.values()) if (s.status === 'failed') s.status = 'running';
    } else if (STATUS_END.includes(t)) {
      for (const s of runs.values()) {
        if (!s.exited && (s.status === 'running' || s.status === 'retried')) {
          s.status = 'failed';
          s.failedAt = ev.timestamp;
          if (s.error == null) {
            s.error = ev.error;
            s.cause = ev.cause;
          }
        }
      }
    } else {
      name = linked(ev);
    }
    if (name) {
      owner.set(ev.id, name);
      run(name).events.push(ev);
    }
  }
  return runs;
}

/** name → status, for setStatuses. */
export function statusMap(runs) {
  const m = new Map();
  for (const [name, s] of runs) m.set(name, s.status);
  return m;
}

/** Milliseconds between two RFC 3339 times (to now when `b` is missing). */
export function durationMs(a, b) {
  if (!a) return null;
  const end = b ? Date.parse(b) : Date.now();
  return end - Date.parse(a);
}
