// A form that comes back with errors: move the focus to its error summary (`data-error-summary`, tabindex="-1",
// from the form_errors macro and the pages' own summaries), so keyboard and screen reader users start there
// instead of at the top of the page. The first summary wins when a page has several.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }
}());
