// The sync loop: the outbox is pushed to /sync/push one batch at a time, oldest first, then the pull feed
// is read (sync/PROTOCOL.md). A mutation leaves the outbox only on an explicit per-mutation result;
// anything else is retried with backoff (1 s doubling to 5 min), on `online`, on start and on "Sync now".
import { KEYED_BY_ITEM, mergeServer, recordKey, req, serverKey, tx } from './store.js';
import { deviceId, releasePending } from './outbox.js';
import { refreshCounts, setStatus, status } from './sync-status.js';
import { applyConflict, applyOutcome, keepHeld, markRejected } from './sync-outcomes.js';

const DROP = new Set(['applied', 'duplicate', 'conflict', 'held']);
const BACKOFF_FIRST = 1000;
const BACKOFF_MAX = 5 * 60 * 1000;
const PULL_LIMIT = 500;
const PUSH_TIMEOUT = 60000;

let backoff = 0;
let timer = null;
let lockName = 'auditapp-sync';
const syncRuns = singleFlight(() => lockName, cycle);

export function configureSync(userId) {
  lockName = `auditapp-sync-${userId}`;
}

/** Sync now (single-flight: a request during a run makes the run go round once more). */
export function requestSync({ reset = false } = {}) {
  if (reset) backoff = 0;
  if (timer) { clearTimeout(timer); timer = null; }
  return syncRuns.start();
}

/**
 * Runs of `work` holding the Web Lock `lockName()`, one at a time: a start during a run makes that run go round
 * once more and gets its promise. `onError` (if given) handles a run's failure inside the run, so every caller's
 * promise settles without rejecting; without it the failure reaches every caller. `current()`: the run, or null.
 */
export function singleFlight(lockName, work, onError = null) {
  let running = null;
  let again = false;
  function start() {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do {
          again = false;
          await withLock(lockName(), work);
        } while (again);
      } catch (error) {
        if (!onError) throw error;
        onError(error);
      } finally {
        running = null;
      }
    })();
    return running;
  }
  return { start, current: () => running };
}

/** Run `work` holding the named Web Lock (one tab of this user at a time), or at once where there are none. */
export function withLock(name, work) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request(name, work);
  return work();
}

/** Why a sync did not go through, in words for the status bar: no connection, the server had a problem (5xx),
 * it refused (4xx, with its message) or the session ended (401: sign in again). */
class SyncFailure extends Error {
  constructor(message, httpStatus = 0) {
    super(message);
    this.httpStatus = httpStatus;
  }
}

function answerFailure(status, body) {
  if (status >= 500) return new SyncFailure('the server had a problem; it will be tried again shortly', status);
  const said = body && (body.message || (body.error && body.error.message) || body.code || (body.error && body.error.code));
  return new SyncFailure(`the server refused the changes: ${said || `it answered ${status}`}; they are tried again shortly`, status);
}

async function fetchJSON(url, options = {}) {
  let response;
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), PUSH_TIMEOUT);
  try {
    response = await fetch(url, { credentials: 'same-origin', cache: 'no-store', signal: controller.signal, ...options,
                                  headers: { Accept: 'application/json', ...(options.headers || {}) } });
  } catch (error) {
    throw new SyncFailure('the server cannot be reached; trying again shortly');
  } finally {
    clearTimeout(timeout);
  }
  if (response.status === 401) throw new SyncFailure('sign in again to sync', 401);
  const type = response.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) throw answerFailure(response.status, body);
  if (!body) throw answerFailure(500, null); // a 200 that is not our JSON (a proxy's page): the server side's problem
  return body;
}

