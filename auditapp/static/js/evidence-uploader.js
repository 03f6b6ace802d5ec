// The evidence uploader (sync/PROTOCOL.md "Evidence"): one file at a time, oldest first, and only for audits
// whose other changes have all synced (the server must know the file before it takes the bytes).
//   POST /evidence/<id>/upload-target -> PUT the bytes (XMLHttpRequest, for upload progress) -> POST confirm.
// Everything it needs is in IndexedDB, so it resumes after a reload or a restart. It runs on start, on
// `online`, on "Sync now" and after every successful sync; when the file store is unreachable it backs off
// like sync (1 s doubling to 5 min) while answers keep syncing. The local bytes go only after `verified`.
import { get } from './store.js';
import { singleFlight } from './sync-loop.js';
import { channel, onStatus } from './sync-status.js';
import { blobOf, updateEvidence, uploadQueue } from './evidence-store.js';

const BACKOFF_FIRST = 1000;
const BACKOFF_MAX = 5 * 60 * 1000;
const STALL_MS = 30000;   // abort a PUT that makes no progress for this long
const TRIES = 3;          // targets per file per run before backing off
const RETRY_CONFIRM = new Set(['evidence.not_uploaded', 'evidence.checksum_mismatch', 'evidence.size_mismatch',
  'evidence.target_expired']);
const UNSAFE_HEADERS = new Set(['content-length', 'host', 'connection']);

// ---- status --------------------------------------------------------------------------------------

/** phase: idle | offline | blocked (answers first) | uploading | unreachable | server_error | registering | signin | done */
const channelOfUploads = channel({ phase: 'idle', waiting: 0, rejected: 0, current: null, message: '', retryAt: null, changed: [] });
export const uploads = channelOfUploads.state;
export const onUploads = channelOfUploads.on;
const emit = channelOfUploads.emit;

// ---- the loop -------------------------------------------------------------------------------------

let backoff = 0;
let timer = null;
let timerReason = null; // 'unreachable' (only "Sync now", `online` or a reset ends it) or 'registering'
let lockName = 'auditapp-evidence';
const uploadRuns = singleFlight(() => lockName, run, (error) => {
  emit({ phase: 'unreachable', store: true, current: null, message: String((error && error.message) || error),
         retryAt: retryLater('unreachable') });
});

export function configureUploads(userId) {
  lockName = `auditapp-evidence-${userId}`;
}

/**
 * Upload now (single-flight; a request during a run makes it go round once more). `reset` ends a backoff;
 * without it, a wait for an unreachable file store is kept (a wait for a registration to sync is not).
 */
export function requestUploads({ reset = false } = {}) {
  if (reset) backoff = 0;
  else if (timer && timerReason === 'unreachable') return uploadRuns.current();
  if (timer) { clearTimeout(timer); timer = null; }
  return uploadRuns.start();
}

function retryLater(reason) {
  backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX) : BACKOFF_FIRST;
  if (timer) clearTimeout(timer);
  timerReason = reason;
  timer = setTimeout(() => { timer = null; requestUploads(); }, backoff);
  return Date.now() + backoff;
}

/** The file store (or, with `store` false, the app itself) did not answer: back off and try again. */
class Unreachable extends Error {
  constructor(message, store = true) {
    super(message);
    this.store = store;
  }
}
class SignIn extends Error {}
/** The app answered but had a problem (5xx): back off and try again, saying so (it is not out of reach). */
class ServerProblem extends Error {}
const CSRF_FAILED = 'request.csrf_failed'; // the session's token changed: a new run fetches the new one

