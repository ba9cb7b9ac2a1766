/* Draws a program design report's chart from the JSON the page embeds (Chart.js is served locally). */
(function () {
  "use strict";
  const dataNode = document.getElementById("program-design-data");
  const figure = document.querySelector("[data-chart]");
  if (!dataNode || !figure || typeof Chart === "undefined") return;
  const data = JSON.parse(dataNode.textContent);
  const canvas = figure.querySelector("canvas");
  const style = getComputedStyle(document.documentElement);
  Chart.defaults.color = style.getPropertyValue("--body-fg").trim() || "#333";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  const shade = (i, n) => `hsl(${205 - (i * 150) / Math.max(n, 1)}, 50%, 50%)`;
  const bars = (labels, datasets, options) =>
    new Chart(canvas, { type: "bar", data: { labels, datasets }, options: options || {} });

  const draw = {
    pyramid() {
      const tiers = data.tiers.slice().reverse();
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: tiers.map((t) => t.name),
          datasets: [{ data: tiers.map((t) => [-t.members / 2, t.members / 2]),
                       backgroundColor: tiers.map((_, i) => shade(i, tiers.length)) }],
        },
        options: {
          indexAxis: "y",
          plugins: { legend: { display: false },
                     tooltip: { callbacks: { label: (c) => tiers[c.dataIndex].members.toLocaleString() } } },
          scales: { x: { display: false }, y: { grid: { display: false } } },
        },
      });
    },
    calibration() {
      bars(data.tiers, [
        { label: data.labels.target, data: data.target, backgroundColor: shade(0, 3) },
        { label: data.labels.current, data: data.current, backgroundColor: shade(1, 3) },
        { label: data.labels.proposed, data: data.proposed, backgroundColor: shade(2, 3) },
      ]);
    },
    rfm() {
      bars(data.labels, [{ data: data.members, backgroundColor: data.labels.map((_, i) => shade(i, 4)) }],
           { plugins: { legend: { display: false } } });
    },
    weights() {
      bars(data.rules, data.tiers.map((t, i) => ({ label: t.name, data: t.shares, backgroundColor: shade(i, data.tiers.length) })));
    },
    forecast() {
      bars(data.tiers, data.personas.map((p, i) => ({ label: p.name, data: p.days, backgroundColor: shade(i, 3) })),
           { scales: { y: { beginAtZero: true } } });
    },
    economics() {
      bars(data.months, [
        { label: data.labels.earned, data: data.earned, backgroundColor: shade(0, 3) },
        { label: data.labels.spent, data: data.spent, backgroundColor: shade(1, 3) },
        { label: data.labels.expired, data: data.expired, backgroundColor: shade(2, 3) },
      ]);
    },
  };
  (draw[figure.dataset.chart] || function () {})();
})();