/** The next batch: queued concerns alone first, else the oldest mutations. Marks them sent (frozen). */
function nextBatch(limit) {
  return tx(['outbox'], 'readwrite', async (s) => {
    const entries = [];
    const concerns = [];
    await new Promise((resolve, reject) => {
      const cursor = s.outbox.openCursor();
      cursor.onerror = () => reject(cursor.error);
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) { resolve(); return; }
        if (c.value.mutation.kind === 'concern.raise') concerns.push(c.value);
        else if (entries.length < limit) entries.push(c.value);
        if (concerns.length >= limit) { resolve(); return; }
        c.continue();
      };
    });
    const batch = concerns.length ? concerns.slice(0, limit) : entries;
    for (const entry of batch) {
      if (!entry.sent) {
        entry.sent = true;
        await req(s.outbox.put(entry));
      }
    }
    return batch;
  });
}

function versionOf(result) {
  if (result.version != null) return result.version;
  return result.original && result.original.version != null ? result.original.version : null;
}

/** Apply a push's results: drop on an explicit result, move rejections to "needs attention". One transaction. */
function settle(batch, results) {
  const byId = new Map((results || []).map((r) => [r && r.mutation_id, r]));
  return tx(['outbox', 'attention', 'records', 'meta'], 'readwrite', async (s) => {
    const changed = [];
    let settled = 0;
    for (const entry of batch) {
      const result = byId.get(entry.mutation.mutation_id);
      if (!result) continue; // no explicit answer: keep it and retry
      const effective = result.status === 'duplicate' && result.original ? result.original.status : result.status;
      const { kind } = entry.mutation;
      const rejected = effective === 'rejected';
      if (!rejected && !DROP.has(result.status)) continue; // not an explicit result: keep it and retry
      settled += 1;
      await req(s.outbox.delete(entry.seq));
      if (rejected) {
        // A refused change never holds up the rest: it waits under "needs attention" and the batch goes on.
        const key = await markRejected(s, entry, result);
        if (key) changed.push(key);
        continue;
      }
      if (effective === 'held') await keepHeld(s, entry); // its final outcome comes in the pull feed
      let record = await releasePending(s, entry);
      if (!record) record = await req(s.records.get(entry.record_key));
      if (!record) continue;
      const version = versionOf(result);
      const updated = { ...record };
      if (version != null && version > (updated.version || 0)) updated.version = version;
      if (kind === 'audit.start') updated.on_server = true;
      if (kind === 'audit.submit' && effective !== 'held') updated.status = 'submitted';
      if (kind === 'concern.raise') updated.status = 'sent';
      const entityId = result.entity_id || (result.original && result.original.entity_id);
      if (entityId && KEYED_BY_ITEM.has(record.entity)) updated.id = entityId;
      const conflicts = result.conflicts || (result.original && result.original.conflicts);
      if (effective === 'conflict' && conflicts) updated.conflicts = [...new Set([...(updated.conflicts || []), ...conflicts])];
      await req(s.records.put(updated));
      changed.push(entry.record_key);
    }
    return { settled, changed };
  });
}

// Pulled entities other modules keep (evidence): entity -> (stores, data) => the changed record's key or null.
const pullHandlers = new Map();
export const handlePull = (entity, handler) => pullHandlers.set(entity, handler);

