// The audit's items: rated items (with the N/A reason, the proposed action and the policy check) and the
// typed header answers. Every change is a commit() (record + outbox mutation).
import { uuid7 } from './outbox.js';
import { addDays, contestedTag, h, humanise, itemHint, legend, longDate, monthsBefore, radioGroup, safe, setError, textControl } from './capture-dom.js';
import { actionFor, answerKey, C, commit, itemComment, policyKey, shown } from './capture-context.js';
import { renderEvidence } from './capture-evidence.js';
import { limitOf } from './text.js';
import { contestedFields } from './sync-outcomes.js';

const RATINGS = [['met', 'Met'], ['partially_met', 'Partially met'], ['not_met', 'Not met'], ['not_applicable', 'N/A']];
const REVIEW_STATUSES = [['', 'Not reviewed yet'], ['closed_verified', 'Closed and verified'], ['open_in_time', 'Open, in time'],
  ['overdue', 'Overdue'], ['no_longer_relevant', 'No longer relevant']];
const DUE_DAYS = { partially_met: 28, not_met: 14 };

// ---- rated items ------------------------------------------------------------------------------------

export function renderRated(item) {
  const k = safe(item.key);
  const record = C.records.get(answerKey(item.key));
  const rating = shown(record, 'rating');
  const hintId = `hint-${k}`;
  const reason = textControl('textarea', {
    id: `na-${k}`, label: 'Why is this not applicable?', hiddenLabel: ` (${item.key})`,
    hint: item.na_allowed_when ? `Only when ${item.na_allowed_when}.` : 'Required when you choose N/A.',
    value: shown(record, 'na_reason'), onSave: (value, control, group) => saveReason(item, value, control, group),
    limit: limitOf('answer', 'na_reason') });
  const reasonPanel = h('div', { class: 'app-reveal', id: `na-panel-${k}`, hidden: rating !== 'not_applicable' }, reason.group);
  const note = textControl('textarea', { id: `note-${k}`, label: 'Note (optional)', hiddenLabel: ` for ${item.key}`,
    value: shown(record, 'note'), onSave: (value) => saveAnswer(item, { note: value }) });
  const actionHolder = h('div', { class: 'app-action-holder', id: `action-holder-${k}` });
  const block = h('div', { class: 'govuk-form-group app-item', id: `item-${k}`, 'data-item': item.key, 'data-rated-item': item.key },
    h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId },
      legend(item),
      itemHint(item, hintId),
      h('div', { class: 'app-item__flags', id: `flags-${k}` }),
      radioGroup(`rating-${k}`, `rating-${k}`, RATINGS, rating, (value, event) => onRating(item, value, event))),
    itemComment(item.key),
    reasonPanel,
    actionHolder,
    note.group,
    item.policy ? renderPolicy(item) : null,
    renderEvidence(item));
  if (['partially_met', 'not_met'].includes(rating) || (actionFor(item.key) && Object.keys(actionFor(item.key).fields).length)) {
    actionHolder.append(renderAction(item, rating));
  }
  updateFlags(item, block);
  return block;
}

export function updateFlags(item, block = document.getElementById(`item-${safe(item.key)}`)) {
  if (!block) return;
  const flags = block.querySelector('.app-item__flags');
  const record = C.records.get(answerKey(item.key));
  const policy = C.records.get(policyKey(item.key));
  const conflicts = [...((record && record.conflicts) || []), ...((policy && policy.conflicts) || [])];
  const contested = [record, policy, actionFor(item.key)].flatMap(contestedFields);
  flags.replaceChildren(conflicts.length
    ? h('strong', { class: 'govuk-tag govuk-tag--orange', text: `Needs review: changed on another device (${conflicts.join(', ')})` })
    : '', contested.length ? contestedTag(contested) : '');
}

async function onRating(item, value, event) {
  const t0 = event && event.timeStamp ? event.timeStamp : performance.now();
  const k = safe(item.key);
  const reasonBox = document.getElementById(`na-${k}`);
  document.getElementById(`na-panel-${k}`).hidden = value !== 'not_applicable';
  let record;
  if (value === 'not_applicable') {
    const reason = reasonBox.value.trim();
    if (!reason) {
      record = await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key }, { draft: { rating: value } }, t0);
      setError(reasonBox.closest('.govuk-form-group'), reasonBox, null);
      showAction(item, value);
      return record;
    }
    record = await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key },
      { fields: { rating: value, na_reason: reasonBox.value }, clearDraft: ['rating'] }, t0);
    reasonBox.resetSaved(reasonBox.value);
  } else {
    record = await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key }, { fields: { rating: value }, clearDraft: ['rating'] }, t0);
  }
  showAction(item, value);
  return record;
}

