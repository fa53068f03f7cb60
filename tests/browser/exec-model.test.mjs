// What the execution page draws for each state (console/assets/exec-model.js),
// from histories shaped as the engine writes them: retried, caught, failed,
// running and not reached.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = fs.readFileSync(path.join(here, '../../console/assets/exec-model.js'), 'utf8');
const { stateRuns, statusMap } = await import(`data:text/javascript,${encodeURIComponent(src)}`);

let id = 0;
const ev = (type, previousEventId, details = {}) => ({ id: ++id, previousEventId, timestamp: `2026-01-01T00:00:0${id % 10}.000Z`, type, ...details });

// Charge fails once, is retried and succeeds; Notify fails and is caught
// into Fallback; Fallback is running when the history ends.
const h = [];
const push = (e) => { h.push(e); return e.id; };
push(ev('ExecutionStarted', 0));
let entered = push(ev('TaskStateEntered', 1, { name: 'Charge', input: { a: 1 } }));
let s = push(ev('TaskScheduled', entered, { resource: 'sluice:function:charge' }));
push(ev('TaskStarted', s, { resource: 'sluice:function:charge' }));
push(ev('TaskFailed', id, { resource: 'sluice:function:charge', error: 'Busy', cause: 'try later' }));
s = push(ev('TaskScheduled', entered, { resource: 'sluice:function:charge' }));
push(ev('TaskStarted', s, { resource: 'sluice:function:charge' }));
push(ev('TaskSucceeded', id, { resource: 'sluice:function:charge', output: { ok: true } }));
let exited = push(ev('TaskStateExited', entered, { name: 'Charge', output: { ok: true } }));
entered = push(ev('TaskStateEntered', exited, { name: 'Notify', input: {} }));
s = push(ev('TaskScheduled', entered, { resource: 'sluice:function:notify' }));
push(ev('TaskStarted', s, { resource: 'sluice:function:notify' }));
push(ev('TaskFailed', id, { resource: 'sluice:function:notify', error: 'Down', cause: 'smtp' }));
exited = push(ev('TaskStateExited', entered, { name: 'Notify', output: { Error: 'Down' } }));
push(ev('PassStateEntered', exited, { name: 'Fallback', input: {} }));

let runs = stateRuns(h);
let st = statusMap(runs);
assert.equal(st.get('Charge'), 'retried');
assert.equal(runs.get('Charge').attempts, 2);
assert.deepEqual(runs.get('Charge').output, { ok: true });
assert.equal(st.get('Notify'), 'caught');
assert.equal(runs.get('Notify').error, 'Down');
assert.equal(st.get('Fallback'), 'running');
assert.equal(st.get('Ship'), undefined, 'a state not reached has no run (drawn not-started)');

// The execution fails while Fallback runs: it is the failed state, with the execution's error.
h.push(ev('ExecutionFailed', id, { error: 'States.Runtime', cause: 'boom' }));
runs = stateRuns(h);
st = statusMap(runs);
assert.equal(st.get('Fallback'), 'failed');
assert.equal(runs.get('Fallback').error, 'States.Runtime');
assert.equal(st.get('Charge'), 'retried', 'finished states keep their colour');
assert.equal(st.get('Notify'), 'caught');

// A redrive resumes the failed state.
h.push(ev('ExecutionRedriven', id));
assert.equal(statusMap(stateRuns(h)).get('Fallback'), 'running');

// Parallel branches call the same function and finish in the other order:
// the Task events name their state, so each result and meter goes to its own.
id = 0;
const par = [];
const add = (e) => { par.push(e); return e.id; };
add(ev('ExecutionStarted', 0));
const p = add(ev('ParallelStateEntered', 1, { name: 'P' }));
const l = add(ev('TaskStateEntered', p, { name: 'Left' }));
const r = add(ev('TaskStateEntered', p, { name: 'Right' }));
const fn = { resource: 'sluice:function:work' };
add(ev('TaskScheduled', l, { ...fn, state: 'Left' }));
add(ev('TaskScheduled', r, { ...fn, state: 'Right' }));
add(ev('TaskStarted', id - 1, { ...fn, state: 'Left' }));
add(ev('TaskStarted', id - 1, { ...fn, state: 'Right' }));
add(ev('TaskFailed', id, { ...fn, state: 'Right', error: 'Boom', cause: 'r', meter: { cold: false, durationMs: 3 } }));
add(ev('TaskSucceeded', id, { ...fn, state: 'Left', output: 'left', meter: { cold: true, initMs: 200, durationMs: 5 } }));
runs = stateRuns(par);
assert.equal(runs.get('Left').taskOutput, 'left');
assert.equal(runs.get('Left').error, undefined);
assert.deepEqual(runs.get('Left').meter, { cold: true, initMs: 200, durationMs: 5 });
assert.equal(runs.get('Right').error, 'Boom');
assert.equal(runs.get('Right').meter.cold, false);
// The same history as stored before Task events named their state: the
// old guess (first in-flight task with that resource) still places every result.
const old = stateRuns(par.map(({ state, ...rest }) => rest));
assert.equal(old.get('Left').attempts, 1);
assert.equal(old.get('Right').attempts, 1);
assert.equal([...old.values()].filter((s) => s.error === 'Boom').length, 1);

// A plain success.
id = 0;
const ok = [ev('ExecutionStarted', 0), ev('PassStateEntered', 1, { name: 'P' }), ev('PassStateExited', 2, { name: 'P', output: 1 }), ev('ExecutionSucceeded', 3)];
assert.equal(statusMap(stateRuns(ok)).get('P'), 'succeeded');
console.log('exec-model test passed');
