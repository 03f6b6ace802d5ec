// Offline-first capture. On "My visits" and a visit page it adds "Make available offline" (pack into
// IndexedDB, service worker registered); on /capture/#visit=ID&type=TYPE it renders the audit from
// IndexedDB only and turns every change into a mutation (outbox.js). No framework, no build, no inline
// script or style (the CSP allows neither).
import { count, formatBytes, get, getAll, recordKey, recordsOfAudit, savePack, storageUsed, useDatabase } from './store.js';
import {
  attentionList, configureSync, discardAttention, exportOutbox, onStatus, raiseConcern, refreshCounts, refreshCountsSoon, requestSync,
  saveFields,
  startSync, status as syncStatus, submitAudit, syncSoon, uuid7,
} from './outbox.js';

// Measurements for tests and the release note: save = ms from the user's input event to "Saved on this
// device"; open/render = ms to a rendered audit; inflight = saves not yet complete.
const timings = window.__captureTimings || { save: [], open: null, render: null, inflight: 0 };
window.__captureTimings = timings;

const RATINGS = [['met', 'Met'], ['partially_met', 'Partially met'], ['not_met', 'Not met'], ['not_applicable', 'N/A']];
const SETTINGS = ['One-to-one in sight of staff', 'Small group', 'During an activity'];
const KEY_STAGES = ['KS1', 'KS2', 'KS3', 'KS4'];
const REVIEW_STATUSES = [['', 'Not reviewed yet'], ['closed_verified', 'Closed and verified'], ['open_in_time', 'Open, in time'],
  ['overdue', 'Overdue'], ['no_longer_relevant', 'No longer relevant']];
const DUE_DAYS = { partially_met: 28, not_met: 14 };
const TEXT_DELAY = 600;

// ---- small helpers ----------------------------------------------------------------------------

/** Build an element: h('p', {class: 'x', text: 'y'}, child, ...). Strings become text nodes. */
function h(tag, attrs, ...children) {
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
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false));
}

const safe = (key) => String(key).replace(/[^A-Za-z0-9_-]/g, '-');
const hhmm = (iso) => (iso ? new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' }) : '');

function addDays(isoDate, days) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function monthsBefore(isoDate, months) {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() - months);
  return d.toISOString().slice(0, 10);
}

function longDate(isoDate) {
  return new Date(`${isoDate}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

function humanise(name) {
  const text = name.replace(/_/g, ' ').replace(/\b(\d)/, ' $1').replace(/\s+/g, ' ').trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function persist() {
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
}

function errorMessage(id, text) {
  return h('p', { class: 'govuk-error-message', id }, h('span', { class: 'govuk-visually-hidden', text: 'Error: ' }), text);
}

/** Show or clear a GOV.UK error on a form group, wiring aria-describedby on the control. */
function setError(group, control, text) {
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

// ---- boot -------------------------------------------------------------------------------------

function boot() {
  const userHolder = document.querySelector('[data-user]');
  if (!userHolder || !window.indexedDB) return;
  const user = userHolder.dataset.user;
  useDatabase(user);
  configureSync(user);
  guardSignOut();
  const root = document.getElementById('capture-root');
  if (root) startCapture(root);
  else enhanceVisitPages();
}

/** Warn before signing out while changes are still on this device only. */
function guardSignOut() {
  const message = (n) => `${n} ${n === 1 ? 'change has' : 'changes have'} not been sent to the server yet. `
    + 'They stay on this tablet, but nobody else can see them until you sign in again and sync. Sign out anyway?';
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches('form[action$="/sign-out"]') || form.dataset.confirmed) return;
    // The count the status bar shows is current (refreshed on start, after saves and after syncs): ask at once.
    if (syncStatus.pending > 0) {
      if (!window.confirm(message(syncStatus.pending))) event.preventDefault();
      return;
    }
    // Not known yet (e.g. a save a moment ago): read the outbox first.
    event.preventDefault();
    count('outbox').then((n) => n, () => 0).then((n) => {
      if (n === 0 || window.confirm(message(n))) {
        form.dataset.confirmed = '1';
        form.submit();
      }
    });
  }, true);
}

// ---- "My visits" and the visit page ----------------------------------------------------------------

async function enhanceVisitPages() {
  const buttons = [...document.querySelectorAll('[data-offline-visit]')];
  let packs = new Map();
  try {
    packs = new Map((await getAll('packs')).map((p) => [String(p.visit_id), p]));
  } catch (error) {
    for (const button of buttons) offlineStatus(button.dataset.offlineVisit, 'error', 'This browser cannot store visits for use without signal.');
    return;
  }
  for (const button of buttons) {
    const id = button.dataset.offlineVisit;
    if (packs.has(id)) showReady(id, packs.get(id));
    button.addEventListener('click', () => makeAvailableOffline(button, id));
  }
  const pending = await count('outbox').catch(() => 0);
  const notice = document.getElementById('offline-pending');
  if (pending && notice) {
    notice.hidden = false;
    notice.textContent = `${pending} ${pending === 1 ? 'change' : 'changes'} on this device ${pending === 1 ? 'is' : 'are'} waiting to be sent. They are sent automatically when there is signal.`;
  }
  if (pending) startSync();
  onStatus((s) => {
    if (notice && s.phase === 'synced' && !s.pending) notice.textContent = 'Every change on this device has been sent.';
  });
}

function offlineStatus(id, kind, text) {
  const holder = document.getElementById(`offline-status-${id}`);
  if (!holder) return;
  const classes = { ready: 'govuk-tag govuk-tag--green', busy: 'govuk-tag govuk-tag--grey', error: 'govuk-tag govuk-tag--red' };
  holder.replaceChildren(h('strong', { class: classes[kind] || classes.busy, text }));
}

function showReady(id, pack) {
  offlineStatus(id, 'ready', `Ready offline · fetched ${hhmm(pack.fetched_at)}`);
  const button = document.querySelector(`[data-offline-visit="${CSS.escape(String(id))}"]`);
  if (button && button.firstChild && button.firstChild.nodeType === Node.TEXT_NODE) button.firstChild.textContent = 'Update offline copy';
}

async function makeAvailableOffline(button, id) {
  if (button.getAttribute('aria-disabled') === 'true') return;
  button.setAttribute('aria-disabled', 'true');
  offlineStatus(id, 'busy', 'Downloading…');
  try {
    const response = await fetch(`/capture/packs/${encodeURIComponent(id)}`, {
      credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!response.ok || !(response.headers.get('Content-Type') || '').includes('json')) {
      throw new Error(response.status === 401 || response.redirected ? 'sign in again' : `the server answered ${response.status}`);
    }
    const pack = await response.json();
    await savePack(pack);
    persist();
    await registerWorker();
    showReady(id, pack);
  } catch (error) {
    offlineStatus(id, 'error', `Not available offline: ${error.message || error}`);
  } finally {
    button.removeAttribute('aria-disabled');
  }
}

async function registerWorker() {
  if (!('serviceWorker' in navigator)) throw new Error('this browser cannot keep the app for use without signal');
  const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  if (registration.active) return; // an active worker already holds a complete shell (an update installs alongside)
  // A worker becomes active only once its install has cached the whole shell; a failed install goes redundant.
  const worker = registration.installing || registration.waiting;
  await new Promise((resolve, reject) => {
    navigator.serviceWorker.ready.then(resolve);
    if (!worker) return;
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve();
      if (worker.state === 'redundant') reject(new Error('the capture screen could not be stored on this device'));
    });
  });
}

// ---- the capture screen -------------------------------------------------------------------------

let C = null; // the open audit: pack, template, records, DOM references
const textFlushes = new Set();

async function startCapture(root) {
  document.documentElement.classList.add('app-capture-page');
  persist();
  window.addEventListener('hashchange', () => safeRoute(root));
  window.addEventListener('pagehide', flushTexts);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') flushTexts(); });
  await safeRoute(root);
  startSync();
}

async function safeRoute(root) {
  try {
    await route(root);
  } catch (error) {
    C = null;
    fill(root, h('h1', { class: 'govuk-heading-l', text: 'The audit could not be opened' }),
      h('p', { class: 'govuk-body', text: `This browser could not read the audits stored on this device (${error && error.message || error}). Close other tabs of this service and try again.` }));
  }
}

function flushTexts() {
  for (const flush of [...textFlushes]) flush();
}

function parseHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return { visit: params.get('visit'), type: params.get('type'), section: params.get('section'), item: params.get('item') };
}

async function route(root) {
  const where = parseHash();
  if (C && where.visit === String(C.pack.visit_id) && where.type === C.audit.audit_type) {
    jumpTo(where);
    return;
  }
  flushTexts();
  if (!where.visit || !where.type) {
    await renderLanding(root);
    return;
  }
  const started = performance.now();
  let pack = await get('packs', Number(where.visit));
  if (!pack && navigator.onLine) {
    root.replaceChildren(h('h1', { class: 'govuk-heading-l', text: 'Getting the visit' }),
      h('p', { class: 'govuk-body', role: 'status', text: 'Downloading this visit to the tablet…' }));
    try {
      const response = await fetch(`/capture/packs/${encodeURIComponent(where.visit)}`, { credentials: 'same-origin', cache: 'no-store' });
      if (response.ok) pack = await savePack(await response.json());
    } catch (_) { /* offline after all */ }
  }
  const audit = pack && pack.audits.find((a) => a.audit_type === where.type);
  if (!audit) {
    renderMissing(root, pack);
    return;
  }
  const records = await recordsOfAudit(audit.audit_id);
  C = buildContext(pack, audit, records);
  renderAudit(root);
  timings.render = performance.now() - started;
  timings.open = performance.now();
  if (where.section || where.item) jumpTo(where);
  refreshCounts();
  if (!statusBound) {
    statusBound = true;
    onStatus(renderStatus);
  }
}

let statusBound = false;

function renderMissing(root, pack) {
  C = null;
  fill(root,
    h('h1', { class: 'govuk-heading-l', text: 'This audit is not on this device' }),
    h('p', { class: 'govuk-body', text: pack
      ? 'The visit is on this device, but you do not carry out this type of audit on it.'
      : 'Make the visit available offline from your visits while you have signal, then open it again.' }),
    h('p', { class: 'govuk-body' }, h('a', { class: 'govuk-link', href: '/visits/', text: 'Go to your visits' })));
}

async function renderLanding(root) {
  C = null;
  const packs = await getAll('packs').catch(() => []);
  const body = packs.length
    ? h('ul', { class: 'govuk-list govuk-list--spaced' }, packs.map((p) => h('li', {},
      h('span', { class: 'govuk-body govuk-!-font-weight-bold', text: `${p.provider.name}, ${longDate(p.visit.date)}` }),
      h('ul', { class: 'govuk-list' }, p.audits.map((a) => h('li', {},
        h('a', { class: 'govuk-link', href: `/capture/#visit=${p.visit_id}&type=${a.audit_type}` },
          `Open capture: ${a.title}`, h('span', { class: 'govuk-visually-hidden', text: `, ${p.provider.name}` }))))))))
    : h('p', { class: 'govuk-body', text: 'No visits are on this device yet. Make a visit available offline from your visits while you have signal.' });
  fill(root,
    h('h1', { class: 'govuk-heading-l', text: 'Audits on this device' }),
    navigator.onLine ? null : h('div', { class: 'govuk-inset-text', text: 'You are offline. These audits work without signal.' }),
    body,
    h('p', { class: 'govuk-body' }, h('a', { class: 'govuk-link', href: '/visits/', text: 'Your visits' })));
}

