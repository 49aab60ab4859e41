// Pays a card order from its page with Stripe.js (loaded just before this file).
// The card field is Stripe's: the card number goes to Stripe, which answers with a
// token; only the token's card id is posted to the shop, in the page's own form
// (with its CSRF token), and the server answers with the page for what happened.
// A card that needs 3-D Secure comes back with the payment's client secret: Stripe.js
// runs the bank's check, then the page posts the check form and the server asks Stripe.
(function () {
  "use strict";
  var section = document.getElementById("card-payment");
  if (!section) return;
  var problem = document.getElementById("card-script-error");

  function fail(message) {
    problem.textContent = message;
    problem.hidden = false;
  }

  if (typeof window.Stripe !== "function") {
    fail("The card form could not load. Check your connection and reload this page.");
    return;
  }
  var stripe = window.Stripe(section.getAttribute("data-publishable-key"));
  var secret = section.getAttribute("data-client-secret");

  if (secret) {
    // Whatever the bank says, the server asks Stripe and shows the outcome.
    var check = document.getElementById("card-check-form");
    stripe.confirmCardPayment(secret).then(
      function () { check.submit(); },
      function () { check.submit(); }
    );
    return;
  }

  var form = document.getElementById("card-form");
  var cardId = document.getElementById("card-id");
  var button = document.getElementById("card-pay");
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  form.addEventListener("submit", function (event) {
    if (cardId.value) return; // the token is in: let the form go
    event.preventDefault();
    button.disabled = true;
    problem.hidden = true;
    stripe.createToken(card).then(function (result) {
      if (result.error || !result.token) {
        button.disabled = false;
        fail((result.error && result.error.message) || "Your card could not be read. Check it and try again.");
        return;
      }
      cardId.value = result.token.card.id;
      form.submit();
    }, function () {
      button.disabled = false;
      fail("We could not reach the card payment service. Check your connection and try again.");
    });
  });
}());
