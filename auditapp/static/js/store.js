// IndexedDB for offline capture: one database per signed-in user (a device id belongs to one user).
//   packs     visit packs, keyed by visit id
//   records   local state of every audit, answer, policy check, conversation, action and concern, keyed by
//             "entity|audit|item" (answers, policy checks) or "entity|id"; each carries the server version the
//             device last knew (base version), the fields, `pending` (field -> outbox entries touching it) and
//             `draft` (values typed but not yet complete enough to send)
//   outbox    mutations waiting for the server, auto-increment: oldest first
//   attention mutations the server rejected, kept for the user to export or discard
//   meta      device id, pull cursor, last sync time
//   blobs     evidence bytes waiting for upload, keyed by evidence id (since version 2; the evidence's metadata
//             is a record "evidence|id" so it renders, syncs and refreshes like every other record)
// The browser may close the database at any time (iOS does under memory pressure): the next call reopens it.

const VERSION = 2;
let dbName = null;
let opening = null;

export function useDatabase(userId) {
  const name = `auditapp-${userId}`;
  if (name !== dbName) {
    dbName = name;
    opening = null;
  }
  return name;
}

function open() {
  if (!dbName) throw new Error('store: useDatabase() first');
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(dbName, VERSION);
      // Each step upgrades from the version before it, so a device on any older version keeps its data.
      request.onupgradeneeded = (event) => {
        const db = request.result;
        if (event.oldVersion < 1) {
          db.createObjectStore('packs', { keyPath: 'visit_id' });
          db.createObjectStore('records', { keyPath: 'key' }).createIndex('audit', 'audit_id');
          db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true }).createIndex('coalesce', 'coalesce');
          db.createObjectStore('attention', { keyPath: 'seq' });
          db.createObjectStore('meta');
        }
        if (event.oldVersion < 2) db.createObjectStore('blobs', { keyPath: 'id' });
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onclose = () => { opening = null; };
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
      request.onblocked = () => { opening = null; reject(new Error('The offline store is open in an older tab: close it and try again')); };
    });
  }
  return opening;
}

