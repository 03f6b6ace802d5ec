// The capture screen (/capture/#visit=ID&type=TYPE): routes on the hash, renders the audit from IndexedDB
// only (the landing list and "not on this device" otherwise), jumps to sections and items, and submits.
import { get, getAll, recordsOfAudit, savePack } from './store.js';
import { submitAudit } from './outbox.js';
import { requestSync, startSync } from './sync-loop.js';
import { onStatus, refreshCounts } from './sync-status.js';
import { fill, flushTexts, h, humanise, longDate, persist, safe, summaryRow } from './capture-dom.js';
import { applyReadOnly, buildContext, C, isAnswered, renderReturned, setContext, startSaver, timings, updateProgress } from './capture-context.js';
import { renderRated, renderTyped } from './capture-items.js';
import { renderConversations } from './capture-conversations.js';
import { openConcern, renderConcernDialog } from './capture-concern.js';
import { downloadExport, renderStatus } from './capture-status.js';
import { bindEvidence, renderEvidenceStatus } from './capture-evidence.js';
import { startUploads } from './evidence-uploader.js';

export async function startCapture(root) {
  document.documentElement.classList.add('app-capture-page');
  persist();
  window.addEventListener('hashchange', () => safeRoute(root));
  window.addEventListener('pagehide', flushTexts);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') flushTexts(); });
  await safeRoute(root);
  startSaver(root.dataset.user); // once the audit is on the screen: its loading must not slow the opening
  startSync();
  startUploads();
}

async function safeRoute(root) {
  try {
    await route(root);
  } catch (error) {
    setContext(null);
    fill(root, h('h1', { class: 'govuk-heading-l', text: 'The audit could not be opened' }),
      h('p', { class: 'govuk-body', text: `This browser could not read the audits stored on this device (${error && error.message || error}). Close other tabs of this service and try again.` }));
  }
}

function parseHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return { visit: params.get('visit'), type: params.get('type'), section: params.get('section'), item: params.get('item') };
}

async function route(root) {
  const where = parseHash();
  if (C && where.visit === String(C.pack.visit_id) && where.type === C.audit.audit_type) {
    jumpTo(where);
    return;
  }
  flushTexts();
  if (!where.visit || !where.type) {
    await renderLanding(root);
    return;
  }
  const started = performance.now();
  let pack = await get('packs', Number(where.visit));
  if (!pack && navigator.onLine) {
    root.replaceChildren(h('h1', { class: 'govuk-heading-l', text: 'Getting the visit' }),
      h('p', { class: 'govuk-body', role: 'status', text: 'Downloading this visit to the tablet…' }));
    try {
      const response = await fetch(`/capture/packs/${encodeURIComponent(where.visit)}`, { credentials: 'same-origin', cache: 'no-store' });
      if (response.ok) pack = await savePack(await response.json());
    } catch (_) { /* offline after all */ }
  }
  const audit = pack && pack.audits.find((a) => a.audit_type === where.type);
  if (!audit) {
    renderMissing(root, pack);
    return;
  }
  const records = await recordsOfAudit(audit.audit_id);
  setContext(buildContext(pack, audit, records));
  renderAudit(root);
  timings.render = performance.now() - started;
  timings.open = performance.now();
  if (where.section || where.item) jumpTo(where);
  refreshCounts();
  if (!statusBound) {
    statusBound = true;
    onStatus(renderStatus);
    bindEvidence();
  }
}

let statusBound = false;

function renderMissing(root, pack) {
  setContext(null);
  fill(root,
    h('h1', { class: 'govuk-heading-l', text: 'This audit is not on this device' }),
    h('p', { class: 'govuk-body', text: pack
      ? 'The visit is on this device, but you do not carry out this type of audit on it.'
      : 'Make the visit available offline from your visits while you have signal, then open it again.' }),
    h('p', { class: 'govuk-body' }, h('a', { class: 'govuk-link', href: '/visits/', text: 'Go to your visits' })));
}

async function renderLanding(root) {
  setContext(null);
  const packs = await getAll('packs').catch(() => []);
  const body = packs.length
    ? h('ul', { class: 'govuk-list govuk-list--spaced' }, packs.map((p) => h('li', {},
      h('span', { class: 'govuk-body govuk-!-font-weight-bold', text: `${p.provider.name}, ${longDate(p.visit.date)}` }),
      h('ul', { class: 'govuk-list' }, p.audits.map((a) => h('li', {},
        h('a', { class: 'govuk-link', href: `/capture/#visit=${p.visit_id}&type=${a.audit_type}` },
          `Open capture: ${a.title}`, h('span', { class: 'govuk-visually-hidden', text: `, ${p.provider.name}` }))))))))
    : h('p', { class: 'govuk-body', text: 'No visits are on this device yet. Make a visit available offline from your visits while you have signal.' });
  fill(root,
    h('h1', { class: 'govuk-heading-l', text: 'Audits on this device' }),
    navigator.onLine ? null : h('div', { class: 'govuk-inset-text', text: 'You are offline. These audits work without signal.' }),
    body,
    h('p', { class: 'govuk-body' }, h('a', { class: 'govuk-link', href: '/visits/', text: 'Your visits' })));
}

