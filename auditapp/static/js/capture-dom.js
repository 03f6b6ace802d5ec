// Small DOM helpers and the form controls the capture screen is built from (no framework: h() builds
// elements). Text boxes save on `change` and after a pause in typing; flushTexts() saves pending ones now.
import { cutText, MAX_TEXT, wellFormed } from './text.js';

const TEXT_DELAY = 600;
const textFlushes = new Set();

/** Build an element: h('p', {class: 'x', text: 'y'}, child, ...). Strings become text nodes. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value == null || value === false) continue;
      if (name === 'class') el.className = value;
      else if (name === 'text') el.textContent = value;
      else if (name === 'value' || name === 'checked' || name === 'disabled' || name === 'hidden') el[name] = value;
      else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? '' : value);
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child != null && child !== false) el.append(child);
  }
  return el;
}

/** Replace an element's children; arrays are flattened, null and false skipped. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
}

export const safe = (key) => String(key).replace(/[^A-Za-z0-9_-]/g, '-');
export const hhmm = (iso) => (iso ? new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }) : '');

export function addDays(isoDate, days) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function monthsBefore(isoDate, months) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.toISOString().slice(0, 10);
}

export function longDate(isoDate) {
  return new Date(`${isoDate}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

export function humanise(name) {
  const text = name.replace(/_/g, ' ').replace(/\b(\d)/, ' $1').replace(/\s+/g, ' ').trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function persist() {
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
}

export function errorMessage(id, text) {
  return h('p', { class: 'govuk-error-message', id }, h('span', { class: 'govuk-visually-hidden', text: 'Error: ' }), text);
}

/** Show or clear a GOV.UK error on a form group, wiring aria-describedby on the control. */
export function setError(group, control, text) {
  if (!group) return;
  const id = `${control.id}-error`;
  const old = group.querySelector(`#${CSS.escape(id)}`);
  if (old) old.remove();
  group.classList.toggle('govuk-form-group--error', Boolean(text));
  const errorClass = control.tagName === 'TEXTAREA' ? 'govuk-textarea--error' : 'govuk-input--error';
  control.classList.toggle(errorClass, Boolean(text));
  const described = (control.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== id);
  if (text) {
    const label = group.querySelector(`label[for="${CSS.escape(control.id)}"]`) || group.querySelector('.govuk-hint') || group.firstChild;
    const hint = group.querySelector(`#${CSS.escape(control.id)}-hint`);
    (hint || label).after(errorMessage(id, text));
    described.push(id);
  }
  if (described.length) control.setAttribute('aria-describedby', described.join(' '));
  else control.removeAttribute('aria-describedby');
}

export function flushTexts() {
  for (const flush of [...textFlushes]) flush();
}

export function summaryRow(key, value) {
  return h('div', { class: 'govuk-summary-list__row' },
    h('dt', { class: 'govuk-summary-list__key', text: key }), h('dd', { class: 'govuk-summary-list__value', text: value }));
}

export function itemHint(item, id) {
  const parts = [];
  if (item.guidance) parts.push(h('span', { class: 'app-hint-line' }, h('strong', { text: 'Guidance: ' }), item.guidance));
  if (item.source && item.source.length) parts.push(h('span', { class: 'app-hint-line', text: `Source: ${item.source.join(', ')}` }));
  if (item.na_allowed_when) parts.push(h('span', { class: 'app-hint-line', text: `N/A only when ${item.na_allowed_when}.` }));
  return h('div', { class: 'govuk-hint', id }, parts);
}

export function legend(item, tagName = 's') {
  return h('legend', { class: `govuk-fieldset__legend govuk-fieldset__legend--${tagName}` },
    h('span', { class: 'app-item__key', text: `${item.key} ` }), item.question,
    item.critical ? [' ', h('strong', { class: 'govuk-tag govuk-tag--red app-critical', text: 'Critical' })] : null);
}

export function radioGroup(name, idBase, options, current, onChange, { inline = true, describedBy = null } = {}) {
  return h('div', { class: `govuk-radios govuk-radios--small${inline ? ' govuk-radios--inline' : ''}` },
    options.map(([value, label]) => {
      const id = `${idBase}-${safe(String(value))}`;
      return h('div', { class: 'govuk-radios__item' },
        h('input', { class: 'govuk-radios__input', type: 'radio', id, name, value: String(value), checked: current === value,
                     'aria-describedby': describedBy, onchange: (event) => onChange(value, event) }),
        h('label', { class: 'govuk-label govuk-radios__label', for: id, text: label }));
    }));
}

/** Keep a box within the server's limit, counted in characters (code points) as the server counts them: a longer
 * text is cut at a character (never inside an emoji) and the field says so. A lone surrogate becomes U+FFFD. */
function fitText(control, group, limit) {
  const text = wellFormed(control.value);
  const fitted = cutText(text, limit);
  if (fitted !== control.value) control.value = fitted;
  const id = `${control.id}-error`;
  if (fitted !== text) {
    setError(group, control, `Text must be ${limit.toLocaleString('en-GB')} characters or fewer: the text after that was not kept`);
    group.querySelector(`#${CSS.escape(id)}`).dataset.fit = '';
  } else if (group.querySelector(`#${CSS.escape(id)}[data-fit]`)) {
    setError(group, control, null);
  }
}

/** A text box that saves on `change` and after a pause in typing (within `limit` characters, see fitText). */
export function textControl(tag, { id, label, hint, value, rows = 2, inputClass, hiddenLabel, type = 'text', inputmode, onSave, groupClass = '',
                                    limit = MAX_TEXT }) {
  const hintId = hint ? `${id}-hint` : null;
  const control = tag === 'textarea'
    ? h('textarea', { class: 'govuk-textarea', id, name: id, rows: String(rows), 'aria-describedby': hintId })
    : h('input', { class: `govuk-input ${inputClass || ''}`.trim(), id, name: id, type, inputmode, spellcheck: type === 'text' ? 'false' : null,
                   'aria-describedby': hintId });
  control.value = value == null ? '' : String(value);
  const group = h('div', { class: `govuk-form-group ${groupClass}`.trim() },
    h('label', { class: 'govuk-label', for: id }, label, hiddenLabel ? h('span', { class: 'govuk-visually-hidden', text: hiddenLabel }) : null),
    hint ? h('div', { class: 'govuk-hint', id: hintId, text: hint }) : null,
    control);
  let timer = null;
  let last = control.value;
  const flush = () => {
    if (timer) { clearTimeout(timer); timer = null; }
    textFlushes.delete(flush);
    if (control.value === last) return;
    fitText(control, group, limit);
    last = control.value;
    onSave(control.value, control, group);
  };
  control.addEventListener('input', () => {
    if (timer) clearTimeout(timer);
    textFlushes.add(flush);
    timer = setTimeout(flush, TEXT_DELAY);
  });
  control.addEventListener('change', flush);
  control.resetSaved = (v) => { last = v; };
  return { group, control };
}

/** "Contested: a reviewer will choose", beside an item or a conversation, while a field of it is contested. */
export function contestedTag(fields) {
  return h('strong', { class: 'govuk-tag govuk-tag--yellow app-contested',
                       text: `Contested: a reviewer will choose (${fields.map((f) => humanise(f.replace(/^response:/, 'response '))).join(', ')})` });
}