function buildContext(pack, audit, records) {
  const template = audit.template;
  const items = new Map();
  const sectionOf = new Map();
  for (const section of template.sections) {
    for (const item of section.items) {
      items.set(item.key, item);
      sectionOf.set(item.key, section);
    }
  }
  return {
    pack, audit, template, items, sectionOf, auditId: audit.audit_id, visitDate: pack.visit.date,
    records: new Map(records.map((r) => [r.key, r])),
    newActionIds: new Map(),
    el: {},
  };
}

const answerKey = (itemKey) => recordKey('answer', C.auditId, itemKey);
const policyKey = (itemKey) => recordKey('policy_check', C.auditId, itemKey);
const shown = (record, field) => {
  if (!record) return undefined;
  if (record.draft && field in record.draft) return record.draft[field];
  return record.fields ? record.fields[field] : undefined;
};

function auditRecord() {
  return C.records.get(recordKey('audit', C.auditId));
}

function isReadOnly() {
  const audit = auditRecord();
  if (!audit) return !['draft', 'returned'].includes(C.audit.status);
  return Boolean(audit.submitted_local) || !['draft', 'returned'].includes(audit.status);
}

function isAnswered(item) {
  const record = C.records.get(answerKey(item.key));
  if (!record) return false;
  if (item.answer === 'rating') {
    const rating = record.fields.rating;
    return Boolean(rating) && !(record.draft && 'rating' in record.draft) && (rating !== 'not_applicable' || Boolean((record.fields.na_reason || '').trim()));
  }
  const value = record.fields.value;
  if (value == null || value === '') return false;
  return !(typeof value === 'object' && !Object.keys(value).length);
}

function actionFor(itemKey) {
  let found = null;
  for (const record of C.records.values()) {
    if (record.entity === 'action' && record.item_key === itemKey && (!found || Object.keys(record.fields).length)) found = record;
  }
  return found;
}

// ---- rendering ------------------------------------------------------------------------------

