// The dashboard's drawing of one graph (SPEC §8): an ES module with no
// dependencies, in the browser and (for layout and the pure parts) in Node.
//
//   import { createGraphView, layout } from './graph.js';
//   const gv = createGraphView(container, { graph, onSelectNode(nodeId) {} });
//   gv.update(executionViewValue);   // counters and a state preview per node
//   gv.hops(batch, scale?);          // port:emit event data of one animation frame; scale:
//                                    // hops each stands for when the server sampled them
//   gv.destroy();
//
// `graph` is the body of GET /api/graphs/:id: {id, name, definition: {nodes:
// [{id, component, config?}], edges: [{id?, source: {node, port}, target:
// {node, port}}]}, topology: {sorted, levels: {nodeId: level}, inputNodes,
// outputNodes}}.  A bare definition ({nodes, edges}) is accepted too, and
// levels missing from `topology` are computed (longest path from the inputs).
//
// LAYOUT (pure; layout(graph) -> {nodes, edges, width, height}).  Nodes go in
// columns by topological level (x grows strictly with the level).  An edge
// that spans k > 1 levels gets k - 1 "dummy" waypoints, one per level it
// crosses, so that it is routed between the nodes of those columns rather
// than through them (at most MAX_DUMMIES in all; beyond that the longest
// edges are drawn straight across).  The order within a column comes from
// barycenter sweeps (down, up, ...) over nodes and waypoints; the order with
// the fewest crossings between adjacent columns wins, the declaration order
// counting as the first candidate, so the sweeps never make it worse; then
// neighbours in a column are swapped while a swap removes crossings.  y
// comes from a few passes that pull each node towards its neighbours' ports
// (a least-squares fit per column under "no overlap, keep the order",
// solved by pool-adjacent-violators), so chains come out straight.  Ports:
// inputs on the left, outputs on the right, named and ordered by their first
// appearance in the edges; a node that no edge enters shows the input `in`
// unless its component has dynamic inputs (symbia.core.merge) or is not a
// built-in (a user component's ports are not in the graph).  Everything is
// deterministic: the same graph gives the same layout.
//
// VIEW.  SVG in a div.weir-graph (style: graph.css).  Each node is a
// <g class="node" data-node-id="…" tabindex="0" role="button">, in reading
// order (column by column, top to bottom: the Tab order), with its counters
// in <text class="counters" data-invocations data-emitted data-errors> and
// its state preview in <text class="state"> (the state as JSON, cut, in the
// node's <title>).  Pan: drag, arrow keys (Shift: farther); zoom: wheel, +
// and - keys, 0 or the Fit button fits the graph (and it is fitted again
// when its size changes, until the user moves it).  Enter or Space on a
// node, or a click, selects it (class `selected`, its edges `adjacent`) and
// calls onSelectNode(id); focusing a node brings it into sight.  Zoomed
// out, text is hidden (classes lod-mid, lod-far on the root), and nodes out
// of sight get class `culled` (no text), so a 1,000-node graph stays
// light.  update() touches the DOM of a node only when its text changes
// (views.js shares unchanged node objects, so an unchanged node costs one
// comparison).  hops() costs O(batch) with no DOM work per event; dots in
// flight are pooled and bounded (DOTS_PER_EDGE per edge, MAX_DOTS in all);
// an edge with more than BUSY_PER_FRAME hops in one batch or BUSY_RATE
// hops/s (judged over at least a bucket) is `busy`: it shows its rate
// ("1.2k/s", also in its path's data-rate) and a wider stroke (RATE_WIDTHS
// by rateBucket) instead of dots, until it is calm again (below CALM_RATE,
// BUSY_HOLD_MS after it was last busy).  Rates and strokes are drawn on one
// <canvas class="weir-graph-rates"> over the SVG (its own layer), redrawn
// only when a label or width shown changed (RateBoard; labels are refreshed
// every LABEL_REFRESH_MS) or the view moved, edges out of sight skipped;
// so 200 busy edges cost a few canvas calls four times a second, not a
// repaint of the drawing.  An edge that is the only one into its node
// takes its rate from that node's counters (CounterRates: exact when the
// hops are a sample).  Edges with the same ends and ports are bowed
// PARALLEL_GAP apart and share their hops.
//
// SUBGRAPHS.  A composed graph (its body has `flattened` and `subgraphs`:
// Composition) is drawn one level at a time: at first as declared, each
// graph node ("graph:NAME[@V]") ONE node (class `subgraph`: a double
// border, "subgraph NAME@V", its ports as its mapping names them, the
// edges to and from it on those ports).  Its counters are the sums of its
// inner nodes' (whatever the value: live or a past tick); a hop between
// its inner nodes is drawn through it (dots along its top: an edge of the
// drawing of its own, which turns busy like any edge), a hop that crosses
// its border on the outer edge.  A click, Enter or Space on it opens it
// (onSelectNode(id) is told): its inner nodes and edges replace the
// drawing, laid out on their own, inner nodes by their paths
// (data-node-id="retail/lookup") with their own counters and state, a
// nested graph node drawn and opened the same way, hops between its
// nodes on its edges; its own ports are short dashed edges into and out
// of the level (path.border data-border="in:NAME" / "out:NAME", with the
// hops that cross its border).  A breadcrumb (nav.weir-graph-crumbs:
// Back, then each level, a button) and Escape go back, to the view that
// level had and the focus on the graph node left.  A level is laid out
// when first opened (then kept) and built out of the page, so a level of
// 1,000 nodes opens as fast as such a graph is first drawn.
//
// Besides update, hops and destroy, the view has select(nodeId) (no
// callback), fit(), open(path) and back() (false when there is nothing
// to open or go back to), scope (the path of the level shown, "" at the
// top), layout (the layout() result of that level), element (the root
// div), model (the HopModel), board (the RateBoard) and composition.

const SVG_NS = 'http://www.w3.org/2000/svg';

// ------------------------------------------------------------ settings

export const LAYOUT = Object.freeze({
  nodeWidth: 200, // px, every node
  headerHeight: 38, // id and component lines
  portRow: 16, // one input or output port
  footerHeight: 36, // counters and state lines
  colGap: 120, // between columns (room for the curves)
  rowGap: 22, // between two nodes of a column
  dummyGap: 6, // between a waypoint and its neighbours in a column
  dummyHeight: 6, // a waypoint's height
  margin: 24,
  sweeps: 8, // barycenter sweeps (alternately down and up)
  transpose: 4, // passes of neighbour swaps after them (0: none)
  yPasses: 8, // passes of the y fit
  maxDummies: 20000, // waypoints of long edges, in all
});

export const DOTS_PER_EDGE = 3; // dots in flight on one edge
export const MAX_DOTS = 400; // dots in flight in all
export const DOT_MS = 650; // a dot's trip along an edge
export const DOT_RADIUS = 4; // px on screen when zoomed out, graph units when zoomed in
export const BUSY_PER_FRAME = 4; // more hops than this on an edge in one batch: busy
export const BUSY_RATE = 30; // hops/s on an edge above which it is busy
export const CALM_RATE = 10; // a busy edge turns back to dots below this rate
export const BUSY_HOLD_MS = 1000; // and not before this long after it was last busy
export const RATE_BUCKET_MS = 250; // the rate is counted in buckets of this length
export const RATE_BUCKETS = 4; // over this many buckets (one second)
export const FRAME_MS = 16; // the shortest time a rate is measured over (one animation frame)
export const LABEL_REFRESH_MS = 250; // rate labels and stroke widths change at most this often
export const RATE_WIDTHS = Object.freeze([2.5, 3.5, 4.5, 5.5, 7, 8]); // px on screen: a busy edge's stroke by bucket (rateBucket)
export const PARALLEL_GAP = 10; // px between the curves of edges with the same ends and ports
const LABEL_CHAR_PX = 6.5; // a rate label's width per character (11 px bold), about
const LABEL_LINE_PX = 13; // and its height, with room
export const PREVIEW_CHARS = 28; // a node's state preview, at most
export const TITLE_CHARS = 400; // its tooltip (the state as JSON), at most
export const ZOOM_MIN = 0.02; // or less, as far as fitting the whole graph needs
export const ZOOM_MAX = 4;

const SUB_INSET = 3; // px between a graph node's two borders
const BORDER_PORT_LEN = 64; // px: an opened graph node's own ports, drawn as edges this long
const subName = (s) => `${s.name}${s.version ? `@${s.version}` : ''}`;

// Components whose inputs are named by the graph, not by the component.
const DYNAMIC_INPUTS = new Set(['symbia.core.merge']);
const DEFAULT_INPUT = 'in';

// ------------------------------------------------------------ layout

function portFrac(i, n) {
  return (0.5 * (i + 0.5)) / Math.max(n, 1);
}

function r1(v) {
  return Math.round(v * 10) / 10;
}

// Levels by longest path from the in-degree-0 nodes (Kahn, FIFO, declaration
// order), as the server's topology has them.  Nodes on or after a cycle (not
// a valid graph; drawn anyway) keep the level after their deepest
// predecessor placed before the cycle.
function computeLevels(n, succ, pred) {
  const indeg = new Int32Array(n);
  for (let v = 0; v < n; v++) indeg[v] = pred[v].length;
  const level = new Int32Array(n);
  const queue = [];
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue.push(v);
  for (let h = 0; h < queue.length; h++) {
    const u = queue[h];
    for (const v of succ[u]) {
      if (level[u] + 1 > level[v]) level[v] = level[u] + 1;
      if (--indeg[v] === 0) queue.push(v);
    }
  }
  return level;
}

