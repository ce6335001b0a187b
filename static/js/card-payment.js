// The card payment page: Stripe.js (loaded from STRIPE_JS_URL just before this file) mounts its card
// Element; "Pay" confirms the PaymentIntent with it, then goes to the return page, which asks our server
// how the payment stands. The publishable key and the client secret come from data attributes (no inline
// script: the CSP forbids it). A declined card stays on this page with Stripe's message, to try again.
(function () {
  "use strict";
  var form = document.getElementById("card-payment");
  if (!form || typeof window.Stripe !== "function") { return; }
  var button = document.getElementById("card-pay");
  var errors = document.getElementById("card-errors");
  var stripe = window.Stripe(form.getAttribute("data-publishable-key"),
    { locale: form.getAttribute("data-locale") === "en" ? "en" : "vi" });
  var card = stripe.elements().create("card", { hidePostalCode: true });
  card.mount("#card-element");
  button.disabled = false;
  card.on("change", function (event) {
    // Stripe.js passes an event; the fake Stripe's stand-in (tests, STRIPE_DEMO) calls this without one.
    errors.textContent = event && event.error ? event.error.message : "";
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    stripe.confirmCardPayment(form.getAttribute("data-client-secret"), { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          errors.textContent = result.error.message || form.getAttribute("data-error-generic");
          button.disabled = false;
          return;
        }
        window.location.assign(form.getAttribute("data-return-url"));
      }, function () {
        errors.textContent = form.getAttribute("data-error-generic");
        button.disabled = false;
      });
  });
}());