function saveAnswer(item, fields) {
  return commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key }, { fields });
}

async function saveReason(item, value, control, group) {
  const record = C.records.get(answerKey(item.key));
  const rating = shown(record, 'rating');
  if (rating !== 'not_applicable') return;
  if (!value.trim()) {
    setError(group, control, 'Give a reason when an item is not applicable');
    return;
  }
  setError(group, control, null);
  await commit({ entity: 'answer', audit_id: C.auditId, item_key: item.key },
    { fields: { rating: 'not_applicable', na_reason: value }, clearDraft: ['rating'] });
}

// ---- proposed actions -----------------------------------------------------------------------------

function defaultDue(item, rating) {
  if (rating === 'not_met' && item.critical) return C.visitDate;
  return addDays(C.visitDate, DUE_DAYS[rating] || 28);
}

function priorityFor(item, rating) {
  if (rating === 'not_met') return item.critical ? 'immediate' : 'high';
  return 'normal';
}

function showAction(item, rating) {
  const holder = document.getElementById(`action-holder-${safe(item.key)}`);
  const wanted = ['partially_met', 'not_met'].includes(rating);
  let panel = holder.firstElementChild;
  if (!panel && wanted) {
    panel = renderAction(item, rating);
    holder.append(panel);
  }
  if (!panel) return;
  const action = actionFor(item.key);
  const sent = action && Object.keys(action.fields).length;
  panel.hidden = !wanted && !sent;
  const due = panel.querySelector('input[type="date"]');
  if (wanted && !sent && !(action && action.draft && action.draft.due_date)) due.value = defaultDue(item, rating);
}

function renderAction(item, rating) {
  const k = safe(item.key);
  const action = actionFor(item.key);
  const value = (name) => shown(action, name);
  const save = (name) => (v, control, group) => saveAction(item, name, v, control, group);
  const description = textControl('textarea', { id: `action-description-${k}`, label: 'What must the provider do?',
    hiddenLabel: ` (${item.key})`, value: value('description'), onSave: save('description'), limit: limitOf('action', 'description') });
  const owner = textControl('input', { id: `action-owner-${k}`, label: 'Owner (role)', hiddenLabel: ` for ${item.key}`,
    hint: 'A role, not a name. For example: designated safeguarding lead', inputClass: 'govuk-!-width-two-thirds',
    value: value('owner_role'), onSave: save('owner_role'), limit: limitOf('action', 'owner_role') });
  const due = textControl('input', { id: `action-due-${k}`, label: 'Due date', hiddenLabel: ` for ${item.key}`, type: 'date',
    inputClass: 'govuk-input--width-10', value: value('due_date') || defaultDue(item, rating), onSave: save('due_date') });
  const sent = action && Object.keys(action.fields).length;
  return h('div', { class: 'app-reveal app-action', id: `action-${k}` },
    h('h3', { class: 'govuk-heading-s', text: 'Proposed action' }),
    h('p', { class: 'govuk-body-s', id: `action-state-${k}`,
             text: sent ? 'The action is saved with the audit.' : 'Saved on this device and sent with the audit once it has what to do, an owner and a due date.' }),
    description.group, owner.group, due.group);
}

async function saveAction(item, name, value, control, group) {
  const k = safe(item.key);
  let action = actionFor(item.key);
  const rating = shown(C.records.get(answerKey(item.key)), 'rating');
  const sent = action && Object.keys(action.fields).length;
  const id = action ? action.id : (C.newActionIds.get(item.key) || uuid7());
  C.newActionIds.set(item.key, id);
  const target = { entity: 'action', id, audit_id: C.auditId, item_key: item.key };
  const required = { description: 'Enter what the provider must do', owner_role: 'Enter the owner’s role', due_date: 'Enter a due date' };
  if (sent) {
    if (!value.trim() && required[name]) {
      setError(group, control, required[name]);
      return;
    }
    setError(group, control, null);
    await commit(target, { fields: { [name]: value || null } });
    return;
  }
  setError(group, control, null);
  const values = {
    description: document.getElementById(`action-description-${k}`).value.trim(),
    owner_role: document.getElementById(`action-owner-${k}`).value.trim(),
    due_date: document.getElementById(`action-due-${k}`).value,
  };
  if (values.description && values.owner_role && values.due_date) {
    action = await commit(target, { fields: { ...values, priority: priorityFor(item, rating) },
                                    clearDraft: ['description', 'owner_role', 'due_date'] });
    document.getElementById(`action-state-${k}`).textContent = 'The action is saved with the audit.';
  } else {
    await commit(target, { draft: { [name]: value } });
  }
}