// Strict inversions of buf[0..m) (pairs i < j with buf[i] > buf[j]), by
// bottom-up merge sort; buf and tmp are scratch.
function inversions(buf, tmp, m) {
  let inv = 0, src = buf, dst = tmp;
  for (let w = 1; w < m; w *= 2) {
    for (let lo = 0; lo < m; lo += 2 * w) {
      const mid = Math.min(lo + w, m), hi = Math.min(lo + 2 * w, m);
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (src[j] < src[i]) {
          inv += mid - i;
          dst[k++] = src[j++];
        } else dst[k++] = src[i++];
      }
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return inv;
}

// Pool adjacent violators: out[0..n) closest (least squares) to want with
// out[i+1] >= out[i] + need[i].  sc: scratch arrays of at least n.
function fitColumn(want, need, out, n, sc) {
  const { sum, cnt, start, off } = sc;
  off[0] = 0;
  for (let i = 1; i < n; i++) off[i] = off[i - 1] + need[i - 1];
  let top = 0;
  for (let i = 0; i < n; i++) {
    let s = want[i] - off[i], c = 1, st = i;
    while (top > 0 && sum[top - 1] / cnt[top - 1] > s / c) {
      top--;
      s += sum[top];
      c += cnt[top];
      st = start[top];
    }
    sum[top] = s;
    cnt[top] = c;
    start[top] = st;
    top++;
  }
  for (let b = 0; b < top; b++) {
    const z = sum[b] / cnt[b], end = b + 1 < top ? start[b + 1] : n;
    for (let i = start[b]; i < end; i++) out[i] = z + off[i];
  }
}

/**
 * Lay out a graph (the body of GET /api/graphs/:id, or a bare definition).
 * Returns {nodes: [{id, component, label, subgraph, level, x, y, width,
 * height, inputs, outputs}], edges: [{id, source, target, path, points}],
 * width, height, crossings}: nodes in declaration order (`label` and
 * `subgraph` as the node gives them: what the drawing shows instead of the
 * id, and a graph node's {path, name, version}, else null);
 * `inputs`/`outputs` are port names, first those the node lists in its
 * `ports` (port i's centre is at y + portY(i)); an edge's `path` is SVG path data
 * from its source port to its target port, and `points` the same as a list
 * of pieces [x0, y0, c1x, c1y, c2x, c2y, x1, y1] (a straight piece has its
 * control points on the line).  `crossings` counts the crossings between
 * adjacent columns of the order chosen.  options: any of LAYOUT's keys
 * ({sweeps: 0, transpose: 0} keeps the declaration order).
 */
export function layout(graph, options = {}) {
  const S = { ...LAYOUT, ...options };
  const def = (graph && graph.definition) || graph || {};
  const defNodes = Array.isArray(def.nodes) ? def.nodes : [];
  const defEdges = Array.isArray(def.edges) ? def.edges : [];
  const n = defNodes.length;
  const index = new Map();
  for (let i = 0; i < n; i++) if (!index.has(String(defNodes[i].id))) index.set(String(defNodes[i].id), i);

  // Ports: those a node declares (`ports: {inputs, outputs}`, names: a
  // subgraph's mapping), then those the edges name; and adjacency from the
  // edges (edges naming unknown nodes are skipped).
  const declared = (v, dir) => {
    const p = defNodes[v].ports && defNodes[v].ports[dir];
    return Array.isArray(p) ? p.filter((x, i, a) => typeof x === 'string' && a.indexOf(x) === i) : [];
  };
  const inputs = Array.from({ length: n }, (_, v) => declared(v, 'inputs'));
  const outputs = Array.from({ length: n }, (_, v) => declared(v, 'outputs'));
  const succ = Array.from({ length: n }, () => []);
  const pred = Array.from({ length: n }, () => []);
  const edges = []; // {id, s, sp, t, tp}: source and target node indices and port names
  const usedIds = new Set();
  for (let i = 0; i < defEdges.length; i++) {
    const e = defEdges[i];
    const sn = e && e.source && index.get(String(e.source.node));
    const tn = e && e.target && index.get(String(e.target.node));
    if (sn === undefined || tn === undefined) continue;
    const spn = String(e.source.port ?? 'out'), tpn = String(e.target.port ?? 'in');
    let sp = outputs[sn].indexOf(spn);
    if (sp < 0) sp = outputs[sn].push(spn) - 1;
    let tp = inputs[tn].indexOf(tpn);
    if (tp < 0) tp = inputs[tn].push(tpn) - 1;
    succ[sn].push(tn);
    pred[tn].push(sn);
    let id = e.id != null ? String(e.id) : `#${i}`;
    while (usedIds.has(id)) id += "'";
    usedIds.add(id);
    edges.push({ id, s: sn, sp: spn, t: tn, tp: tpn });
  }
  for (let v = 0; v < n; v++) {
    const comp = String(defNodes[v].component ?? '');
    if (inputs[v].length === 0 && comp.startsWith('symbia.') && !DYNAMIC_INPUTS.has(comp)) inputs[v].push(DEFAULT_INPUT);
  }

  // Levels: the topology's, else computed.
  const given = graph && graph.topology && graph.topology.levels;
  let level;
  let complete = !!given;
  if (given) for (let v = 0; v < n && complete; v++) complete = Number.isInteger(given[defNodes[v].id]) && given[defNodes[v].id] >= 0;
  if (complete) {
    level = new Int32Array(n);
    for (let v = 0; v < n; v++) level[v] = given[defNodes[v].id];
  } else level = computeLevels(n, succ, pred);
  let nLevels = 0;
  for (let v = 0; v < n; v++) nLevels = Math.max(nLevels, level[v] + 1);

  // Vertices: the nodes, then waypoints.  Per vertex: level, height, and the
  // segments to the previous and next columns.
  const vLevel = Array.from(level);
  const vHeight = [];
  for (let v = 0; v < n; v++) vHeight.push(S.headerHeight + Math.max(1, inputs[v].length, outputs[v].length) * S.portRow + S.footerHeight);
  const portY = (v, isOut, name) => {
    if (v >= n) return S.dummyHeight / 2;
    const list = isOut ? outputs[v] : inputs[v];
    return S.headerHeight + (list.indexOf(name) + 0.5) * S.portRow;
  };
  const segs = []; // {u, v, fu, fv, ou, ov}: u in column l, v in column l + 1; f: order key, o: y offset
  const chains = []; // per edge: the vertices it passes (waypoints), or null when drawn straight
  // Long edges first get waypoints, shortest first, within the budget.
  const spans = edges.map((e, k) => ({ k, span: level[e.t] - level[e.s] }));
  const byLen = spans.filter((x) => x.span > 1).sort((x, y) => x.span - y.span || x.k - y.k);
  let budget = S.maxDummies;
  const routed = new Uint8Array(edges.length);
  for (const x of byLen) {
    if (x.span - 1 > budget) break;
    budget -= x.span - 1;
    routed[x.k] = 1;
  }
  for (let k = 0; k < edges.length; k++) {
    const e = edges[k];
    const span = level[e.t] - level[e.s];
    const fu0 = portFrac(outputs[e.s].indexOf(e.sp), outputs[e.s].length);
    const fv1 = portFrac(inputs[e.t].indexOf(e.tp), inputs[e.t].length);
    const ou0 = portY(e.s, true, e.sp), ov1 = portY(e.t, false, e.tp);
    if (span === 1) {
      segs.push({ u: e.s, v: e.t, fu: fu0, fv: fv1, ou: ou0, ov: ov1 });
      chains.push([]);
    } else if (span > 1 && routed[k]) {
      const chain = [];
      let prev = e.s, fprev = fu0, oprev = ou0;
      for (let l = level[e.s] + 1; l < level[e.t]; l++) {
        const d = vLevel.length;
        vLevel.push(l);
        vHeight.push(S.dummyHeight);
        chain.push(d);
        segs.push({ u: prev, v: d, fu: fprev, fv: 0.25, ou: oprev, ov: S.dummyHeight / 2 });
        prev = d;
        fprev = 0.25;
        oprev = S.dummyHeight / 2;
      }
      segs.push({ u: prev, v: e.t, fu: fprev, fv: fv1, ou: oprev, ov: ov1 });
      chains.push(chain);
    } else chains.push(null); // backwards, same column, or over budget: not part of the ordering
  }
  const V = vLevel.length, M = segs.length;
  // Segments as typed arrays, and per vertex (CSR) the segments leaving it,
  // ordered by port, and those entering it.
  const segU = new Int32Array(M), segV = new Int32Array(M);
  const segFu = new Float64Array(M), segFv = new Float64Array(M), segOu = new Float64Array(M), segOv = new Float64Array(M);
  const downStart = new Int32Array(V + 1), upStart = new Int32Array(V + 1);
  for (let i = 0; i < M; i++) {
    const sg = segs[i];
    segU[i] = sg.u;
    segV[i] = sg.v;
    segFu[i] = sg.fu;
    segFv[i] = sg.fv;
    segOu[i] = sg.ou;
    segOv[i] = sg.ov;
    downStart[sg.u + 1]++;
    upStart[sg.v + 1]++;
  }
  for (let v = 0; v < V; v++) {
    downStart[v + 1] += downStart[v];
    upStart[v + 1] += upStart[v];
  }
  const downIdx = new Int32Array(M), upIdx = new Int32Array(M);
  {
    const dFill = downStart.slice(0, V), uFill = upStart.slice(0, V);
    for (let i = 0; i < M; i++) {
      downIdx[dFill[segU[i]]++] = i;
      upIdx[uFill[segV[i]]++] = i;
    }
    for (let v = 0; v < V; v++) {
      // by port (insertion sort: a vertex has few segments), stable
      for (let j = downStart[v] + 1; j < downStart[v + 1]; j++) {
        const x = downIdx[j];
        let q = j;
        while (q > downStart[v] && segFu[downIdx[q - 1]] > segFu[x]) {
          downIdx[q] = downIdx[q - 1];
          q--;
        }
        downIdx[q] = x;
      }
    }
  }

  // Order within columns.  Initial: declaration order, each waypoint after
  // the nodes in the order of its edge.
  const cols = Array.from({ length: nLevels }, () => []);
  for (let v = 0; v < V; v++) cols[vLevel[v]].push(v);
  const rank = new Float64Array(V);
  const setRanks = () => {
    for (const col of cols) for (let i = 0; i < col.length; i++) rank[col[i]] = i;
  };
  setRanks();
  // Crossings between adjacent columns: walk the upper column in order (its
  // segments come sorted by upper end; those of one port sorted by lower
  // end), then count strict inversions of the lower ends.
  const buf = new Float64Array(M), tmp = new Float64Array(M);
  const crossings = () => {
    let total = 0;
    for (let l = 0; l + 1 < nLevels; l++) {
      let m = 0, gs = 0;
      for (const u of cols[l]) {
        for (let j = downStart[u]; j < downStart[u + 1]; j++) {
          const sg = downIdx[j], b = rank[segV[sg]] + segFv[sg];
          if (j > downStart[u] && segFu[downIdx[j - 1]] === segFu[sg]) {
            let q = m;
            while (q > gs && buf[q - 1] > b) {
              buf[q] = buf[q - 1];
              q--;
            }
            buf[q] = b;
            m++;
          } else {
            gs = m;
            buf[m++] = b;
          }
        }
      }
      total += inversions(buf, tmp, m);
    }
    return total;
  };
  let best = crossings();
  let bestCols = cols.map((c) => c.slice());
  const bary = new Float64Array(V);
  for (let sweep = 0; sweep < S.sweeps && best > 0; sweep++) {
    const down = sweep % 2 === 0;
    const from = down ? 1 : nLevels - 2, to = down ? nLevels : -1, step = down ? 1 : -1;
    for (let l = from; l !== to; l += step) {
      const col = cols[l];
      for (const v of col) {
        const lo = down ? upStart[v] : downStart[v], hi = down ? upStart[v + 1] : downStart[v + 1];
        if (lo === hi) {
          bary[v] = rank[v];
          continue;
        }
        let sum = 0;
        for (let j = lo; j < hi; j++) {
          const sg = down ? upIdx[j] : downIdx[j];
          sum += down ? rank[segU[sg]] + segFu[sg] : rank[segV[sg]] + segFv[sg];
        }
        bary[v] = sum / (hi - lo);
      }
      col.sort((x, y) => bary[x] - bary[y] || rank[x] - rank[y]);
      for (let i = 0; i < col.length; i++) rank[col[i]] = i;
    }
    const c = crossings();
    if (c < best) {
      best = c;
      bestCols = cols.map((col) => col.slice());
    }
  }
  for (let l = 0; l < nLevels; l++) cols[l] = bestCols[l];
  setRanks();

  // Transpose: swap neighbours in a column while that removes crossings.
  // Swapping u and v (u just above v) changes only the crossings between
  // u's segments and v's on each side: a pair crosses iff the far end of
  // the upper one's segment is below the far end of the lower one's.
  const pairCross = (u, v) => {
    let c = 0;
    for (let a = upStart[u]; a < upStart[u + 1]; a++) {
      const ka = rank[segU[upIdx[a]]] + segFu[upIdx[a]];
      for (let b = upStart[v]; b < upStart[v + 1]; b++) if (ka > rank[segU[upIdx[b]]] + segFu[upIdx[b]]) c++;
    }
    for (let a = downStart[u]; a < downStart[u + 1]; a++) {
      const ka = rank[segV[downIdx[a]]] + segFv[downIdx[a]];
      for (let b = downStart[v]; b < downStart[v + 1]; b++) if (ka > rank[segV[downIdx[b]]] + segFv[downIdx[b]]) c++;
    }
    return c;
  };
  if (S.transpose && best > 0) {
    for (let pass = 0, improved = true; pass < S.transpose && improved; pass++) {
      improved = false;
      for (const col of cols) {
        for (let i = 0; i + 1 < col.length; i++) {
          const u = col[i], v = col[i + 1];
          if (pairCross(v, u) < pairCross(u, v)) {
            col[i] = v;
            col[i + 1] = u;
            rank[v] = i;
            rank[u] = i + 1;
            improved = true;
          }
        }
      }
    }
    best = crossings();
  }

  // y: stack each column, then pull towards the neighbours' ports.
  const y = new Float64Array(V);
  const gapAfter = (col, i) => vHeight[col[i]] + (col[i] < n && col[i + 1] < n ? S.rowGap : S.dummyGap);
  let widest = 0;
  for (const col of cols) {
    widest = Math.max(widest, col.length);
    let acc = S.margin;
    for (let i = 0; i < col.length; i++) {
      y[col[i]] = acc;
      if (i + 1 < col.length) acc += gapAfter(col, i);
    }
  }
  const want = new Float64Array(widest), need = new Float64Array(widest), fitted = new Float64Array(widest);
  const scratch = { sum: new Float64Array(widest), cnt: new Float64Array(widest), start: new Int32Array(widest), off: new Float64Array(widest) };
  for (let pass = 0; pass < S.yPasses; pass++) {
    const mode = pass >= S.yPasses - 2 ? 0 : pass % 2 === 0 ? 1 : 2; // 0 both, 1 from the left, 2 from the right
    for (let i = 0; i < nLevels; i++) {
      const col = cols[mode === 2 ? nLevels - 1 - i : i];
      if (col.length === 0) continue;
      for (let i = 0; i < col.length; i++) {
        const v = col[i];
        let sum = 0, cnt = 0;
        if (mode !== 2) for (let j = upStart[v]; j < upStart[v + 1]; j++) {
          const sg = upIdx[j];
          sum += y[segU[sg]] + segOu[sg] - segOv[sg];
          cnt++;
        }
        if (mode !== 1) for (let j = downStart[v]; j < downStart[v + 1]; j++) {
          const sg = downIdx[j];
          sum += y[segV[sg]] + segOv[sg] - segOu[sg];
          cnt++;
        }
        want[i] = cnt ? sum / cnt : y[v];
        need[i] = i + 1 < col.length ? gapAfter(col, i) : 0;
      }
      fitColumn(want, need, fitted, col.length, scratch);
      for (let i = 0; i < col.length; i++) y[col[i]] = fitted[i];
    }
  }
  let minY = Infinity, maxY = -Infinity;
  for (let v = 0; v < V; v++) {
    minY = Math.min(minY, y[v]);
    maxY = Math.max(maxY, y[v] + vHeight[v]);
  }
  const shift = V ? S.margin - minY : 0;
  for (let v = 0; v < V; v++) y[v] = Math.round(y[v] + shift); // whole pixels: short paths, fast to write

  const colX = (l) => S.margin + l * (S.nodeWidth + S.colGap);
  const outNodes = [];
  for (let v = 0; v < n; v++) {
    outNodes.push({
      id: String(defNodes[v].id),
      component: String(defNodes[v].component ?? ''),
      label: String(defNodes[v].label ?? defNodes[v].id),
      subgraph: defNodes[v].subgraph || null,
      level: level[v],
      x: colX(level[v]),
      y: y[v],
      width: S.nodeWidth,
      height: vHeight[v],
      inputs: inputs[v],
      outputs: outputs[v],
    });
  }

  // Edges: cubic curves between columns, straight across a waypoint's column.
  // Edges with the same ends and ports would be drawn on top of each other:
  // the i-th of m such bows by (i - (m - 1) / 2) * PARALLEL_GAP.
  const sameEnds = new Map();
  const bow = new Float64Array(edges.length);
  for (let k = 0; k < edges.length; k++) {
    const e = edges[k], key = `${e.s}\u0000${e.sp}\u0000${e.t}\u0000${e.tp}`;
    const list = sameEnds.get(key);
    if (list) list.push(k);
    else sameEnds.set(key, [k]);
  }
  for (const list of sameEnds.values()) {
    for (let i = 0; i < list.length && list.length > 1; i++) bow[list[i]] = (i - (list.length - 1) / 2) * PARALLEL_GAP;
  }
  const outEdges = [];
  for (let k = 0; k < edges.length; k++) {
    const e = edges[k];
    const x0 = colX(level[e.s]) + S.nodeWidth, y0 = Math.round(y[e.s] + portY(e.s, true, e.sp));
    const x1 = colX(level[e.t]), y1 = Math.round(y[e.t] + portY(e.t, false, e.tp));
    const pts = [];
    const curve = (ax, ay, bx, by) => {
      const dx = Math.max((bx - ax) / 2, 40);
      pts.push([ax, ay, Math.round(ax + dx), ay, Math.round(bx - dx), by, bx, by]);
    };
    let px = x0, py = y0;
    for (const d of chains[k] || []) {
      const dy = Math.round(y[d] + S.dummyHeight / 2), dx0 = colX(vLevel[d]);
      curve(px, py, dx0, dy);
      const dx1 = dx0 + S.nodeWidth;
      pts.push([dx0, dy, Math.round(dx0 + S.nodeWidth / 3), dy, Math.round(dx1 - S.nodeWidth / 3), dy, dx1, dy]);
      px = dx1;
      py = dy;
    }
    curve(px, py, x1, y1);
    if (bow[k]) {
      // bend the inner control points (the ends stay on their ports)
      const b = (4 / 3) * bow[k]; // the curve's middle moves by 3/4 of its control points' shift
      for (const p of pts) {
        p[3] = Math.round(p[3] + b);
        p[5] = Math.round(p[5] + b);
      }
    }
    let path = `M${pts[0][0]},${pts[0][1]}`;
    for (const p of pts) path += `C${p[2]},${p[3]} ${p[4]},${p[5]} ${p[6]},${p[7]}`;
    outEdges.push({
      id: e.id,
      source: { node: String(defNodes[e.s].id), port: e.sp },
      target: { node: String(defNodes[e.t].id), port: e.tp },
      path,
      points: pts,
    });
  }
  return {
    nodes: outNodes,
    edges: outEdges,
    width: nLevels ? colX(nLevels - 1) + S.nodeWidth + S.margin : 2 * S.margin,
    height: V ? Math.ceil(maxY + shift + S.margin) : 2 * S.margin,
    crossings: best,
    waypoints: V - n,
  };
}

/** The y of port i's centre within its node (inputs and outputs alike). */
export function portY(i, options = {}) {
  const S = { ...LAYOUT, ...options };
  return S.headerHeight + (i + 0.5) * S.portRow;
}

/** The point at t (0..1) along a layout edge's `points`, each piece taking an equal share of t. */
export function pointOnEdge(points, t, out = [0, 0]) {
  const m = points.length;
  if (m === 0) {
    out[0] = out[1] = 0;
    return out;
  }
  const f = Math.min(Math.max(t, 0), 1) * m;
  const i = Math.min(Math.floor(f), m - 1), u = f - i, w = 1 - u;
  const p = points[i];
  const a = w * w * w, b = 3 * w * w * u, c = 3 * w * u * u, d = u * u * u;
  out[0] = a * p[0] + b * p[2] + c * p[4] + d * p[6];
  out[1] = a * p[1] + b * p[3] + c * p[5] + d * p[7];
  return out;
}

// ------------------------------------------------------------ text

/** A count in at most 6 characters: 12345, 123.4k, 12.3M. */
export function formatCount(v) {
  const x = Number(v) || 0;
  if (Math.abs(x) < 100000) return String(Math.round(x));
  if (Math.abs(x) < 1e6) return `${(x / 1e3).toFixed(1)}k`;
  if (Math.abs(x) < 1e9) return `${(x / 1e6).toFixed(1)}M`;
  return `${(x / 1e9).toFixed(1)}G`;
}

/** A rate in hops per second: "3.5/s", "850/s", "1.2k/s", "3.4M/s". */
export function formatRate(r) {
  const x = Math.max(Number(r) || 0, 0);
  if (x < 10) return `${x.toFixed(1)}/s`;
  if (x < 999.5) return `${Math.round(x)}/s`;
  if (x < 999500) return `${(x / 1e3).toFixed(x < 9999.5 ? 1 : 0)}k/s`;
  return `${(x / 1e6).toFixed(1)}M/s`;
}

/** A node's counters line. */
export function formatCounters(c) {
  const o = c || {};
  return `${formatCount(o.invocations)} calls · ${formatCount(o.emitted)} out · ${formatCount(o.errors)} err`;
}

/**
 * JSON of v, cut after about `max` characters (ending in "…").  Stops
 * walking v as soon as the text is long enough: the cost is bounded by max,
 * not by the size of v.
 */
export function boundedJson(v, max) {
  let s = '';
  const STOP = {};
  const add = (t) => {
    s += t;
    if (s.length > max) throw STOP;
  };
  const walk = (x, depth) => {
    if (x === null || x === undefined || typeof x === 'function') return add('null');
    if (typeof x === 'number') return add(Number.isFinite(x) ? String(x) : 'null');
    if (typeof x === 'boolean') return add(String(x));
    if (typeof x === 'string') return add(JSON.stringify(x.length > max ? x.slice(0, max + 1) : x));
    if (depth > 32) return add('…');
    if (Array.isArray(x)) {
      add('[');
      for (let i = 0; i < x.length; i++) {
        if (i) add(',');
        walk(x[i], depth + 1);
      }
      return add(']');
    }
    add('{');
    let first = true;
    for (const k of Object.keys(x)) {
      if (!first) add(',');
      first = false;
      add(`${JSON.stringify(k)}:`);
      walk(x[k], depth + 1);
    }
    return add('}');
  };
  try {
    walk(v, 0);
    return s;
  } catch (err) {
    if (err !== STOP) throw err;
    return `${s.slice(0, Math.max(max - 1, 0))}…`;
  }
}

function summary(v, room) {
  if (Array.isArray(v)) return `${v.length} item${v.length === 1 ? '' : 's'}`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    return keys.length === 0 ? '{}' : `{${keys.length} key${keys.length === 1 ? '' : 's'}}`;
  }
  return boundedJson(v, Math.max(room, 8));
}

