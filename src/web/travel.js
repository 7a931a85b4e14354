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
export function nodeRows(value, order = []) {
  const nodes = (value && value.nodes) || {};
  const ids = order.filter((id) => id in nodes);
  const rest = Object.keys(nodes).filter((id) => !order.includes(id)).sort();
  return ids.concat(rest).map((id) => ({ id, ...nodes[id] }));
}