async function run() {
  const queue = await uploadQueue();
  const changed = await tidy(queue);
  const expected = queue.records.filter((r) => r.status === 'expected');
  const rejected = queue.records.filter((r) => r.status === 'rejected').length;
  const ready = expected.filter((r) => !queue.busyAudits.has(r.audit_id));
  const base = { waiting: expected.length, rejected, current: null, changed };
  if (!expected.length) { backoff = 0; emit({ ...base, phase: 'done', message: '' }); return; }
  if (!navigator.onLine) { emit({ ...base, phase: 'offline', message: '' }); return; }
  if (!ready.length) { emit({ ...base, phase: 'blocked', message: '' }); return; }
  let csrf;
  try {
    csrf = await csrfToken();
    let waitingForServer = 0;
    await uploadAll(ready, csrf, (outcome) => {
      if (outcome === 'wait') waitingForServer += 1;
      else { backoff = 0; base.waiting -= 1; emit({ waiting: base.waiting }); }
    });
    const left = await uploadQueue();
    const stillExpected = left.records.filter((r) => r.status === 'expected').length;
    const patch = { waiting: stillExpected, rejected: left.records.filter((r) => r.status === 'rejected').length, current: null };
    if (waitingForServer) emit({ ...patch, phase: 'registering', message: '', retryAt: retryLater('registering') });
    else emit({ ...patch, phase: stillExpected ? (left.records.some((r) => r.status === 'expected' && left.busyAudits.has(r.audit_id)) ? 'blocked' : 'idle') : 'done', message: '' });
  } catch (error) {
    if (error instanceof SignIn) { emit({ ...base, phase: 'signin', current: null, message: error.message }); return; }
    const offline = !navigator.onLine;
    const left = await uploadQueue();
    emit({ ...base, waiting: left.records.filter((r) => r.status === 'expected').length, current: null,
           rejected: left.records.filter((r) => r.status === 'rejected').length,
           phase: offline ? 'offline' : error instanceof ServerProblem ? 'server_error' : 'unreachable',
           store: !(error instanceof Unreachable) || error.store,
           message: offline ? '' : error.message, retryAt: offline ? null : retryLater('unreachable') });
  }
}

/** Housekeeping from what sync learned: refused registrations, synced withdrawals, bytes already verified. */
async function tidy({ records, unsynced, refused }) {
  const changed = [];
  for (const record of records) {
    let updated = null;
    const refusedRegister = refused.get(`${record.id}|evidence.register`);
    const refusedWithdraw = refused.get(`${record.id}|evidence.withdraw`);
    if (record.status === 'withdrawn' && refusedWithdraw) {
      updated = await updateEvidence(record.id, { status: record.before_withdraw || 'expected', withdraw_reason: null,
                                                  problem: { code: refusedWithdraw.code, message: `Not removed: ${refusedWithdraw.message || refusedWithdraw.code}` } });
    } else if (record.status === 'withdrawn' && !unsynced.has(record.id)) {
      updated = await updateEvidence(record.id, {}, { dropBlob: true });
    } else if (record.status === 'verified') {
      updated = await updateEvidence(record.id, {}, { dropBlob: true });
    } else if (record.status === 'expected' && refusedRegister) {
      updated = await updateEvidence(record.id, { status: 'rejected', problem: { code: refusedRegister.code,
                                                                                 message: refusedRegister.message || refusedRegister.code } });
    }
    if (updated) {
      Object.assign(record, updated);
      changed.push(record.key);
    }
  }
  return changed;
}

async function csrfToken() {
  const response = await request('GET', '/sync/config');
  if (!response.ok || !response.body || !response.body.csrf_token) throw new Unreachable('The server cannot be reached', false);
  return response.body.csrf_token;
}

/** A JSON request to the app: {ok, status, body}; a network failure is Unreachable, 401 is SignIn. */
async function request(method, url, csrf = null) {
  let response;
  try {
    response = await fetch(url, { method, credentials: 'same-origin', cache: 'no-store',
      headers: { Accept: 'application/json', ...(csrf ? { 'Content-Type': 'application/json', 'X-CSRFToken': csrf } : {}) },
      body: method === 'POST' ? '{}' : undefined });
  } catch (_) {
    throw new Unreachable('The server cannot be reached', false);
  }
  if (response.status === 401) throw new SignIn('Sign in again to upload evidence');
  const body = await response.json().catch(() => null);
  if (response.status === 503) throw new Unreachable('The file store cannot be reached');
  if (response.status >= 500) throw new ServerProblem(`The server had a problem (${response.status})`);
  const code = body && body.code;
  if (code === CSRF_FAILED) throw new ServerProblem('The server did not accept this page’s security token');
  return { ok: response.ok, status: response.status, code, body };
}

