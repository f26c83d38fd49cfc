// The upload form: the name field for a new product line shows only while
// "New product line…" is chosen (without JavaScript it is always shown, and a name typed
// there alone asks for a new line).
(function () {
  "use strict";
  const select = document.getElementById("id_product_line");
  const box = document.getElementById("new-product-line");
  if (!select || !box) return;
  const field = box.querySelector("input");
  function sync(focus) {
    const wanted = select.value === box.dataset.newValue;
    // A name already typed (or sent back with an error) stays visible.
    box.hidden = !wanted && !(field && field.value);
    if (wanted && focus && field) field.focus();
  }
  select.addEventListener("change", function () { sync(true); });
  sync(false);
})();