/**
 * A node's state in at most `max` characters: "" for no state ({} or
 * null); an object as "key: summary, ..." where a list is "N items", an
 * object "{N keys}", anything else its JSON; a value that is not an object,
 * its JSON.  Cut with "…".
 */
export function previewState(state, max = PREVIEW_CHARS) {
  if (state === null || state === undefined) return '';
  let s;
  if (typeof state === 'object' && !Array.isArray(state)) {
    const keys = Object.keys(state);
    if (keys.length === 0) return '';
    s = '';
    for (const k of keys) {
      if (s.length > max) break;
      s += `${s ? ', ' : ''}${k}: ${summary(state[k], max - s.length - k.length - 2)}`;
    }
  } else s = summary(state, max);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

// ------------------------------------------------------------ hops (pure)

/**
 * What the hop animation shows, without the DOM.  Edges are keyed by
 * (source node, source port, target node, target port), as port:emit names
 * them; an event without targetNode (or with `node`/`port` only) counts on
 * every edge leaving its node:port.  ingest(batch, now) counts and starts
 * dots, and returns the edges that became busy; frame(now, dot) retires
 * the dots that arrived and returns the edges whose busy flag changed; dots
 * are a fixed pool of maxDots slots.
 */
export class HopModel {
  constructor(edges, opts = {}) {
    this.o = {
      dotsPerEdge: DOTS_PER_EDGE, maxDots: MAX_DOTS, dotMs: DOT_MS, busyPerFrame: BUSY_PER_FRAME,
      busyRate: BUSY_RATE, calmRate: CALM_RATE, busyHoldMs: BUSY_HOLD_MS, bucketMs: RATE_BUCKET_MS,
      buckets: RATE_BUCKETS, frameMs: FRAME_MS, ...opts,
    };
    const E = (this.E = edges.length);
    this.bySource = new Map(); // node -> Map(port -> [edge index])
    for (let k = 0; k < E; k++) {
      const e = edges[k];
      let ports = this.bySource.get(e.source.node);
      if (!ports) this.bySource.set(e.source.node, (ports = new Map()));
      let list = ports.get(e.source.port);
      if (!list) ports.set(e.source.port, (list = []));
      list.push(k);
    }
    this.edges = edges;
    // Edges with the same ends and ports (a hop names no edge): their hops
    // go to each in turn.  twin[k]: the next of k's group (-1: no group);
    // turn[first of a group]: whose turn it is.
    this.twin = new Int32Array(E).fill(-1);
    this.turn = new Int32Array(E);
    const groups = new Map();
    for (let k = 0; k < E; k++) {
      const e = edges[k], key = `${e.source.node}\u0000${e.source.port}\u0000${e.target.node}\u0000${e.target.port}`;
      const g = groups.get(key);
      if (g) g.push(k);
      else groups.set(key, [k]);
    }
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      for (let i = 0; i < g.length; i++) this.twin[g[i]] = g[(i + 1) % g.length];
      this.turn[g[0]] = g[0];
    }
    this.inFrame = new Uint32Array(E); // hops of the current batch
    this.touched = []; // edges with hops in the current batch
    this.counts = new Float64Array(E * this.o.buckets); // ring of buckets per edge
    this.bucket = -1; // absolute number of the current bucket
    this.total = new Float64Array(E); // hops seen in all
    this.since = new Float64Array(E); // when the edge last became active
    this.busy = new Uint8Array(E);
    this.busyUntil = new Float64Array(E);
    this.onEdge = new Uint16Array(E); // dots in flight per edge
    this.active = new Set(); // edges with counts in the ring (rates to show or to decay)
    // Dot pool: slot i is in use when i < this.dots.
    this.dotEdge = new Int32Array(this.o.maxDots);
    this.dotStart = new Float64Array(this.o.maxDots);
    this.dots = 0;
    this.unmatched = 0; // events that named no edge of this graph
  }

  advance(now) {
    const b = Math.floor(now / this.o.bucketMs), B = this.o.buckets;
    if (this.bucket < 0) this.bucket = b;
    if (b <= this.bucket) return;
    const steps = Math.min(b - this.bucket, B);
    for (let s = 1; s <= steps; s++) {
      const slot = (this.bucket + s) % B;
      for (const k of this.active) this.counts[k * B + slot] = 0;
    }
    this.bucket = b;
  }

  /**
   * Hops per second on edge k over the last `buckets` buckets, or since
   * the edge woke up if that is shorter, but at least minMs (by default one
   * frame: a first batch of 2,000 hops reads as 2,000 per 16 ms, not per
   * second; whether an edge is busy is judged over at least one bucket).
   */
  rate(k, now, minMs = this.o.frameMs) {
    const B = this.o.buckets;
    let sum = 0;
    for (let i = 0; i < B; i++) sum += this.counts[k * B + i];
    const frac = Math.min(Math.max((now - this.bucket * this.o.bucketMs) / this.o.bucketMs, 0), 1);
    const ms = Math.min((B - 1 + frac) * this.o.bucketMs, Math.max(now - this.since[k] + this.o.frameMs, minMs));
    return sum / (ms / 1000);
  }

  count(k) {
    if (this.inFrame[k]++ === 0) this.touched.push(k);
  }

  // scale: how many hops each event stands for (a sampled stream: the
  // server passed over the rest, events:skipped); rates and the busy
  // judgement count scaled hops, dots the events themselves.
  ingest(batch, now, scale = 1) {
    this.advance(now);
    const B = this.o.buckets, slot = this.bucket % B;
    for (let i = 0; i < batch.length; i++) {
      const ev = batch[i];
      if (!ev) continue;
      const ports = this.bySource.get(ev.sourceNode ?? ev.node);
      const list = ports && ports.get(ev.sourcePort ?? ev.port);
      if (!list) {
        this.unmatched++;
        continue;
      }
      const tn = ev.targetNode;
      if (tn === undefined || list.length === 1) {
        if (tn === undefined) for (const k of list) this.count(k);
        else this.count(list[0]);
        continue;
      }
      let hit = false;
      for (const k of list) {
        const t = this.edges[k].target;
        if (t.node === tn && (ev.targetPort === undefined || t.port === ev.targetPort)) {
          if (this.twin[k] >= 0 && ev.targetPort !== undefined) {
            const j = this.turn[k];
            this.turn[k] = this.twin[j];
            this.count(j);
          } else this.count(k);
          hit = true;
          break;
        }
      }
      if (!hit) this.unmatched++;
    }
    const nowBusy = [];
    for (const k of this.touched) {
      const c = this.inFrame[k], w = c * scale;
      this.inFrame[k] = 0;
      this.counts[k * B + slot] += w;
      this.total[k] += w;
      if (!this.active.has(k)) {
        this.active.add(k);
        this.since[k] = now;
      }
      if (w > this.o.busyPerFrame || this.rate(k, now, this.o.bucketMs) > this.o.busyRate) {
        if (!this.busy[k]) nowBusy.push(k);
        this.busy[k] = 1;
        this.busyUntil[k] = now + this.o.busyHoldMs;
      }
      if (this.busy[k]) continue;
      let want = Math.min(c, this.o.dotsPerEdge - this.onEdge[k], this.o.maxDots - this.dots);
      for (; want > 0; want--) {
        this.dotEdge[this.dots] = k;
        this.dotStart[this.dots] = now;
        this.dots++;
        this.onEdge[k]++;
      }
    }
    this.touched.length = 0;
    return nowBusy;
  }

  /**
   * Retire the dots that arrived (or whose edge became busy) and update the
   * busy flags; calls dot(slot, edge, t) for each dot still in flight (t in
   * 0..1).  Returns the edges whose busy flag changed.
   */
  frame(now, dot) {
    this.advance(now);
    const changed = [];
    for (const k of this.active) {
      const r = this.rate(k, now, this.o.bucketMs);
      if (this.busy[k] && now >= this.busyUntil[k] && r < this.o.calmRate) {
        this.busy[k] = 0;
        changed.push(k);
      } else if (!this.busy[k] && r > this.o.busyRate) {
        this.busy[k] = 1;
        this.busyUntil[k] = now + this.o.busyHoldMs;
        changed.push(k);
      }
      if (r === 0 && !this.busy[k]) this.active.delete(k);
    }
    let w = 0;
    for (let i = 0; i < this.dots; i++) {
      const k = this.dotEdge[i], t = (now - this.dotStart[i]) / this.o.dotMs;
      if (t >= 1 || this.busy[k]) {
        this.onEdge[k]--;
        continue;
      }
      this.dotEdge[w] = k;
      this.dotStart[w] = this.dotStart[i];
      if (dot) dot(w, k, Math.max(t, 0));
      w++;
    }
    this.dots = w;
    return changed;
  }

  /**
   * Edge k is busy for busyHoldMs more, whatever its hops say (its rate is
   * known to be high from elsewhere: a sample of the hops may say less).
   * True when it was not busy.
   */
  hold(k, now) {
    this.busyUntil[k] = Math.max(this.busyUntil[k], now + this.o.busyHoldMs);
    if (this.busy[k]) return false;
    this.busy[k] = 1;
    if (!this.active.has(k)) {
      this.active.add(k);
      this.since[k] = now;
    }
    return true;
  }

  /** True while there is something to animate or a rate to decay. */
  get running() {
    return this.dots > 0 || this.active.size > 0;
  }
}