function renderAudit(root) {
  const { pack, audit, template } = C;
  const serviceName = document.title.includes(' - ') ? document.title.split(' - ').slice(1).join(' - ') : 'AP provider audits';
  document.title = `${template.title || audit.title}: ${pack.provider.name} - ${serviceName}`;
  const sections = template.sections;
  const promptSets = template.prompt_sets || [];
  const link = (extra) => `#visit=${pack.visit_id}&type=${audit.audit_type}&${extra}`;

  C.el.statusText = h('span', { class: 'app-status__text', text: 'Saved on this device' });
  C.el.statusDetail = h('span', { class: 'app-status__detail' });
  C.el.attention = h('div', { class: 'app-attention', hidden: true });
  const bar = h('div', { class: 'app-capture-bar' },
    h('div', { class: 'app-capture-bar__status' },
      h('p', { class: 'govuk-body-s app-status', role: 'status', 'aria-live': 'polite', id: 'sync-status' },
        C.el.statusText, h('br'), C.el.statusDetail)),
    h('div', { class: 'app-capture-bar__actions' },
      h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small', id: 'sync-now',
                    onclick: () => requestSync({ reset: true }) }, 'Sync now'),
      C.el.exportButton = h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
                                        id: 'export-outbox', hidden: true, onclick: () => downloadExport() }, 'Export unsynced changes'),
      h('button', { type: 'button', class: 'govuk-button govuk-button--warning app-button--small', id: 'raise-concern',
                    onclick: openConcern }, 'Raise a safeguarding concern')));

  const identity = h('dl', { class: 'govuk-summary-list govuk-summary-list--no-border app-identity' },
    summaryRow('Provider', `${pack.provider.name} (${pack.provider.legal_name})`),
    summaryRow('Number', [pack.provider.company_number && `Company ${pack.provider.company_number}`,
      pack.provider.charity_number && `Charity ${pack.provider.charity_number}`].filter(Boolean).join(', ') || 'None recorded'),
    summaryRow('Registration', humanise(pack.provider.registration_status || 'not_checked')),
    summaryRow('Site', `${pack.site.name}, ${pack.site.address}`),
    summaryRow('Visit', `${longDate(pack.visit.date)}, ${pack.visit.announced ? 'announced' : 'unannounced'}`),
    summaryRow('Contact', pack.provider.contact_name || 'None recorded'));

  C.el.jump = new Map();
  const jumpList = h('nav', { class: 'app-jump', 'aria-labelledby': 'jump-title' },
    h('h2', { class: 'govuk-heading-s', id: 'jump-title', text: 'Sections' }),
    h('ul', { class: 'govuk-list app-jump__list' },
      sections.map((section) => {
        const progress = h('span', { class: 'app-jump__progress' });
        C.el.jump.set(section.key, progress);
        return h('li', {}, h('a', { class: 'govuk-link', href: link(`section=${section.key}`) }, section.title), ' ', progress);
      }),
      promptSets.length ? h('li', {}, h('a', { class: 'govuk-link', href: link('section=conversations'), text: 'Conversations' })) : null,
      h('li', {}, h('a', { class: 'govuk-link', href: link('section=submit'), text: 'Submit for review' }))));

  C.el.progress = new Map();
  C.el.overall = h('p', { class: 'govuk-body app-overall' });
  C.el.readOnly = h('div', { class: 'govuk-inset-text', hidden: true, id: 'read-only-note' });

  const body = sections.map((section) => {
    const progress = h('p', { class: 'govuk-body-s app-progress', id: `progress-${safe(section.key)}` });
    C.el.progress.set(section.key, progress);
    return h('section', { class: 'app-section', id: `section-${safe(section.key)}`, 'aria-labelledby': `section-${safe(section.key)}-title` },
      h('h2', { class: 'govuk-heading-l app-section__title', id: `section-${safe(section.key)}-title`, tabindex: '-1' },
        h('span', { class: 'govuk-caption-m', text: section.key }), section.title),
      progress,
      section.items.map((item) => (item.answer === 'rating' ? renderRated(item) : renderTyped(item))));
  });

  fill(root,
    bar, C.el.attention,
    h('span', { class: 'govuk-caption-l', text: `${pack.provider.name}, ${pack.site.name}` }),
    h('h1', { class: 'govuk-heading-xl app-capture-title', text: template.title || audit.title }),
    C.el.readOnly,
    identity,
    C.el.overall,
    jumpList,
    body,
    promptSets.length ? renderConversations(promptSets) : null,
    renderSubmit(),
    renderConcernDialog());
  updateProgress();
  applyReadOnly();
}

function summaryRow(key, value) {
  return h('div', { class: 'govuk-summary-list__row' },
    h('dt', { class: 'govuk-summary-list__key', text: key }), h('dd', { class: 'govuk-summary-list__value', text: value }));
}

function itemHint(item, id) {
  const parts = [];
  if (item.guidance) parts.push(h('span', { class: 'app-hint-line' }, h('strong', { text: 'Guidance: ' }), item.guidance));
  if (item.source && item.source.length) parts.push(h('span', { class: 'app-hint-line', text: `Source: ${item.source.join(', ')}` }));
  if (item.na_allowed_when) parts.push(h('span', { class: 'app-hint-line', text: `N/A only when ${item.na_allowed_when}.` }));
  return h('div', { class: 'govuk-hint', id }, parts);
}

function legend(item, tagName = 's') {
  return h('legend', { class: `govuk-fieldset__legend govuk-fieldset__legend--${tagName}` },
    h('span', { class: 'app-item__key', text: `${item.key} ` }), item.question,
    item.critical ? [' ', h('strong', { class: 'govuk-tag govuk-tag--red app-critical', text: 'Critical' })] : null);
}

function radioGroup(name, idBase, options, current, onChange, { inline = true, describedBy = null } = {}) {
  return h('div', { class: `govuk-radios govuk-radios--small${inline ? ' govuk-radios--inline' : ''}` },
    options.map(([value, label]) => {
      const id = `${idBase}-${safe(String(value))}`;
      return h('div', { class: 'govuk-radios__item' },
        h('input', { class: 'govuk-radios__input', type: 'radio', id, name, value: String(value), checked: current === value,
                     'aria-describedby': describedBy, onchange: (event) => onChange(value, event) }),
        h('label', { class: 'govuk-label govuk-radios__label', for: id, text: label }));
    }));
}

/** A text box that saves on `change` and after a pause in typing. */
function textControl(tag, { id, label, hint, value, rows = 2, inputClass, hiddenLabel, type = 'text', inputmode, onSave, groupClass = '' }) {
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

// ---- rated items ------------------------------------------------------------------------------------

function renderRated(item) {
  const k = safe(item.key);
  const record = C.records.get(answerKey(item.key));
  const rating = shown(record, 'rating');
  const hintId = `hint-${k}`;
  const reason = textControl('textarea', {
    id: `na-${k}`, label: 'Why is this not applicable?', hiddenLabel: ` (${item.key})`,
    hint: item.na_allowed_when ? `Only when ${item.na_allowed_when}.` : 'Required when you choose N/A.',
    value: shown(record, 'na_reason'), onSave: (value, control, group) => saveReason(item, value, control, group) });
  const reasonPanel = h('div', { class: 'app-reveal', id: `na-panel-${k}`, hidden: rating !== 'not_applicable' }, reason.group);
  const note = textControl('textarea', { id: `note-${k}`, label: 'Note (optional)', hiddenLabel: ` for ${item.key}`,
    value: shown(record, 'note'), onSave: (value) => saveAnswer(item, { note: value }) });
  const actionHolder = h('div', { class: 'app-action-holder', id: `action-holder-${k}` });
  const block = h('div', { class: 'govuk-form-group app-item', id: `item-${k}`, 'data-item': item.key, 'data-rated-item': item.key },
    h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId },
      legend(item),
      itemHint(item, hintId),
      h('div', { class: 'app-item__flags', id: `flags-${k}` }),
      radioGroup(`rating-${k}`, `rating-${k}`, RATINGS, rating, (value, event) => onRating(item, value, event))),
    reasonPanel,
    actionHolder,
    note.group,
    item.policy ? renderPolicy(item) : null);
  if (['partially_met', 'not_met'].includes(rating) || (actionFor(item.key) && Object.keys(actionFor(item.key).fields).length)) {
    actionHolder.append(renderAction(item, rating));
  }
  updateFlags(item, block);
  return block;
}

