// Start GOV.UK Frontend components, and again inside content that htmx swaps in.
import { initAll } from '../vendor/govuk-frontend/govuk-frontend.min.js';

initAll();
document.body.addEventListener('htmx:afterSwap', (event) => {
  initAll({ scope: event.detail.target });
});
