// Progressive enhancement of the search boxes: suggestions as the buyer types (an ARIA 1.2 combobox
// with a listbox). Without JavaScript each box is a plain GET form to /search.
(function () {
  "use strict";
  var MIN_LETTERS = 2;
  var DELAY_MS = 150;

  function setup(input) {
    var url = input.getAttribute("data-suggest-url");
    var host = input.parentNode;
    var form = input.form;
    if (!url || !form) { return; }
    var list = document.createElement("ul");
    list.id = input.id + "-suggestions";
    list.className = "suggest-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", input.labels && input.labels.length ? input.labels[0].textContent : "");
    list.hidden = true;
    host.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    var timer = null;
    var active = -1;
    var request = 0;

    function options() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = options();
      if (!items.length) { return; }
      active = (index + items.length) % items.length;
      for (var i = 0; i < items.length; i += 1) {
        items[i].setAttribute("aria-selected", i === active ? "true" : "false");
      }
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function choose(text) {
      input.value = text;
      close();
      form.submit();
    }

    function show(suggestions) {
      list.textContent = "";
      active = -1;
      input.removeAttribute("aria-activedescendant");
      suggestions.forEach(function (item, index) {
        var option = document.createElement("li");
        option.id = list.id + "-" + index;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.setAttribute("lang", "vi");
        option.textContent = item.text;
        // mousedown, not click: keep the focus in the box until the choice is made.
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(item.text);
        });
        list.appendChild(option);
      });
      list.hidden = suggestions.length === 0;
      input.setAttribute("aria-expanded", suggestions.length ? "true" : "false");
    }

    function fetchSuggestions() {
      var text = input.value.trim();
      if (text.length < MIN_LETTERS) { close(); return; }
      request += 1;
      var mine = request;
      fetch(url + "?q=" + encodeURIComponent(text), { headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) {
          if (mine === request && document.activeElement === input) { show(data.suggestions || []); }
        })
        .catch(function () { close(); });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fetchSuggestions, DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown" || event.key === "Down") {
        if (open) { highlight(active + 1); event.preventDefault(); }
      } else if (event.key === "ArrowUp" || event.key === "Up") {
        if (open) { highlight(active - 1); event.preventDefault(); }
      } else if (event.key === "Enter") {
        if (open && active >= 0) {
          event.preventDefault();
          choose(options()[active].textContent);
        }
      } else if (event.key === "Escape" || event.key === "Esc") {
        if (open) { close(); event.preventDefault(); }
      }
    });
    input.addEventListener("blur", close);
  }

  var boxes = document.querySelectorAll("input[data-suggest-url]");
  for (var i = 0; i < boxes.length; i += 1) { setup(boxes[i]); }
}());
