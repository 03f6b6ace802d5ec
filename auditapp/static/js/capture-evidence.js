// Evidence on the capture screen: "Add photo" and "Add document" on every checklist item (policy checks
// included; conversations never have any), the item's files with a thumbnail or a file tag and their upload
// state, removal with a reason, and the evidence line of the status bar with the upload's progress.
import { get } from './store.js';
import { syncSoon } from './sync-loop.js';
import { refreshCounts, refreshCountsSoon } from './sync-status.js';
import { EvidenceError, formatSize, limitsOf, prepare } from './evidence-media.js';
import { queueEvidence, withdrawEvidence } from './evidence-store.js';
import { onUploads, uploads } from './evidence-uploader.js';
import { errorMessage, h, safe, setError } from './capture-dom.js';
import { C, needSignIn, timings } from './capture-context.js';

timings.evidence = timings.evidence || [];      // preparation of each file (decode, downscale, hash): ms and sizes
timings.uploadProgress = timings.uploadProgress || []; // every progress report: [evidence id, loaded, total]
const thumbUrls = new Map();                    // evidence id -> object URL of its thumbnail (kept for the page's life)
const removals = new Map();                     // evidence id -> its open "remove" form, kept across re-renders

// ---- the item's evidence --------------------------------------------------------------------------------

function filesOf(itemKey) {
  const files = [];
  for (const record of C.records.values()) {
    if (record.entity === 'evidence' && record.item_key === itemKey) files.push(record);
  }
  return files.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The evidence block of one item: its files, then "Add photo" and "Add document". */
export function renderEvidence(item) {
  const k = safe(item.key);
  const limits = limitsOf(C.pack);
  const files = filesOf(item.key);
  const hintId = `evidence-hint-${k}`;
  const picker = (mode) => h('input', {
    type: 'file', id: `${mode}-${k}`, hidden: true, multiple: true, 'aria-label': `${mode === 'photo' ? 'Photo' : 'Document'} for ${item.key}`,
    accept: mode === 'photo' ? 'image/*' : [...limits.types, '.pdf'].join(','), capture: mode === 'photo' ? 'environment' : null,
    onchange: (event) => addFiles(item, mode, event.target) });
  const photo = picker('photo');
  const documentInput = picker('document');
  const button = (text, input) => h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
    'data-edit': '', id: `${input.id}-button`, 'aria-describedby': hintId, onclick: () => input.click() },
  text, h('span', { class: 'govuk-visually-hidden', text: ` for ${item.key}` }));
  const hint = item.policy ? `For example, the ${item.policy.document}. ` : '';
  return h('div', { class: 'govuk-form-group app-evidence', id: `evidence-${k}`, 'data-evidence-item': item.key },
    h('p', { class: 'govuk-body-s app-evidence__title', id: `evidence-title-${k}` }, 'Evidence',
      h('span', { class: 'govuk-visually-hidden', text: ` for ${item.key}` }), files.length ? ` (${files.length})` : ''),
    files.length ? h('ul', { class: 'govuk-list app-evidence__list', 'aria-labelledby': `evidence-title-${k}` },
      files.map((record, index) => renderFile(item, record, index + 1))) : null,
    h('div', { class: 'govuk-hint', id: hintId,
               text: `${hint}Photos are made smaller on this tablet. Documents: ${limits.types.includes('application/pdf') ? 'PDF or image, ' : ''}up to ${formatSize(limits.max)}.` }),
    h('div', { class: 'govuk-button-group app-evidence__controls' },
      button('Add photo', photo), button('Add document', documentInput), photo, documentInput));
}

function stateOf(record) {
  if (record.status === 'verified') return ['Received', 'govuk-tag--green'];
  if (record.status === 'rejected') return ['Not accepted', 'govuk-tag--red'];
  if (record.status === 'withdrawn') return ['Removed', 'govuk-tag--grey'];
  if (uploads.current && uploads.current.id === record.id) return ['Uploading', 'govuk-tag--light-blue'];
  if (!record.has_blob) return ['Waiting for the device it was taken on', 'govuk-tag--grey'];
  return ['Saved on this device, waiting to upload', 'govuk-tag--yellow'];
}

