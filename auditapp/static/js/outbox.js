// The outbox: every change is written with the new local record state in ONE IndexedDB transaction,
// then pushed to /sync/push one batch at a time, oldest first (sync/PROTOCOL.md). A mutation leaves the
// outbox only on an explicit per-mutation result; anything else is retried with backoff.
import { KEYED_BY_ITEM, mergeServer, newRecord, recordKey, req, serverKey, storageUsed, tx } from './store.js';

const DROP = new Set(['applied', 'duplicate', 'conflict', 'held']);
const BACKOFF_FIRST = 1000;
const BACKOFF_MAX = 5 * 60 * 1000;
const PULL_LIMIT = 500;
const PUSH_TIMEOUT = 60000;

/** A UUIDv7: 48-bit millisecond timestamp, version 7, variant 10, the rest random. */
export function uuid7() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let ms = Date.now();
  for (let i = 5; i >= 0; i -= 1) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---- status: one listener list, one snapshot -----------------------------------------------------

const listeners = new Set();
export const status = { phase: 'idle', pending: 0, attention: 0, lastSynced: null, message: '', usage: null, changed: [] };

export function onStatus(listener) {
  listeners.add(listener);
  listener(status);
  return () => listeners.delete(listener);
}

function emit(patch) {
  Object.assign(status, { changed: [] }, patch);
  for (const listener of listeners) listener(status);
}

let usageAt = 0;

export async function refreshCounts(patch = {}) {
  const [pending, attention, lastSynced] = await tx(['outbox', 'attention', 'meta'], 'readonly', (s) => Promise.all(
    [req(s.outbox.count()), req(s.attention.count()), req(s.meta.get('last_synced'))]));
  emit({ pending, attention, lastSynced: lastSynced || null, ...patch });
  // The storage estimate is costly for the browser: at most every 10 s.
  if (Date.now() - usageAt > 10000) {
    usageAt = Date.now();
    storageUsed().then((usage) => { if (usage !== status.usage) emit({ usage }); });
  }
  return status;
}

let countsSoon = null;

/** Refresh the counts once a burst of saves is over (keeps the database free for the next save). */
export function refreshCountsSoon(patch = {}, delay = 250) {
  if (countsSoon) clearTimeout(countsSoon);
  countsSoon = setTimeout(() => { countsSoon = null; refreshCounts(patch); }, delay);
}

// ---- writing changes --------------------------------------------------------------------------

export function addEntry(s, mutation, recordKeyValue, coalesce = null) {
  return req(s.outbox.add({ mutation, record_key: recordKeyValue, coalesce, sent: false, at: Date.now() }));
}

/**
 * Queue audit.start before the first change of an audit not yet on the server (same transaction).
 * Requests are issued without waiting: IndexedDB runs them in order and the transaction commits them together.
 */
export function startIfNeeded(s, audit) {
  if (!audit) throw new Error('This audit is not on this device');
  if (audit.on_server || audit.start_queued) return audit;
  addEntry(s, { mutation_id: uuid7(), kind: 'audit.start', entity_id: audit.id, base_version: 0,
                payload: { visit_id: audit.visit_id, audit_type: audit.audit_type,
                           template_version_id: audit.template_version_id } }, audit.key);
  const started = { ...audit, start_queued: true };
  s.records.put(started);
  return started;
}

/**
 * Save a field change: the new local record state and its outbox mutation, in one transaction.
 *   target: {entity, audit_id, item_key?, id?, kind?}  (kind: learner/staff for conversations)
 *   fields: values to send now; draft: values kept on the device until they are complete enough to send
 *   (e.g. N/A with no reason yet); clearDraft: draft fields to forget.
 * Resolves with the stored record once the transaction is complete. The reads go out together, and the
 * writes and the commit go out together once they are back: two round trips to the database in all.
 */
