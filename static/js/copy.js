// Progressive enhancement of the bank transfer page: "Copy" buttons beside each fact (hidden without
// JavaScript, where people select the text themselves). A polite live region says when it is copied.
(function () {
  "use strict";
  var status = document.querySelector("[data-copy-status]");
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        if (status) {
          status.textContent = "";
          status.textContent = status.getAttribute("data-copied");
        }
      });
    });
  });
}());
