// Learner and staff conversations: cards with a provisional reference until the server gives the final one.
import { uuid7 } from './outbox.js';
import { contestedTag, h, radioGroup, safe, setError, textControl } from './capture-dom.js';
import { C, commit, shown } from './capture-context.js';
import { hasUpn, limitOf, looksLikeName } from './text.js';
import { contestedFields } from './sync-outcomes.js';

const SETTINGS = ['One-to-one in sight of staff', 'Small group', 'During an activity'];
const KEY_STAGES = ['KS1', 'KS2', 'KS3', 'KS4'];

export function renderConversations(promptSets) {
  C.el.conversations = new Map();
  return h('section', { class: 'app-section', id: 'section-conversations', 'aria-labelledby': 'section-conversations-title' },
    h('h2', { class: 'govuk-heading-l', id: 'section-conversations-title', tabindex: '-1', text: 'Conversations' }),
    h('div', { class: 'govuk-warning-text' },
      h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true', text: '!' }),
      h('strong', { class: 'govuk-warning-text__text' }, h('span', { class: 'govuk-visually-hidden', text: 'Warning' }),
        'Do not write names. Use the reference, key stage or role only.')),
    promptSets.map((set) => {
      const list = h('div', { class: 'app-conversation-list', id: `conversations-${set.key}` });
      C.el.conversations.set(set.key, list);
      const mine = [...C.records.values()].filter((r) => r.entity === 'conversation' && r.kind === set.key)
        .sort((a, b) => referenceOf(a).localeCompare(referenceOf(b), 'en', { numeric: true }));
      for (const record of mine) list.append(renderConversation(set, record));
      const noun = set.key === 'learner' ? 'learner' : 'staff';
      return h('div', { class: 'app-prompt-set' },
        h('h3', { class: 'govuk-heading-m', text: set.title }),
        (set.rules || []).slice(0, 2).map((rule) => h('p', { class: 'govuk-body-s', text: rule })),
        list,
        h('button', { type: 'button', class: 'govuk-button govuk-button--secondary', 'data-edit': '',
                      id: `add-${set.key}`, onclick: () => addConversation(set) }, `Add a ${noun} conversation`));
    }));
}

/** The "Contested" tag of a conversation while a field of it is contested (sync-outcomes.js), or nothing. */
export function contestedOf(record) {
  const fields = contestedFields(record);
  return fields.length ? contestedTag(fields) : '';
}

export function referenceOf(record) {
  return record.reference || record.provisional || '';
}

async function addConversation(set) {
  const prefix = set.reference_prefix || (set.key === 'learner' ? 'L' : 'S');
  const taken = [...C.records.values()].filter((r) => r.entity === 'conversation' && r.kind === set.key)
    .map((r) => Number(String(referenceOf(r)).replace(/\D/g, '')) || 0);
  const provisional = `${prefix}${Math.max(0, ...taken) + 1}`;
  const record = await commit({ entity: 'conversation', id: uuid7(), audit_id: C.auditId, kind: set.key },
    { fields: { ended_for_safeguarding: false }, props: { provisional } });
  const card = renderConversation(set, record);
  C.el.conversations.get(set.key).append(card);
  card.querySelector('h4').focus();
}