/** A 4xx answer about one file that asking again will not change: the file is refused, with the server's words. */
async function refuse(record, answer) {
  const message = (answer.body && answer.body.message) || answer.code || `it answered ${answer.status}`;
  await settle(record, { status: 'rejected', problem: { code: answer.code || String(answer.status),
                                                        message: `The server refused this file: ${message}` } });
}

/** Settles to {value} or {error}: a step running beside another must never become an unhandled rejection. */
const settled = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));
const unwrap = ({ value, error }) => { if (error) throw error; return value; };

/**
 * Every ready file, in order, one PUT at a time. While file n's bytes go up, file n-1 is confirmed and file n+1's
 * target is fetched: the two small requests to the app no longer wait in line behind the upload. A file whose
 * bytes were refused or did not arrive whole goes through uploadOne (with its retries) once the line is done.
 * `onOutcome` hears 'done' or 'wait' once per file.
 */
async function uploadAll(ready, csrf, onOutcome) {
  let next = settled(prepare(ready[0], csrf));
  let confirming = null;
  const again = [];
  const confirmed = async () => {
    if (!confirming) return;
    const { record, index, result } = confirming;
    confirming = null;
    const outcome = unwrap(await result);
    if (outcome === 'again') again.push([record, index]);
    else onOutcome(outcome);
  };
  try {
    for (let index = 0; index < ready.length; index += 1) {
      const record = ready[index];
      const prepared = unwrap(await next);
      next = index + 1 < ready.length ? settled(prepare(ready[index + 1], csrf)) : null;
      if (prepared.outcome) { onOutcome(prepared.outcome); continue; }
      const sent = await send(record, prepared, csrf, index + 1, ready.length);
      await confirmed();
      if (sent) confirming = { record, index, result: settled(confirm(record, csrf)) };
      else again.push([record, index]);
    }
    await confirmed();
  } finally {
    // On a failure, let the steps still in flight end first: each writes its own file's outcome.
    await Promise.all([next, confirming && confirming.result]);
  }
  for (const [record, index] of again) onOutcome(await uploadOne(record, csrf, index + 1, ready.length));
}

/** One file through target -> PUT -> confirm, with retries; 'done' or 'wait' (the server does not know it yet). */
async function uploadOne(record, csrf, index, count) {
  for (let attempt = 1; attempt <= TRIES; attempt += 1) {
    const prepared = await prepare(record, csrf);
    if (prepared.outcome) return prepared.outcome;
    if (!(await send(record, prepared, csrf, index, count))) continue; // refused (an expired or spoilt target): ask again
    const outcome = await confirm(record, csrf);
    if (outcome !== 'again') return outcome;
  }
  throw new Unreachable('The file did not arrive whole');
}

const evidenceUrl = (record) => `/evidence/${encodeURIComponent(record.id)}`;

/** Write a file's outcome to IndexedDB and tell the screen. */
async function settle(record, patch, dropBlob = false) {
  const updated = await updateEvidence(record.id, patch, { dropBlob, keepWithdrawn: true });
  emit({ changed: [record.key] });
  return updated;
}

/** An upload target and the bytes for it ({target, blob}), or {outcome} when there is nothing to send. */
async function prepare(record, csrf) {
  const now = await get('records', record.key);
  if (!now || now.status !== 'expected') return { outcome: 'done' }; // removed (or settled by a sync) since the run began
  const target = await request('POST', `${evidenceUrl(record)}/upload-target`, csrf);
  if (target.status === 404) return { outcome: 'wait' };
  if (await settledByServer(record, target.code)) return { outcome: 'done' };
  if (target.code === 'evidence.rejected') {
    await settle(record, { status: 'rejected', problem: { code: target.code, message: (target.body && target.body.message) || target.code } });
    return { outcome: 'done' };
  }
  if (!target.ok) { // a refusal (403 not the user's audit, 409 finalised, …): never asked for again
    await refuse(record, target);
    return { outcome: 'done' };
  }
  const blob = await blobOf(record.id);
  return blob ? { target: target.body, blob } : { outcome: 'done' };
}