function updateFlags(item, block = document.getElementById(`item-${safe(item.key)}`)) {
  if (!block) return;
  const flags = block.querySelector('.app-item__flags');
  const record = C.records.get(answerKey(item.key));
  const policy = C.records.get(policyKey(item.key));
  const conflicts = [...((record && record.conflicts) || []), ...((policy && policy.conflicts) || [])];
  flags.replaceChildren(conflicts.length
    ? h('strong', { class: 'govuk-tag govuk-tag--orange', text: `Needs review: changed on another device (${conflicts.join(', ')})` })
    : '');
}

async function onRating(item, value, event) {
  const t0 = event && event.timeStamp ? event.timeStamp : performance.now();
  const k = safe(item.key);
  const reasonBox = document.getElementById(`na-${k}`);
  document.getElementById(`na-panel-${k}`).hidden = value !== 'not_applicable';
  let record;
  if (value === 'not_applicable') {
    const reason = reasonBox.value.trim();
    if (!reason) {
      record = await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key }, { draft: { rating: value } }, t0);
      setError(reasonBox.closest('.govuk-form-group'), reasonBox, null);
      showAction(item, value);
      return record;
    }
    record = await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key },
      { fields: { rating: value, na_reason: reasonBox.value }, clearDraft: ['rating'] }, t0);
    reasonBox.resetSaved(reasonBox.value);
  } else {
    record = await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key }, { fields: { rating: value }, clearDraft: ['rating'] }, t0);
  }
  showAction(item, value);
  return record;
}

function saveAnswer(item, fields) {
  return commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key }, { fields });
}

async function saveReason(item, value, control, group) {
  const record = C.records.get(answerKey(item.key));
  const rating = shown(record, 'rating');
  if (rating !== 'not_applicable') return;
  if (!value.trim()) {
    setError(group, control, 'Give a reason when an item is not applicable');
    return;
  }
  setError(group, control, null);
  await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key },
    { fields: { rating: 'not_applicable', na_reason: value }, clearDraft: ['rating'] });
}

/** Write a change (record + outbox in one transaction), then say so. */
async function commit(target, change, t0 = null) {
  let record;
  timings.inflight += 1;
  try {
    record = await saveFields(target, change);
  } catch (error) {
    C.el.statusText.textContent = 'Not saved: this device could not store the change';
    C.el.statusDetail.textContent = String(error && error.message || error);
    throw error;
  } finally {
    timings.inflight -= 1;
  }
  if (!C) return record;
  C.records.set(record.key, record);
  C.el.statusText.textContent = 'Saved on this device';
  if (t0 != null) timings.save.push(performance.now() - t0);
  updateProgress(target.item_key);
  refreshCountsSoon({ phase: 'saved' });
  syncSoon();
  return record;
}

// ---- proposed actions -----------------------------------------------------------------------------

function defaultDue(item, rating) {
  if (rating === 'not_met' && item.critical) return C.visitDate;
  return addDays(C.visitDate, DUE_DAYS[rating] || 28);
}

function priorityFor(item, rating) {
  if (rating === 'not_met') return item.critical ? 'immediate' : 'high';
  return 'normal';
}

function showAction(item, rating) {
  const holder = document.getElementById(`action-holder-${safe(item.key)}`);
  const wanted = ['partially_met', 'not_met'].includes(rating);
  let panel = holder.firstElementChild;
  if (!panel && wanted) {
    panel = renderAction(item, rating);
    holder.append(panel);
  }
  if (!panel) return;
  const action = actionFor(item.key);
  const sent = action && Object.keys(action.fields).length;
  panel.hidden = !wanted && !sent;
  const due = panel.querySelector('input[type="date"]');
  if (wanted && !sent && !(action && action.draft && action.draft.due_date)) due.value = defaultDue(item, rating);
}

function renderAction(item, rating) {
  const k = safe(item.key);
  const action = actionFor(item.key);
  const value = (name) => shown(action, name);
  const save = (name) => (v, control, group) => saveAction(item, name, v, control, group);
  const description = textControl('textarea', { id: `action-description-${k}`, label: 'What must the provider do?',
    hiddenLabel: ` (${item.key})`, value: value('description'), onSave: save('description') });
  const owner = textControl('input', { id: `action-owner-${k}`, label: 'Owner (role)', hiddenLabel: ` for ${item.key}`,
    hint: 'A role, not a name. For example: designated safeguarding lead', inputClass: 'govuk-!-width-two-thirds',
    value: value('owner_role'), onSave: save('owner_role') });
  const due = textControl('input', { id: `action-due-${k}`, label: 'Due date', hiddenLabel: ` for ${item.key}`, type: 'date',
    inputClass: 'govuk-input--width-10', value: value('due_date') || defaultDue(item, rating), onSave: save('due_date') });
  const sent = action && Object.keys(action.fields).length;
  return h('div', { class: 'app-reveal app-action', id: `action-${k}` },
    h('h3', { class: 'govuk-heading-s', text: 'Proposed action' }),
    h('p', { class: 'govuk-body-s', id: `action-state-${k}`,
             text: sent ? 'The action is saved with the audit.' : 'Saved on this device and sent with the audit once it has what to do, an owner and a due date.' }),
    description.group, owner.group, due.group);
}

async function saveAction(item, name, value, control, group) {
  const k = safe(item.key);
  let action = actionFor(item.key);
  const rating = shown(C.records.get(answerKey(item.key)), 'rating');
  const sent = action && Object.keys(action.fields).length;
  const id = action ? action.id : (C.newActionIds.get(item.key) || uuid7());
  C.newActionIds.set(item.key, id);
  const target = { entity: 'action', id, audit_id: C.auditId, item_key: item.key };
  const required = { description: 'Enter what the provider must do', owner_role: 'Enter the owner’s role', due_date: 'Enter a due date' };
  if (sent) {
    if (!value.trim() && required[name]) {
      setError(group, control, required[name]);
      return;
    }
    setError(group, control, null);
    await commit(target, { fields: { [name]: value || null } });
    return;
  }
  setError(group, control, null);
  const values = {
    description: document.getElementById(`action-description-${k}`).value.trim(),
    owner_role: document.getElementById(`action-owner-${k}`).value.trim(),
    due_date: document.getElementById(`action-due-${k}`).value,
  };
  if (values.description && values.owner_role && values.due_date) {
    action = await commit(target, { fields: { ...values, priority: priorityFor(item, rating) },
                                    clearDraft: ['description', 'owner_role', 'due_date'] });
    document.getElementById(`action-state-${k}`).textContent = 'The action is saved with the audit.';
  } else {
    await commit(target, { draft: { [name]: value } });
  }
}

// ---- policy checks ------------------------------------------------------------------------------

