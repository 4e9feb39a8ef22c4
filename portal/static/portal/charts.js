/* Usage charts of the application page, drawn with the vendored Chart.js (no CDN).
   The page embeds 90 days of data (json_script "usage-data"); the 30/90-day buttons redraw
   from it without another request. window.portalCharts exposes the charts to browser tests. */
(function () {
  "use strict";
  var source = document.getElementById("usage-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var palette = ["#1f6feb", "#e8710a", "#12a37f", "#a142f4", "#d93f4c", "#8a6d00", "#5b6475"];
  var charts = {};
  window.portalCharts = charts;

  function label(iso) {
    var parts = iso.split("-");
    var day = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    return day.toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC" });
  }

  function datasets(chart, days) {
    return chart.series.map(function (series, n) {
      var colour = palette[n % palette.length];
      return {
        label: series.label,
        data: series.values.slice(-days).map(function (v) { return v === null ? null : Number(v); }),
        backgroundColor: chart.kind === "bar" ? colour : colour + "22",
        borderColor: colour,
        borderWidth: chart.kind === "bar" ? 0 : 2,
        pointRadius: chart.kind === "bar" ? 0 : (days > 45 ? 0 : 2),
        fill: chart.kind === "line",
        tension: 0.25,
        spanGaps: true,
      };
    });
  }

  function draw(days) {
    var labels = data.days.slice(-days).map(label);
    data.charts.forEach(function (chart) {
      var canvas = document.getElementById("chart-" + chart.key);
      if (!canvas) return;
      var existing = charts[chart.key];
      if (existing) {
        existing.data.labels = labels;
        existing.data.datasets = datasets(chart, days);
        existing.update();
        return;
      }
      var stacked = chart.kind === "bar";
      charts[chart.key] = new Chart(canvas, {
        type: chart.kind,
        data: { labels: labels, datasets: datasets(chart, days) },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { stacked: stacked, grid: { display: false }, ticks: { maxTicksLimit: 8, maxRotation: 0 } },
            y: { stacked: stacked, beginAtZero: true, title: { display: true, text: chart.unit } },
          },
          plugins: {
            legend: { display: chart.series.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          },
        },
      });
    });
    document.querySelectorAll(".chart-summary").forEach(function (p) {
      p.hidden = p.getAttribute("data-window") !== String(days);
    });
    document.querySelectorAll(".toggle button").forEach(function (button) {
      var on = button.getAttribute("data-window") === String(days);
      button.classList.toggle("active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
    charts.window = days;
  }

  document.querySelectorAll(".toggle button").forEach(function (button) {
    button.addEventListener("click", function () { draw(Number(button.getAttribute("data-window"))); });
  });
  var first = document.querySelector(".toggle button");
  draw(first ? Number(first.getAttribute("data-window")) : 30);
})();