/** Apply one page of the pull feed to records of audits this device holds; never overwrite pending fields. */
function applyPull(page) {
  return tx(['records', 'meta', 'attention'], 'readwrite', async (s) => {
    const changed = [];
    for (const change of page.changes || []) {
      const { entity, data } = change || {};
      if (!data || typeof data !== 'object') continue;
      if (entity === 'mutation' || entity === 'conflict') {
        const key = await (entity === 'mutation' ? applyOutcome(s, data) : applyConflict(s, data));
        if (key) changed.push(key);
        continue;
      }
      if (entity === 'audit') {
        const key = recordKey('audit', data.id);
        const audit = await req(s.records.get(key));
        if (audit) {
          // A reviewer returning the audit makes it editable on the device again.
          const reopened = data.status === 'returned' && (data.version || 0) > (audit.version || 0);
          await req(s.records.put({ ...audit, on_server: true, status: data.status,
                                    review_comments: data.review_comments || [],
                                    submitted_local: reopened ? false : audit.submitted_local,
                                    version: Math.max(audit.version || 0, data.version || 0) }));
          changed.push(key);
        }
        continue;
      }
      const handler = pullHandlers.get(entity);
      if (handler) { const key = await handler(s, data); if (key) changed.push(key); continue; }
      if (!['answer', 'policy_check', 'conversation', 'action'].includes(entity)) continue;
      if (!(await req(s.records.get(recordKey('audit', data.audit_id))))) continue; // not an audit on this device
      const key = serverKey(entity, data);
      const local = await req(s.records.get(key));
      if (change.op === 'delete') {
        if (local && !Object.keys(local.pending || {}).length) await req(s.records.delete(key));
      } else {
        await req(s.records.put(mergeServer(local, entity, data)));
      }
      changed.push(key);
    }
    await req(s.meta.put(page.next_cursor, 'cursor'));
    return changed;
  });
}

async function pullAll() {
  const changed = [];
  for (let round = 0; round < 100; round += 1) {
    const cursor = (await tx(['meta'], 'readonly', (s) => req(s.meta.get('cursor')))) || 0;
    const page = await fetchJSON(`/sync/pull?cursor=${encodeURIComponent(cursor)}&limit=${PULL_LIMIT}`);
    changed.push(...(await applyPull(page)));
    if (!page.more) break;
  }
  return changed;
}

async function cycle() {
  await refreshCounts();
  if (!navigator.onLine) {
    setStatus({ phase: 'offline', message: '' });
    return;
  }
  const changed = [];
  try {
    const config = await fetchJSON('/sync/config');
    let limit = Math.max(1, Math.min(config.max_batch || 100, 500));
    const device = await deviceId();
    for (;;) {
      const batch = await nextBatch(limit);
      if (!batch.length) break;
      setStatus({ phase: 'syncing', pending: status.pending });
      let body;
      try {
        body = await fetchJSON('/sync/push', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRFToken': config.csrf_token },
          body: JSON.stringify({ device_id: device, mutations: batch.map((e) => e.mutation) }),
        });
      } catch (error) {
        if (error.httpStatus === 413 && limit > 1) { limit = Math.max(1, Math.floor(batch.length / 2)); continue; }
        throw error;
      }
      const { settled, changed: keys } = await settle(batch, body.results);
      changed.push(...keys);
      await refreshCounts({ phase: 'syncing' });
      if (settled < batch.length) throw new SyncFailure('The server did not answer for every change');
    }
    changed.push(...(await pullAll()));
    const now = new Date().toISOString();
    await tx(['meta'], 'readwrite', (s) => req(s.meta.put(now, 'last_synced')));
    backoff = 0;
    await refreshCounts({ phase: status.pending ? 'waiting' : 'synced', message: '', signIn: false, changed });
  } catch (error) {
    backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX) : BACKOFF_FIRST;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; requestSync(); }, backoff);
    await refreshCounts({ phase: navigator.onLine ? 'error' : 'offline', changed, signIn: error.httpStatus === 401,
                          message: error instanceof SyncFailure ? error.message : String(error && error.message || error) });
  }
}

let started = false;

/** Start the sync loop: now, on `online`, and whenever the page comes back to the foreground. */
export function startSync() {
  if (started) return;
  started = true;
  window.addEventListener('online', () => requestSync({ reset: true }));
  window.addEventListener('offline', () => refreshCounts({ phase: 'offline' }));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && status.pending) requestSync();
  });
  requestSync({ reset: true });
}

let soon = null;

/** Sync shortly after a burst of changes (one push for a run of quick edits). */
export function syncSoon(delay = 800) {
  if (!navigator.onLine || timer) return; // offline, or a retry with backoff is already due
  if (soon) clearTimeout(soon);
  soon = setTimeout(() => { soon = null; requestSync(); }, delay);
}
