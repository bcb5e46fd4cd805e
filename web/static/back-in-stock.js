/*
 * storeflow back-in-stock snippet: a "Notify me" form for out-of-stock products.
 *
 * Paste on a product page (see docs/woocommerce.md):
 *
 *   <div data-storeflow-back-in-stock
 *        data-store-url="https://shop.example.com"
 *        data-product-id="732" data-product-title="Hoodie"
 *        data-in-stock="false"></div>
 *   <script src="https://storeflow.example.com/storefront/back-in-stock.js" defer></script>
 *
 * Simple products: the form shows unless data-in-stock="true". Variable products
 * (a WooCommerce form.variations_form on the page): the form shows when the chosen
 * variation is out of stock, and the request names that variation. Optional
 * attributes: data-company-id, data-variant-id, data-variant-title, data-endpoint
 * (defaults to the host this script was loaded from), data-label, data-button,
 * data-thanks.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : "";
  var PATH = "/api/woocommerce/back-in-stock/subscribe";

  function text(tag, className, content) {
    var node = document.createElement(tag);
    node.className = className;
    if (content) node.textContent = content;
    return node;
  }

  function variationTitle(form, variation) {
    var parts = [];
    if (variation && variation.attributes) {
      Object.keys(variation.attributes).forEach(function (key) {
        var select = form && form.querySelector('[name="' + key + '"]');
        var option = select && select.options ? select.options[select.selectedIndex] : null;
        var value = option ? option.text : variation.attributes[key];
        if (value) parts.push(value);
      });
    } else if (form) {
      form.querySelectorAll("select").forEach(function (select) {
        var option = select.options[select.selectedIndex];
        if (option && option.value) parts.push(option.text);
      });
    }
    return parts.join(", ");
  }

  function mount(box) {
    var data = box.dataset;
    var endpoint = (data.endpoint || scriptOrigin).replace(/\/+$/, "") + PATH;
    var variations = document.querySelector("form.variations_form");
    var state = { variantId: data.variantId || "", variantTitle: data.variantTitle || "" };

    var form = text("form", "storeflow-bis-form");
    var label = text("label", "storeflow-bis-label", data.label || "Email me when it is back in stock");
    var input = document.createElement("input");
    input.type = "email";
    input.name = "email";
    input.required = true;
    input.autocomplete = "email";
    input.placeholder = "you@example.com";
    label.appendChild(input);
    var button = text("button", "storeflow-bis-button", data.button || "Notify me");
    button.type = "submit";
    var message = text("p", "storeflow-bis-message");
    message.setAttribute("role", "status");
    form.appendChild(label);
    form.appendChild(button);
    form.appendChild(message);
    box.appendChild(form);

    function show(visible) {
      form.hidden = !visible;
    }

    function chose(variation) {
      if (!variation) {
        state.variantId = "";
        show(false);
        return;
      }
      state.variantId = String(variation.variation_id || "");
      state.variantTitle = variationTitle(variations, variation);
      show(variation.is_in_stock === false);
    }

    if (variations) {
      show(false);
      // WooCommerce announces the chosen variation with jQuery events.
      if (window.jQuery) {
        window.jQuery(variations)
          .on("found_variation", function (_event, variation) { chose(variation); })
          .on("reset_data hide_variation", function () { chose(null); });
      }
      // Without jQuery (or a theme that sets the field itself): read the hidden field.
      var field = variations.querySelector('input[name="variation_id"]');
      if (field) {
        field.addEventListener("change", function () {
          var stock = variations.getAttribute("data-storeflow-in-stock");
          state.variantId = field.value && field.value !== "0" ? field.value : "";
          state.variantTitle = variationTitle(variations, null);
          show(Boolean(state.variantId) && stock !== "true");
        });
      }
    } else {
      show(data.inStock !== "true");
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (variations && !state.variantId) {
        message.textContent = "Choose an option first.";
        return;
      }
      var body = {
        storeUrl: data.storeUrl || location.origin,
        email: input.value.trim(),
        providerProductId: String(data.productId || ""),
        productTitle: data.productTitle || document.title
      };
      if (data.companyId) body.companyId = parseInt(data.companyId, 10);
      if (state.variantId) {
        body.providerVariantId = state.variantId;
        if (state.variantTitle) body.variantTitle = state.variantTitle;
      }
      button.disabled = true;
      message.textContent = "";
      fetch(endpoint, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body)
      })
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (answer) {
            if (response.ok && answer.success) {
              message.textContent = data.thanks || "Thanks! We will email you when it is back.";
              box.setAttribute("data-storeflow-state", "subscribed");
              input.value = "";
            } else {
              var error = answer.error || {};
              message.textContent = response.status === 422 ? "Please check the email address." :
                response.status === 429 ? "Too many requests; try again later." :
                (error.message || "Something went wrong; please try again.");
              box.setAttribute("data-storeflow-state", "error");
            }
          });
        })
        .catch(function () {
          message.textContent = "Could not reach the server; please try again.";
          box.setAttribute("data-storeflow-state", "error");
        })
        .then(function () { button.disabled = false; });
    });
  }

  function start() {
    document.querySelectorAll("[data-storeflow-back-in-stock]").forEach(mount);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
