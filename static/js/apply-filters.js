// Filter forms that apply as soon as a choice changes (`data-apply-on-change`: the catalogue, the search page).
// Without JavaScript the form's submit button does the same; with it the button is hidden (class js-hide).
// The page reloads with the new filters, so the changed control gets the focus back (its id is kept in
// sessionStorage for that one load): a keyboard or screen reader user carries on where they were.
(function () {
  "use strict";
  var KEY = "apply-filters-focus";

  function restoreFocus() {
    var id;
    try { id = window.sessionStorage.getItem(KEY); window.sessionStorage.removeItem(KEY); } catch (error) { return; }
    var control = id && document.getElementById(id);
    if (control && control.form && control.form.hasAttribute("data-apply-on-change")) { control.focus(); }
  }

  document.querySelectorAll("form[data-apply-on-change]").forEach(function (form) {
    form.addEventListener("change", function (event) {
      var control = event.target;
      if (control.tagName !== "SELECT") { return; }  // a text box still waits for Enter or its button
      try { window.sessionStorage.setItem(KEY, control.id); } catch (error) { /* storage refused: no focus kept */ }
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    });
  });
  restoreFocus();
}());
