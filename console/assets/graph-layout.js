// Layered (Sugiyama-style) layout of a workflow graph, as served by
// GET /api/v1/workflows/{name}/graph.
//
// Written by hand on purpose: the console must work offline from the single
// binary, with no CDN and no bundled third-party code, so layout libraries
// (dagre, elk) are out. The steps are the classic ones:
//   1. break cycles (DFS back edges are reversed for layering),
//   2. longest-path layering,
//   3. dummy nodes on edges that span several layers,
//   4. crossing reduction by barycenter sweeps (keeping the best order),
//   5. x by isotonic regression (pool-adjacent-violators) toward the
//      neighbours' mean, which keeps order and spacing exactly,
//   6. Parallel branches / Map iterators laid out recursively first, so a
//      group is one (large) node of its parent scope.

export const START = '\u0000start';
const NODE_H = 34;
const LAYER_GAP = 44;
const NODE_GAP = 26;
const GROUP_PAD = 14;
const GROUP_HEAD = 24;
const BRANCH_GAP = 20;
const CHAR_W = 7.2;
const DUMMY_W = 10;
const SWEEPS = 10;

export function textWidth(text) {
  return Math.ceil(String(text).length * CHAR_W);
}

/** Lay out one scope: {width, height, nodes: [...], edges: [...]}, node
 * positions top-left relative to the scope. */
export function layoutScope(scope) {
  const { nodes, order } = makeNodes(scope);
  const edges = makeEdges(scope, nodes);
  const dfsOrder = breakCycles(order, edges);
  const layer = assignLayers(dfsOrder, edges);
  const { layers, chains } = addDummies(dfsOrder, edges, layer, nodes);
  const adj = adjacency(layers, chains);
  reduceCrossings(layers, adj);
  placeX(layers, adj, nodes);
  const height = placeY(layers, nodes);
  const width = normalizeX(nodes);
  const routed = routeEdges(edges, chains, nodes);
  placeBranches(nodes);
  const real = [...nodes.values()].filter((n) => !n.dummy);
  return { width, height, nodes: real, edges: routed };
}

function makeNodes(scope) {
  const nodes = new Map();
  const order = [];
  if (scope.startAt != null) {
    nodes.set(START, { id: START, start: true, w: 16, h: 16 });
    order.push(START);
  }
  for (const s of scope.states || []) {
    const n = { id: s.name, state: s, w: 0, h: NODE_H };
    const head = textWidth(`${s.name} · ${s.type}`) + 2 * GROUP_PAD;
    if (s.branches && s.branches.length) {
      n.branches = s.branches.map(layoutScope);
      const inner =
        n.branches.reduce((a, b) => a + b.width, 0) + BRANCH_GAP * (n.branches.length - 1);
      n.w = Math.max(inner + 2 * GROUP_PAD, head);
      n.h = Math.max(...n.branches.map((b) => b.height)) + GROUP_HEAD + 2 * GROUP_PAD;
    } else {
      n.w = Math.max(92, textWidth(s.name) + 28);
    }
    nodes.set(s.name, n);
    order.push(s.name);
  }
  return { nodes, order };
}

function makeEdges(scope, nodes) {
  const seen = new Set();
  const edges = [];
  const add = (e) => {
    const key = `${e.from}\u0001${e.to}\u0001${e.kind}`;
    if (nodes.has(e.from) && nodes.has(e.to) && !seen.has(key)) {
      seen.add(key);
      edges.push({ from: e.from, to: e.to, kind: e.kind });
    }
  };
  if (scope.startAt != null) add({ from: START, to: scope.startAt, kind: 'start' });
  (scope.edges || []).forEach(add);
  return edges;
}

/** Iterative DFS from the start (then from anything unreached); marks
 * back edges and self-loops. Returns nodes in discovery order. */
function breakCycles(order, edges) {
  const out = new Map(order.map((id) => [id, []]));
  edges.forEach((e) => out.get(e.from).push(e));
  const color = new Map();
  const found = [];
  for (const root of order) {
    if (color.get(root)) continue;
    color.set(root, 1);
    found.push(root);
    const stack = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const list = out.get(top[0]);
      if (top[1] < list.length) {
        const e = list[top[1]++];
        const c = color.get(e.to) || 0;
        if (e.from === e.to) e.self = true;
        else if (c === 1) e.back = true;
        else if (c === 0) {
          color.set(e.to, 1);
          found.push(e.to);
          stack.push([e.to, 0]);
        }
      } else {
        color.set(top[0], 2);
        stack.pop();
      }
    }
  }
  return found;
}