export function renderConversation(set, record) {
  const k = safe(record.id);
  const target = { entity: 'conversation', id: record.id, audit_id: C.auditId, kind: set.key };
  const save = (fields) => commit(target, { fields });
  const current = (name) => shown(C.records.get(record.key), name);
  const isLearner = set.key === 'learner';
  const noun = isLearner ? 'Learner conversation' : 'Staff conversation';
  const subject = isLearner
    ? h('div', { class: 'govuk-form-group' }, h('fieldset', { class: 'govuk-fieldset' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: 'Key stage' }),
      radioGroup(`subject-${k}`, `subject-${k}`, KEY_STAGES.map((s) => [s, s.replace('KS', 'Key stage ')]), current('subject'),
        (v) => save({ subject: v }))))
    : warnNow(textControl('input', { id: `subject-${k}`, label: 'Role', hint: 'A role, not a name. For example: key worker',
      inputClass: 'govuk-!-width-one-half', value: current('subject'), limit: limitOf('conversation', 'subject'),
      onSave: checked((v) => save({ subject: v || null }), ROLE) }), ROLE);
  const prompts = (set.prompts || []).map((prompt) => warnNow(textControl('textarea', {
    id: `response-${k}-${safe(prompt.key)}`, label: `${prompt.key}: ${prompt.prompt}`,
    hint: prompt.listen_for ? `Listen for: ${prompt.listen_for}. Do not write names.` : 'Do not write names.',
    value: current(`response:${prompt.key}`), limit: limitOf('conversation', `response:${prompt.key}`),
    onSave: checked((v) => save({ [`response:${prompt.key}`]: v || null })) })));
  const notes = textControl('textarea', { id: `notes-${k}`, label: 'Other notes', hint: 'Do not write names.', value: current('notes'),
    onSave: checked((v) => save({ notes: v || null })) });
  const ended = h('input', { class: 'govuk-checkboxes__input', type: 'checkbox', id: `ended-${k}`, name: `ended-${k}`,
    checked: current('ended_for_safeguarding') === true, 'aria-describedby': `ended-${k}-hint`,
    onchange: (event) => save({ ended_for_safeguarding: event.target.checked }) });
  // One fieldset per conversation: its legend ("Learner conversation L2") names the fields that every card repeats.
  return h('div', { class: 'app-conversation', id: `conversation-${k}`, 'data-conversation': record.id }, h('fieldset', { class: 'govuk-fieldset' },
    h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--m' },
      h('h4', { class: 'govuk-fieldset__heading', tabindex: '-1' },
        `${noun} `, h('span', { class: 'app-reference', 'data-reference': record.id, text: referenceOf(record) }))),
    h('div', { class: 'app-conversation__flags', 'data-contested': record.id }, contestedOf(record)),
    record.reference ? null : h('p', { class: 'govuk-body app-provisional' },
      h('strong', { class: 'govuk-tag govuk-tag--grey', text: 'Provisional reference' })),
    h('p', { class: 'govuk-hint', text: 'Do not write names. The server gives the final reference when the audit syncs.' }),
    subject,
    h('div', { class: 'govuk-form-group' }, h('fieldset', { class: 'govuk-fieldset' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: 'Setting' }),
      radioGroup(`setting-${k}`, `setting-${k}`, SETTINGS.map((s) => [s, s]), current('setting'), (v) => save({ setting: v }), { inline: false }))),
    h('div', { class: 'govuk-form-group' }, h('fieldset', { class: 'govuk-fieldset' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: isLearner ? 'Did the learner agree to talk?' : 'Did they agree to talk?' }),
      radioGroup(`consent-${k}`, `consent-${k}`, [[true, 'Yes'], [false, 'No']], current('consent_given'), (v) => save({ consent_given: v })))),
    prompts,
    warnNow(notes),
    h('div', { class: 'govuk-form-group' }, h('div', { class: 'govuk-checkboxes govuk-checkboxes--small' },
      h('div', { class: 'govuk-checkboxes__item' }, ended,
        h('label', { class: 'govuk-label govuk-checkboxes__label', for: `ended-${k}`, text: 'Conversation ended: safeguarding procedure followed' }),
        h('div', { class: 'govuk-hint govuk-checkboxes__hint', id: `ended-${k}-hint`,
                   text: 'Write nothing about the disclosure here. Raise a safeguarding concern instead.' }))))));
}

// ---- what a note must not hold --------------------------------------------------------------------

const UPN_ERROR = 'Remove the UPN: notes must never hold a pupil’s unique pupil number. This text is not saved until it is removed';
const ROLE = { pairs: false }; // a role's words are Capitalised: only a title or "my name is" counts there
const NAME_WARNING = 'This looks like it may hold a name. Notes must never hold a name: use the reference, key stage or role instead.';

/** A conversation text's save, checked first: a UPN-shaped string is refused here (the server refuses it too) with an
 * error on the field; a text that looks like it holds a name is saved, with a warning beside the field. */
export function checked(saveText, how = {}) {
  return (value, control, group) => {
    nameWarning(control, group, looksLikeName(value, how));
    const error = () => group.querySelector(`#${CSS.escape(control.id)}-error`);
    if (hasUpn(value)) {
      setError(group, control, UPN_ERROR);
      error().dataset.upn = '';
      return null;
    }
    if (error() && 'upn' in error().dataset) setError(group, control, null);
    return saveText(value);
  };
}

/** A conversation text box's group, with the name warning already shown when its saved text looks like a name. */
function warnNow({ group, control }, how = {}) {
  if (control.value) nameWarning(control, group, looksLikeName(control.value, how));
  return group;
}

function nameWarning(control, group, shown) {
  const id = `${control.id}-name-warning`;
  let warning = group.querySelector(`#${CSS.escape(id)}`);
  if (shown && !warning) {
    warning = h('div', { class: 'govuk-warning-text app-name-warning', id },
      h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true', text: '!' }),
      h('strong', { class: 'govuk-warning-text__text' }, h('span', { class: 'govuk-visually-hidden', text: 'Warning' }), NAME_WARNING));
    group.append(warning);
  }
  if (!shown && warning) warning.remove();
  const described = (control.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== id);
  if (shown) described.push(id);
  if (described.length) control.setAttribute('aria-describedby', described.join(' '));
  else control.removeAttribute('aria-describedby');
}