// ---- rendering ------------------------------------------------------------------------------

function renderAudit(root) {
  const { pack, audit, template } = C;
  const serviceName = document.title.includes(' - ') ? document.title.split(' - ').slice(1).join(' - ') : 'AP provider audits';
  document.title = `${template.title || audit.title}: ${pack.provider.name} - ${serviceName}`;
  const sections = template.sections;
  const promptSets = template.prompt_sets || [];
  const link = (extra) => `#visit=${pack.visit_id}&type=${audit.audit_type}&${extra}`;

  C.el.statusText = h('span', { class: 'app-status__text', text: 'Saved on this device' });
  C.el.statusDetail = h('span', { class: 'app-status__detail' });
  C.el.attention = h('div', { class: 'app-attention', hidden: true });
  const bar = h('div', { class: 'app-capture-bar' },
    h('div', { class: 'app-capture-bar__status' },
      h('p', { class: 'govuk-body-s app-status', role: 'status', 'aria-live': 'polite', id: 'sync-status' },
        C.el.statusText, h('br'), C.el.statusDetail),
      C.el.signIn = h('p', { class: 'govuk-body-s app-status', id: 'sign-in-again', hidden: true }),
      renderEvidenceStatus()),
    h('div', { class: 'app-capture-bar__actions' },
      h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small', id: 'sync-now',
                    onclick: () => requestSync({ reset: true }) }, 'Sync now'),
      C.el.exportButton = h('button', { type: 'button', class: 'govuk-button govuk-button--secondary app-button--small',
                                        id: 'export-outbox', hidden: true, onclick: () => downloadExport() }, 'Export unsynced changes'),
      h('button', { type: 'button', class: 'govuk-button govuk-button--warning app-button--small', id: 'raise-concern',
                    onclick: openConcern }, 'Raise a safeguarding concern')));

  const identity = h('dl', { class: 'govuk-summary-list govuk-summary-list--no-border app-identity' },
    summaryRow('Provider', `${pack.provider.name} (${pack.provider.legal_name})`),
    summaryRow('Number', [pack.provider.company_number && `Company ${pack.provider.company_number}`,
      pack.provider.charity_number && `Charity ${pack.provider.charity_number}`].filter(Boolean).join(', ') || 'None recorded'),
    summaryRow('Registration', humanise(pack.provider.registration_status || 'not_checked')),
    summaryRow('Site', `${pack.site.name}, ${pack.site.address}`),
    summaryRow('Visit', `${longDate(pack.visit.date)}, ${pack.visit.announced ? 'announced' : 'unannounced'}`),
    summaryRow('Contact', pack.provider.contact_name || 'None recorded'));

  C.el.jump = new Map();
  const jumpList = h('nav', { class: 'app-jump', 'aria-labelledby': 'jump-title' },
    h('h2', { class: 'govuk-heading-s', id: 'jump-title', text: 'Sections' }),
    h('ul', { class: 'govuk-list app-jump__list' },
      sections.map((section) => {
        const progress = h('span', { class: 'app-jump__progress' });
        C.el.jump.set(section.key, progress);
        return h('li', {}, h('a', { class: 'govuk-link', href: link(`section=${section.key}`) }, section.title), ' ', progress);
      }),
      promptSets.length ? h('li', {}, h('a', { class: 'govuk-link', href: link('section=conversations'), text: 'Conversations' })) : null,
      h('li', {}, h('a', { class: 'govuk-link', href: link('section=submit'), text: 'Submit for review' }))));

  C.el.progress = new Map();
  C.el.overall = h('p', { class: 'govuk-body app-overall' });
  C.el.readOnly = h('div', { class: 'govuk-inset-text', hidden: true, id: 'read-only-note' });
  C.el.returned = h('div', { id: 'returned' });

  const body = sections.map((section) => {
    const progress = h('p', { class: 'govuk-body-s app-progress', id: `progress-${safe(section.key)}` });
    C.el.progress.set(section.key, progress);
    return h('section', { class: 'app-section', id: `section-${safe(section.key)}`, 'aria-labelledby': `section-${safe(section.key)}-title` },
      h('h2', { class: 'govuk-heading-l app-section__title', id: `section-${safe(section.key)}-title`, tabindex: '-1' },
        h('span', { class: 'govuk-caption-m', text: section.key }), section.title),
      progress,
      section.items.map((item) => (item.answer === 'rating' ? renderRated(item) : renderTyped(item))));
  });

  fill(root,
    bar, C.el.attention,
    h('span', { class: 'govuk-caption-l', text: `${pack.provider.name}, ${pack.site.name}` }),
    h('h1', { class: 'govuk-heading-xl app-capture-title', text: template.title || audit.title }),
    C.el.readOnly,
    C.el.returned,
    identity,
    C.el.overall,
    jumpList,
    body,
    promptSets.length ? renderConversations(promptSets) : null,
    renderSubmit(),
    renderConcernDialog());
  updateProgress();
  applyReadOnly();
  renderReturned();
}

