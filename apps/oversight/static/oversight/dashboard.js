// Draws the dashboard's charts: each .chart[data-figure] names the JSON script holding the
// plotly figure the server made; drawn on load and again after htmx swaps in new figures.
(function () {
  "use strict";
  function draw() {
    if (!window.Plotly) return;
    document.querySelectorAll(".chart[data-figure]").forEach(function (target) {
      const source = document.getElementById(target.dataset.figure);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      window.Plotly.react(target, figure.data, figure.layout, { displaylogo: false, responsive: true });
      target.dataset.drawn = "true";
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
