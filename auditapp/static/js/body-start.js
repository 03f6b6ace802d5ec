// Runs before first paint so GOV.UK components style themselves for JavaScript from the start.
// (GOV.UK's template does this inline; our Content-Security-Policy allows no inline script.)
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
