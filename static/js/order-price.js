// Progressive enhancement of "Add to order": the tier price and the line total follow the quantity typed.
// The tiers come from data attributes ("min_qty:unit_price" pairs); without JavaScript the page shows the
// price for the quantity it was rendered with, and the server checks and prices every order anyway.
(function () {
  "use strict";
  document.querySelectorAll("form[data-price-calculator]").forEach(function (form) {
    var input = form.querySelector("input[name=quantity]");
    var valid = form.querySelector("[data-valid]");
    var invalid = form.querySelector("[data-invalid]");
    var unitPrice = form.querySelector("[data-unit-price]");
    var lineTotal = form.querySelector("[data-line-total]");
    if (!input || !valid || !invalid || !unitPrice || !lineTotal) { return; }
    var base = Number(form.getAttribute("data-base-price"));
    var minimum = Number(form.getAttribute("data-min")) || 1;
    var step = Number(form.getAttribute("data-step")) || 1;
    var tiers = (form.getAttribute("data-tiers") || "").split(" ").filter(Boolean).map(function (pair) {
      var parts = pair.split(":");
      return { from: Number(parts[0]), price: Number(parts[1]) };
    }).sort(function (a, b) { return a.from - b.from; });
    var money = new Intl.NumberFormat(form.getAttribute("data-locale") === "en" ? "en" : "vi-VN",
      { style: "currency", currency: "VND", maximumFractionDigits: 0 });

    function priceFor(quantity) {
      var price = base;
      tiers.forEach(function (tier) { if (quantity >= tier.from) { price = tier.price; } });
      return price;
    }

    function update() {
      var text = input.value.trim();
      var quantity = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
      var ok = quantity >= minimum && quantity % step === 0;
      valid.hidden = !ok;
      invalid.hidden = ok;
      if (ok) {
        var price = priceFor(quantity);
        unitPrice.textContent = money.format(price);
        lineTotal.textContent = money.format(price * quantity);
      }
    }

    input.addEventListener("input", update);
    update();
  });
}());
