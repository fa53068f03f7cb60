// The hand-written graph layout (console/assets/graph-layout.js) without a
// browser: every state placed once, no overlapping boxes in a scope, groups
// that hold their branches, finite edge routes, and its time on 200+ states
// with loops, Choice diamonds, Catch edges and nested Parallel/Map groups.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = fs.readFileSync(path.join(here, '../../console/assets/graph-layout.js'), 'utf8');
const { layoutScope, packLine, countStates } = await import(`data:text/javascript,${encodeURIComponent(src)}`);

// Deterministic pseudo-random numbers (a 32-bit LCG).
let seed = 42;
const rand = (n) => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed % n; };

/** A scope of `n` states named prefix0…: a chain with Choice diamonds,
 * Catch edges forward, loops back, and nested groups while depth allows. */
function scope(prefix, n, depth) {
  const states = [];
  const edges = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}${i}`;
    const s = { name, type: 'Pass', end: i === n - 1 };
    if (depth > 0 && i % 17 === 5) {
      s.type = i % 2 ? 'Parallel' : 'Map';
      s.branches = Array.from({ length: s.type === 'Map' ? 1 : 2 + rand(2) }, (_, b) => scope(`${name}b${b}_`, 3 + rand(4), depth - 1));
    }
    states.push(s);
    if (i + 1 < n) edges.push({ from: name, to: `${prefix}${i + 1}`, kind: 'next' });
    if (i + 2 < n && i % 5 === 1) {
      s.type = 'Choice';
      edges.push({ from: name, to: `${prefix}${i + 2}`, kind: 'choice' });
    }
    if (i + 3 < n && i % 7 === 3) edges.push({ from: name, to: `${prefix}${i + 3 + rand(4)}`, kind: 'catch' });
    if (i > 4 && i % 11 === 0) edges.push({ from: name, to: `${prefix}${i - 3}`, kind: 'default' });
  }
  return { startAt: `${prefix}0`, states, edges: edges.filter((e) => e.to !== undefined && states.some((s) => s.name === e.to)) };
}

function check(layout, scopeDef, seen) {
  const names = new Set(scopeDef.states.map((s) => s.name));
  const boxes = layout.nodes.filter((n) => !n.start);
  assert.equal(boxes.length, names.size, 'every state of the scope is placed once');
  for (const n of boxes) {
    assert.ok(names.has(n.id));
    assert.ok(!seen.has(n.id), `${n.id} placed twice`);
    seen.add(n.id);
    for (const v of [n.x, n.y, n.w, n.h]) assert.ok(Number.isFinite(v), `${n.id} has finite geometry`);
    assert.ok(n.x >= -0.5 && n.x + n.w <= layout.width + 0.5, `${n.id} inside the scope's width`);
    assert.ok(n.y >= -0.5 && n.y + n.h <= layout.height + 0.5, `${n.id} inside the scope's height`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const apart = a.x + a.w <= b.x + 0.5 || b.x + b.w <= a.x + 0.5 || a.y + a.h <= b.y + 0.5 || b.y + b.h <= a.y + 0.5;
      assert.ok(apart, `${a.id} and ${b.id} overlap`);
    }
  }
  for (const e of layout.edges) {
    assert.ok(e.points.length >= 2 && e.points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y)), `${e.from}->${e.to} routed`);
  }
  for (const n of boxes.filter((b) => b.branches)) {
    const s = scopeDef.states.find((x) => x.name === n.id);
    n.branches.forEach((b, i) => {
      const [bx, by] = n.branchOffsets[i];
      assert.ok(bx >= 0 && by >= 0 && bx + b.width <= n.w + 0.5 && by + b.height <= n.h + 0.5, `${n.id} holds branch ${i}`);
      check(b, s.branches[i], seen);
    });
  }
}

// packLine keeps order and spacing and lands on the wanted spots when it can.
assert.deepEqual(packLine([0, 100, 200], [10, 10]), [0, 100, 200]);
assert.deepEqual(packLine([50, 50], [20]), [40, 60]);

const small = { startAt: 'A', states: [{ name: 'A', type: 'Choice' }, { name: 'B', type: 'Pass' }, { name: 'C', type: 'Pass' }, { name: 'D', type: 'Succeed', end: true }],
  edges: [{ from: 'A', to: 'B', kind: 'choice' }, { from: 'A', to: 'C', kind: 'default' }, { from: 'B', to: 'D', kind: 'next' }, { from: 'C', to: 'D', kind: 'next' }] };
const l = layoutScope(small);
const at = (id) => l.nodes.find((n) => n.id === id);
assert.ok(at('A').y < at('B').y && at('B').y === at('C').y && at('C').y < at('D').y, 'a diamond is layered top to bottom');
assert.ok(Math.abs((at('A').x + at('A').w / 2) - (at('D').x + at('D').w / 2)) < 1, 'the diamond is symmetric');

const big = scope('S', 170, 2);
const total = countStates(big);
assert.ok(total >= 200, `${total} states`);
const t0 = performance.now();
const layout = layoutScope(big);
const ms = performance.now() - t0;
const seen = new Set();
check(layout, big, seen);
assert.equal(seen.size, total);
console.log(`PERF layout: ${total} states (nested groups, loops, Catch edges) laid out in ${ms.toFixed(1)} ms`);
console.log('layout test passed');
