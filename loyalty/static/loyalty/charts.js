/* Draws the dashboard's charts from the JSON the page embeds (no network: Chart.js is served locally). */
(function () {
  "use strict";
  const dataNode = document.getElementById("dashboard-data");
  if (!dataNode || typeof Chart === "undefined") return;
  const data = JSON.parse(dataNode.textContent);
  const labels = JSON.parse(document.getElementById("chart-labels").textContent);
  const style = getComputedStyle(document.documentElement);
  const primary = style.getPropertyValue("--primary").trim() || "#79aec8";
  const accent = style.getPropertyValue("--secondary").trim() || "#417690";
  const text = style.getPropertyValue("--body-fg").trim() || "#333";
  Chart.defaults.color = text;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  const charts = (window.loyaltyCharts = {});

  // A pyramid: one bar per tier, centred on zero, top tier on top.
  const tiers = data.pyramid.slice().reverse();
  charts.pyramid = new Chart(document.getElementById("chart-pyramid"), {
    type: "bar",
    data: {
      labels: tiers.map((t) => t.name),
      datasets: [{
        label: labels.members,
        data: tiers.map((t) => [-t.members / 2, t.members / 2]),
        backgroundColor: tiers.map((_, i) => `hsl(${205 - i * 12}, 45%, ${40 + i * 6}%)`),
        borderRadius: 3,
      }],
    },
    options: {
      indexAxis: "y",
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (c) => `${labels.members}: ${tiers[c.dataIndex].members.toLocaleString()}` } },
      },
      scales: { x: { display: false }, y: { grid: { display: false } } },
    },
  });

  charts.events = new Chart(document.getElementById("chart-events"), {
    type: "line",
    data: {
      labels: data.events.days.map((d) => d.slice(5)),
      datasets: [{ label: labels.events, data: data.events.counts, borderColor: accent, backgroundColor: primary, fill: false, tension: 0.2 }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });

  charts.movements = new Chart(document.getElementById("chart-movements"), {
    type: "bar",
    data: {
      labels: data.movements.map((m) => m.name),
      datasets: [
        { label: labels.up, data: data.movements.map((m) => m.up), backgroundColor: "#3a9a5b" },
        { label: labels.down, data: data.movements.map((m) => m.down), backgroundColor: "#c0504d" },
      ],
    },
    options: { scales: { y: { beginAtZero: true } } },
  });

  charts.expiring = new Chart(document.getElementById("chart-expiring"), {
    type: "bar",
    data: {
      labels: data.expiring.map((e) => `≤ ${e.days} ${labels.days}`),
      datasets: [{ label: labels.points, data: data.expiring.map((e) => e.points), backgroundColor: "#d9a33f" }],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
})();