function renderFile(item, record, n) {
  const [label, tagClass] = stateOf(record);
  const what = record.media_type === 'application/pdf' ? 'Document' : 'Photo';
  let picture;
  if (record.thumb) {
    if (!thumbUrls.has(record.id)) thumbUrls.set(record.id, URL.createObjectURL(record.thumb));
    picture = h('img', { class: 'app-evidence__thumb', src: thumbUrls.get(record.id), alt: `${what} ${n} for ${item.key}: ${record.filename}` });
  } else {
    picture = h('span', { class: 'app-evidence__doc', 'aria-hidden': 'true', text: record.media_type === 'application/pdf' ? 'PDF' : 'FILE' });
  }
  const current = uploads.current && uploads.current.id === record.id ? uploads.current : null;
  const details = [formatSize(record.size_bytes), record.width ? `${record.width} × ${record.height}` : null].filter(Boolean).join(', ');
  const problem = record.problem && record.status !== 'verified' ? record.problem.message : null;
  const canRemove = record.status !== 'withdrawn';
  return h('li', { class: 'app-evidence__file', 'data-evidence-id': record.id },
    picture,
    h('div', { class: 'app-evidence__body' },
      h('p', { class: 'govuk-body-s app-evidence__name' }, h('span', { class: 'govuk-!-font-weight-bold', text: record.filename }),
        ` (${details}) `, h('strong', { class: `govuk-tag ${tagClass} app-evidence__state`, text: label })),
      current ? progressBar(`progress-${record.id}`, current, `Upload of ${record.filename}`) : null,
      problem ? h('p', { class: 'govuk-body-s app-evidence__problem', text: `Reason: ${problem}.${record.status === 'rejected' ? ' Remove it and add the file again, or remove it with a reason.' : ''}` }) : null,
      record.status === 'withdrawn' && record.withdraw_reason ? h('p', { class: 'govuk-body-s', text: `Removed: ${record.withdraw_reason}` }) : null,
      canRemove ? (removals.get(record.id) || h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
        'data-edit': '', id: `remove-${record.id}`, onclick: () => openRemoval(item, record) },
      'Remove', h('span', { class: 'govuk-visually-hidden', text: ` ${record.filename} from ${item.key}` }))) : null));
}

const percentOf = (current) => (current.total ? Math.min(100, Math.round((100 * current.loaded) / current.total)) : 0);

function progressBar(id, current, label) {
  const holder = h('div', { class: 'app-evidence__progress' },
    h('progress', { id, max: '100', 'aria-label': label }),
    h('span', { class: 'govuk-body-s app-evidence__percent', 'aria-hidden': 'true' }));
  setProgress(holder, current);
  return holder;
}

function setProgress(holder, current) {
  const percent = percentOf(current);
  const bar = holder.querySelector('progress');
  if (bar.value === percent && bar.textContent) return;
  bar.value = percent;
  bar.textContent = `${percent}%`;
  bar.setAttribute('aria-valuetext', `${percent}% uploaded`);
  holder.querySelector('.app-evidence__percent').textContent = `${percent}%`;
}