function renderPolicy(item) {
  const k = safe(item.key);
  const record = C.records.get(policyKey(item.key));
  const target = { entity: 'policy_check', audit_id: C.auditId, item_key: item.key };
  const save = (fields) => commit(target, { fields });
  const seen = shown(record, 'document_seen');
  const version = textControl('input', { id: `policy-version-${k}`, label: 'Version or date shown on the document',
    hiddenLabel: ` (${item.policy.document})`, inputClass: 'govuk-input--width-20', value: shown(record, 'document_version'),
    onSave: (v) => save({ document_version: v || null }) });
  const warning = h('div', { class: 'govuk-warning-text', id: `policy-warning-${k}`, hidden: true },
    h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true', text: '!' }),
    h('strong', { class: 'govuk-warning-text__text' }, h('span', { class: 'govuk-visually-hidden', text: 'Warning' }),
      'The last review is more than 12 months before the visit.'));
  const review = textControl('input', { id: `policy-review-${k}`, label: 'Date of the last review', hiddenLabel: ` (${item.policy.document})`,
    type: 'date', inputClass: 'govuk-input--width-10', value: shown(record, 'review_date'),
    onSave: (v) => { reviewWarning(warning, v); return save({ review_date: v || null }); } });
  reviewWarning(warning, shown(record, 'review_date'));
  const named = item.policy.named_person ? textControl('input', { id: `policy-person-${k}`,
    label: `${item.policy.named_person} named in the document`, hiddenLabel: ` (${item.policy.document})`,
    inputClass: 'govuk-!-width-two-thirds', value: shown(record, 'named_person'), onSave: (v) => save({ named_person: v || null }) }) : null;
  return h('div', { class: 'app-policy', id: `policy-${k}` },
    h('div', { class: 'govuk-form-group' },
      h('fieldset', { class: 'govuk-fieldset' },
        h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s' },
          'Policy check: ', item.policy.document, h('span', { class: 'govuk-visually-hidden', text: ` (${item.key})` }),
          h('span', { class: 'app-legend-line', text: 'Was the document seen?' })),
        radioGroup(`policy-seen-${k}`, `policy-seen-${k}`, [[true, 'Yes'], [false, 'No']], seen,
          (v) => save({ document_seen: v })))),
    version.group, review.group, warning, named ? named.group : null);
}

function reviewWarning(warning, value) {
  warning.hidden = !(value && value < monthsBefore(C.visitDate, 12));
}

// ---- typed header answers -----------------------------------------------------------------------

function renderTyped(item) {
  const k = safe(item.key);
  const record = C.records.get(answerKey(item.key));
  const value = shown(record, 'value');
  const hintId = `hint-${k}`;
  const target = { entity: 'answer', audit_id: C.auditId, item_key: item.key };
  const save = (v) => commit(target, { fields: { value: v } });
  const wrap = (...content) => h('div', { class: 'govuk-form-group app-item app-item--typed', id: `item-${k}`, 'data-item': item.key }, ...content);
  const single = (control) => wrap(
    h('label', { class: 'govuk-label govuk-label--s', for: control.id },
      h('span', { class: 'app-item__key', text: `${item.key} ` }), item.question),
    itemHint(item, hintId), control);
  switch (item.answer) {
    case 'text': {
      const box = textControl('textarea', { id: `value-${k}`, label: '', value, rows: 3, onSave: (v) => save(v.trim() ? v : null) });
      box.control.setAttribute('aria-describedby', hintId);
      return single(box.control);
    }
    case 'number': {
      const box = textControl('input', { id: `value-${k}`, label: '', value, inputmode: 'decimal', inputClass: 'govuk-input--width-5',
        onSave: (v, control) => {
          const group = control.closest('.govuk-form-group');
          if (v.trim() && !/^\d+(\.\d+)?$/.test(v.trim())) { setError(group, control, 'Enter a number, like 6'); return null; }
          setError(group, control, null);
          return save(v.trim() ? Number(v) : null).then(() => suggestRegistration());
        } });
      box.control.setAttribute('aria-describedby', hintId);
      return single(box.control);
    }
    case 'date': {
      const box = textControl('input', { id: `value-${k}`, label: '', value, type: 'date', inputClass: 'govuk-input--width-10', onSave: (v) => save(v || null) });
      box.control.setAttribute('aria-describedby', hintId);
      return single(box.control);
    }
    case 'yes_no':
    case 'choice': {
      const options = item.answer === 'yes_no' ? [[true, 'Yes'], [false, 'No']] : item.choices.map((c) => [c.value, c.label]);
      const extra = [];
      if (item.answer === 'choice') {
        extra.push(h('div', { class: 'govuk-warning-text', id: `refer-${k}`, hidden: value !== 'possibly_required' },
          h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true', text: '!' }),
          h('strong', { class: 'govuk-warning-text__text' }, h('span', { class: 'govuk-visually-hidden', text: 'Warning' }),
            '“Possibly required - refer” moves the provider to Under review. Give your reason in the note.')));
        extra.push(h('p', { class: 'govuk-inset-text app-suggestion', id: `suggest-${k}`, hidden: true }));
        const note = textControl('textarea', { id: `note-${k}`, label: 'Reason (note)', hiddenLabel: ` for ${item.key}`,
          value: shown(record, 'note'), onSave: (v) => commit(target, { fields: { note: v } }) });
        extra.push(note.group);
      }
      return wrap(
        h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId },
          legend(item, 's'), itemHint(item, hintId),
          radioGroup(`value-${k}`, `value-${k}`, options, value, (v) => {
            const refer = document.getElementById(`refer-${k}`);
            if (refer) refer.hidden = v !== 'possibly_required';
            return save(v);
          })),
        extra);
    }
    case 'counts': {
      const current = (value && typeof value === 'object') ? value : {};
      const boxes = (item.fields || []).map((name) => textControl('input', {
        id: `count-${k}-${safe(name)}`, label: humanise(name), value: current[name], inputmode: 'decimal',
        inputClass: 'govuk-input--width-4', groupClass: 'app-count',
        onSave: (v, control, group) => {
          if (v.trim() && !/^\d+(\.\d+)?$/.test(v.trim())) { setError(group, control, 'Enter a number, like 6'); return null; }
          setError(group, control, null);
          const record2 = C.records.get(answerKey(item.key));
          const next = { ...((shown(record2, 'value') && typeof shown(record2, 'value') === 'object') ? shown(record2, 'value') : {}) };
          if (v.trim()) next[name] = Number(v); else delete next[name];
          return save(Object.keys(next).length ? next : null);
        } }).group);
      return wrap(h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId }, legend(item, 's'), itemHint(item, hintId),
        h('div', { class: 'app-counts' }, boxes)));
    }
    case 'action_review': {
      const current = (value && typeof value === 'object') ? value : {};
      const previous = C.pack.previous_actions || [];
      const rows = previous.length ? previous.map((action) => {
        const id = `review-${k}-${safe(action.id)}`;
        const select = h('select', { class: 'govuk-select', id, name: id,
          onchange: (event) => {
            const record2 = C.records.get(answerKey(item.key));
            const next = { ...((shown(record2, 'value') && typeof shown(record2, 'value') === 'object') ? shown(record2, 'value') : {}) };
            if (event.target.value) next[action.id] = event.target.value; else delete next[action.id];
            return save(Object.keys(next).length ? next : null);
          } }, REVIEW_STATUSES.map(([v, label]) => h('option', { value: v, text: label })));
        select.value = current[action.id] || '';
        return h('div', { class: 'govuk-form-group' },
          h('label', { class: 'govuk-label', for: id, text: `${action.item_key}: ${action.description} (due ${longDate(action.due_date)})` }), select);
      }) : [h('p', { class: 'govuk-body', text: 'There are no open actions from earlier audits.' })];
      return wrap(h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId }, legend(item, 's'), itemHint(item, hintId), rows));
    }
    default:
      return wrap(h('p', { class: 'govuk-body', text: `${item.key}: ${item.question}` }));
  }
}