export function saveFields(target, { fields = {}, draft = {}, clearDraft = [], props = {} } = {}) {
  const entity = target.entity;
  const key = KEYED_BY_ITEM.has(entity) ? recordKey(entity, target.audit_id, target.item_key) : recordKey(entity, target.id);
  const sending = Object.keys(fields);
  const kind = `${entity}.set`;
  const coalesce = `${kind}|${key}`;
  return tx(['records', 'outbox'], 'readwrite', async (s, t) => {
    const [audit, existing, queuedList] = await Promise.all([
      sending.length ? req(s.records.get(recordKey('audit', target.audit_id))) : null,
      req(s.records.get(key)),
      sending.length ? req(s.outbox.index('coalesce').getAll(coalesce)) : [],
    ]);
    if (sending.length) startIfNeeded(s, audit);
    const record = existing ? { ...existing, pending: { ...existing.pending }, draft: { ...existing.draft } }
      : newRecord(entity, { key, id: target.id || uuid7(), audit_id: target.audit_id, item_key: target.item_key,
                            kind: target.kind });
    Object.assign(record, props);
    Object.assign(record.draft, draft);
    for (const name of clearDraft) delete record.draft[name];
    if (sending.length) {
      record.fields = { ...record.fields, ...fields };
      for (const name of sending) delete record.draft[name];
      // Merge into a queued mutation for the same record that has never been sent (a sent one is frozen:
      // its id may already be on the server, and the same id with another payload is a mismatch).
      const queued = queuedList.filter((e) => !e.sent).pop();
      if (queued) {
        for (const name of sending) {
          if (!(name in queued.mutation.payload.fields)) record.pending[name] = (record.pending[name] || 0) + 1;
        }
        queued.mutation.payload.fields = { ...queued.mutation.payload.fields, ...fields };
        s.outbox.put(queued);
      } else {
        const payload = entity === 'conversation'
          ? { audit_id: target.audit_id, kind: record.kind, fields }
          : { audit_id: target.audit_id, item_key: record.item_key, fields };
        addEntry(s, { mutation_id: uuid7(), kind, entity_id: record.id, base_version: record.version || 0, payload },
                 key, coalesce);
        for (const name of sending) record.pending[name] = (record.pending[name] || 0) + 1;
      }
    }
    s.records.put(record);
    // Every request is issued: commit now instead of after their replies (one round trip fewer).
    if (t.commit) t.commit();
    return record;
  });
}

/** Queue audit.submit; the audit is read-only on the device from now on. */
export function submitAudit(auditId) {
  return tx(['records', 'outbox'], 'readwrite', async (s) => {
    const audit = startIfNeeded(s, await req(s.records.get(recordKey('audit', auditId))));
    await addEntry(s, { mutation_id: uuid7(), kind: 'audit.submit', entity_id: audit.id, base_version: audit.version || 0,
                        payload: {} }, audit.key);
    const submitted = { ...audit, submitted_local: true };
    await req(s.records.put(submitted));
    return submitted;
  });
}

/** Queue a safeguarding concern (pushed first, in its own push). */
export function raiseConcern(payload) {
  const id = uuid7();
  const key = recordKey('concern', id);
  return tx(['records', 'outbox'], 'readwrite', async (s) => {
    await addEntry(s, { mutation_id: uuid7(), kind: 'concern.raise', entity_id: id, base_version: 0, payload }, key);
    const record = newRecord('concern', { key, id, visit_id: payload.visit_id, status: 'queued',
                                          raised_at: new Date().toISOString() });
    await req(s.records.put(record));
    return record;
  });
}

// ---- export for an admin import ---------------------------------------------------------------

/**
 * Unsynced changes as the file an admin imports at "Import device data" (auditapp/web/sync_import.py):
 * replayed through the same checks with the same ids, so a later sync of the same changes is a duplicate.
 */
export async function exportOutbox(userEmail, mutations = null) {
  const device = await deviceId();
  const list = mutations || (await tx(['outbox'], 'readonly', (s) => req(s.outbox.getAll()))).map((e) => e.mutation);
  return { format: 'auditapp-outbox', device_id: device, user_email: userEmail || '', exported_at: new Date().toISOString(),
           mutations: list };
}

// ---- attention list -------------------------------------------------------------------------

export const attentionList = () => tx(['attention'], 'readonly', (s) => req(s.attention.getAll()));

/** Forget a rejected mutation; the record's fields it touched follow the server again. */
export function discardAttention(seq) {
  return tx(['attention', 'records'], 'readwrite', async (s) => {
    const entry = await req(s.attention.get(seq));
    if (!entry) return;
    await releasePending(s, entry);
    await req(s.attention.delete(seq));
  }).then(() => refreshCounts());
}