// ------------------------------------------------------------ busy edges (pure)

/**
 * The stroke width bucket of a rate (hops/s): 0 below 10/s, then one more
 * per factor of ten, at most RATE_WIDTHS.length - 1 (100k/s and more).  A
 * busy edge is drawn RATE_WIDTHS[bucket] px wide.
 */
export function rateBucket(r) {
  const x = Number(r) || 0;
  if (!(x >= 10)) return 0;
  return Math.min(Math.floor(Math.log10(x)), RATE_WIDTHS.length - 1);
}

/**
 * What the busy edges show: per edge its rate label (formatRate) and width
 * bucket (rateBucket), or nothing.  set() says whether what is drawn
 * changed, so that the drawing is redone only then (a rate that moves
 * within its rounding changes nothing).  `shown`: the edges shown, in the
 * order they were first shown; `version` grows with every change.
 */
export class RateBoard {
  constructor(E) {
    this.label = new Array(E).fill('');
    this.bucket = new Int8Array(E).fill(-1);
    this.shown = new Set();
    this.version = 0;
  }

  /** Show rate r on edge k (null: show nothing there); true when that changed what is drawn. */
  set(k, r) {
    if (r === null || r === undefined) {
      if (!this.shown.has(k)) return false;
      this.shown.delete(k);
      this.label[k] = '';
      this.bucket[k] = -1;
      this.version++;
      return true;
    }
    const label = formatRate(r), b = rateBucket(r);
    if (this.shown.has(k) && label === this.label[k] && b === this.bucket[k]) return false;
    this.shown.add(k);
    this.label[k] = label;
    this.bucket[k] = b;
    this.version++;
    return true;
  }
}

/**
 * Edge rates from the execution view's node counters, exact where they
 * tell an edge's hops apart (the hop events a page is sent may be a sample
 * the server took, and a sample favours the hops that come first in each
 * tenth of a second): an edge into a node no other edge enters carries
 * that node's invocations (not a graph node's: its counters are its inner
 * nodes' sums).  Other edges: NaN (their sampled hops tell; a
 * node's emissions do not tell its edges apart: it may emit on ports with
 * no edge).  observe(nodes, now) with the view value's `nodes` ({id:
 * {invocations, emitted}}) whenever it changes; rate(k, now): hops/s on
 * edge k over the last windowMs / 2 to windowMs (0 once the counter has
 * not moved for windowMs; NaN until two values windowMs / 5 apart are
 * known).  A
 * counter that goes back (time travel) starts again.
 */
export class CounterRates {
  constructor(nodes, edges, windowMs = RATE_BUCKET_MS * RATE_BUCKETS) {
    this.windowMs = windowMs;
    this.ids = nodes.map((n) => n.id);
    const index = new Map(this.ids.map((id, i) => [id, i]));
    const indeg = new Uint32Array(nodes.length);
    for (const e of edges) if (index.has(e.target.node)) indeg[index.get(e.target.node)]++;
    const E = edges.length;
    this.node = new Int32Array(E).fill(-1); // whose invocations edge k carries
    for (let k = 0; k < E; k++) {
      const t = index.get(edges[k].target.node);
      if (t !== undefined && indeg[t] === 1 && !nodes[t].subgraph) this.node[k] = t; // a graph node's invocations are its inner nodes'
    }
    const N = nodes.length;
    this.t0 = new Float64Array(N); // the window's start, its mark, its end (the last change)
    this.tm = new Float64Array(N);
    this.t1 = new Float64Array(N);
    // invocations and emissions at t0 and t1, and at tm
    this.c = [new Float64Array(N), new Float64Array(N), new Float64Array(N), new Float64Array(N), new Float64Array(N), new Float64Array(N)];
    this.seen = new Uint8Array(N);
  }

  observe(nodes, now) {
    if (!nodes) return;
    const [i0, i1, e0, e1, im, em_] = this.c;
    for (let i = 0; i < this.ids.length; i++) {
      const cur = nodes[this.ids[i]];
      if (!cur) continue;
      const inv = Number(cur.invocations) || 0, em = Number(cur.emitted) || 0;
      if (this.seen[i] && inv === i1[i] && em === e1[i]) continue;
      if (!this.seen[i] || inv < i1[i] || em < e1[i]) {
        this.seen[i] = 1;
        this.t0[i] = this.tm[i] = this.t1[i] = now;
        i0[i] = im[i] = i1[i] = inv;
        e0[i] = em_[i] = e1[i] = em;
        continue;
      }
      // the window starts at a mark moved every windowMs / 2: it spans
      // windowMs / 2 to windowMs
      if (now - this.tm[i] >= this.windowMs / 2) {
        this.t0[i] = this.tm[i];
        i0[i] = im[i];
        e0[i] = em_[i];
        this.tm[i] = now;
        im[i] = inv;
        em_[i] = em;
      }
      this.t1[i] = now;
      i1[i] = inv;
      e1[i] = em;
    }
  }

