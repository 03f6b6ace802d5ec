// Grading and moderation forms: show the server's 409 answer (another teacher saved first) in place
// of the form, as for 422. The layout's htmx config swaps only 2xx and 422; a 409 here carries the
// form again with what changed, so it must be seen rather than dropped as an error.
document.body.addEventListener('htmx:beforeSwap', (event) => {
  // The form that made the request: the event itself fires on the swap target.
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (event.detail.xhr.status === 409 && source instanceof Element && source.closest('[data-swap-conflict]')) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
