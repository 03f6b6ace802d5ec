// "Needs attention": the changes the server refused (when pushed, or held and refused later), each with what it
// concerns and the server's own words, to download for an administrator or to discard. The rest keeps syncing.
import { attentionList, discardAttention } from './outbox.js';
import { h, humanise } from './capture-dom.js';
import { C } from './capture-context.js';
import { referenceOf } from './capture-conversations.js';

const ITEM_KINDS = { 'answer.set': 'Answer to', 'policy_check.set': 'Policy check for', 'action.set': 'Proposed action for' };
const AUDIT_KINDS = { 'audit.start': 'Starting the audit', 'audit.submit': 'Submitting the audit for review',
                      'concern.raise': 'A safeguarding concern' };

/** The record a change concerns, when it is one of the open audit's. */
function recordOf(entry) {
  if (!C) return null;
  if (entry.record_key && C.records.has(entry.record_key)) return C.records.get(entry.record_key);
  const id = entry.mutation && entry.mutation.entity_id;
  if (!id) return null;
  for (const record of C.records.values()) if (record.id === id) return record;
  return null;
}

/** What a change concerns, in words: {text, itemKey}. */
export function concerns(entry) {
  const m = entry.mutation || {};
  const payload = m.payload || {};
  const record = recordOf(entry);
  const itemKey = payload.item_key || (record && record.item_key) || null;
  if (ITEM_KINDS[m.kind]) return { text: `${ITEM_KINDS[m.kind]} ${itemKey || 'an item'}`, itemKey };
  if (m.kind === 'conversation.set') {
    const kind = payload.kind || (record && record.kind);
    const noun = kind === 'staff' ? 'Staff conversation' : kind === 'learner' ? 'Learner conversation' : 'A conversation';
    const reference = record ? referenceOf(record) : '';
    return { text: reference ? `${noun} ${reference}` : noun, itemKey: null };
  }
  if (AUDIT_KINDS[m.kind]) return { text: AUDIT_KINDS[m.kind], itemKey: null };
  if (String(m.kind || '').startsWith('evidence.')) return { text: `An evidence file${itemKey ? ` for ${itemKey}` : ''}`, itemKey };
  return { text: 'A change', itemKey };
}

/** The field messages in an error's details ({"payload": {"fields": {"notes": ["…"]}}} or {"notes": ["…"]}). */
function fieldMessages(details, depth = 0) {
  if (!details || typeof details !== 'object' || depth > 4) return [];
  const found = [];
  for (const [name, value] of Object.entries(details)) {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      if (value.length) found.push(`${humanise(name.replace(/^response:/, 'response '))}: ${value.join('; ')}`);
    } else if (value && typeof value === 'object') {
      found.push(...fieldMessages(value, depth + 1));
    }
  }
  return found;
}

/** The server's words for a refused change. */
export function reason(entry) {
  const result = entry.result || {};
  const said = String(result.message || result.code || 'The server refused this change').replace(/\.?\s*$/, '.');
  const fields = fieldMessages(result.details).filter((text) => !said.includes(text.split(': ').slice(1).join(': ')));
  return [said, ...fields.map((text) => `${text.replace(/\.?\s*$/, '')}.`)].join(' ');
}

const itemLink = (itemKey) => `#visit=${C.pack.visit_id}&type=${C.audit.audit_type}&item=${itemKey}`;

export async function renderAttention(n, downloadExport) {
  if (!n) {
    C.el.attention.hidden = true;
    C.el.attention.replaceChildren();
    return;
  }
  const entries = await attentionList();
  C.el.attention.hidden = false;
  const title = `${entries.length} ${entries.length === 1 ? 'change needs' : 'changes need'} attention`;
  C.el.attention.replaceChildren(h('div', { class: 'govuk-error-summary app-attention__box' },
    h('h2', { class: 'govuk-error-summary__title', text: title }),
    h('div', { class: 'govuk-error-summary__body' },
      h('p', { class: 'govuk-body', text: 'The server refused these changes. Everything else keeps syncing. They are kept on this device: download one as a file for an administrator, or discard it.' }),
      h('ul', { class: 'govuk-list app-attention__list' }, entries.map((entry) => {
        const m = entry.mutation;
        const what = concerns(entry);
        const here = what.itemKey && C.items.has(what.itemKey) && (!m.payload || !m.payload.audit_id || m.payload.audit_id === C.auditId);
        const held = typeof entry.seq === 'string' && entry.seq.startsWith('held|');
        return h('li', { class: 'app-attention__item', 'data-mutation': m.mutation_id },
          here ? h('a', { class: 'govuk-link', href: itemLink(what.itemKey), text: what.text }) : h('strong', { text: what.text }),
          h('span', { text: `: ${reason(entry)}${held ? ' It was held until its audit reached the server, then refused.' : ''} ` }),
          // A refusal learnt from the pull feed alone (no copy kept here) has nothing an administrator could import.
          m.payload && Object.keys(m.payload).length ? [h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
                        onclick: () => downloadExport([m], `auditapp-change-${m.mutation_id}.json`) }, 'Download',
            h('span', { class: 'govuk-visually-hidden', text: ` (${what.text})` })), ' '] : null,
          h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
                        onclick: () => discardAttention(entry.seq) }, 'Discard', h('span', { class: 'govuk-visually-hidden', text: ` (${what.text})` })));
      })))));
}
