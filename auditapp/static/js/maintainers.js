// Maintainers' forms (decisions, provider records, closing): show the server's 409 answer — the form
// again with what changed while the maintainer was deciding — in place, as for 422. The layout's htmx
// config swaps only 2xx and 422; grading.js does the same for the grading forms.
document.body.addEventListener('htmx:beforeSwap', (event) => {
  const form = event.target instanceof Element ? event.target.closest('[data-swap-conflict]') : null;
  if (event.detail.xhr.status === 409 && form) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
