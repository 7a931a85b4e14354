// A few DOM helpers (no framework): make elements, set text only when it
// changed (a text node rewritten with the same text still costs a layout),
// and then in the text node already there (a new one is a new object to
// lay out: for counters redrawn many times a second, hundreds of them), an
// attribute only when it changed (set again, it makes the browser look at
// the element's style again).

// h('button', {class: 'x', onclick: fn, 'aria-label': 'y'}, 'text', child...)
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function setText(el, text) {
  const s = String(text);
  const t = el.firstChild;
  if (t && t.nodeType === 3 && t === el.lastChild) {
    if (t.data !== s) t.data = s;
  } else if (el.textContent !== s) el.textContent = s;
}

export function setHidden(el, hidden) {
  if (el.hidden !== hidden) el.hidden = hidden;
}

export function setDisabled(el, disabled) {
  if (el.disabled !== disabled) el.disabled = disabled;
}

export function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function $(sel, root = document) {
  const el = root.querySelector(sel);
  if (!el) throw new Error(`the page has no ${sel}`);
  return el;
}

// "1,234,567" (toLocaleString builds a formatter per call: far too slow
// for counters redrawn many times a second)
export function num(n) {
  if (typeof n !== 'number') return String(n ?? '');
  const s = Number.isInteger(n) ? String(n) : n.toFixed(2);
  const dot = s.indexOf('.');
  const int = dot < 0 ? s : s.slice(0, dot);
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (dot < 0 ? '' : s.slice(dot));
}
