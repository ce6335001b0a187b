// The header's menu on phones: folded behind the "Menu" button (a disclosure: aria-expanded on the button,
// aria-controls naming the menu). Loaded in <head> without defer, so <html class="js"> is set before the
// header is drawn; app.css folds the menu only under .js and below the lg breakpoint. Without JavaScript the
// button stays hidden and the menu open. Escape closes an open menu and gives the focus back to the button.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function setUp() {
    var button = document.querySelector(".menu-toggle");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) { return; }

    function show(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("is-open", open);
    }

    button.hidden = false;
    button.addEventListener("click", function () {
      show(button.getAttribute("aria-expanded") !== "true");
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        show(false);
        button.focus();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
}());
