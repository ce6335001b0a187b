// Progressive enhancement: when the province changes, load its communes without a page reload.
// Without JavaScript the form offers a "show the communes" button instead.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var province = document.getElementById("province_code");
  var commune = document.getElementById("commune_code");
  var holder = document.querySelector("[data-communes-url]");
  if (!province || !commune || !holder) { return; }
  var base = holder.getAttribute("data-communes-url");
  province.addEventListener("change", function () {
    var placeholder = commune.options[0] ? commune.options[0].text : "";
    commune.length = 0;
    commune.add(new Option(placeholder, ""));
    if (!province.value) { return; }
    fetch(base + "/" + encodeURIComponent(province.value) + "/communes", { headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (items) {
        items.forEach(function (item) { commune.add(new Option(item.name, String(item.code))); });
      });
  });
}());
