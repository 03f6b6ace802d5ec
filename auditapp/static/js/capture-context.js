// The open audit (C): its pack, template, records and DOM references, with what reads and writes them.
// Other modules read C (a live binding) and replace it with setContext().
import { recordKey, writeBefore } from './store.js';
import { saveFields } from './outbox.js';
import { syncSoon } from './sync-loop.js';
import { refreshCountsSoon } from './sync-status.js';
import { h, safe } from './capture-dom.js';

// Measurements for tests and the release note: save = ms from the user's input event to "Saved on this
// device"; open/render = ms to a rendered audit; inflight = saves not yet complete; saver = where saves run
// ('page' until the save worker is ready).
export const timings = window.__captureTimings || { save: [], open: null, render: null, inflight: 0 };
timings.saver = 'page';
window.__captureTimings = timings;

export let C = null; // the open audit: pack, template, records, DOM references

export function setContext(context) {
  C = context;
}

export function buildContext(pack, audit, records) {
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

export const answerKey = (itemKey) => recordKey('answer', C.auditId, itemKey);
export const policyKey = (itemKey) => recordKey('policy_check', C.auditId, itemKey);
export const shown = (record, field) => {
  if (!record) return undefined;
  if (record.draft && field in record.draft) return record.draft[field];
  return record.fields ? record.fields[field] : undefined;
};

function auditRecord() {
  return C.records.get(recordKey('audit', C.auditId));
}

export function isReadOnly() {
  const audit = auditRecord();
  if (!audit) return !['draft', 'returned'].includes(C.audit.status);
  return Boolean(audit.submitted_local) || !['draft', 'returned'].includes(audit.status);
}

export function isAnswered(item) {
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

export function actionFor(itemKey) {
  let found = null;
  for (const record of C.records.values()) {
    if (record.entity === 'action' && record.item_key === itemKey && (!found || Object.keys(record.fields).length)) found = record;
  }
  return found;
}

// ---- the save worker ------------------------------------------------------------------------------
// After a tap or a key press Chromium holds the page's tasks, IndexedDB's replies among them, until the next
// frame has been drawn. A save on this thread made its two round trips to IndexedDB only after that frame, so
// "Saved on this device" came a frame and two round trips after the tap. In a worker the transaction commits
// while the frame is drawn, and the answer is the first thing the page runs after it. Until the worker is
// ready (or where it cannot run) saves run on this thread: the same function, the same transaction.
const saver = { worker: null, ready: false, user: null, next: 0, waiting: new Map(), onPage: Promise.resolve() };

/** Start the save worker for `user`'s database. */
export function startSaver(user) {
  if (saver.worker || typeof Worker !== 'function') return;
  saver.user = user;
  try {
    saver.worker = new Worker(new URL('./save-worker.js', import.meta.url), { type: 'module' });
  } catch (_) {
    return; // no module workers in this browser
  }
  saver.worker.addEventListener('message', ({ data }) => {
    if (data.ready) {
      saver.ready = true;
      timings.saver = 'worker';
      return;
    }
    const waiting = saver.waiting.get(data.id);
    if (!waiting) return;
    saver.waiting.delete(data.id);
    if (data.error) waiting.reject(new Error(data.error));
    else waiting.resolve(data.record);
  });
  saver.worker.addEventListener('error', () => {
    // It did not load (saves stayed here), or it failed: whether its last changes were stored is unknown.
    saver.worker.terminate();
    saver.ready = false;
    timings.saver = 'page';
    for (const waiting of saver.waiting.values()) waiting.reject(new Error('The save worker stopped'));
    saver.waiting.clear();
  });
}

function save(target, change) {
  if (!saver.ready) {
    const done = saveFields(target, change);
    saver.onPage = Promise.all([saver.onPage, done.catch(() => null)]);
    return done;
  }
  saver.next += 1;
  const id = saver.next;
  const done = new Promise((resolve, reject) => saver.waiting.set(id, { resolve, reject }));
  // After any save still running on this thread (the worker became ready during it), in the order asked.
  saver.onPage.then(() => saver.worker.postMessage({ id, user: saver.user, target, change }));
  writeBefore(done);
  return done;
}

/** Write a change (record + outbox in one transaction), then say so. */
export async function commit(target, change, t0 = null) {
  let record;
  timings.inflight += 1;
  try {
    record = await save(target, change);
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

export function applyReadOnly() {
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

// ---- returned for changes ----------------------------------------------------------------------------

/** The comments the audit was returned with, while it waits here for changes (none once resubmitted). */
function returnedComments() {
  const audit = auditRecord();
  if (!audit || audit.status !== 'returned' || audit.submitted_local) return null;
  return audit.review_comments || [];
}

/** Where an item's review comment goes (filled by renderReturned). */
export function itemComment(itemKey) {
  const holder = h('div', { class: 'app-item-review', id: `review-comment-${safe(itemKey)}` });
  fillItemComment(holder, itemKey, returnedComments() || []);
  return holder;
}

function fillItemComment(holder, itemKey, comments) {
  holder.replaceChildren(...comments.filter((c) => c.item_key === itemKey).map((c) => h('div', { class: 'govuk-inset-text' },
    h('strong', { text: 'Reviewer’s comment: ' }), c.body)));
}

/** The "Returned for changes" banner (overall comments, and each item's comment linked to its item), and each
 * item's comment beside it; all gone once the audit is submitted again. */
export function renderReturned() {
  if (!C || !C.el.returned) return;
  const comments = returnedComments();
  for (const holder of document.querySelectorAll('.app-item-review')) {
    fillItemComment(holder, holder.id.replace('review-comment-', ''), []);
  }
  if (!comments) { C.el.returned.replaceChildren(); return; }
  for (const c of comments) {
    const holder = c.item_key && document.getElementById(`review-comment-${safe(c.item_key)}`);
    if (holder) fillItemComment(holder, c.item_key, comments);
  }
  const link = (key) => `#visit=${C.pack.visit_id}&type=${C.audit.audit_type}&item=${key}`;
  const onItems = comments.filter((c) => c.item_key);
  C.el.returned.replaceChildren(h('div', { class: 'govuk-notification-banner', role: 'region', 'aria-labelledby': 'returned-title' },
    h('div', { class: 'govuk-notification-banner__header' },
      h('h2', { class: 'govuk-notification-banner__title', id: 'returned-title', text: 'Returned for changes' })),
    h('div', { class: 'govuk-notification-banner__content' },
      h('p', { class: 'govuk-notification-banner__heading', text: 'A reviewer returned this audit. Make the changes they ask for, then submit it again.' }),
      comments.filter((c) => !c.item_key).map((c) => h('p', { class: 'govuk-body', text: c.body })),
      onItems.length ? h('ul', { class: 'govuk-list govuk-list--bullet' }, onItems.map((c) => h('li', {},
        h('a', { class: 'govuk-notification-banner__link', href: link(c.item_key), text: c.item_key }), `: ${c.body}`))) : null)));
}

// ---- signing in again ---------------------------------------------------------------------------------

const signInNeeded = new Set();

/** Show or hide the "Sign in again to sync" link for one part of the screen (sync, uploads): shown while any needs it.
 * Signing in brings the auditor back to this audit (`next`); the changes wait on the tablet meanwhile. */
export function needSignIn(part, needed) {
  if (needed) signInNeeded.add(part);
  else signInNeeded.delete(part);
  const holder = C && C.el.signIn;
  if (!holder) return;
  if (!holder.firstChild) {
    const next = `${window.location.pathname}${window.location.hash}`;
    holder.append(h('a', { class: 'govuk-link', href: `/sign-in?next=${encodeURIComponent(next)}`, text: 'Sign in again to sync' }),
      ' Your changes stay on this tablet until then.');
  }
  holder.hidden = !signInNeeded.size;
}

// ---- progress -------------------------------------------------------------------------------------

export function updateProgress(itemKey) {
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