/** Direction of an edge in the acyclic graph used for layering. */
function dagEnds(e) {
  return e.back ? [e.to, e.from] : [e.from, e.to];
}

function assignLayers(order, edges) {
  const indeg = new Map(order.map((id) => [id, 0]));
  const succ = new Map(order.map((id) => [id, []]));
  for (const e of edges) {
    if (e.self) continue;
    const [u, v] = dagEnds(e);
    succ.get(u).push(v);
    indeg.set(v, indeg.get(v) + 1);
  }
  const layer = new Map(order.map((id) => [id, 0]));
  const queue = order.filter((id) => indeg.get(id) === 0);
  for (let i = 0; i < queue.length; i++) {
    const u = queue[i];
    for (const v of succ.get(u)) {
      layer.set(v, Math.max(layer.get(v), layer.get(u) + 1));
      indeg.set(v, indeg.get(v) - 1);
      if (indeg.get(v) === 0) queue.push(v);
    }
  }
  return layer;
}

function addDummies(order, edges, layer, nodes) {
  const depth = Math.max(0, ...layer.values()) + 1;
  const layers = Array.from({ length: depth }, () => []);
  for (const id of order) {
    nodes.get(id).layer = layer.get(id);
    layers[layer.get(id)].push(id);
  }
  let next = 0;
  const chains = [];
  for (const e of edges) {
    if (e.self) continue;
    const [u, v] = dagEnds(e);
    const chain = [u];
    for (let l = layer.get(u) + 1; l < layer.get(v); l++) {
      const id = `\u0000d${next++}`;
      nodes.set(id, { id, dummy: true, w: DUMMY_W, h: 0, layer: l });
      layers[l].push(id);
      chain.push(id);
    }
    chain.push(v);
    e.chain = chain;
    chains.push(chain);
  }
  return { layers, chains };
}

function adjacency(layers, chains) {
  const up = new Map();
  const down = new Map();
  for (const l of layers) for (const id of l) { up.set(id, []); down.set(id, []); }
  for (const c of chains) {
    for (let i = 0; i + 1 < c.length; i++) {
      down.get(c[i]).push(c[i + 1]);
      up.get(c[i + 1]).push(c[i]);
    }
  }
  return { up, down };
}

function positions(layers) {
  const pos = new Map();
  for (const l of layers) l.forEach((id, i) => pos.set(id, i));
  return pos;
}

function crossings(layers, adj) {
  const pos = positions(layers);
  let total = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const segs = [];
    for (const u of layers[l]) for (const v of adj.down.get(u)) segs.push([pos.get(u), pos.get(v)]);
    // Crossings = inversions of the lower ends once sorted by the upper
    // ends, counted with a Fenwick tree (E log V rather than E²).
    segs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const size = layers[l + 1].length + 1;
    const tree = new Array(size + 1).fill(0);
    for (let i = 0; i < segs.length; i++) {
      let above = 0;
      for (let k = segs[i][1] + 1; k > 0; k -= k & -k) above += tree[k];
      total += i - above;
      for (let k = segs[i][1] + 1; k <= size; k += k & -k) tree[k]++;
    }
  }
  return total;
}

function sweep(layers, neighbours, from, to, step) {
  for (let l = from; l !== to; l += step) {
    const pos = positions([layers[l - step]]);
    const bary = new Map();
    layers[l].forEach((id, i) => {
      const ns = neighbours.get(id).filter((n) => pos.has(n));
      bary.set(id, ns.length ? ns.reduce((a, n) => a + pos.get(n), 0) / ns.length : i);
    });
    layers[l].sort((a, b) => bary.get(a) - bary.get(b));
  }
}

function reduceCrossings(layers, adj) {
  let best = layers.map((l) => l.slice());
  let bestCount = crossings(layers, adj);
  for (let i = 0; i < SWEEPS && bestCount > 0; i++) {
    if (i % 2 === 0) sweep(layers, adj.up, 1, layers.length, 1);
    else sweep(layers, adj.down, layers.length - 2, -1, -1);
    const count = crossings(layers, adj);
    if (count < bestCount) {
      bestCount = count;
      best = layers.map((l) => l.slice());
    }
  }
  best.forEach((l, i) => { layers[i] = l; });
}