  rate(k, now) {
    const i = this.node[k];
    if (i < 0 || !this.seen[i]) return NaN;
    if (now - this.t1[i] >= this.windowMs) return 0;
    const dt = this.t1[i] - this.t0[i];
    if (dt < this.windowMs / 5) return NaN;
    const [i0, i1] = this.c;
    return ((i1[i] - i0[i]) * 1000) / dt;
  }
}

/**
 * Draw the board's busy edges on a 2D canvas context: per edge a stroke
 * along its curve, RATE_WIDTHS[bucket] px wide on screen, and its label
 * above the curve's middle, 11 px on screen at any zoom.  view: {x, y, k}
 * (screen = graph * k + (x, y)); w, h: the canvas in CSS px; dpr: device
 * pixels per CSS px; geo: per edge {points, mid: [x, y], box: [x0, y0, x1,
 * y1]} in graph units; colours: {busy, halo, font}.  Edges whose box is out
 * of sight are skipped (returns how many were drawn), and so are labels
 * that would overlap one drawn before.
 */
export function drawRates(ctx, board, geo, view, w, h, dpr, colours) {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, Math.ceil(w * dpr), Math.ceil(h * dpr));
  if (board.shown.size === 0) return 0;
  const k = view.k, pad = 20 / k;
  const x0 = -view.x / k - pad, y0 = -view.y / k - pad, x1 = (w - view.x) / k + pad, y1 = (h - view.y) / k + pad;
  const seen = [];
  for (const e of board.shown) {
    const b = geo[e].box;
    if (b[0] <= x1 && b[2] >= x0 && b[1] <= y1 && b[3] >= y0) seen.push(e);
  }
  if (seen.length === 0) return 0;
  // strokes, one path per width
  ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * view.x, dpr * view.y);
  ctx.strokeStyle = colours.busy;
  ctx.lineCap = 'round';
  for (let wb = 0; wb < RATE_WIDTHS.length; wb++) {
    let any = false;
    for (const e of seen) {
      if (board.bucket[e] !== wb) continue;
      if (!any) ctx.beginPath();
      any = true;
      const pts = geo[e].points;
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (const p of pts) ctx.bezierCurveTo(p[2], p[3], p[4], p[5], p[6], p[7]);
    }
    if (!any) continue;
    ctx.lineWidth = RATE_WIDTHS[wb] / k;
    ctx.stroke();
  }
  // labels over a halo, in screen px
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = colours.font;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'alphabetic';
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3;
  ctx.strokeStyle = colours.halo;
  // a label that would overlap one already placed is left out (zoomed out,
  // many busy edges run close together; each edge's rate is in its
  // data-rate all the same)
  const placed = [], xs = [], ys = [];
  for (const e of seen) {
    const sx = view.x + geo[e].mid[0] * k, sy = view.y + geo[e].mid[1] * k - 6;
    const half = (board.label[e].length * LABEL_CHAR_PX) / 2 + 2;
    let free = sx + half > 0 && sx - half < w && sy > 0 && sy - LABEL_LINE_PX < h;
    for (let i = 0; free && i < placed.length; i++) {
      const q = placed[i];
      if (Math.abs(ys[q] - sy) < LABEL_LINE_PX && Math.abs(xs[q] - sx) < half + (board.label[q].length * LABEL_CHAR_PX) / 2 + 2) free = false;
    }
    if (!free) continue;
    xs[e] = sx;
    ys[e] = sy;
    placed.push(e);
  }
  for (const e of placed) ctx.strokeText(board.label[e], xs[e], ys[e]);
  ctx.fillStyle = colours.busy;
  for (const e of placed) ctx.fillText(board.label[e], xs[e], ys[e]);
  return seen.length;
}

// ------------------------------------------------------------ subgraphs (pure)

// The port a hop on a collapsed graph node's inner edges is drawn on: an
// edge of the drawing through that node (the view's "through" edges).
export const THROUGH = '\u0000through';
// The node an opened graph node's own input and output ports are drawn
// from and to (short edges into and out of its level, named as mapped).
export const BORDER = '\u0000border';

/**
 * A composed graph (SPEC §1: nodes {"component": "graph:NAME[@V]"}) seen
 * one level at a time.  `graph` is the body of GET /api/graphs/:id: its
 * `flattened` definition (inner nodes with path ids "retail/lookup",
 * nested "a/b/c"; outer edges keep their ids, inner ones get the path's:
 * "retail/e1") and `subgraphs` ([{path, name, version?, inputs?, outputs?}],
 * inputs/outputs: port name -> {node, port} of the flat graph).  A level
 * (a "scope") is "" (the graph as declared) or a graph node's path.
 * `composed` is false for a graph with no graph nodes (then nothing here
 * is needed: the drawing is the definition).
 *
 *   scope(path)       -> {nodes, edges, border}: a definition for layout():
 *                        the level's nodes (a graph node as one node with
 *                        `subgraph` and its mapped `ports`, inner ones by
 *                        their paths, `label` the last part), and its edges
 *                        (an edge to or from a graph node on the port its
 *                        mapping names); edges inside a graph node and
 *                        those crossing the level's border are left out.
 *                        border (inside a graph node): its own ports,
 *                        {inputs, outputs: [{name, node, port}]}, node:port
 *                        of this level each is mapped to.
 *   hopsAt(path)      -> (event) -> the event as that level draws it: on
 *                        the edge it crosses, {sourceNode: g, sourcePort:
 *                        THROUGH, targetNode: g, targetPort: THROUGH} for a
 *                        hop inside graph node g, from or to node BORDER on
 *                        the port's name for one crossing the level's
 *                        border, null for one outside the level; events
 *                        are O(1) each (a table built once).
 *   rollup(path, nodes) -> the execution view's `nodes` ({id: {invocations,
 *                        emitted, errors, state}}) as that level shows
 *                        them: a graph node's counters are the sums of its
 *                        inner nodes' (its state {nodes, withState}); an
 *                        unchanged graph node keeps its object (the view
 *                        compares objects).
 *   trail(path)       -> [{path, label}] from the top down to path.
 */
export class Composition {
  constructor(graph) {
    const flat = graph && graph.flattened;
    const list = graph && Array.isArray(graph.subgraphs) ? graph.subgraphs : [];
    this.composed = !!(flat && Array.isArray(flat.nodes) && list.length > 0);
    this.name = String((graph && (graph.name || (graph.definition && graph.definition.name))) || 'graph');
    this.subs = new Map();
    for (const s of list) if (s && s.path != null) this.subs.set(String(s.path), s);
    this.nodes = this.composed ? flat.nodes.filter((nd) => nd && nd.id != null) : [];
    this.edges = this.composed && Array.isArray(flat.edges) ? flat.edges.filter((e) => e && e.source && e.target) : [];
    this.chains = new Map(); // id -> the graph nodes it is inside, outermost first
    this.inner = new Map(); // graph node path -> the flat node ids inside it, in order
    for (const p of this.subs.keys()) this.inner.set(p, []);
    for (const nd of this.nodes) for (const p of this.chain(String(nd.id))) this.inner.get(p).push(String(nd.id));
    this.tables = new Map(); // path -> hop table
    this.sums = new Map(); // path + "\0" + graph node -> {refs, value}
  }

  /** The graph nodes id is inside, outermost first (id itself when it is one is not listed). */
  chain(id) {
    let c = this.chains.get(id);
    if (c) return c;
    c = [];
    for (let i = id.indexOf('/'); i > 0; i = id.indexOf('/', i + 1)) {
      const p = id.slice(0, i);
      if (this.subs.has(p)) c.push(p);
    }
    this.chains.set(id, c);
    return c;
  }

  /** What stands for flat node (or graph node) id at level path: itself, the graph node it is inside, or null (not under path). */
  at(id, path) {
    const c = this.chain(id);
    if (path === '') return c.length ? c[0] : id;
    const i = c.indexOf(path);
    if (i < 0) return null;
    return i + 1 < c.length ? c[i + 1] : id;
  }

  /** The name graph node g maps to flat node:port (dir: 'inputs' or 'outputs'); the port itself when g is the node. */
  portOf(g, node, port, dir) {
    if (g === node) return port;
    const name = this.nameOf(g, node, port, dir);
    return name !== null ? name : `${node.slice(g.length + 1)}.${port}`; // no mapping given: where it comes from
  }

  label(id, path) {
    return path === '' ? id : id.slice(path.length + 1);
  }

  scope(path = '') {
    const nodes = [], seen = new Set();
    const add = (id, nd) => {
      if (seen.has(id)) return;
      seen.add(id);
      const s = this.subs.get(id);
      if (s) {
        const ports = { inputs: Object.keys(s.inputs || {}), outputs: Object.keys(s.outputs || {}) };
        const version = s.version != null ? String(s.version) : null;
        nodes.push({
          id, label: this.label(id, path), component: `graph:${s.name}${version ? `@${version}` : ''}`, ports,
          subgraph: { path: id, name: String(s.name), version },
        });
      } else nodes.push({ id, label: this.label(id, path), component: String(nd.component ?? '') });
    };
    for (const nd of this.nodes) {
      const id = String(nd.id), g = this.at(id, path);
      if (g !== null) add(g, nd);
    }
    // graph nodes with nothing inside (an empty graph)
    for (const p of this.subs.keys()) if (this.inner.get(p).length === 0 && this.at(p, path) === p && p !== path) add(p, null);
    const edges = [];
    for (const e of this.edges) {
      const s = String(e.source.node), t = String(e.target.node);
      const gs = this.at(s, path), gt = this.at(t, path);
      if (gs === null || gt === null || (gs === gt && gs !== s)) continue;
      edges.push({
        id: e.id, source: { node: gs, port: this.portOf(gs, s, String(e.source.port ?? 'out'), 'outputs') },
        target: { node: gt, port: this.portOf(gt, t, String(e.target.port ?? 'in'), 'inputs') },
      });
    }
    const border = { inputs: [], outputs: [] };
    const s = path !== '' && this.subs.get(path);
    if (s) {
      const byId = new Map(nodes.map((nd) => [nd.id, nd]));
      for (const dir of ['inputs', 'outputs']) {
        const m = s[dir] || {};
        for (const name of Object.keys(m)) {
          const to = m[name], node = to && this.at(String(to.node), path);
          const nd = node !== null && node !== undefined && byId.get(node);
          if (!nd) continue;
          const port = this.portOf(node, String(to.node), String(to.port), dir);
          border[dir].push({ name, node, port });
          // the port shows even when no edge of this level names it
          nd.ports = nd.ports || { inputs: [], outputs: [] };
          if (!nd.ports[dir].includes(port)) nd.ports[dir] = [...nd.ports[dir], port];
        }
      }
    }
    return { name: path === '' ? this.name : path, nodes, edges, border };
  }

  /** The name of the port of graph node g (dir: 'inputs' or 'outputs') mapped to flat node:port, or null. */
  nameOf(g, node, port, dir) {
    const m = this.subs.get(g) && this.subs.get(g)[dir];
    if (m) for (const k of Object.keys(m)) if (m[k] && m[k].node === node && m[k].port === port) return k;
    return null;
  }

