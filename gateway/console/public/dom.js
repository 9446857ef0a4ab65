// Building the page from data without ever parsing data as HTML: every string goes in through
// textContent or a property, so a device description or an alarm comment that contains markup
// shows as the characters typed (the server's CSP forbids inline script anyway; this keeps the
// page's own DOM clean as well).

/**
 * h('button', { class: 'primary', onclick: fn, disabled: true }, 'text', child…): one element.
 * Props: `class`, `text`, `dataset`, `on…` functions (listeners), anything the element has as a
 * property (value, href, title, type, checked…) and otherwise an attribute (aria-*, for…).
 * Children: nodes, strings (as text), numbers, arrays; null, undefined and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k.includes('-') || !(k in el)) el.setAttribute(k, v === true ? '' : String(v));
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets text only when it changed: a table refreshed every second does not relayout for nothing. */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** A table: `head` is a list of labels (or [label, class]), `rows` a list of <tr> or cell lists. */
export function table(head, rows, cls = '') {
  return h('div', { class: 'table-wrap' },
    h('table', { class: ['data', cls] },
      h('thead', {}, h('tr', {}, head.map((c) => (Array.isArray(c) ? h('th', { class: c[1] }, c[0]) : h('th', {}, c))))),
      h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c)))))))));
}

/** A labelled form field: <label>text <input…></label>. */
export function field(label, input, cls = '') {
  return h('label', { class: ['field', cls] }, h('span', { class: 'field-label' }, label), input);
}

/** A select with options [value, label]; `selected` picks one by value (compared as strings). */
export function select(options, selected, props = {}) {
  return h('select', props, options.map(([v, label]) => h('option', { value: String(v), selected: String(v) === String(selected) }, label)));
}

/** A short-lived line under a form: a result or a refusal (with its code). */
export function notice(el, kind, text) {
  fill(el, text);
  el.className = `notice ${kind}`;
  el.hidden = !text;
}

/** Loads a classic script from this origin once (the chart and the video player, only when needed). */
const scripts = new Map();
export function loadScript(src) {
  if (!scripts.has(src)) {
    scripts.set(src, new Promise((resolve, reject) => {
      const s = h('script', { src, onload: () => resolve(), onerror: () => { scripts.delete(src); reject(new Error(`cannot load ${src}`)); } });
      document.head.append(s);
    }));
  }
  return scripts.get(src);
}