function suggestRegistration() {
  const choice = [...C.items.values()].find((i) => i.answer === 'choice' && i.choices.some((c) => c.value === 'possibly_required'));
  if (!choice) return;
  const el = document.getElementById(`suggest-${safe(choice.key)}`);
  if (!el) return;
  const num = (key) => Number(shown(C.records.get(answerKey(key)), 'value') || 0);
  const refer = num('HDR-4.2') >= 5 || num('HDR-4.3') >= 1;
  el.hidden = !refer;
  el.textContent = refer ? 'Suggested: “Possibly required - refer”, because HDR-4.2 is 5 or more, or HDR-4.3 is 1 or more. Confirm it with a reason.' : '';
}

// ---- conversations --------------------------------------------------------------------------

function renderConversations(promptSets) {
  C.el.conversations = new Map();
  return h('section', { class: 'app-section', id: 'section-conversations', 'aria-labelledby': 'section-conversations-title' },
    h('h2', { class: 'govuk-heading-l', id: 'section-conversations-title', tabindex: '-1', text: 'Conversations' }),
    h('div', { class: 'govuk-warning-text' },
      h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true', text: '!' }),
      h('strong', { class: 'govuk-warning-text__text' }, h('span', { class: 'govuk-visually-hidden', text: 'Warning' }),
        'Do not write names. Use the reference, key stage or role only.')),
    promptSets.map((set) => {
      const list = h('div', { class: 'app-conversation-list', id: `conversations-${set.key}` });
      C.el.conversations.set(set.key, list);
      const mine = [...C.records.values()].filter((r) => r.entity === 'conversation' && r.kind === set.key)
        .sort((a, b) => referenceOf(a).localeCompare(referenceOf(b), 'en', { numeric: true }));
      for (const record of mine) list.append(renderConversation(set, record));
      const noun = set.key === 'learner' ? 'learner' : 'staff';
      return h('div', { class: 'app-prompt-set' },
        h('h3', { class: 'govuk-heading-m', text: set.title }),
        (set.rules || []).slice(0, 2).map((rule) => h('p', { class: 'govuk-body-s', text: rule })),
        list,
        h('button', { type: 'button', class: 'govuk-button govuk-button--secondary', 'data-edit': '',
                      id: `add-${set.key}`, onclick: () => addConversation(set) }, `Add a ${noun} conversation`));
    }));
}

function referenceOf(record) {
  return record.reference || record.provisional || '';
}

async function addConversation(set) {
  const prefix = set.reference_prefix || (set.key === 'learner' ? 'L' : 'S');
  const taken = [...C.records.values()].filter((r) => r.entity === 'conversation' && r.kind === set.key)
    .map((r) => Number(String(referenceOf(r)).replace(/\D/g, '')) || 0);
  const provisional = `${prefix}${Math.max(0, ...taken) + 1}`;
  const record = await commit({ entity: 'conversation', id: uuid7(), audit_id: C.auditId, kind: set.key },
    { fields: { ended_for_safeguarding: false }, props: { provisional } });
  const card = renderConversation(set, record);
  C.el.conversations.get(set.key).append(card);
  card.querySelector('h4').focus();
}

function renderConversation(set, record) {
  const k = safe(record.id);
  const target = { entity: 'conversation', id: record.id, audit_id: C.auditId, kind: set.key };
  const save = (fields) => commit(target, { fields });
  const current = (name) => shown(C.records.get(record.key), name);
  const isLearner = set.key === 'learner';
  const noun = isLearner ? 'Learner' : 'Staff member';
  const subject = isLearner
    ? h('div', { class: 'govuk-form-group' }, h('fieldset', { class: 'govuk-fieldset' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: 'Key stage' }),
      radioGroup(`subject-${k}`, `subject-${k}`, KEY_STAGES.map((s) => [s, s.replace('KS', 'Key stage ')]), current('subject'),
        (v) => save({ subject: v }))))
    : textControl('input', { id: `subject-${k}`, label: 'Role', hint: 'A role, not a name. For example: key worker',
      inputClass: 'govuk-!-width-one-half', value: current('subject'), onSave: (v) => save({ subject: v || null }) }).group;
  const prompts = (set.prompts || []).map((prompt) => textControl('textarea', {
    id: `response-${k}-${safe(prompt.key)}`, label: `${prompt.key}: ${prompt.prompt}`,
    hint: prompt.listen_for ? `Listen for: ${prompt.listen_for}. Do not write names.` : 'Do not write names.',
    value: current(`response:${prompt.key}`), onSave: (v) => save({ [`response:${prompt.key}`]: v || null }) }).group);
  const notes = textControl('textarea', { id: `notes-${k}`, label: 'Other notes', hint: 'Do not write names.', value: current('notes'),
    onSave: (v) => save({ notes: v || null }) });
  const ended = h('input', { class: 'govuk-checkboxes__input', type: 'checkbox', id: `ended-${k}`, name: `ended-${k}`,
    checked: current('ended_for_safeguarding') === true, 'aria-describedby': `ended-${k}-hint`,
    onchange: (event) => save({ ended_for_safeguarding: event.target.checked }) });
  return h('div', { class: 'app-conversation', id: `conversation-${k}`, 'data-conversation': record.id },
    h('h4', { class: 'govuk-heading-m', tabindex: '-1' },
      `${noun} `, h('span', { class: 'app-reference', 'data-reference': record.id, text: referenceOf(record) }), ' ',
      record.reference ? null : h('strong', { class: 'govuk-tag govuk-tag--grey app-provisional', text: 'Provisional reference' })),
    h('p', { class: 'govuk-hint', text: 'Do not write names. The server gives the final reference when the audit syncs.' }),
    subject,
    h('div', { class: 'govuk-form-group' }, h('fieldset', { class: 'govuk-fieldset' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: 'Setting' }),
      radioGroup(`setting-${k}`, `setting-${k}`, SETTINGS.map((s) => [s, s]), current('setting'), (v) => save({ setting: v }), { inline: false }))),
    h('div', { class: 'govuk-form-group' }, h('fieldset', { class: 'govuk-fieldset' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: isLearner ? 'Did the learner agree to talk?' : 'Did they agree to talk?' }),
      radioGroup(`consent-${k}`, `consent-${k}`, [[true, 'Yes'], [false, 'No']], current('consent_given'), (v) => save({ consent_given: v })))),
    prompts,
    notes.group,
    h('div', { class: 'govuk-form-group' }, h('div', { class: 'govuk-checkboxes govuk-checkboxes--small' },
      h('div', { class: 'govuk-checkboxes__item' }, ended,
        h('label', { class: 'govuk-label govuk-checkboxes__label', for: `ended-${k}`, text: 'Conversation ended: safeguarding procedure followed' }),
        h('div', { class: 'govuk-hint govuk-checkboxes__hint', id: `ended-${k}-hint`,
                   text: 'Write nothing about the disclosure here. Raise a safeguarding concern instead.' })))));
}