  hopsAt(path = '') {
    let T = this.tables.get(path);
    if (!T) {
      const pairs = new Map(), sources = new Map();
      const through = (g) => ({ sourceNode: g, sourcePort: THROUGH, targetNode: g, targetPort: THROUGH });
      for (const e of this.edges) {
        const s = String(e.source.node), t = String(e.target.node);
        const sp = String(e.source.port ?? 'out'), tp = String(e.target.port ?? 'in');
        const gs = this.at(s, path), gt = this.at(t, path);
        let ev = null;
        if (gs !== null && gt !== null) {
          ev = gs === gt && gs !== s ? through(gs)
            : { sourceNode: gs, sourcePort: this.portOf(gs, s, sp, 'outputs'), targetNode: gt, targetPort: this.portOf(gt, t, tp, 'inputs') };
        } else if (path !== '' && (gs !== null || gt !== null)) {
          // across the border of the graph node opened: on its port
          const name = gt !== null ? this.nameOf(path, t, tp, 'inputs') : this.nameOf(path, s, sp, 'outputs');
          if (name !== null) {
            ev = gt !== null
              ? { sourceNode: BORDER, sourcePort: name, targetNode: gt, targetPort: this.portOf(gt, t, tp, 'inputs') }
              : { sourceNode: gs, sourcePort: this.portOf(gs, s, sp, 'outputs'), targetNode: BORDER, targetPort: name };
          }
        }
        pairs.set(`${s}\u0000${sp}\u0000${t}\u0000${tp}`, ev);
      }
      // an event naming its source only: on every edge leaving its port at this level
      for (const nd of this.nodes) {
        const id = String(nd.id), g = this.at(id, path);
        if (g !== null) sources.set(id, g);
      }
      T = { pairs, sources, through };
      this.tables.set(path, T);
    }
    return (ev) => {
      const s = ev.sourceNode ?? ev.node, sp = ev.sourcePort ?? ev.port;
      if (ev.targetNode !== undefined) {
        const hit = T.pairs.get(`${s}\u0000${sp}\u0000${ev.targetNode}\u0000${ev.targetPort}`);
        return hit === undefined ? ev : hit; // an edge not in the graph: as it is (counted unmatched)
      }
      const g = T.sources.get(s);
      if (g === undefined) return ev;
      return g === s ? ev : { sourceNode: g, sourcePort: this.portOf(g, s, sp, 'outputs') };
    };
  }

  rollup(path, nodes) {
    const out = {};
    const has = Object.prototype.hasOwnProperty;
    for (const nd of this.nodes) {
      const id = String(nd.id), g = this.at(id, path);
      if (g === null) continue;
      if (g === id) {
        if (has.call(nodes, id)) out[id] = nodes[id];
        continue;
      }
      if (has.call(out, g)) continue;
      const ids = this.inner.get(g), key = `${path}\u0000${g}`;
      const refs = ids.map((x) => (has.call(nodes, x) ? nodes[x] : undefined));
      const was = this.sums.get(key);
      if (was && was.refs.length === refs.length && was.refs.every((r, i) => r === refs[i])) {
        if (was.value) out[g] = was.value;
        continue;
      }
      let value;
      if (refs.some((r) => r)) {
        value = { invocations: 0, emitted: 0, errors: 0, state: { nodes: ids.length, withState: 0 } };
        for (const r of refs) {
          if (!r) continue;
          value.invocations += Number(r.invocations) || 0;
          value.emitted += Number(r.emitted) || 0;
          value.errors += Number(r.errors) || 0;
          if (r.state && typeof r.state === 'object' ? Object.keys(r.state).length > 0 : r.state != null) value.state.withState++;
        }
      }
      this.sums.set(key, { refs, value });
      if (value) out[g] = value;
    }
    return out;
  }

  trail(path) {
    const out = [{ path: '', label: this.name }];
    if (!path) return out;
    for (const p of [...this.chain(path), path]) {
      const s = this.subs.get(p);
      const parent = out[out.length - 1].path;
      out.push({ path: p, label: this.label(p, parent), graph: s ? `${s.name}${s.version != null ? `@${s.version}` : ''}` : '' });
    }
    return out;
  }
}

// ------------------------------------------------------------ the view

let instances = 0;

function svgEl(doc, tag, attrs, parent) {
  const el = doc.createElementNS(SVG_NS, tag);
  if (attrs) for (const k of Object.keys(attrs)) el.setAttribute(k, String(attrs[k]));
  if (parent) parent.appendChild(el);
  return el;
}

