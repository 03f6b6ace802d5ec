// "Raise a safeguarding concern": the disclosure route to follow now, and the referral form (saved on this
// device and sent first).
import { raiseConcern } from './outbox.js';
import { requestSync } from './sync-loop.js';
import { refreshCounts } from './sync-status.js';
import { errorMessage, h, radioGroup, setError } from './capture-dom.js';
import { C } from './capture-context.js';

export function renderConcernDialog() {
  const route = C.template.disclosure_route || [];
  const now = new Date();
  const time = `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  const field = (id, label, hint, control) => h('div', { class: 'govuk-form-group' },
    h('label', { class: 'govuk-label', for: id, text: label }), hint ? h('div', { class: 'govuk-hint', id: `${id}-hint`, text: hint }) : null, control);
  const form = h('form', { class: 'app-concern-form', novalidate: true, onsubmit: onConcern },
    h('div', { id: 'concern-errors' }),
    field('concern-time', 'Time', 'When it happened or was disclosed, today',
      h('input', { class: 'govuk-input govuk-input--width-10', id: 'concern-time', name: 'time', type: 'time', value: time, 'aria-describedby': 'concern-time-hint' })),
    field('concern-referred', 'Referred to (role)', 'For example: provider’s DSL, LADO, children’s social care, police',
      h('input', { class: 'govuk-input', id: 'concern-referred', name: 'referred_to_role', type: 'text', 'aria-describedby': 'concern-referred-hint' })),
    field('concern-reference', 'Reference number (optional)', null,
      h('input', { class: 'govuk-input govuk-input--width-20', id: 'concern-reference', name: 'reference_number', type: 'text' })),
    h('div', { class: 'govuk-form-group', id: 'concern-about-group' }, h('fieldset', { class: 'govuk-fieldset', id: 'concern-about' },
      h('legend', { class: 'govuk-fieldset__legend govuk-fieldset__legend--s', text: 'Is it about the provider or its staff?' }),
      radioGroup('about', 'concern-about', [[true, 'Yes'], [false, 'No']], null, () => {}))),
    field('concern-summary', 'Short summary (optional)', 'A few words. No names and no account of what was said.',
      h('textarea', { class: 'govuk-textarea', id: 'concern-summary', name: 'summary', rows: '3', 'aria-describedby': 'concern-summary-hint' })),
    h('div', { class: 'govuk-button-group' },
      h('button', { type: 'submit', class: 'govuk-button govuk-button--warning', text: 'Save the concern' }),
      h('button', { type: 'button', class: 'govuk-button govuk-button--secondary', text: 'Cancel', onclick: () => C.el.dialog.close() })));
  C.el.dialog = h('dialog', { class: 'app-dialog', id: 'concern-dialog', 'aria-labelledby': 'concern-title' },
    h('h2', { class: 'govuk-heading-l', id: 'concern-title', text: 'Raise a safeguarding concern' }),
    route.length ? [h('h3', { class: 'govuk-heading-s', text: 'What to do now' }),
      h('ol', { class: 'govuk-list govuk-list--number' }, route.map((step) => h('li', { text: step })))] : null,
    h('h3', { class: 'govuk-heading-s', text: 'Record the referral' }),
    form);
  return C.el.dialog;
}

export function openConcern() {
  const dialog = C.el.dialog;
  if (!dialog.open) dialog.showModal();
  dialog.querySelector('h2').setAttribute('tabindex', '-1');
  dialog.querySelector('h2').focus();
}

async function onConcern(event) {
  event.preventDefault();
  const form = event.target;
  const errors = [];
  const time = form.querySelector('#concern-time');
  const referred = form.querySelector('#concern-referred');
  const about = form.querySelector('input[name="about"]:checked');
  for (const [control, bad, message] of [[time, !time.value, 'Enter the time'], [referred, !referred.value.trim(), 'Enter who it was referred to']]) {
    setError(control.closest('.govuk-form-group'), control, bad ? message : null);
    if (bad) errors.push([control.id, message]);
  }
  const aboutGroup = form.querySelector('#concern-about-group');
  aboutGroup.classList.toggle('govuk-form-group--error', !about);
  const old = aboutGroup.querySelector('.govuk-error-message');
  if (old) old.remove();
  if (!about) {
    aboutGroup.querySelector('legend').after(errorMessage('concern-about-error', 'Select yes if it is about the provider or its staff'));
    errors.push(['concern-about-true', 'Select yes if it is about the provider or its staff']);
  }
  const summaryHolder = form.querySelector('#concern-errors');
  if (errors.length) {
    summaryHolder.replaceChildren(h('div', { class: 'govuk-error-summary', tabindex: '-1' }, h('div', { role: 'alert' },
      h('h3', { class: 'govuk-error-summary__title', text: 'There is a problem' }),
      h('div', { class: 'govuk-error-summary__body' }, h('ul', { class: 'govuk-list govuk-error-summary__list' },
        errors.map(([id, message]) => h('li', {}, h('a', { href: `#${id}`, text: message, onclick: (e) => { e.preventDefault(); document.getElementById(id).focus(); } }))))))));
    summaryHolder.firstChild.focus();
    return;
  }
  summaryHolder.replaceChildren();
  const [hours, minutes] = time.value.split(':').map(Number);
  const when = new Date();
  when.setHours(hours, minutes, 0, 0);
  await raiseConcern({
    visit_id: C.pack.visit_id, occurred_at: when.toISOString(), referred_to_role: referred.value.trim(),
    reference_number: form.querySelector('#concern-reference').value.trim() || null,
    about_provider_or_staff: about.value === 'true', summary: form.querySelector('#concern-summary').value.trim() || null,
  });
  form.reset();
  time.value = `${String(hours).padStart(2, '0')}:${String(minutes).padStart(2, '0')}`;
  C.el.dialog.close();
  C.el.statusText.textContent = 'Concern saved on this device; it is sent first';
  refreshCounts({ phase: 'saved' });
  requestSync({ reset: true });
}