function rerender(itemKey) {
  const item = C && C.items.get(itemKey);
  const block = item && document.getElementById(`evidence-${safe(itemKey)}`);
  if (!block) return;
  const focused = block.contains(document.activeElement) ? document.activeElement.id : null;
  const fresh = renderEvidence(item);
  if (block.querySelector('[data-edit]') && block.querySelector('[data-edit]').disabled) {
    for (const el of fresh.querySelectorAll('[data-edit], input, textarea')) el.disabled = true; // read-only audit
  }
  block.replaceWith(fresh);
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

// ---- adding and removing ----------------------------------------------------------------------------

async function addFiles(item, mode, input) {
  const chosen = [...input.files];
  input.value = '';
  timings.inflight += 1; // a file being prepared and stored is a save in progress, like a rating
  try {
    await storeFiles(item, mode, input, chosen);
  } finally {
    timings.inflight -= 1;
  }
}

async function storeFiles(item, mode, input, chosen) {
  const k = safe(item.key);
  showError(item, null);
  for (const file of chosen) {
    try {
      const prepared = await prepare(file, mode, limitsOf(C.pack));
      timings.evidence.push({ ms: prepared.ms, mode, original_bytes: prepared.original_bytes, bytes: prepared.size_bytes,
                              width: prepared.width, height: prepared.height, steps: prepared.steps });
      const record = await queueEvidence(C.auditId, item.key, prepared, mode);
      C.records.set(record.key, record);
      rerender(item.key);
      refreshCountsSoon({ phase: 'saved' });
      syncSoon();
    } catch (error) {
      const text = error instanceof EvidenceError ? error.message : `The selected file could not be saved on this device (${error.message || error})`;
      showError(item, chosen.length > 1 ? `${file.name}: ${text}` : text);
      document.getElementById(`${input.id}-button`).focus();
      return;
    }
  }
}

/** A GOV.UK error message in the item's evidence group, read out with both buttons. */
function showError(item, text) {
  const k = safe(item.key);
  const group = document.getElementById(`evidence-${k}`);
  const id = `evidence-error-${k}`;
  document.getElementById(id)?.remove();
  group.classList.toggle('govuk-form-group--error', Boolean(text));
  if (text) document.getElementById(`evidence-hint-${k}`).after(errorMessage(id, text));
  for (const button of group.querySelectorAll('.app-evidence__controls button')) {
    button.setAttribute('aria-describedby', text ? `evidence-hint-${k} ${id}` : `evidence-hint-${k}`);
  }
}

function openRemoval(item, record) {
  const id = `reason-${record.id}`;
  const form = h('div', { class: 'app-reveal app-evidence__remove', id: `removal-${record.id}` },
    h('div', { class: 'govuk-form-group' },
      h('label', { class: 'govuk-label', for: id }, 'Why are you removing this file?',
        h('span', { class: 'govuk-visually-hidden', text: ` (${record.filename}, ${item.key})` })),
      h('div', { class: 'govuk-hint', id: `${id}-hint`, text: 'The reviewer sees this reason.' }),
      h('textarea', { class: 'govuk-textarea', id, name: id, rows: '2', 'aria-describedby': `${id}-hint` })),
    h('div', { class: 'govuk-button-group' },
      h('button', { type: 'button', class: 'govuk-button govuk-button--warning app-button--small', 'data-edit': '',
                    id: `confirm-remove-${record.id}`, onclick: () => confirmRemoval(item, record.id) }, 'Remove file'),
      h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small', id: `cancel-remove-${record.id}`,
                    onclick: () => { removals.delete(record.id); rerender(item.key); document.getElementById(`remove-${record.id}`)?.focus(); } },
      'Cancel')));
  removals.set(record.id, form);
  rerender(item.key);
  document.getElementById(id).focus();
}

async function confirmRemoval(item, id) {
  const box = document.getElementById(`reason-${id}`);
  const reason = box.value.trim();
  if (!reason) {
    setError(box.closest('.govuk-form-group'), box, 'Enter why you are removing this file');
    box.focus();
    return;
  }
  const record = await withdrawEvidence(id, reason);
  removals.delete(id);
  if (record.local_only) refreshCounts(); // the refused registration left "needs attention" with it
  C.records.set(record.key, record);
  rerender(item.key);
  document.getElementById(`evidence-title-${safe(item.key)}`)?.setAttribute('tabindex', '-1');
  document.getElementById(`evidence-title-${safe(item.key)}`)?.focus();
  refreshCountsSoon({ phase: 'saved' });
  syncSoon();
}

// ---- the status bar line ---------------------------------------------------------------------------

