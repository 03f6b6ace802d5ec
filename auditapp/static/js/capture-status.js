// The status bar: sync state, changes needing attention, export of unsynced changes, and refreshing the
// screen with records a sync changed.
import { formatBytes, get } from './store.js';
import { exportOutbox } from './outbox.js';
import { h, hhmm, safe } from './capture-dom.js';
import { applyReadOnly, C, isReadOnly, needSignIn, renderReturned, updateProgress } from './capture-context.js';
import { renderRated, renderTyped, updateFlags } from './capture-items.js';
import { contestedOf, referenceOf, renderConversation } from './capture-conversations.js';
import { renderAttention } from './capture-attention.js';

let lastAttention = -1;

export function renderStatus(s) {
  if (!C) return;
  const { pending } = s;
  let text;
  if (s.phase === 'syncing') text = `Syncing ${pending}`;
  // Only while something waits: a late "saved" refresh must not hide a sync that already sent it.
  else if (pending) text = 'Saved on this device';
  // Refused changes wait for the user; everything else is synced.
  else if (s.attention) {
    text = `${s.attention} ${s.attention === 1 ? 'change needs' : 'changes need'} attention · everything else is synced`;
    if (s.lastSynced) text += ` · last synced ${hhmm(s.lastSynced)}`;
  }
  else if (s.lastSynced) text = `All synced · last synced ${hhmm(s.lastSynced)}`;
  else text = 'No changes on this device yet';
  if (C.el.statusText.textContent !== text) C.el.statusText.textContent = text;
  const parts = [`${pending} ${pending === 1 ? 'change' : 'changes'} waiting to sync`];
  if (s.phase === 'offline') parts.push('offline: changes are sent when there is signal');
  if (s.phase === 'error' && s.message) parts.push(`not synced: ${s.message}`);
  parts.push(`storage used ${formatBytes(s.usage)}`);
  const detail = parts.join(' · ');
  if (C.el.statusDetail.textContent !== detail) C.el.statusDetail.textContent = detail;
  C.el.exportButton.hidden = !pending;
  needSignIn('sync', s.phase === 'error' && s.signIn);
  if (s.attention !== lastAttention || s.changed.length) {
    lastAttention = s.attention;
    renderAttention(s.attention, downloadExport);
  }
  if (s.changed && s.changed.length) refreshFromStore(s.changed);
}

/** Save unsynced changes (or the given mutations) as a file an administrator can import. */
export async function downloadExport(mutations = null, name = null) {
  const email = (document.getElementById('capture-root') || {}).dataset?.userEmail || '';
  const data = await exportOutbox(email, mutations);
  const stamp = data.exported_at.slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const link = h('a', { href: url, download: name || `auditapp-unsynced-${stamp}.json`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Records changed by a sync: re-read them and update the screen, leaving alone what the user is editing. */
async function refreshFromStore(keys) {
  const unique = [...new Set(keys)];
  const fetched = await Promise.all(unique.map((key) => get('records', key)));
  if (!C) return;
  let readOnlyChanged = false;
  for (let i = 0; i < unique.length; i += 1) {
    const record = fetched[i];
    if (!record) { C.records.delete(unique[i]); continue; }
    if (record.audit_id !== C.auditId) continue;
    C.records.set(record.key, record);
    if (record.entity === 'audit') { readOnlyChanged = true; continue; }
    if (record.entity === 'conversation') {
      const ref = document.querySelector(`[data-reference="${CSS.escape(record.id)}"]`);
      const flags = document.querySelector(`[data-contested="${CSS.escape(record.id)}"]`);
      if (flags) flags.replaceChildren(contestedOf(record));
      if (ref) {
        ref.textContent = referenceOf(record);
        if (record.reference) {
          const tag = ref.closest('.app-conversation').querySelector('.app-provisional');
          if (tag) tag.remove();
        }
      } else {
        const set = (C.template.prompt_sets || []).find((p) => p.key === record.kind);
        if (set && C.el.conversations) C.el.conversations.get(set.key).append(renderConversation(set, record));
      }
      continue;
    }
    const item = C.items.get(record.item_key);
    if (!item) continue;
    const block = document.getElementById(`item-${safe(item.key)}`);
    if (!block) continue;
    if (block.contains(document.activeElement)) { updateFlags(item, block); continue; }
    const fresh = item.answer === 'rating' ? renderRated(item) : renderTyped(item);
    block.replaceWith(fresh);
  }
  updateProgress();
  if (readOnlyChanged || isReadOnly()) applyReadOnly();
  if (readOnlyChanged) renderReturned();
}