// ---- submit -------------------------------------------------------------------------------------

function renderSubmit() {
  C.el.submitError = h('div', { class: 'app-submit-error', id: 'submit-error' });
  C.el.submitButton = h('button', { type: 'button', class: 'govuk-button', id: 'submit-audit', 'data-edit': '', onclick: onSubmit }, 'Submit for review');
  // The question asked in the page, not in the browser's own dialog: "Yes, submit" or "Cancel".
  C.el.submitConfirm = h('div', { class: 'govuk-inset-text', id: 'submit-confirm', hidden: true },
    h('h3', { class: 'govuk-heading-m', id: 'submit-confirm-title', tabindex: '-1', text: 'Submit this audit for review?' }),
    h('p', { class: 'govuk-body', text: 'You will not be able to change it on this device. It is sent when there is signal.' }),
    h('div', { class: 'govuk-button-group' },
      h('button', { type: 'button', class: 'govuk-button', 'data-edit': '', onclick: onConfirmSubmit }, 'Yes, submit'),
      h('button', { type: 'button', class: 'govuk-button govuk-button--secondary', onclick: () => showSubmitConfirm(false) }, 'Cancel')));
  return h('section', { class: 'app-section', id: 'section-submit', 'aria-labelledby': 'section-submit-title' },
    h('h2', { class: 'govuk-heading-l', id: 'section-submit-title', tabindex: '-1', text: 'Submit for review' }),
    h('p', { class: 'govuk-body', text: 'Submit when every item is rated. You cannot change the audit on this device afterwards; it is sent when there is signal.' }),
    C.el.submitError,
    C.el.submitButton,
    C.el.submitConfirm);
}

function showSubmitConfirm(shown) {
  C.el.submitConfirm.hidden = !shown;
  C.el.submitButton.hidden = shown;
  if (shown) document.getElementById('submit-confirm-title').focus();
  else C.el.submitButton.focus();
}

async function onSubmit() {
  flushTexts();
  const unrated = [...C.items.values()].filter((item) => item.answer === 'rating' && !isAnswered(item));
  if (unrated.length) {
    const link = (item) => `#visit=${C.pack.visit_id}&type=${C.audit.audit_type}&item=${item.key}`;
    C.el.submitError.replaceChildren(h('div', { class: 'govuk-error-summary', tabindex: '-1' },
      h('div', { role: 'alert' },
        h('h3', { class: 'govuk-error-summary__title', text: 'There is a problem' }),
        h('div', { class: 'govuk-error-summary__body' },
          h('p', { class: 'govuk-body', text: `Rate every item before you submit: ${unrated.length} ${unrated.length === 1 ? 'item is' : 'items are'} not rated.` }),
          h('ul', { class: 'govuk-list govuk-error-summary__list' },
            unrated.slice(0, 10).map((item) => h('li', {}, h('a', { href: link(item), text: `${item.key}: ${item.question}` }))))))));
    C.el.submitError.firstChild.focus();
    return;
  }
  C.el.submitError.replaceChildren();
  showSubmitConfirm(true);
}

async function onConfirmSubmit() {
  C.el.submitConfirm.hidden = true;
  C.el.submitButton.hidden = false;
  const audit = await submitAudit(C.auditId);
  C.records.set(audit.key, audit);
  C.el.statusText.textContent = 'Saved on this device';
  applyReadOnly();
  renderReturned();
  refreshCounts({ phase: 'saved' });
  requestSync();
}

function jumpTo(where) {
  let target = null;
  if (where.item) {
    target = document.querySelector(`#item-${CSS.escape(safe(where.item))} input, #item-${CSS.escape(safe(where.item))} textarea`);
  } else if (where.section) {
    target = document.getElementById(`section-${safe(where.section)}-title`);
  }
  if (target) {
    target.scrollIntoView({ block: 'start' });
    target.focus({ preventScroll: true });
  }
}
