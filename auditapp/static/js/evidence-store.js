// Evidence in IndexedDB. Its metadata is a record "evidence|<id>" (entity 'evidence', indexed by audit) so
// it renders with its item and refreshes after a sync like any other record; its bytes sit in the 'blobs'
// store until the server has verified them. Registering and withdrawing are outbox mutations written in the
// same transaction as the record, so the server learns what to expect through the ordinary sync path.
import { get, newRecord, recordKey, req, tx } from './store.js';
import { addEntry, startIfNeeded, uuid7 } from './outbox.js';

export const evidenceKey = (id) => recordKey('evidence', id);

/**
 * Store a prepared file (evidence-media.js prepareFile) for an item and queue evidence.register, in one
 * transaction (with audit.start first when the audit is not on the server yet). Resolves with the record.
 */
export function queueEvidence(auditId, itemKey, prepared, kind) {
  const id = uuid7();
  const key = evidenceKey(id);
  const payload = { audit_id: auditId, item_key: itemKey, media_type: prepared.media_type, size_bytes: prepared.size_bytes,
                    sha256: prepared.sha256, filename: prepared.filename };
  return tx(['records', 'outbox', 'blobs'], 'readwrite', async (s) => {
    startIfNeeded(s, await req(s.records.get(recordKey('audit', auditId))));
    addEntry(s, { mutation_id: uuid7(), kind: 'evidence.register', entity_id: id, base_version: 0, payload }, key);
    s.blobs.put({ id, audit_id: auditId, blob: prepared.blob });
    const record = newRecord('evidence', { key, id, ...payload, kind, thumb: prepared.thumb, width: prepared.width,
                                           height: prepared.height, status: 'expected', has_blob: true, problem: null,
                                           created_at: new Date().toISOString() });
    s.records.put(record);
    return record;
  });
}

/** Queue evidence.withdraw with the auditor's reason; the bytes go once the server has the withdrawal. */
export function withdrawEvidence(id, reason) {
  return tx(['records', 'outbox'], 'readwrite', async (s) => {
    const record = await req(s.records.get(evidenceKey(id)));
    if (!record) throw new Error('This file is no longer on this device');
    addEntry(s, { mutation_id: uuid7(), kind: 'evidence.withdraw', entity_id: id, base_version: record.version || 0,
                  payload: { audit_id: record.audit_id, reason } }, record.key);
    const updated = { ...record, status: 'withdrawn', withdraw_reason: reason, before_withdraw: record.status };
    s.records.put(updated);
    return updated;
  });
}

/** Update an evidence record (and drop its bytes when `dropBlob`); resolves with the record or null. */
export function updateEvidence(id, patch, { dropBlob = false } = {}) {
  return tx(['records', 'blobs'], 'readwrite', async (s) => {
    const record = await req(s.records.get(evidenceKey(id)));
    if (dropBlob) s.blobs.delete(id);
    if (!record) return null;
    const updated = { ...record, ...patch, ...(dropBlob ? { has_blob: false } : {}) };
    s.records.put(updated);
    return updated;
  });
}

export const blobOf = (id) => get('blobs', id).then((entry) => (entry ? entry.blob : null));

/**
 * What the uploader needs in one read: evidence records that still hold bytes, the audits with changes
 * still in the outbox (their evidence waits), evidence with an unsynced mutation, and refused evidence
 * mutations (from "needs attention"), keyed "id|kind".
 */
export function uploadQueue() {
  return tx(['blobs', 'records', 'outbox', 'attention'], 'readonly', async (s) => {
    const [ids, outbox, attention] = await Promise.all([req(s.blobs.getAllKeys()), req(s.outbox.getAll()), req(s.attention.getAll())]);
    const records = (await Promise.all(ids.map((id) => req(s.records.get(evidenceKey(id)))))).filter(Boolean);
    const busyAudits = new Set();
    const unsynced = new Set();
    for (const { mutation: m } of outbox) {
      const auditId = (m.payload && m.payload.audit_id) || (m.kind.startsWith('audit.') ? m.entity_id : null);
      if (auditId) busyAudits.add(auditId);
      if (m.kind.startsWith('evidence.')) unsynced.add(m.entity_id);
    }
    const refused = new Map();
    for (const entry of attention) {
      if (entry.mutation.kind.startsWith('evidence.')) refused.set(`${entry.mutation.entity_id}|${entry.mutation.kind}`, entry.result || {});
    }
    records.sort((a, b) => (a.id < b.id ? -1 : 1)); // UUIDv7: oldest first
    return { records, busyAudits, unsynced, refused };
  });
}
