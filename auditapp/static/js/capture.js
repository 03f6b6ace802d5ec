// Offline-first capture. On "My visits" and a visit page it adds "Make available offline" (pack into
// IndexedDB, service worker registered); on /capture/#visit=ID&type=TYPE it renders the audit from
// IndexedDB only and turns every change into a mutation (outbox.js). No framework, no build, no inline
// script or style (the CSP allows neither).
// This entry module detects the page: the capture screen is capture-screen.js; the visits pages get the
// offline controls below. It also warns before signing out with changes still on this device only.
import { count, getAll, savePack, useDatabase } from './store.js';
import { configureSync, startSync } from './sync-loop.js';
import { onStatus, status as syncStatus } from './sync-status.js';
import { h, hhmm, persist } from './capture-dom.js';
import { startCapture } from './capture-screen.js';
import { configureUploads, startUploads, uploads } from './evidence-uploader.js';

// ---- boot -------------------------------------------------------------------------------------

function boot() {
  const userHolder = document.querySelector('[data-user]');
  if (!userHolder || !window.indexedDB) return;
  const user = userHolder.dataset.user;
  useDatabase(user);
  configureSync(user);
  configureUploads(user);
  guardSignOut();
  const root = document.getElementById('capture-root');
  if (root) startCapture(root);
  else enhanceVisitPages();
}

/** Warn before signing out while changes are still on this device only: a notice in the page with
 * "Sign out anyway" and "Stay signed in" (never the browser's own dialog). */
function guardSignOut() {
  const message = (n, files = uploads.waiting) => [
    n ? `${n} ${n === 1 ? 'change has' : 'changes have'} not been sent to the server yet.` : '',
    files ? `${files} evidence ${files === 1 ? 'file has' : 'files have'} not been uploaded yet.` : '',
    'They stay on this tablet, but nobody else can see them until you sign in again and sync.',
  ].filter(Boolean).join(' ');
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches('form[action$="/sign-out"]') || form.dataset.confirmed) return;
    event.preventDefault();
    // The count the status bar shows is current (refreshed on start, after saves and after syncs); when it shows
    // nothing, a save a moment ago may not be counted yet: read the outbox.
    const known = syncStatus.pending > 0 || uploads.waiting > 0
      ? Promise.resolve(syncStatus.pending) : count('outbox').then((n) => n, () => 0);
    known.then((n) => {
      if (n === 0 && !uploads.waiting) signOut(form);
      else warnBeforeSignOut(form, message(n));
    });
  }, true);
}

function signOut(form) {
  form.dataset.confirmed = '1';
  form.submit();
}

function warnBeforeSignOut(form, text) {
  document.getElementById('sign-out-warning')?.remove();
  const banner = h('div', { class: 'govuk-notification-banner', role: 'region', id: 'sign-out-warning', tabindex: '-1',
                            'aria-labelledby': 'sign-out-warning-title' },
    h('div', { class: 'govuk-notification-banner__header' },
      h('h2', { class: 'govuk-notification-banner__title', id: 'sign-out-warning-title', text: 'Important' })),
    h('div', { class: 'govuk-notification-banner__content' },
      h('p', { class: 'govuk-notification-banner__heading', text: 'Changes on this tablet have not been sent' }),
      h('p', { class: 'govuk-body', text }),
      h('div', { class: 'govuk-button-group' },
        h('button', { type: 'button', class: 'govuk-button govuk-button--warning', onclick: () => signOut(form) }, 'Sign out anyway'),
        h('button', { type: 'button', class: 'govuk-button govuk-button--secondary',
                      onclick: () => { banner.remove(); form.querySelector('button')?.focus(); } }, 'Stay signed in'))));
  (document.getElementById('main-content') || document.body).prepend(banner);
  banner.scrollIntoView({ block: 'start' });
  banner.focus({ preventScroll: true });
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
    button.dataset.offlineBound = 'true'; // a press before this does nothing: tests wait for it
  }
  const pending = await count('outbox').catch(() => 0);
  const notice = document.getElementById('offline-pending');
  if (pending && notice) {
    notice.hidden = false;
    notice.textContent = `${pending} ${pending === 1 ? 'change' : 'changes'} on this device ${pending === 1 ? 'is' : 'are'} waiting to be sent. They are sent automatically when there is signal.`;
  }
  if (pending) startSync();
  startUploads(); // evidence still on this device uploads from any page that loads this module
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
  if (!button) return;
  if (button.firstChild && button.firstChild.nodeType === Node.TEXT_NODE) button.firstChild.textContent = 'Update offline copy';
  // A button in a table is named in one hidden run, with the words it shows beside it (_macros.html `named`).
  const shown = button.querySelector('[data-shown]');
  const name = button.querySelector('.govuk-visually-hidden');
  if (shown) shown.textContent = 'Update offline copy';
  if (name) name.textContent = name.textContent.replace(/^Make available offline/, 'Update offline copy');
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

boot();