function waitText(u) {
  const n = u.waiting;
  const files = `${n} evidence ${n === 1 ? 'file is' : 'files are'} waiting`;
  const again = u.retryAt ? Math.max(1, Math.round((u.retryAt - Date.now()) / 1000)) : null;
  const when = again == null ? 'shortly' : again < 90 ? `in ${again} seconds` : `in ${Math.round(again / 60)} minutes`;
  switch (u.phase) {
    case 'uploading': return `Uploading evidence: file ${u.current.index} of ${u.current.count}`;
    case 'offline': return n ? `${files}: they upload when there is signal` : '';
    case 'blocked': return n ? `${files}: they upload once this audit’s changes have synced` : '';
    case 'unreachable':
      if (!n) return '';
      return u.store === false ? `${files} because the server cannot be reached. They are tried again ${when}`
        : `${files} because the file store cannot be reached. Answers keep syncing. Evidence is tried again ${when}`;
    case 'server_error': return n ? `The server had a problem; it will be tried again ${when}. ${files}` : '';
    case 'registering': return n ? `${files} for the server to record them; tried again ${when}` : '';
    case 'signin': return n ? `${files}: sign in again to upload them` : '';
    default: return n ? `${files} to upload` : '';
  }
}

/** The evidence part of the status bar (the screen builds it once per open audit). */
export function renderEvidenceStatus() {
  C.el.evidenceStatus = h('p', { class: 'govuk-body-s app-status app-evidence-status', id: 'evidence-status', role: 'status' });
  C.el.evidenceProgress = h('div', { class: 'app-evidence-status__progress' });
  showUploads(uploads);
  return [C.el.evidenceStatus, C.el.evidenceProgress];
}

let lastIndex = null;

function showUploads(u) {
  if (!C || !C.el.evidenceStatus) return;
  const rejected = u.rejected ? `${u.rejected} evidence ${u.rejected === 1 ? 'file was' : 'files were'} not accepted: see the item for the reason` : '';
  const text = [waitText(u), rejected].filter(Boolean).join('. ');
  if (C.el.evidenceStatus.textContent !== text) C.el.evidenceStatus.textContent = text;
  needSignIn('uploads', u.phase === 'signin' && u.waiting > 0);
  if (u.phase === 'uploading' && u.current) {
    const { current } = u;
    timings.uploadProgress.push([current.id, current.loaded, current.total]);
    const label = `Uploading ${current.filename} (${current.index} of ${current.count})`;
    if (lastIndex !== current.id) {
      const previous = lastIndex;
      lastIndex = current.id;
      C.el.evidenceProgress.replaceChildren(h('span', { class: 'govuk-body-s app-evidence-status__label', id: 'evidence-progress-label', text: label }),
        progressBar('evidence-progress', current, label));
      if (previous) rerender(itemOf(previous));
      rerender(itemOf(current.id));
    } else {
      setProgress(C.el.evidenceProgress.querySelector('.app-evidence__progress'), current);
      const row = document.getElementById(`progress-${current.id}`);
      if (row) setProgress(row.parentElement, current);
    }
  } else if (lastIndex !== null) {
    const finished = lastIndex;
    lastIndex = null;
    C.el.evidenceProgress.replaceChildren();
    rerender(itemOf(finished));
  }
}

function itemOf(id) {
  const record = C && C.records.get(`evidence|${id}`);
  return record ? record.item_key : null;
}

async function refreshChanged(keys) {
  const records = await Promise.all([...new Set(keys)].map((key) => get('records', key)));
  for (const record of records) {
    if (!record || !C || record.audit_id !== C.auditId) continue;
    C.records.set(record.key, record);
    rerender(record.item_key);
  }
}

let bound = false;

/** Follow the uploader: the status line, the progress and the files whose state changed. */
export function bindEvidence() {
  if (bound) return;
  bound = true;
  onUploads((u) => {
    showUploads(u);
    if (u.changed.length) refreshChanged(u.changed);
  });
}
