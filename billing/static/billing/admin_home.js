// Revenue per product family as stacked bars, one chart per currency (Chart.js, vendored).
(function () {
  const node = document.getElementById("revenue-data");
  if (!node || typeof Chart === "undefined") return;
  const palette = ["#417690", "#79aec8", "#e0a800", "#5b8c5a", "#c0504d", "#8064a2", "#4bacc6", "#7f7f7f"];
  JSON.parse(node.textContent).forEach(function (series) {
    const canvas = document.getElementById("revenue-" + series.currency);
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: series.months.map(function (m, i) { return i === series.estimate_index ? m + " (estimate)" : m; }),
        datasets: series.families.map(function (family, i) {
          const colour = palette[i % palette.length];
          return {
            label: family.label,
            data: family.data.map(Number),
            backgroundColor: series.months.map(function (m, j) { return j === series.estimate_index ? colour + "80" : colour; }),
            stack: "revenue",
          };
        }),
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                return ctx.dataset.label + ": " + ctx.parsed.y.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " " + series.currency;
              },
            },
          },
        },
        scales: {
          x: { stacked: true },
          y: { stacked: true, ticks: { callback: function (v) { return v.toLocaleString("en-US") + " " + series.currency; } } },
        },
      },
    });
  });
})();
