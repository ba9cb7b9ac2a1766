/* The what-if page's pyramid: members per tier today, and after the next recalculation with the
   current ladder and with the edited one. */
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
        { label: data.labels.now, data: data.now.slice().reverse(), backgroundColor: "#c9d8e3" },
        { label: data.labels.configured, data: data.configured.slice().reverse(), backgroundColor: "#9bb7cc" },
        { label: data.labels.after, data: data.after.slice().reverse(), backgroundColor: "#417690" },
      ],
    },
    options: { indexAxis: "y", scales: { x: { beginAtZero: true } } },
  });
})();