// ---- submit -------------------------------------------------------------------------------------

function renderSubmit() {
  C.el.submitError = h('div', { class: 'app-submit-error', id: 'submit-error' });
  return h('section', { class: 'app-section', id: 'section-submit', 'aria-labelledby': 'section-submit-title' },
    h('h2', { class: 'govuk-heading-l', id: 'section-submit-title', tabindex: '-1', text: 'Submit for review' }),
    h('p', { class: 'govuk-body', text: 'Submit when every item is rated. You cannot change the audit on this device afterwards; it is sent when there is signal.' }),
    C.el.submitError,
    h('button', { type: 'button', class: 'govuk-button', id: 'submit-audit', 'data-edit': '', onclick: onSubmit }, 'Submit for review'));
}

async function onSubmit() {
  flushTexts();
  const unrated = [...C.items.values()].filter((item) => item.answer === 'rating' && !isAnswered(item));
  if (unrated.length) {
    const link = (item) => `#visit=${C.pack.visit_id}&type=${C.audit.audit_type}&item=${item.key}`;
    C.el.submitError.replaceChildren(h('div', { class: 'govuk-error-summary', tabindex: '-1' },
      h('div', { role: 'alert' },
        h('h3', { class: 'govuk-error-summary__title', text: 'There is a problem' }),
        h('div', { class: 'govuk-error-summary__body' },
          h('p', { class: 'govuk-body', text: `Rate every item before you submit: ${unrated.length} ${unrated.length === 1 ? 'item is' : 'items are'} not rated.` }),
          h('ul', { class: 'govuk-list govuk-error-summary__list' },
            unrated.slice(0, 10).map((item) => h('li', {}, h('a', { href: link(item), text: `${item.key}: ${item.question}` }))))))));
    C.el.submitError.firstChild.focus();
    return;
  }
  C.el.submitError.replaceChildren();
  if (!window.confirm('Submit this audit for review? You will not be able to change it on this device.')) return;
  const audit = await submitAudit(C.auditId);
  C.records.set(audit.key, audit);
  C.el.statusText.textContent = 'Saved on this device';
  applyReadOnly();
  refreshCounts({ phase: 'saved' });
  requestSync();
}

function applyReadOnly() {
  const readOnly = isReadOnly();
  const audit = auditRecord();
  C.el.readOnly.hidden = !readOnly;
  if (readOnly) {
    C.el.readOnly.textContent = audit && audit.submitted_local && audit.status !== 'submitted'
      ? 'Submitted for review on this device. It is sent when there is signal and can no longer be changed here.'
      : `This audit is ${audit ? audit.status : C.audit.status} and can no longer be changed here.`;
  }
  const main = document.getElementById('capture-root');
  for (const el of main.querySelectorAll('.app-section input, .app-section textarea, .app-section select, [data-edit]')) {
    el.disabled = readOnly;
  }
}

// ---- progress -------------------------------------------------------------------------------------

function updateProgress(itemKey) {
  const sections = itemKey && C.sectionOf.has(itemKey) ? [C.sectionOf.get(itemKey)] : C.template.sections;
  for (const section of sections) {
    const answered = section.items.filter(isAnswered).length;
    const text = `${answered}/${section.items.length} answered`;
    const el = C.el.progress.get(section.key);
    if (el && el.textContent !== text) el.textContent = text;
    const jump = C.el.jump.get(section.key);
    if (jump && jump.textContent !== `(${text})`) jump.textContent = `(${text})`;
  }
  let rated = 0;
  let done = 0;
  for (const item of C.items.values()) {
    if (item.answer !== 'rating') continue;
    rated += 1;
    if (isAnswered(item)) done += 1;
  }
  const overall = `${done}/${rated} rated items answered`;
  if (C.el.overall.textContent !== overall) C.el.overall.textContent = overall;
}

function jumpTo(where) {
  let target = null;
  if (where.item) {
    target = document.querySelector(`#item-${CSS.escape(safe(where.item))} input, #item-${CSS.escape(safe(where.item))} textarea`);
  } else if (where.section) {
    target = document.getElementById(`section-${safe(where.section)}-title`);
  }
  if (target) {
    target.scrollIntoView({ block: 'start' });
    target.focus({ preventScroll: true });
  }
}

// ---- status bar ------------------------------------------------------------------------------

let lastAttention = -1;

function renderStatus(s) {
  if (!C) return;
  const { pending } = s;
  let text;
  if (s.phase === 'syncing') text = `Syncing ${pending}`;
  else if (s.phase === 'saved' || pending) text = 'Saved on this device';
  else if (s.attention) text = `${s.attention} ${s.attention === 1 ? 'change needs' : 'changes need'} attention`;
  else if (s.lastSynced) text = `All synced · last synced ${hhmm(s.lastSynced)}`;
  else text = 'No changes on this device yet';
  if (C.el.statusText.textContent !== text) C.el.statusText.textContent = text;
  const parts = [`${pending} ${pending === 1 ? 'change' : 'changes'} waiting to sync`];
  if (s.phase === 'offline') parts.push('offline: changes are sent when there is signal');
  if (s.phase === 'error' && s.message) parts.push(`not synced: ${s.message}; trying again shortly`);
  parts.push(`storage used ${formatBytes(s.usage)}`);
  const detail = parts.join(' · ');
  if (C.el.statusDetail.textContent !== detail) C.el.statusDetail.textContent = detail;
  C.el.exportButton.hidden = !pending;
  if (s.attention !== lastAttention || s.changed.length) {
    lastAttention = s.attention;
    renderAttention(s.attention);
  }
  if (s.changed && s.changed.length) refreshFromStore(s.changed);
}

async function renderAttention(n) {
  if (!n) {
    C.el.attention.hidden = true;
    C.el.attention.replaceChildren();
    return;
  }
  const entries = await attentionList();
  C.el.attention.hidden = false;
  C.el.attention.replaceChildren(h('div', { class: 'govuk-error-summary app-attention__box' },
    h('h2', { class: 'govuk-error-summary__title', text: `${entries.length} ${entries.length === 1 ? 'change needs' : 'changes need'} attention` }),
    h('div', { class: 'govuk-error-summary__body' },
      h('p', { class: 'govuk-body', text: 'The server refused these changes. They are kept on this device. Download one as a file for an administrator, or discard it.' }),
      h('ul', { class: 'govuk-list' }, entries.map((entry) => {
        const m = entry.mutation;
        const what = `${m.kind}${m.payload && m.payload.item_key ? ` ${m.payload.item_key}` : ''}`;
        return h('li', {}, h('span', { text: `${what}: ${(entry.result && (entry.result.message || entry.result.code)) || 'refused'}. ` }),
          h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
                        onclick: () => downloadExport([m], `auditapp-change-${m.mutation_id}.json`) }, 'Download',
            h('span', { class: 'govuk-visually-hidden', text: ` ${what}` })), ' ',
          h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
                        onclick: () => discardAttention(entry.seq) }, 'Discard', h('span', { class: 'govuk-visually-hidden', text: ` ${what}` })));
      })))));
}

