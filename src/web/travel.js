// Time travel in the page (SPEC §7.2): the answer of GET
// /api/executions/:id/at/:tick turned into the shape of the execution:<id>
// view, so the graph and the node table show a past tick exactly as they
// show the present; and the slider's bounds.

// at: {executionId, tick, state, nodes: {id: state}, atTick, metrics: {...,
// nodes: {id: {invocations, emitted, errors, ...}}}}; live: the current view
// value (graphId, graphName, runtime, startedAt, stored), or null.
export function viewAtTick(at, live) {
  const counters = (at.metrics && at.metrics.nodes) || {};
  const nodes = {};
  const ids = new Set([...Object.keys(at.nodes || {}), ...Object.keys(counters)]);
  for (const id of ids) {
    const c = counters[id] || {};
    const st = at.nodes ? at.nodes[id] : undefined;
    nodes[id] = {
      invocations: c.invocations ?? 0,
      emitted: c.emitted ?? 0,
      errors: c.errors ?? 0,
      state: st === undefined || st === null ? {} : st,
    };
  }
  const m = { ...(at.metrics || {}) };
  delete m.nodes;
  return {
    executionId: at.executionId,
    graphId: live ? live.graphId : undefined,
    graphName: live ? live.graphName : undefined,
    state: at.state,
    runtime: live ? live.runtime : undefined,
    startedAt: live ? live.startedAt : undefined,
    tick: typeof at.atTick === 'number' ? at.atTick : at.tick,
    stored: true,
    metrics: m,
    nodes,
  };
}

// The ticks the slider covers for an execution view value: 0..tick, or
// null when it keeps no journal (time travel needs `stored`).
export function sliderRange(x) {
  if (!x || !x.stored) return null;
  return { min: 0, max: Math.max(0, x.tick ?? 0) };
}

// Node rows for a view value: [{id, invocations, emitted, errors, state}],
// in the order of `order` (the graph's nodes) then any others by id.
// cache (a Map kept by the caller): a node whose object is the one of the
// last call gets the same row object back, so a list keyed on identity
// redraws only the nodes a diff changed.
export function nodeRows(value, order = [], cache = null) {
  const nodes = (value && value.nodes) || {};
  const listed = new Set(order);
  const ids = order.filter((id) => Object.prototype.hasOwnProperty.call(nodes, id));
  const rest = Object.keys(nodes).filter((id) => !listed.has(id)).sort();
  return ids.concat(rest).map((id) => {
    const node = nodes[id];
    const hit = cache && cache.get(id);
    if (hit && hit.node === node) return hit.row;
    const row = { id, ...node };
    if (cache) cache.set(id, { node, row });
    return row;
  });
}
