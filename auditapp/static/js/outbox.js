// The outbox: every change is written with the new local record state in ONE IndexedDB transaction
// (sync/PROTOCOL.md); sync-loop.js pushes it. Also here: the device id, the export of unsynced changes
// for an admin import, and the "needs attention" list of changes the server refused.
import { KEYED_BY_ITEM, newRecord, recordKey, req, tx } from './store.js';
import { refreshCounts } from './sync-status.js';
import { cleanFields } from './text.js';


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
export function saveFields(target, { fields: given = {}, draft = {}, clearDraft = [], props = {} } = {}) {
  const entity = target.entity;
  const fields = cleanFields(entity, given); // never a lone surrogate, never over the server's limit
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
    if (!entry.released) await releasePending(s, entry); // a held change let go of its fields when it was held
    await req(s.attention.delete(seq));
  }).then(() => refreshCounts());
}

/** A refused or settled change no longer holds its fields back from the server's values. */
export async function releasePending(s, entry) {
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

/** This device's id, made once and kept in IndexedDB. */
export async function deviceId() {
  return tx(['meta'], 'readwrite', async (s) => {
    let id = await req(s.meta.get('device_id'));
    if (!id) {
      id = uuid7();
      await req(s.meta.put(id, 'device_id'));
    }
    return id;
  });
}