function clip(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * Draw `graph` in `container` (see the top of this file).  Returns
 * {update(value), hops(batch), destroy(), select(nodeId), fit(), open(path),
 * back(), scope, layout, element, model, board, composition}.
 */
export function createGraphView(container, { graph, onSelectNode } = {}) {
  const doc = container.ownerDocument || globalThis.document;
  const win = doc.defaultView || globalThis;
  const raf = (f) => (win.requestAnimationFrame ? win.requestAnimationFrame(f) : setTimeout(() => f(Date.now()), 16));
  const caf = (h) => (win.cancelAnimationFrame ? win.cancelAnimationFrame(h) : clearTimeout(h));
  const clock = () => (win.performance && win.performance.now ? win.performance.now() : Date.now());
  // A composed graph is drawn one level at a time: `scope` is the level
  // shown ("" the graph as declared, else the path of the graph node
  // opened); each level is laid out on its own when it is opened.
  const comp = new Composition(graph);
  let scope = '';
  // (a level inside a graph node has room on its sides for its ports)
  let level = comp.composed ? comp.scope(scope) : graph;
  const layouts = new Map(); // scope -> its layout (the same graph lays out the same: kept for the next opening)
  const lay = () => {
    if (!layouts.has(scope)) layouts.set(scope, layout(level, scope === '' ? {} : { margin: LAYOUT.margin + BORDER_PORT_LEN }));
    return layouts.get(scope);
  };
  let L = lay();
  const uid = ++instances;
  const name = (graph && (graph.name || (graph.definition && graph.definition.name))) || 'graph';

  const root = doc.createElement('div');
  root.className = 'weir-graph';
  root.setAttribute('tabindex', '0');
  root.setAttribute('role', 'group');
  const label = () => `Graph ${name}${scope ? `, inside ${scope}` : ''}: drag or arrow keys to pan, wheel or + and - to zoom, 0 to fit; Tab to a node, Enter to select it${comp.composed ? ' or open a subgraph, Escape to go back' : ''}`;
  root.setAttribute('aria-label', label());

  const bar = doc.createElement('div');
  bar.className = 'weir-graph-toolbar';
  const button = (label, title, act) => {
    const b = doc.createElement('button');
    b.setAttribute('type', 'button');
    b.className = `weir-graph-${act}`;
    b.setAttribute('aria-label', title);
    b.setAttribute('title', title);
    b.textContent = label;
    bar.appendChild(b);
    return b;
  };
  const zoomOutBtn = button('−', 'Zoom out (-)', 'zoom-out');
  const zoomInBtn = button('+', 'Zoom in (+)', 'zoom-in');
  const fitBtn = button('Fit', 'Fit the graph (0)', 'fit');
  root.appendChild(bar);
  // Where an opened subgraph is: Back (Escape), then the levels from the
  // top, each a button but the one shown.
  const crumbs = doc.createElement('nav');
  crumbs.className = 'weir-graph-crumbs';
  crumbs.setAttribute('aria-label', 'Subgraph');
  crumbs.hidden = true;
  root.appendChild(crumbs);

  const svg = svgEl(doc, 'svg', { class: 'weir-graph-svg', width: '100%', height: '100%' });
  root.appendChild(svg);
  const defs = svgEl(doc, 'defs', null, svg);
  const arrowId = `weir-graph-arrow-${uid}`;
  const marker = svgEl(doc, 'marker', { id: arrowId, viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto' }, defs);
  svgEl(doc, 'path', { d: 'M0,0L8,4L0,8z', class: 'edge-arrow' }, marker);
  const viewport = svgEl(doc, 'g', { class: 'viewport' }, svg);
  const edgeLayer = svgEl(doc, 'g', { class: 'edges' }, viewport);
  const nodeLayer = svgEl(doc, 'g', { class: 'nodes' }, viewport);
  const dotLayer = svgEl(doc, 'g', { class: 'dots' }, viewport);

  // What one level's drawing is made of (build() makes it anew when a
  // subgraph opens or closes): its edges (the layout's, then one "through"
  // edge per graph node, along its top, that its inner hops are drawn on),
  // the edges of each node, its nodes, and what the hops and rates keep.
  let edgeEls, edgesOf, nodes, viewEdges, culled, model, board, geo, counters, hopAt;
  // One template per shape (number of inputs and outputs), cloned per node:
  // far fewer DOM calls than building each node.  Children, in order:
  // title, rect, id, component, (circle, label) per input, (circle, label)
  // per output, counters, state; a graph node's then its inner border.
  const templates = new Map();
  const template = (nd) => {
    const key = `${nd.inputs.length}/${nd.outputs.length}${nd.subgraph ? '/g' : ''}`;
    let t = templates.get(key);
    if (t) return t;
    t = svgEl(doc, 'g', { class: nd.subgraph ? 'node subgraph' : 'node', tabindex: 0, role: 'button', 'aria-pressed': 'false' });
    svgEl(doc, 'title', null, t);
    svgEl(doc, 'rect', { class: 'node-box', width: nd.width, height: nd.height, rx: 6, ry: 6 }, t);
    svgEl(doc, 'text', { class: 'node-id', x: 10, y: 17 }, t);
    svgEl(doc, 'text', { class: 'node-component', x: 10, y: 31 }, t);
    for (let i = 0; i < nd.inputs.length; i++) {
      svgEl(doc, 'circle', { class: 'port port-in', cx: 0, cy: portY(i), r: 3.5 }, t);
      svgEl(doc, 'text', { class: 'port-label port-in', x: 8, y: portY(i) + 4 }, t);
    }
    for (let i = 0; i < nd.outputs.length; i++) {
      svgEl(doc, 'circle', { class: 'port port-out', cx: nd.width, cy: portY(i), r: 3.5 }, t);
      svgEl(doc, 'text', { class: 'port-label port-out', x: nd.width - 8, y: portY(i) + 4, 'text-anchor': 'end' }, t);
    }
    svgEl(doc, 'text', { class: 'counters', x: 10, y: nd.height - 20 }, t).textContent = '–';
    svgEl(doc, 'text', { class: 'state', x: 10, y: nd.height - 7 }, t);
    if (nd.subgraph) svgEl(doc, 'rect', { class: 'node-box-inner', x: SUB_INSET, y: SUB_INSET, width: nd.width - 2 * SUB_INSET, height: nd.height - 2 * SUB_INSET, rx: 4, ry: 4 }, t);
    templates.set(key, t);
    return t;
  };
  const describe = (nd) => (nd.subgraph ? `subgraph ${subName(nd.subgraph)}` : nd.component);
  const build = () => {
    edgeLayer.textContent = '';
    nodeLayer.textContent = '';
    // Edges.
    edgeEls = L.edges.map((e) =>
      svgEl(doc, 'path', {
        class: 'edge', d: e.path, 'data-edge-id': e.id, 'marker-end': `url(#${arrowId})`,
        'data-source': `${e.source.node}:${e.source.port}`, 'data-target': `${e.target.node}:${e.target.port}`,
      }, edgeLayer));
    edgesOf = new Map(L.nodes.map((nd) => [nd.id, []])); // node id -> indices of its edges
    L.edges.forEach((e, k) => {
      edgesOf.get(e.source.node).push(k);
      if (e.target.node !== e.source.node) edgesOf.get(e.target.node).push(k);
    });
    viewEdges = L.edges.slice();
    for (const nd of L.nodes) {
      if (!nd.subgraph) continue;
      const y = nd.y + SUB_INSET, x0 = nd.x + 2 * SUB_INSET, x1 = nd.x + nd.width - 2 * SUB_INSET;
      const end = { node: nd.id, port: THROUGH };
      viewEdges.push({ id: `${nd.id}${THROUGH}`, source: end, target: end, path: `M${x0},${y}L${x1},${y}`, points: [[x0, y, x0 + (x1 - x0) / 3, y, x1 - (x1 - x0) / 3, y, x1, y]] });
      edgeEls.push(svgEl(doc, 'path', { class: 'edge through', d: `M${x0},${y}L${x1},${y}`, 'data-through': nd.id }, edgeLayer));
    }
    // inside a graph node: its own ports, short edges into and out of the level
    if (level && level.border) {
      const byId = new Map(L.nodes.map((nd) => [nd.id, nd]));
      for (const dir of ['inputs', 'outputs']) {
        const isIn = dir === 'inputs';
        for (const b of level.border[dir]) {
          const nd = byId.get(b.node), i = nd ? (isIn ? nd.inputs : nd.outputs).indexOf(b.port) : -1;
          if (i < 0) continue;
          const y = nd.y + portY(i);
          const xa = isIn ? nd.x - BORDER_PORT_LEN : nd.x + nd.width, xb = isIn ? nd.x : nd.x + nd.width + BORDER_PORT_LEN;
          const end = { node: BORDER, port: b.name }, inner = { node: nd.id, port: b.port };
          const d = `M${xa},${y}L${xb},${y}`;
          viewEdges.push({ id: `${BORDER}${dir}:${b.name}`, source: isIn ? end : inner, target: isIn ? inner : end, path: d, points: [[xa, y, xa + (xb - xa) / 3, y, xb - (xb - xa) / 3, y, xb, y]] });
          edgeEls.push(svgEl(doc, 'path', { class: 'edge border', d, 'marker-end': `url(#${arrowId})`, 'data-border': `${isIn ? 'in' : 'out'}:${b.name}` }, edgeLayer));
          svgEl(doc, 'text', { class: 'border-label', x: isIn ? xa : xb, y: y - 6, 'text-anchor': isIn ? 'start' : 'end' }, edgeLayer).textContent = clip(b.name, 14);
        }
      }
    }
    // Nodes, in reading order (column by column, top to bottom): the Tab order.
    nodes = new Map(); // id -> {g, counters, state, title, last, text, preview, errors, nd}
    const reading = [...L.nodes].sort((a, b) => a.x - b.x || a.y - b.y);
    for (const nd of reading) {
      const g = template(nd).cloneNode(true);
      g.setAttribute('data-node-id', nd.id);
      g.setAttribute('aria-label', nd.subgraph ? `${nd.id} (${describe(nd)}): Enter to open` : `${nd.id} (${nd.component})`);
      g.setAttribute('transform', `translate(${nd.x},${nd.y})`);
      const c = g.children;
      const title = c[0];
      title.textContent = `${nd.id} (${describe(nd)})`;
      c[2].textContent = clip(nd.label, 22);
      c[3].textContent = clip(describe(nd), 28);
      let j = 4;
      for (const p of nd.inputs.concat(nd.outputs)) {
        c[j].setAttribute('data-port', p);
        c[j + 1].textContent = clip(p, 14);
        j += 2;
      }
      nodes.set(nd.id, { g, counters: c[j], state: c[j + 1], title, last: undefined, text: '–', preview: '', errors: false, nd });
      nodeLayer.appendChild(g);
    }
    culled = new Uint8Array(L.nodes.length);
    model = new HopModel(viewEdges);
    board = new RateBoard(viewEdges.length);
    geo = viewEdges.map((e) => {
      const box = [Infinity, Infinity, -Infinity, -Infinity];
      for (const p of e.points) {
        for (let i = 0; i < 8; i += 2) {
          box[0] = Math.min(box[0], p[i]);
          box[1] = Math.min(box[1], p[i + 1]);
          box[2] = Math.max(box[2], p[i]);
          box[3] = Math.max(box[3], p[i + 1]);
        }
      }
      return { points: e.points, mid: pointOnEdge(e.points, 0.5, [0, 0]), box };
    });
    // an edge's rate: by the counters where they tell, else by its hops
    counters = new CounterRates(L.nodes, viewEdges);
    hopAt = comp.composed ? comp.hopsAt(scope) : null;
    selected = null;
    renderCrumbs();
  };

  // Dots: a pool of circles, made as needed, hidden when free.
  const dotEls = [];
  let shownDots = 0;

  // the busy edges' canvas (made when first needed) and the animation frame
  let canvas = null, ctx = null, cw = 0, ch = 0, cdpr = 1;
  let ratesDirty = false;
  let frameHandle = null;

  // ---- pan and zoom
  const view = { x: 0, y: 0, k: 1 };
  let lod = '';
  let destroyed = false;
  let fitted = false; // the view is as fit() left it: refit when the drawing's size changes
  const size = () => {
    const w = svg.clientWidth || root.clientWidth || container.clientWidth || 800;
    const h = svg.clientHeight || root.clientHeight || container.clientHeight || 600;
    return [w, h];
  };
  // Zoomed out, dots and rate labels keep a readable size on screen (edges
  // keep theirs by vector-effect: non-scaling-stroke in graph.css).
  let dotR = DOT_RADIUS;
  const apply = () => {
    const k = Number(view.k.toPrecision(4));
    viewport.setAttribute('transform', `translate(${r1(view.x)},${r1(view.y)}) scale(${k})`);
    if (root.style.setProperty) root.style.setProperty('--wg-zoom', String(k));
    const r = r1(DOT_RADIUS / Math.min(view.k, 1));
    if (r !== dotR) {
      dotR = r;
      for (const c of dotEls) c.setAttribute('r', r);
    }
    const next = view.k < 0.25 ? 'far' : view.k < 0.5 ? 'mid' : '';
    if (next !== lod) {
      if (lod) root.classList.remove(`lod-${lod}`);
      if (next) root.classList.add(`lod-${next}`);
      lod = next;
    }
    if (cullHandle === null && !destroyed) cullHandle = raf(cull);
    if (canvas) {
      ratesDirty = true;
      wake();
    }
  };
  // Off-screen nodes get class `culled` (graph.css hides their text), so
  // that zooming into a large graph lays out only the text in sight; they
  // stay focusable (focus brings a node into sight).
  let cullHandle = null;
  const cull = () => {
    cullHandle = null;
    const [w, h] = size();
    const pad = 200 / view.k;
    const x0 = -view.x / view.k - pad, y0 = -view.y / view.k - pad;
    const x1 = (w - view.x) / view.k + pad, y1 = (h - view.y) / view.k + pad;
    for (let i = 0; i < L.nodes.length; i++) {
      const nd = L.nodes[i];
      const out = nd.x > x1 || nd.x + nd.width < x0 || nd.y > y1 || nd.y + nd.height < y0 ? 1 : 0;
      if (out !== culled[i]) {
        culled[i] = out;
        const g = nodes.get(nd.id).g;
        if (out) g.classList.add('culled');
        else g.classList.remove('culled');
      }
    }
  };
  const zoomAt = (factor, cx, cy) => {
    const [w, h] = size();
    const kMin = Math.min(ZOOM_MIN, w / L.width, h / L.height);
    const k = Math.min(Math.max(view.k * factor, kMin), ZOOM_MAX);
    const f = k / view.k;
    view.x = cx - (cx - view.x) * f;
    view.y = cy - (cy - view.y) * f;
    view.k = k;
    fitted = false;
    apply();
  };
  const zoomCentre = (factor) => {
    const [w, h] = size();
    zoomAt(factor, w / 2, h / 2);
  };
  const fit = () => {
    const [w, h] = size();
    const k = Math.min(w / L.width, h / L.height, 1);
    view.k = k;
    view.x = (w - L.width * k) / 2;
    view.y = (h - L.height * k) / 2;
    fitted = true;
    apply();
  };
  const panBy = (dx, dy) => {
    view.x += dx;
    view.y += dy;
    fitted = false;
    apply();
  };
  // Bring a node into sight (keyboard focus).
  const reveal = (nd) => {
    const [w, h] = size();
    const left = view.x + nd.x * view.k, top = view.y + nd.y * view.k;
    const right = left + nd.width * view.k, bottom = top + nd.height * view.k;
    if (left >= 0 && top >= 0 && right <= w && bottom <= h) return;
    if (view.k < 0.5) view.k = Math.min(1, ZOOM_MAX);
    view.x = w / 2 - (nd.x + nd.width / 2) * view.k;
    view.y = h / 2 - (nd.y + nd.height / 2) * view.k;
    fitted = false;
    apply();
  };

  // ---- selection
  let selected = null;
  // ---- subgraphs: open one (its level replaces the drawing), go back
  const stack = []; // the levels above: {scope, view, fitted, from (the graph node opened)}
  let lastValue = null;
  const enter = (next, restore) => {
    ratesDirty = true; // the canvas is cleared at the next frame (the new level has no busy edges yet)
    for (let i = 0; i < shownDots; i++) dotEls[i].setAttribute('display', 'none');
    shownDots = 0;
    scope = next;
    level = comp.scope(scope);
    L = lay();
    // built, fitted, culled and given its counters out of the page, as the
    // first drawing is: the browser then lays out only the text in sight
    // (fit reads the drawing's size, which would lay out every node)
    svg.removeChild(viewport);
    build();
    if (restore && !restore.fitted) {
      view.x = restore.view.x;
      view.y = restore.view.y;
      view.k = restore.view.k;
      fitted = false;
      apply();
    } else fit();
    if (cullHandle !== null) caf(cullHandle);
    cullHandle = null;
    cull();
    if (lastValue) update(lastValue);
    svg.appendChild(viewport);
    wake();
  };
  const focus = (el) => {
    if (el && typeof el.focus === 'function') {
      pointerAt = clock(); // no reveal: the level was just fitted or restored
      el.focus();
    }
  };
  const open = (path) => {
    if (!comp.composed || !comp.subs.has(path) || path === scope || destroyed) return false;
    const up = comp.chain(path); // the levels from the top down to the one above path
    if (!(scope === '' || up.includes(scope))) return false;
    stack.push({ scope, view: { ...view }, fitted, from: path });
    // a level opened through several at once (open('a/b') at the top) keeps them on the stack too
    for (const p of up.slice(scope === '' ? 0 : up.indexOf(scope) + 1)) stack.push({ scope: p, view: null, fitted: true, from: path });
    enter(path, null);
    focus(root);
    return true;
  };
  const back = (to) => {
    if (stack.length === 0 || destroyed) return false;
    let top = stack.pop();
    while (to !== undefined && top.scope !== to && stack.length) top = stack.pop();
    const from = top.from;
    enter(top.scope, top.view ? top : null);
    // the graph node this level was opened from has the focus again
    const opened = [...nodes.keys()].find((id) => from === id || from.startsWith(`${id}/`));
    focus(opened ? nodes.get(opened).g : root);
    return true;
  };
  function renderCrumbs() {
    if (comp.composed) root.setAttribute('aria-label', label());
    crumbs.textContent = '';
    crumbs.hidden = scope === '';
    if (scope === '') return;
    const trail = comp.trail(scope);
    const btn = (label, title, act, cls) => {
      const b = doc.createElement('button');
      b.setAttribute('type', 'button');
      b.className = cls;
      b.setAttribute('title', title);
      b.textContent = label;
      b.addEventListener('click', act);
      crumbs.appendChild(b);
      return b;
    };
    btn('‹ Back', `Back to ${trail[trail.length - 2].label} (Escape)`, () => back(), 'weir-graph-back');
    trail.forEach((t, i) => {
      const sep = doc.createElement('span');
      sep.className = 'sep';
      sep.textContent = i ? '›' : '';
      if (i) crumbs.appendChild(sep);
      const label = t.graph ? `${t.label} (${t.graph})` : t.label;
      if (i === trail.length - 1) {
        const here = doc.createElement('span');
        here.className = 'here';
        here.setAttribute('aria-current', 'location');
        here.textContent = label;
        crumbs.appendChild(here);
      } else btn(label, `Back to ${t.label}`, () => back(t.path), 'crumb');
    });
  }
  const select = (id, notify) => {
    const n = nodes.get(id);
    if (!n) return;
    if (selected && selected !== n) {
      selected.g.classList.remove('selected');
      selected.g.setAttribute('aria-pressed', 'false');
      for (const k of edgesOf.get(selected.nd.id)) edgeEls[k].classList.remove('adjacent');
    }
    selected = n;
    n.g.classList.add('selected');
    n.g.setAttribute('aria-pressed', 'true');
    for (const k of edgesOf.get(id)) edgeEls[k].classList.add('adjacent');
    if (notify && typeof onSelectNode === 'function') onSelectNode(id);
  };
  const nodeOf = (target) => {
    for (let el = target; el && el !== svg && el !== root; el = el.parentNode) {
      if (el.getAttribute && el.getAttribute('data-node-id') !== null && nodes.has(el.getAttribute('data-node-id'))) return el.getAttribute('data-node-id');
    }
    return null;
  };

  // ---- events
  let drag = null;
  let dragged = false;
  let pointerAt = -Infinity;
  const listeners = [];
  const on = (el, type, fn, opts) => {
    el.addEventListener(type, fn, opts);
    listeners.push([el, type, fn, opts]);
  };
  on(zoomInBtn, 'click', () => zoomCentre(1.25));
  on(zoomOutBtn, 'click', () => zoomCentre(0.8));
  on(fitBtn, 'click', fit);
  on(svg, 'wheel', (e) => {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    const r = svg.getBoundingClientRect ? svg.getBoundingClientRect() : { left: 0, top: 0 };
    zoomAt(Math.exp(-e.deltaY * unit * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  on(svg, 'pointerdown', (e) => {
    pointerAt = clock();
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, id: e.pointerId };
    dragged = false;
  });
  on(svg, 'pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!dragged && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!dragged && svg.setPointerCapture && drag.id !== undefined) {
      try {
        svg.setPointerCapture(drag.id);
      } catch { /* the pointer is gone */ }
    }
    dragged = true;
    root.classList.add('panning');
    fitted = false;
    view.x = drag.vx + dx;
    view.y = drag.vy + dy;
    apply();
  });
  const endDrag = () => {
    drag = null;
    root.classList.remove('panning');
  };
  on(svg, 'pointerup', endDrag);
  on(svg, 'pointercancel', endDrag);
  // A graph node opens (and tells onSelectNode, as a select would); any other node is selected.
  const act = (id) => {
    const nd = nodes.get(id).nd;
    if (nd.subgraph) {
      if (typeof onSelectNode === 'function') onSelectNode(id);
      open(id);
    } else select(id, true);
  };
  on(svg, 'click', (e) => {
    if (dragged) {
      dragged = false;
      return;
    }
    const id = nodeOf(e.target);
    if (id !== null) act(id);
  });
  on(root, 'keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return; // the browser's (Ctrl + and - zoom the page)
    const id = nodeOf(e.target);
    const step = e.shiftKey ? 200 : 50;
    switch (e.key) {
      case 'Enter':
      case ' ':
        if (id === null) return;
        act(id);
        break;
      case 'Escape':
        if (!back()) return;
        break;
      case 'ArrowLeft': panBy(step, 0); break;
      case 'ArrowRight': panBy(-step, 0); break;
      case 'ArrowUp': panBy(0, step); break;
      case 'ArrowDown': panBy(0, -step); break;
      case '+':
      case '=': zoomCentre(1.25); break;
      case '-':
      case '_': zoomCentre(0.8); break;
      case '0': fit(); break;
      default: return;
    }
    e.preventDefault();
  });
  on(root, 'focusin', (e) => {
    if (clock() - pointerAt < 1000) return; // focus by the pointer: the node is in sight already
    const id = nodeOf(e.target);
    if (id !== null) reveal(nodes.get(id).nd);
  });

  // Fit and cull before the drawing enters the page: its first layout then
  // skips the text of the nodes out of sight.
  build();
  fit();
  if (cullHandle !== null) caf(cullHandle);
  cull();
  container.appendChild(root);
  // A drawing made while its container was hidden (size 0) or that is
  // resized is fitted again, unless the user moved it since.
  let resizer = null;
  if (typeof win.ResizeObserver === 'function') {
    resizer = new win.ResizeObserver(() => {
      if (fitted) fit();
      else apply();
    });
    resizer.observe(root);
  }

  // ---- update
  const update = (value) => {
    if (destroyed) return;
    lastValue = value;
    const all = (value && value.nodes) || {};
    const states = comp.composed ? comp.rollup(scope, all) : all;
    counters.observe(states, clock());
    for (const [id, n] of nodes) {
      const cur = Object.prototype.hasOwnProperty.call(states, id) ? states[id] : undefined;
      if (cur === n.last) continue;
      n.last = cur;
      const text = cur ? formatCounters(cur) : '–';
      if (text !== n.text) {
        n.text = text;
        n.counters.textContent = text;
        n.counters.setAttribute('data-invocations', String((cur && cur.invocations) || 0));
        n.counters.setAttribute('data-emitted', String((cur && cur.emitted) || 0));
        n.counters.setAttribute('data-errors', String((cur && cur.errors) || 0));
        const errs = !!(cur && cur.errors > 0);
        if (errs !== n.errors) {
          n.errors = errs;
          if (errs) n.g.classList.add('has-errors');
          else n.g.classList.remove('has-errors');
        }
      }
      const st = cur ? cur.state : undefined;
      if (n.nd.subgraph) {
        // a graph node: how many of its nodes hold state (their states show when it is opened)
        const k = st ? st.withState : 0;
        const preview = k ? `state in ${k} of ${st.nodes} nodes` : '';
        if (preview !== n.preview) n.state.textContent = n.preview = preview;
        continue;
      }
      const preview = previewState(st);
      if (preview !== n.preview) {
        n.preview = preview;
        n.state.textContent = preview;
        n.title.textContent = `${n.nd.id} (${n.nd.component})${preview ? `\nstate: ${boundedJson(st, TITLE_CHARS)}` : ''}`;
      }
    }
  };

  // ---- hops
  // Busy edges show their rates on one canvas over the drawing (its own
  // layer: redrawing it repaints nothing of the SVG), redrawn only when a
  // label or width changed (RateBoard: at most every LABEL_REFRESH_MS, or
  // when an edge turns busy or calm) or the view moved; edges out of sight
  // are skipped.  Each busy edge's <path> carries its label in data-rate.
  let lastLabels = -Infinity;
  let colours = null;
  const readColours = () => {
    const cs = win.getComputedStyle ? win.getComputedStyle(root) : null;
    const v = (name, dflt) => (cs && cs.getPropertyValue(name).trim()) || dflt;
    return { busy: v('--wg-edge-busy', '#c2410c'), halo: v('--wg-label-halo', '#f7f8fa'), font: `600 11px ${(cs && cs.fontFamily) || 'sans-serif'}` };
  };
  const scheme = win.matchMedia ? win.matchMedia('(prefers-color-scheme: dark)') : null;
  const onScheme = () => {
    colours = null;
    ratesDirty = true;
    wake();
  };
  if (scheme && scheme.addEventListener) scheme.addEventListener('change', onScheme);
  const drawBoard = () => {
    ratesDirty = false;
    if (!canvas) {
      if (board.shown.size === 0) return;
      canvas = doc.createElement('canvas');
      canvas.className = 'weir-graph-rates';
      canvas.setAttribute('aria-hidden', 'true');
      root.appendChild(canvas);
      ctx = canvas.getContext ? canvas.getContext('2d') : null;
    }
    if (!ctx) return;
    const dpr = win.devicePixelRatio || 1;
    const [w, h] = size();
    if (w !== cw || h !== ch || dpr !== cdpr) {
      cw = w;
      ch = h;
      cdpr = dpr;
      canvas.width = Math.ceil(w * dpr);
      canvas.height = Math.ceil(h * dpr);
    }
    if (!colours) colours = readColours();
    drawRates(ctx, board, geo, view, cw, ch, cdpr, colours);
  };
  const rateOf = (k, now) => {
    const c = counters.rate(k, now);
    return Number.isNaN(c) ? model.rate(k, now) : c;
  };
  const showRate = (k, r) => {
    if (!board.set(k, r)) return;
    ratesDirty = true;
    if (r === null) edgeEls[k].removeAttribute('data-rate');
    else edgeEls[k].setAttribute('data-rate', board.label[k]);
  };
  const setBusy = (k, busy, now) => {
    if (busy) edgeEls[k].classList.add('busy');
    else edgeEls[k].classList.remove('busy');
    showRate(k, busy ? rateOf(k, now) : null);
  };
  const pt = [0, 0];
  const tick = () => {
    frameHandle = null;
    const now = clock();
    let used = 0;
    const changed = model.frame(now, (slot, k, t) => {
      pointOnEdge(viewEdges[k].points, t, pt);
      let c = dotEls[slot];
      if (!c) c = dotEls[slot] = svgEl(doc, 'circle', { class: 'dot', r: dotR }, dotLayer);
      if (slot >= shownDots) c.removeAttribute('display');
      c.setAttribute('cx', r1(pt[0]));
      c.setAttribute('cy', r1(pt[1]));
      used = slot + 1;
    });
    for (let i = used; i < shownDots; i++) dotEls[i].setAttribute('display', 'none');
    shownDots = used;
    for (const k of changed) setBusy(k, model.busy[k] === 1, now);
    if (now - lastLabels >= LABEL_REFRESH_MS) {
      lastLabels = now;
      // an edge whose hops come (it is active) and whose counters say it is
      // busy is busy, however few of its hops the server's sample holds
      for (const k of model.active) {
        if (counters.rate(k, now) > BUSY_RATE && model.hold(k, now)) setBusy(k, true, now);
      }
      for (const k of board.shown) showRate(k, model.busy[k] ? rateOf(k, now) : null);
    }
    if (ratesDirty) drawBoard();
    if (model.running) frameHandle = raf(tick);
  };
  // a frame for the canvas (the view moved, the colours changed) when the
  // animation is not running
  function wake() {
    if (frameHandle === null && !destroyed && (board.shown.size > 0 || canvas)) frameHandle = raf(tick);
  }
  // a composed graph's hops as the level shown draws them (Composition.hopsAt)
  const shown = [];
  const hops = (batch, scale = 1) => {
    if (destroyed || !batch || batch.length === 0) return;
    const now = clock();
    if (hopAt) {
      shown.length = 0;
      for (const ev of batch) {
        const x = ev && hopAt(ev);
        if (x) shown.push(x);
      }
      batch = shown;
    }
    for (const k of model.ingest(batch, now, scale > 1 ? scale : 1)) setBusy(k, true, now);
    if (frameHandle === null) frameHandle = raf(tick);
  };

  const destroy = () => {
    destroyed = true;
    if (resizer) resizer.disconnect();
    if (scheme && scheme.removeEventListener) scheme.removeEventListener('change', onScheme);
    if (frameHandle !== null) caf(frameHandle);
    if (cullHandle !== null) caf(cullHandle);
    frameHandle = cullHandle = null;
    for (const [el, type, fn, opts] of listeners) el.removeEventListener(type, fn, opts);
    listeners.length = 0;
    if (root.parentNode) root.parentNode.removeChild(root);
  };

  return {
    update, hops, destroy, select: (id) => select(id, false), fit, open, back: () => back(),
    get scope() { return scope; }, get layout() { return L; }, get model() { return model; }, get board() { return board; },
    element: root, composition: comp,
  };
}
