// Final outcomes the server reports after a push (sync/PROTOCOL.md, "Pull feed additions"):
//   a refused change goes to "needs attention" with the server's message (pushed and refused, or held and then
//   refused: a `mutation` entry in the pull feed for this device);
//   a held change that later met another device's value marks its item "needs review";
//   a `conflict` entry marks a field "Contested: a reviewer will choose" while it is open, and clears it once resolved.
// A held change leaves the outbox (the server keeps it); the device keeps a copy in `meta` under "held|<mutation id>"
// so that a later refusal names the item and can still be downloaded for an administrator.
// Functions here run inside the caller's transaction (stores: records, meta, attention). No DOM.
import { KEYED_BY_ITEM, recordKey, req } from './store.js';

const HELD = 'held|';
const SEEN = 'outcome|';

/** Keep a copy of a change the server held (it leaves the outbox; its fields already follow the server). */
export function keepHeld(s, entry) {
  return req(s.meta.put({ mutation: entry.mutation, record_key: entry.record_key, released: true, at: Date.now() },
                        `${HELD}${entry.mutation.mutation_id}`));
}

/** A refused change into "needs attention" (key `seq`), and what it undoes on its record. Returns its record key. */
export async function markRejected(s, entry, result) {
  await req(s.attention.put({ ...entry, result, moved_at: Date.now() }));
  const { kind } = entry.mutation;
  if ((kind === 'audit.submit' || kind === 'audit.start') && entry.record_key) {
    const audit = await req(s.records.get(entry.record_key));
    if (audit && kind === 'audit.submit') {
      await req(s.records.put({ ...audit, submitted_local: false, submit_problem: result.message || result.code }));
    }
    if (audit && kind === 'audit.start') await req(s.records.put({ ...audit, start_queued: false }));
  }
  return entry.record_key || null;
}

/** A `mutation` entry of the pull feed: the final outcome of a change this device sent and the server held.
 * Entries of other devices are not this device's business. Returns the key of a record to redraw, or null. */
export async function applyOutcome(s, data) {
  if (!data || !data.mutation_id || data.device_id !== (await req(s.meta.get('device_id')))) return null;
  const seen = `${SEEN}${data.mutation_id}`;
  if (await req(s.meta.get(seen))) return null; // read again after the cursor went back: done already
  await req(s.meta.put(data.status || 'unknown', seen));
  const heldKey = `${HELD}${data.mutation_id}`;
  const held = await req(s.meta.get(heldKey));
  await req(s.meta.delete(heldKey));
  if (data.status === 'rejected') {
    const entry = held ? { ...held, seq: heldKey } : {
      seq: heldKey, record_key: null, released: true,
      mutation: { mutation_id: data.mutation_id, kind: data.kind, entity_id: data.entity_id, payload: {} },
    };
    return markRejected(s, entry, data);
  }
  if (data.status === 'conflict' && held && held.record_key && Array.isArray(data.conflicts)) {
    const record = await req(s.records.get(held.record_key));
    if (!record) return null;
    const conflicts = [...new Set([...(record.conflicts || []), ...data.conflicts.map(String)])];
    await req(s.records.put({ ...record, conflicts }));
    return record.key;
  }
  return null;
}

/** A `conflict` entry of the pull feed: a field of a record this device holds is contested (open) or no longer
 * (resolved). Kept on the record as contested: {conflict id: field}. Returns the record's key, or null. */
export async function applyConflict(s, data) {
  if (!data || !data.id || !data.entity || !data.entity_id) return null;
  const key = KEYED_BY_ITEM.has(data.entity) ? recordKey(data.entity, data.audit_id, data.item_key)
    : recordKey(data.entity, data.entity_id);
  const record = await req(s.records.get(key));
  if (!record) return null;
  const contested = { ...(record.contested || {}) };
  if (data.status === 'open') contested[String(data.id)] = String(data.field || '');
  else delete contested[String(data.id)];
  await req(s.records.put({ ...record, contested }));
  return key;
}

/** The fields of a record now contested (open conflicts), each once. */
export const contestedFields = (record) => [...new Set(Object.values((record && record.contested) || {}))];