// ---- policy checks ------------------------------------------------------------------------------

function renderPolicy(item) {
  const k = safe(item.key);
  const record = C.records.get(policyKey(item.key));
  const target = { entity: 'policy_check', audit_id: C.auditId, item_key: item.key };
  const save = (fields) => commit(target, { fields });
  const seen = shown(record, 'document_seen');
  const version = textControl('input', { id: `policy-version-${k}`, label: 'Version or date shown on the document',
    hiddenLabel: ` (${item.policy.document})`, inputClass: 'govuk-input--width-20', value: shown(record, 'document_version'),
    onSave: (v) => save({ document_version: v || null }), limit: limitOf('policy_check', 'document_version') });
  const warning = h('div', { class: 'govuk-warning-text', id: `policy-warning-${k}`, hidden: true },
    h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true', text: '!' }),
    h('strong', { class: 'govuk-warning-text__text' }, h('span', { class: 'govuk-visually-hidden', text: 'Warning' }),
      'The last review is more than 12 months before the visit.'));
  const review = textControl('input', { id: `policy-review-${k}`, label: 'Date of the last review', hiddenLabel: ` (${item.policy.document})`,
    type: 'date', inputClass: 'govuk-input--width-10', value: shown(record, 'review_date'),
    onSave: (v) => { reviewWarning(warning, v); return save({ review_date: v || null }); } });
  reviewWarning(warning, shown(record, 'review_date'));
  const named = item.policy.named_person ? textControl('input', { id: `policy-person-${k}`,
    label: `${item.policy.named_person} named in the document`, hiddenLabel: ` (${item.policy.document})`,
    inputClass: 'govuk-!-width-two-thirds', value: shown(record, 'named_person'), onSave: (v) => save({ named_person: v || null }),
    limit: limitOf('policy_check', 'named_person') }) : null;
  return h('div', { class: 'app-policy', id: `policy-${k}` },
    h('div', { class: 'govuk-form-group' },
      h('fieldset', { class: 'govuk-fieldset' },
        h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s' },
          'Policy check: ', item.policy.document, h('span', { class: 'govuk-visually-hidden', text: ` (${item.key})` }),
          h('span', { class: 'app-legend-line', text: 'Was the document seen?' })),
        radioGroup(`policy-seen-${k}`, `policy-seen-${k}`, [[true, 'Yes'], [false, 'No']], seen,
          (v) => save({ document_seen: v })))),
    version.group, review.group, warning, named ? named.group : null);
}

function reviewWarning(warning, value) {
  warning.hidden = !(value && value < monthsBefore(C.visitDate, 12));
}

// ---- typed header answers -----------------------------------------------------------------------