/** Answers meaning the file needs nothing more from this device (written down); false for any other. */
async function settledByServer(record, code) {
  if (code === 'evidence.already_verified') await settle(record, { status: 'verified', problem: null }, true);
  else if (code === 'evidence.withdrawn') await settle(record, { status: 'withdrawn' }, true);
  else return false;
  return true;
}

/** PUT the bytes with progress: true when the store took them, false when it refused the target. */
async function send(record, { target, blob }, csrf, index, count) {
  const progress = (loaded, total) => emit({ phase: 'uploading', message: '', current: { id: record.id, filename: record.filename, index, count, loaded, total } });
  progress(0, record.size_bytes);
  const put = await putBytes(target, blob, csrf, progress);
  if (put.status === 0) throw new Unreachable('The file store cannot be reached');
  if (put.status >= 500) throw new Unreachable(`The file store answered ${put.status}`);
  return put.ok;
}

/** Ask the server to check what arrived: 'done' (verified, rejected or settled), 'wait', or 'again' (PUT again). */
async function confirm(record, csrf) {
  const answer = await request('POST', `${evidenceUrl(record)}/confirm`, csrf);
  if (answer.status === 404) return 'wait';
  const status = answer.ok && answer.body ? answer.body.status : null;
  if (status === 'verified') {
    await settle(record, { status: 'verified', problem: null, verified_at: new Date().toISOString() }, true);
    return 'done';
  }
  if (status === 'rejected') {
    await settle(record, { status: 'rejected', problem: { code: answer.body.code, message: answer.body.message || answer.body.code } });
    return 'done';
  }
  if (await settledByServer(record, answer.code)) return 'done';
  if (RETRY_CONFIRM.has(answer.code)) return 'again';
  if (answer.status >= 400 && answer.status < 500) { await refuse(record, answer); return 'done'; }
  throw new ServerProblem(`The server answered ${answer.status}${answer.code ? ` (${answer.code})` : ''}`);
}

/** PUT the bytes with exactly the target's headers; resolves {ok, status} (status 0: no connection). */
function putBytes(target, blob, csrf, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const url = new URL(target.url, window.location.href);
    xhr.open(target.method || 'PUT', url.href);
    const names = Object.keys(target.headers || {}).map((n) => n.toLowerCase());
    for (const [name, value] of Object.entries(target.headers || {})) {
      if (!UNSAFE_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    // The app's own upload route (local store) is a same-origin write: it takes the CSRF header like any other.
    if (url.origin === window.location.origin && !names.includes('x-csrftoken')) xhr.setRequestHeader('X-CSRFToken', csrf);
    let stall = null;
    const arm = () => { clearTimeout(stall); stall = setTimeout(() => xhr.abort(), STALL_MS); };
    const finish = (result) => { clearTimeout(stall); resolve(result); };
    xhr.upload.onprogress = (event) => { arm(); onProgress(event.loaded, event.lengthComputable ? event.total : blob.size); };
    xhr.onload = () => finish({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status });
    xhr.onerror = () => finish({ ok: false, status: 0 });
    xhr.onabort = () => finish({ ok: false, status: 0 });
    arm();
    xhr.send(blob);
  });
}

// ---- triggers -------------------------------------------------------------------------------------

let started = false;

/** Start uploading: now, on `online`, on "Sync now", when the page is back in front and after each good sync. */
export function startUploads() {
  if (started) return;
  started = true;
  window.addEventListener('online', () => requestUploads({ reset: true }));
  window.addEventListener('offline', () => { if (uploads.waiting) emit({ phase: 'offline', current: null, message: '' }); });
  document.addEventListener('click', (event) => {
    if (event.target instanceof Element && event.target.closest('#sync-now')) requestUploads({ reset: true });
  });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') requestUploads(); });
  let lastSynced = null;
  onStatus((s) => {
    // A new "last synced" time means a push and pull went through: the audits' changes may all be in now.
    if (s.lastSynced && s.lastSynced !== lastSynced) {
      lastSynced = s.lastSynced;
      requestUploads();
    }
  });
  requestUploads({ reset: true });
}

