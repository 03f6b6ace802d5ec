// Grading and moderation forms: show the server's 409 answer (another teacher saved first) in place
// of the form, as for 422. The layout's htmx config swaps only 2xx and 422; a 409 here carries the
// form again with what changed, so it must be seen rather than dropped as an error.
document.body.addEventListener('htmx:beforeSwap', (event) => {
  const form = event.target instanceof Element ? event.target.closest('[data-swap-conflict]') : null;
  if (event.detail.xhr.status === 409 && form) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