export function renderTyped(item) {
  const k = safe(item.key);
  const record = C.records.get(answerKey(item.key));
  const value = shown(record, 'value');
  const hintId = `hint-${k}`;
  const target = { entity: 'answer', audit_id: C.auditId, item_key: item.key };
  const save = (v) => commit(target, { fields: { value: v } });
  const wrap = (...content) => h('div', { class: 'govuk-form-group app-item app-item--typed', id: `item-${k}`, 'data-item': item.key },
    ...content, renderEvidence(item));
  const single = (control) => wrap(
    h('label', { class: 'govuk-label govuk-label--s', for: control.id },
      h('span', { class: 'app-item__key', text: `${item.key} ` }), item.question),
    itemHint(item, hintId), control);
  switch (item.answer) {
    case 'text': {
      const box = textControl('textarea', { id: `value-${k}`, label: '', value, rows: 3, onSave: (v) => save(v.trim() ? v : null) });
      box.control.setAttribute('aria-describedby', hintId);
      return single(box.control);
    }
    case 'number': {
      const box = textControl('input', { id: `value-${k}`, label: '', value, inputmode: 'decimal', inputClass: 'govuk-input--width-5',
        onSave: (v, control) => {
          const group = control.closest('.govuk-form-group');
          if (v.trim() && !/^\d+(\.\d+)?$/.test(v.trim())) { setError(group, control, 'Enter a number, like 6'); return null; }
          setError(group, control, null);
          return save(v.trim() ? Number(v) : null).then(() => suggestRegistration());
        } });
      box.control.setAttribute('aria-describedby', hintId);
      return single(box.control);
    }
    case 'date': {
      const box = textControl('input', { id: `value-${k}`, label: '', value, type: 'date', inputClass: 'govuk-input--width-10', onSave: (v) => save(v || null) });
      box.control.setAttribute('aria-describedby', hintId);
      return single(box.control);
    }
    case 'yes_no':
    case 'choice': {
      const options = item.answer === 'yes_no' ? [[true, 'Yes'], [false, 'No']] : item.choices.map((c) => [c.value, c.label]);
      const extra = [];
      if (item.answer === 'choice') {
        extra.push(h('div', { class: 'govuk-warning-text', id: `refer-${k}`, hidden: value !== 'possibly_required' },
          h('span', { class: 'govuk-warning-text__icon', 'aria-hidden': 'true', text: '!' }),
          h('strong', { class: 'govuk-warning-text__text' }, h('span', { class: 'govuk-visually-hidden', text: 'Warning' }),
            '“Possibly required - refer” moves the provider to Under review. Give your reason in the note.')));
        extra.push(h('p', { class: 'govuk-inset-text app-suggestion', id: `suggest-${k}`, hidden: true }));
        const note = textControl('textarea', { id: `note-${k}`, label: 'Reason (note)', hiddenLabel: ` for ${item.key}`,
          value: shown(record, 'note'), onSave: (v) => commit(target, { fields: { note: v } }) });
        extra.push(note.group);
      }
      return wrap(
        h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId },
          legend(item, 's'), itemHint(item, hintId),
          radioGroup(`value-${k}`, `value-${k}`, options, value, (v) => {
            const refer = document.getElementById(`refer-${k}`);
            if (refer) refer.hidden = v !== 'possibly_required';
            return save(v);
          })),
        extra);
    }
    case 'counts': {
      const current = (value && typeof value === 'object') ? value : {};
      const boxes = (item.fields || []).map((name) => textControl('input', {
        id: `count-${k}-${safe(name)}`, label: humanise(name), value: current[name], inputmode: 'decimal',
        inputClass: 'govuk-input--width-4', groupClass: 'app-count',
        onSave: (v, control, group) => {
          if (v.trim() && !/^\d+(\.\d+)?$/.test(v.trim())) { setError(group, control, 'Enter a number, like 6'); return null; }
          setError(group, control, null);
          const record2 = C.records.get(answerKey(item.key));
          const next = { ...((shown(record2, 'value') && typeof shown(record2, 'value') === 'object') ? shown(record2, 'value') : {}) };
          if (v.trim()) next[name] = Number(v); else delete next[name];
          return save(Object.keys(next).length ? next : null);
        } }).group);
      return wrap(h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId }, legend(item, 's'), itemHint(item, hintId),
        h('div', { class: 'app-counts' }, boxes)));
    }
    case 'action_review': {
      const current = (value && typeof value === 'object') ? value : {};
      const previous = C.pack.previous_actions || [];
      const rows = previous.length ? previous.map((action) => {
        const id = `review-${k}-${safe(action.id)}`;
        const select = h('select', { class: 'govuk-select', id, name: id,
          onchange: (event) => {
            const record2 = C.records.get(answerKey(item.key));
            const next = { ...((shown(record2, 'value') && typeof shown(record2, 'value') === 'object') ? shown(record2, 'value') : {}) };
            if (event.target.value) next[action.id] = event.target.value; else delete next[action.id];
            return save(Object.keys(next).length ? next : null);
          } }, REVIEW_STATUSES.map(([v, label]) => h('option', { value: v, text: label })));
        select.value = current[action.id] || '';
        return h('div', { class: 'govuk-form-group' },
          h('label', { class: 'govuk-label', for: id, text: `${action.item_key}: ${action.description} (due ${longDate(action.due_date)})` }), select);
      }) : [h('p', { class: 'govuk-body', text: 'There are no open actions from earlier audits.' })];
      return wrap(h('fieldset', { class: 'govuk-fieldset', 'aria-describedby': hintId }, legend(item, 's'), itemHint(item, hintId), rows));
    }
    default:
      return wrap(h('p', { class: 'govuk-body', text: `${item.key}: ${item.question}` }));
  }
}

function suggestRegistration() {
  const choice = [...C.items.values()].find((i) => i.answer === 'choice' && i.choices.some((c) => c.value === 'possibly_required'));
  if (!choice) return;
  const el = document.getElementById(`suggest-${safe(choice.key)}`);
  if (!el) return;
  const num = (key) => Number(shown(C.records.get(answerKey(key)), 'value') || 0);
  const refer = num('HDR-4.2') >= 5 || num('HDR-4.3') >= 1;
  el.hidden = !refer;
  el.textContent = refer ? 'Suggested: “Possibly required - refer”, because HDR-4.2 is 5 or more, or HDR-4.3 is 1 or more. Confirm it with a reason.' : '';
}
