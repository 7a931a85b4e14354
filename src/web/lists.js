// Lists kept in step with a view's value (the `graphs` and `executions`
// views, an execution's nodes): which rows to add, change and remove after
// a diff.  views.js shares the parts of a value a diff did not touch, so an
// item whose object is the same as before is unchanged: a diff that changes
// one execution's counters changes one row, whatever the list's length.

// A keyed list's rows: key -> {item, row}; `row` is whatever the caller
// made for it (a <tr>).
export class KeyedRows {
  constructor(keyOf) {
    this.keyOf = keyOf;
    this.rows = new Map();
    this.order = []; // keys, in display order
  }

  // Compare items (display order) with the rows: returns {added: [item],
  // changed: [item], removed: [key], order: [key], moved: bool}.  The
  // caller makes rows for `added`, updates `changed`, drops `removed`, and
  // re-orders its rows when `moved` (the order changed other than by
  // removals and additions at the top).
  reconcile(items) {
    const added = [], changed = [], removed = [];
    const seen = new Set();
    const order = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const key = this.keyOf(item);
      order[i] = key;
      seen.add(key);
      const r = this.rows.get(key);
      if (!r) added.push(item);
      else if (r.item !== item) changed.push(item);
    }
    for (const key of this.rows.keys()) if (!seen.has(key)) removed.push(key);
    const kept = this.order.filter((k) => seen.has(k));
    const keptNew = order.filter((k) => this.rows.has(k));
    let moved = kept.length !== keptNew.length;
    for (let i = 0; !moved && i < kept.length; i++) moved = kept[i] !== keptNew[i];
    return { added, changed, removed, order, moved };
  }

  // Record the outcome: rowFor(item) is the row of an added item.
  commit(result, items, rowFor, update) {
    for (const key of result.removed) this.rows.delete(key);
    for (const item of result.added) this.rows.set(this.keyOf(item), { item, row: rowFor(item) });
    for (const item of result.changed) {
      const r = this.rows.get(this.keyOf(item));
      r.item = item;
      if (update) update(r.row, item);
    }
    this.order = result.order;
  }

  row(key) {
    const r = this.rows.get(key);
    return r ? r.row : null;
  }
}

// The executions view (oldest first, new ones appended) as shown: newest
// first.
export function newestFirst(list) {
  const out = new Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = list[list.length - 1 - i];
  return out;
}

// One execution as the cells of its row.
export function executionCells(x) {
  const m = x.metrics || {};
  return {
    id: x.executionId,
    shortId: shortId(x.executionId),
    graph: x.graphName || shortId(x.graphId || ''),
    state: x.state,
    runtime: x.runtime,
    tick: x.tick ?? 0,
    processed: m.messagesProcessed ?? 0,
    emitted: m.messagesEmitted ?? 0,
    errors: m.errorCount ?? 0,
    queue: m.queueDepth ?? 0,
    stored: !!x.stored,
  };
}

export function graphCells(g) {
  return {
    id: g.id,
    name: g.name || shortId(g.id),
    version: g.version || '',
    nodes: g.nodeCount ?? 0,
    edges: g.edgeCount ?? 0,
  };
}

export function shortId(id) {
  return String(id).slice(0, 8);
}