/** Save unsynced changes (or the given mutations) as a file an administrator can import. */
async function downloadExport(mutations = null, name = null) {
  const email = (document.getElementById('capture-root') || {}).dataset?.userEmail || '';
  const data = await exportOutbox(email, mutations);
  const stamp = data.exported_at.slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const link = h('a', { href: url, download: name || `auditapp-unsynced-${stamp}.json`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Records changed by a sync: re-read them and update the screen, leaving alone what the user is editing. */
async function refreshFromStore(keys) {
  const unique = [...new Set(keys)];
  const fetched = await Promise.all(unique.map((key) => get('records', key)));
  if (!C) return;
  let readOnlyChanged = false;
  for (let i = 0; i < unique.length; i += 1) {
    const record = fetched[i];
    if (!record) { C.records.delete(unique[i]); continue; }
    if (record.audit_id !== C.auditId) continue;
    C.records.set(record.key, record);
    if (record.entity === 'audit') { readOnlyChanged = true; continue; }
    if (record.entity === 'conversation') {
      const ref = document.querySelector(`[data-reference="${CSS.escape(record.id)}"]`);
      if (ref) {
        ref.textContent = referenceOf(record);
        if (record.reference) {
          const tag = ref.parentElement.querySelector('.app-provisional');
          if (tag) tag.remove();
        }
      } else {
        const set = (C.template.prompt_sets || []).find((p) => p.key === record.kind);
        if (set && C.el.conversations) C.el.conversations.get(set.key).append(renderConversation(set, record));
      }
      continue;
    }
    const item = C.items.get(record.item_key);
    if (!item) continue;
    const block = document.getElementById(`item-${safe(item.key)}`);
    if (!block) continue;
    if (block.contains(document.activeElement)) { updateFlags(item, block); continue; }
    const fresh = item.answer === 'rating' ? renderRated(item) : renderTyped(item);
    block.replaceWith(fresh);
  }
  updateProgress();
  if (readOnlyChanged || isReadOnly()) applyReadOnly();
}

// ---- safeguarding concern ------------------------------------------------------------------------

function renderConcernDialog() {
  const route = C.template.disclosure_route || [];
  const now = new Date();
  const time = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  const field = (id, label, hint, control) => h('div', { class: 'govuk-form-group' },
    h('label', { class: 'govuk-label', for: id, text: label }), hint ? h('div', { class: 'govuk-hint', id: `${id}-hint`, text: hint }) : null, control);
  const form = h('form', { class: 'app-concern-form', novalidate: true, onsubmit: onConcern },
    h('div', { id: 'concern-errors' }),
    field('concern-time', 'Time', 'When it happened or was disclosed, today',
      h('input', { class: 'govuk-input govuk-input--width-10', id: 'concern-time', name: 'time', type: 'time', value: time, 'aria-describedby': 'concern-time-hint' })),
    field('concern-referred', 'Referred to (role)', 'For example: provider’s DSL, LADO, children’s social care, police',
      h('input', { class: 'govuk-input', id: 'concern-referred', name: 'referred_to_role', type: 'text', 'aria-describedby': 'concern-referred-hint' })),
    field('concern-reference', 'Reference number (optional)', null,
      h('input', { class: 'govuk-input govuk-input--width-20', id: 'concern-reference', name: 'reference_number', type: 'text' })),
    h('div', { class: 'govuk-form-group', id: 'concern-about-group' }, h('fieldset', { class: 'govuk-fieldset', id: 'concern-about' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: 'Is it about the provider or its staff?' }),
      radioGroup('about', 'concern-about', [[true, 'Yes'], [false, 'No']], null, () => {}))),
    field('concern-summary', 'Short summary (optional)', 'A few words. No names and no account of what was said.',
      h('textarea', { class: 'govuk-textarea', id: 'concern-summary', name: 'summary', rows: '3', 'aria-describedby': 'concern-summary-hint' })),
    h('div', { class: 'govuk-button-group' },
      h('button', { type: 'submit', class: 'govuk-button govuk-button--warning', text: 'Save the concern' }),
      h('button', { type: 'button', class: 'govuk-button govuk-button--secondary', text: 'Cancel', onclick: () => C.el.dialog.close() })));
  C.el.dialog = h('dialog', { class: 'app-dialog', id: 'concern-dialog', 'aria-labelledby': 'concern-title' },
    h('h2', { class: 'govuk-heading-l', id: 'concern-title', text: 'Raise a safeguarding concern' }),
    route.length ? [h('h3', { class: 'govuk-heading-s', text: 'What to do now' }),
      h('ol', { class: 'govuk-list govuk-list--number' }, route.map((step) => h('li', { text: step })))] : null,
    h('h3', { class: 'govuk-heading-s', text: 'Record the referral' }),
    form);
  return C.el.dialog;
}

function openConcern() {
  const dialog = C.el.dialog;
  if (!dialog.open) dialog.showModal();
  dialog.querySelector('h2').setAttribute('tabindex', '-1');
  dialog.querySelector('h2').focus();
}

async function onConcern(event) {
  event.preventDefault();
  const form = event.target;
  const errors = [];
  const time = form.querySelector('#concern-time');
  const referred = form.querySelector('#concern-referred');
  const about = form.querySelector('input[name="about"]:checked');
  for (const [control, bad, message] of [[time, !time.value, 'Enter the time'], [referred, !referred.value.trim(), 'Enter who it was referred to']]) {
    setError(control.closest('.govuk-form-group'), control, bad ? message : null);
    if (bad) errors.push([control.id, message]);
  }
  const aboutGroup = form.querySelector('#concern-about-group');
  aboutGroup.classList.toggle('govuk-form-group--error', !about);
  const old = aboutGroup.querySelector('.govuk-error-message');
  if (old) old.remove();
  if (!about) {
    aboutGroup.querySelector('legend').after(errorMessage('concern-about-error', 'Select yes if it is about the provider or its staff'));
    errors.push(['concern-about-true', 'Select yes if it is about the provider or its staff']);
  }
  const summaryHolder = form.querySelector('#concern-errors');
  if (errors.length) {
    summaryHolder.replaceChildren(h('div', { class: 'govuk-error-summary', tabindex: '-1' }, h('div', { role: 'alert' },
      h('h3', { class: 'govuk-error-summary__title', text: 'There is a problem' }),
      h('div', { class: 'govuk-error-summary__body' }, h('ul', { class: 'govuk-list govuk-error-summary__list' },
        errors.map(([id, message]) => h('li', {}, h('a', { href: `#${id}`, text: message, onclick: (e) => { e.preventDefault(); document.getElementById(id).focus(); } }))))))));
    summaryHolder.firstChild.focus();
    return;
  }
  summaryHolder.replaceChildren();
  const [hours, minutes] = time.value.split(':').map(Number);
  const when = new Date();
  when.setHours(hours, minutes, 0, 0);
  await raiseConcern({
    visit_id: C.pack.visit_id, occurred_at: when.toISOString(), referred_to_role: referred.value.trim(),
    reference_number: form.querySelector('#concern-reference').value.trim() || null,
    about_provider_or_staff: about.value === 'true', summary: form.querySelector('#concern-summary').value.trim() || null,
  });
  form.reset();
  time.value = `${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
  C.el.dialog.close();
  C.el.statusText.textContent = 'Concern saved on this device; it is sent first';
  refreshCounts({ phase: 'saved' });
  requestSync({ reset: true });
}

boot();
