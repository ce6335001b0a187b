// Progressive enhancement for printable pages: shows the "Print" buttons (hidden without JavaScript,
// where the page tells people to use the browser's own Print command).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