async function releasePending(s, entry) {
  const record = await req(s.records.get(entry.record_key));
  const fields = entry.mutation.payload && entry.mutation.payload.fields;
  if (!record || !fields) return record;
  const pending = { ...record.pending };
  for (const name of Object.keys(fields)) {
    pending[name] = Math.max(0, (pending[name] || 0) - 1);
    if (!pending[name]) delete pending[name];
  }
  const updated = { ...record, pending };
  await req(s.records.put(updated));
  return updated;
}

// ---- sync ---------------------------------------------------------------------------------

let running = null;
let again = false;
let backoff = 0;
let timer = null;
let lockName = 'auditapp-sync';

export function configureSync(userId) {
  lockName = `auditapp-sync-${userId}`;
}

/** Sync now (single-flight: a request during a run makes the run go round once more). */
export function requestSync({ reset = false } = {}) {
  if (reset) backoff = 0;
  if (timer) { clearTimeout(timer); timer = null; }
  if (running) { again = true; return running; }
  running = (async () => {
    try {
      do {
        again = false;
        await withLock(cycle);
      } while (again);
    } finally {
      running = null;
    }
  })();
  return running;
}

function withLock(work) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request(lockName, work);
  return work();
}

class SyncFailure extends Error {
  constructor(message, httpStatus = 0) {
    super(message);
    this.httpStatus = httpStatus;
  }
}

async function fetchJSON(url, options = {}) {
  let response;
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), PUSH_TIMEOUT);
  try {
    response = await fetch(url, { credentials: 'same-origin', cache: 'no-store', signal: controller.signal, ...options,
                                  headers: { Accept: 'application/json', ...(options.headers || {}) } });
  } catch (error) {
    throw new SyncFailure('No connection to the server');
  } finally {
    clearTimeout(timeout);
  }
  if (response.status === 401) throw new SyncFailure('Sign in again to sync', 401);
  if (response.status === 403) throw new SyncFailure('The server refused the sync (403)', 403);
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('json')) throw new SyncFailure(`The server answered ${response.status}`, response.status);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const code = body && (body.code || (body.error && body.error.code));
    throw new SyncFailure(`The server answered ${response.status}${code ? ` (${code})` : ''}`, response.status);
  }
  return body;
}

async function deviceId() {
  return tx(['meta'], 'readwrite', async (s) => {
    let id = await req(s.meta.get('device_id'));
    if (!id) {
      id = uuid7();
      await req(s.meta.put(id, 'device_id'));
    }
    return id;
  });
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
  return tx(['outbox', 'attention', 'records'], 'readwrite', async (s) => {
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
        await req(s.attention.put({ ...entry, result, moved_at: Date.now() }));
        if (kind === 'audit.submit') {
          const audit = await req(s.records.get(entry.record_key));
          if (audit) await req(s.records.put({ ...audit, submitted_local: false, submit_problem: result.message || result.code }));
        }
        if (kind === 'audit.start') {
          const audit = await req(s.records.get(entry.record_key));
          if (audit) await req(s.records.put({ ...audit, start_queued: false }));
        }
        changed.push(entry.record_key);
        continue;
      }
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
  return tx(['records', 'meta'], 'readwrite', async (s) => {
    const changed = [];
    for (const change of page.changes) {
      const { entity, data } = change;
      if (!data) continue;
      if (entity === 'audit') {
        const key = recordKey('audit', data.id);
        const audit = await req(s.records.get(key));
        if (audit) {
          // A reviewer returning the audit makes it editable on the device again.
          const reopened = data.status === 'returned' && (data.version || 0) > (audit.version || 0);
          await req(s.records.put({ ...audit, on_server: true, status: data.status,
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
    emit({ phase: 'offline', message: '' });
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
      emit({ phase: 'syncing', pending: status.pending });
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
    await refreshCounts({ phase: status.pending ? 'waiting' : 'synced', message: '', changed });
  } catch (error) {
    backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX) : BACKOFF_FIRST;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; requestSync(); }, backoff);
    await refreshCounts({ phase: navigator.onLine ? 'error' : 'offline', changed,
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
