/* The what-if page's pyramid: members per tier now and after the changed thresholds. */
(function () {
  "use strict";
  const node = document.getElementById("whatif-data");
  if (!node || typeof Chart === "undefined") return;
  const data = JSON.parse(node.textContent);
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  window.whatifChart = new Chart(document.getElementById("chart-whatif"), {
    type: "bar",
    data: {
      labels: data.tiers.slice().reverse(),
      datasets: [
        { label: data.labels.now, data: data.now.slice().reverse(), backgroundColor: "#9bb7cc" },
        { label: data.labels.after, data: data.after.slice().reverse(), backgroundColor: "#417690" },
      ],
    },
    options: { indexAxis: "y", scales: { x: { beginAtZero: true } } },
  });
})();