/** Promise for one IDBRequest. */
export function req(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// Changes the capture screen hands to its save worker (capture-context.js) are written there, on a connection of
// their own. A transaction opened here waits for those already handed over, so transactions keep the order they
// were asked for in, as on one connection: no write overtakes a change made before it (an audit.submit queued
// ahead of the answer typed just before it) and every read sees the changes made before it.
let handedOver = Promise.resolve();

/** A write done elsewhere for this page: transactions opened from now on start after it settles. */
export function writeBefore(done) {
  handedOver = Promise.all([handedOver, done.catch(() => null)]);
}

/**
 * Run `work(stores)` in ONE transaction; resolves with its result only after the transaction's
 * `complete` (so "saved" means saved). `work` may await requests on the given stores only.
 */
export async function tx(names, mode, work) {
  await handedOver;
  for (let attempt = 0; ; attempt += 1) {
    const db = await open();
    let t;
    try {
      t = db.transaction(names, mode);
    } catch (error) {
      // The browser closed the connection under us: reopen once.
      if (attempt === 0 && error.name === 'InvalidStateError') { opening = null; continue; }
      throw error;
    }
    return new Promise((resolve, reject) => {
      let result;
      let failed = null;
      t.oncomplete = () => (failed ? reject(failed) : resolve(result));
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(failed || t.error || new DOMException('Transaction aborted', 'AbortError'));
      const stores = {};
      for (const name of names) stores[name] = t.objectStore(name);
      Promise.resolve().then(() => work(stores, t)).then((value) => { result = value; }, (error) => {
        failed = error;
        try { t.abort(); } catch (_) { /* already finished */ }
      });
    });
  }
}

export const get = (store, key) => tx([store], 'readonly', (s) => req(s[store].get(key)));
export const getAll = (store) => tx([store], 'readonly', (s) => req(s[store].getAll()));
export const count = (store) => tx([store], 'readonly', (s) => req(s[store].count()));
export const put = (store, value, key) => tx([store], 'readwrite', (s) => req(key === undefined ? s[store].put(value) : s[store].put(value, key)));
export const del = (store, key) => tx([store], 'readwrite', (s) => req(s[store].delete(key)));
export const recordsOfAudit = (auditId) => tx(['records'], 'readonly', (s) => req(s.records.index('audit').getAll(auditId)));

// ---- record keys and merging server state ------------------------------------------------------

export const KEYED_BY_ITEM = new Set(['answer', 'policy_check']);

export function recordKey(entity, auditIdOrId, itemKey) {
  return KEYED_BY_ITEM.has(entity) ? `${entity}|${auditIdOrId}|${itemKey}` : `${entity}|${auditIdOrId}`;
}

export function serverKey(entity, data) {
  return KEYED_BY_ITEM.has(entity) ? recordKey(entity, data.audit_id, data.item_key) : recordKey(entity, data.id);
}

export function newRecord(entity, props) {
  return { entity, version: 0, fields: {}, pending: {}, draft: {}, conflicts: [], ...props };
}

/** Server state into a local record: every field with no pending outbox mutation takes the server's value. */
export function mergeServer(local, entity, data) {
  const key = serverKey(entity, data);
  if (!local) {
    return newRecord(entity, { key, id: data.id, audit_id: data.audit_id, item_key: data.item_key, kind: data.kind,
                               reference: data.reference, status: data.status, version: data.version || 0,
                               fields: { ...(data.fields || {}) } });
  }
  const fields = { ...local.fields };
  for (const [name, value] of Object.entries(data.fields || {})) {
    if (!(local.pending && local.pending[name] > 0)) fields[name] = value;
  }
  return { ...local, id: data.id || local.id, fields, version: Math.max(local.version || 0, data.version || 0),
           reference: data.reference || local.reference, status: data.status || local.status,
           kind: data.kind || local.kind };
}

export function auditRecord(local, audit, visitId) {
  const key = recordKey('audit', audit.audit_id);
  const base = local || newRecord('audit', { key, id: audit.audit_id, audit_id: audit.audit_id, start_queued: false,
                                             submitted_local: false });
  const reopened = audit.status === 'returned' && (audit.version || 0) > (base.version || 0);
  return { ...base, visit_id: visitId, audit_type: audit.audit_type, template_version_id: audit.template_version_id,
           on_server: Boolean(base.on_server || audit.on_server), status: audit.status,
           review_comments: audit.review_comments || [], // what a reviewer returned it with (PROTOCOL.md "Pull")
           submitted_local: reopened ? false : Boolean(base.submitted_local),
           version: Math.max(base.version || 0, audit.version || 0) };
}

const PACK_LISTS = { answers: 'answer', policy_checks: 'policy_check', conversations: 'conversation', actions: 'action' };

/**
 * Store a downloaded visit pack. A newer pack never overwrites local unsynced answers: server records
 * go in, but fields with pending outbox mutations keep their local values. One transaction.
 */
export function savePack(pack) {
  return tx(['packs', 'records', 'meta'], 'readwrite', async (s) => {
    const stored = { visit_id: pack.visit.id, ...pack };
    for (const list of Object.keys(PACK_LISTS)) delete stored[list];
    await req(s.packs.put(stored));
    for (const audit of pack.audits) {
      const key = recordKey('audit', audit.audit_id);
      await req(s.records.put(auditRecord(await req(s.records.get(key)), audit, pack.visit.id)));
    }
    for (const [list, entity] of Object.entries(PACK_LISTS)) {
      for (const data of pack[list] || []) {
        const key = serverKey(entity, data);
        await req(s.records.put(mergeServer(await req(s.records.get(key)), entity, data)));
      }
    }
    // Pull from the oldest point any stored pack was taken at, so no change is skipped.
    const cursor = await req(s.meta.get('cursor'));
    if (cursor === undefined || pack.cursor < cursor) await req(s.meta.put(pack.cursor, 'cursor'));
    return stored;
  });
}

export async function storageUsed() {
  if (!navigator.storage || !navigator.storage.estimate) return null;
  try {
    const { usage } = await navigator.storage.estimate();
    return usage;
  } catch (_) {
    return null;
  }
}

export function formatBytes(n) {
  if (n == null) return 'unknown';
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
