// Evidence in IndexedDB. Its metadata is a record "evidence|<id>" (entity 'evidence', indexed by audit) so
// it renders with its item and refreshes after a sync like any other record; its bytes sit in the 'blobs'
// store until the server has verified them. Registering and withdrawing are outbox mutations written in the
// same transaction as the record, so the server learns what to expect through the ordinary sync path.
import { get, newRecord, recordKey, req, tx } from './store.js';
import { addEntry, startIfNeeded, uuid7 } from './outbox.js';
import { handlePull } from './sync-loop.js';

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

/**
 * Queue evidence.withdraw with the auditor's reason; the bytes go once the server has the withdrawal. A file
 * whose registration the server refused was never there: it goes from the device at once, with the refusal.
 */
export function withdrawEvidence(id, reason) {
  return tx(['records', 'outbox', 'attention', 'blobs'], 'readwrite', async (s) => {
    const [record, attention] = await Promise.all([req(s.records.get(evidenceKey(id))), req(s.attention.getAll())]);
    if (!record) throw new Error('This file is no longer on this device');
    const refused = attention.filter((e) => e.mutation.kind === 'evidence.register' && e.mutation.entity_id === id);
    const updated = { ...record, status: 'withdrawn', withdraw_reason: reason, before_withdraw: record.status };
    if (refused.length) {
      for (const entry of refused) s.attention.delete(entry.seq);
      s.blobs.delete(id);
      Object.assign(updated, { has_blob: false, local_only: true });
    } else {
      addEntry(s, { mutation_id: uuid7(), kind: 'evidence.withdraw', entity_id: id, base_version: record.version || 0,
                    payload: { audit_id: record.audit_id, reason } }, record.key);
    }
    s.records.put(updated);
    return updated;
  });
}

/**
 * Update an evidence record (and drop its bytes when `dropBlob`); resolves with the record or null.
 * `keepWithdrawn`: a removal made on this device meanwhile keeps its status (its withdrawal is on its way).
 */
export function updateEvidence(id, patch, { dropBlob = false, keepWithdrawn = false } = {}) {
  return tx(['records', 'blobs'], 'readwrite', async (s) => {
    const record = await req(s.records.get(evidenceKey(id)));
    if (dropBlob) s.blobs.delete(id);
    if (!record) return null;
    const updated = { ...record, ...patch, ...(dropBlob ? { has_blob: false } : {}) };
    if (keepWithdrawn && record.status === 'withdrawn') updated.status = 'withdrawn';
    s.records.put(updated);
    return updated;
  });
}

export const blobOf = (id) => get('blobs', id).then((entry) => (entry ? entry.blob : null));

/**
 * The server's view of a file (pull feed) into the device's record: its verdict wins (verified, rejected,
 * withdrawn); a file registered from another device appears with what the server knows of it. A withdrawal
 * still waiting in this device's outbox is kept.
 */
async function mergePulled(s, data) {
  if (!(await req(s.records.get(recordKey('audit', data.audit_id))))) return null; // not an audit on this device
  const key = evidenceKey(data.id);
  const local = await req(s.records.get(key));
  const problem = data.rejection_reason ? { code: data.rejection_code, message: data.rejection_reason } : null;
  const server = { status: data.status, version: data.version, withdraw_reason: data.withdrawal_reason };
  let record;
  if (!local) {
    record = newRecord('evidence', { key, id: data.id, audit_id: data.audit_id, item_key: data.item_key, media_type: data.media_type,
                                     size_bytes: data.size_bytes, sha256: data.sha256, filename: data.filename, kind: 'document',
                                     thumb: null, has_blob: false, problem, created_at: null, ...server });
  } else if (data.status === 'expected' || (local.status === 'withdrawn' && data.status !== 'withdrawn')) {
    record = { ...local, version: Math.max(local.version || 0, data.version || 0) };
  } else {
    record = { ...local, ...server, problem: problem || (data.status === 'verified' ? null : local.problem),
               withdraw_reason: data.withdrawal_reason || local.withdraw_reason };
  }
  await req(s.records.put(record));
  return key;
}

handlePull('evidence', mergePulled);

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