/** Closest positions to `want` (least squares) keeping order and the
 * minimum separations `sep[i]` between item i and i+1: isotonic regression
 * by pool-adjacent-violators on want[i] - offset[i]. */
export function packLine(want, sep) {
  const n = want.length;
  const offset = new Array(n).fill(0);
  for (let i = 1; i < n; i++) offset[i] = offset[i - 1] + sep[i - 1];
  const blocks = [];
  for (let i = 0; i < n; i++) {
    blocks.push({ sum: want[i] - offset[i], count: 1 });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (a.sum / a.count <= b.sum / b.count) break;
      a.sum += b.sum;
      a.count += b.count;
      blocks.pop();
    }
  }
  const out = [];
  for (const b of blocks) for (let k = 0; k < b.count; k++) out.push(b.sum / b.count + offset[out.length]);
  return out;
}

function placeX(layers, adj, nodes) {
  const seps = layers.map((l) =>
    l.slice(0, -1).map((id, i) => (nodes.get(id).w + nodes.get(l[i + 1]).w) / 2 + NODE_GAP));
  layers.forEach((l, li) => {
    let x = 0;
    l.forEach((id, i) => {
      if (i > 0) x += seps[li][i - 1];
      nodes.get(id).cx = x;
    });
  });
  const align = (li, neighbours) => {
    const l = layers[li];
    const want = l.map((id) => {
      const ns = neighbours.get(id);
      if (!ns.length) return nodes.get(id).cx;
      return ns.reduce((a, n) => a + nodes.get(n).cx, 0) / ns.length;
    });
    packLine(want, seps[li]).forEach((x, i) => { nodes.get(l[i]).cx = x; });
  };
  for (let round = 0; round < 4; round++) {
    for (let li = 1; li < layers.length; li++) align(li, adj.up);
    for (let li = layers.length - 2; li >= 0; li--) align(li, adj.down);
  }
  for (let li = 1; li < layers.length; li++) align(li, adj.up);
}

function placeY(layers, nodes) {
  let y = 0;
  for (const l of layers) {
    const h = Math.max(0, ...l.map((id) => nodes.get(id).h));
    for (const id of l) {
      const n = nodes.get(id);
      n.cy = y + h / 2;
    }
    y += h + LAYER_GAP;
  }
  return Math.max(0, y - LAYER_GAP);
}

function normalizeX(nodes) {
  let min = Infinity;
  let max = -Infinity;
  for (const n of nodes.values()) {
    min = Math.min(min, n.cx - n.w / 2);
    max = Math.max(max, n.cx + n.w / 2);
  }
  if (!Number.isFinite(min)) return 0;
  for (const n of nodes.values()) {
    n.cx -= min;
    n.x = n.cx - n.w / 2;
    n.y = n.cy - n.h / 2;
  }
  return max - min;
}

function routeEdges(edges, chains, nodes) {
  return edges.map((e) => {
    const out = { from: e.from, to: e.to, kind: e.kind, back: !!e.back };
    if (e.self) {
      const n = nodes.get(e.from);
      const r = n.x + n.w;
      out.points = [[r, n.cy - 6], [r + 18, n.cy - 6], [r + 18, n.cy + 6], [r, n.cy + 6]];
      return out;
    }
    const pts = e.chain.map((id, i) => {
      const n = nodes.get(id);
      if (i === 0) return [n.cx, n.y + n.h];
      if (i === e.chain.length - 1) return [n.cx, n.y];
      return [n.cx, n.cy];
    });
    if (e.back) {
      // Drawn upward beside the forward edges so the two stay apart.
      pts.reverse();
      out.points = pts.map(([x, y]) => [x + 10, y]);
    } else {
      out.points = pts;
    }
    return out;
  });
}

function placeBranches(nodes) {
  for (const n of nodes.values()) {
    if (!n.branches) continue;
    const inner =
      n.branches.reduce((a, b) => a + b.width, 0) + BRANCH_GAP * (n.branches.length - 1);
    let x = (n.w - inner) / 2;
    n.branchOffsets = n.branches.map((b) => {
      const at = [x, GROUP_HEAD + GROUP_PAD];
      x += b.width + BRANCH_GAP;
      return at;
    });
  }
}

/** Count of states in a graph scope, nested ones included. */
export function countStates(scope) {
  let n = 0;
  for (const s of scope.states || []) {
    n += 1;
    for (const b of s.branches || []) n += countStates(b);
  }
  return n;
}
