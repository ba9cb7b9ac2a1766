/* Polls the progress of the runs shown on the page (elements with data-run-id) until all are finished. */
(function () {
  "use strict";
  const root = document.querySelector("[data-progress-url]");
  if (!root) return;
  const url = root.dataset.progressUrl;
  function rows() { return Array.from(document.querySelectorAll("[data-run-id]")); }
  function update(run) {
    // A run's own page shows more than the live panel (its heading, when it finished): reload it whole.
    const page = document.getElementById("run-progress");
    if (page && page.dataset.runId === String(run.id) && page.dataset.status === "running" && run.status !== "running") {
      window.location.reload();
      return;
    }
    document.querySelectorAll(`[data-run-id="${run.id}"]`).forEach((row) => {
      row.dataset.status = run.status;
      const set = (name, value) => row.querySelectorAll(`[data-field="${name}"]`).forEach((el) => { el.textContent = value; });
      const bar = row.querySelector("progress");
      if (bar) { bar.max = Math.max(run.chunks_total, 1); bar.value = run.chunks_done; }
      set("chunks", `${run.chunks_done}/${run.chunks_total}`);
      set("members_changed", run.members_changed.toLocaleString());
      set("entries_written", run.entries_written.toLocaleString());
      set("error", run.error);
      row.querySelectorAll('[data-field="error"]').forEach((el) => { el.hidden = !run.error; });
      row.querySelectorAll('[data-field="status"]').forEach((el) => {
        el.textContent = root.dataset[`status${run.status[0].toUpperCase()}${run.status.slice(1)}`] || run.status;
        el.className = `status status-${run.status}`;
      });
      const summary = row.querySelector('[data-field="summary"]');
      if (summary && run.summary && run.summary.length) {
        summary.replaceChildren(...run.summary.map((line) => Object.assign(document.createElement("li"), { textContent: line })));
      }
    });
  }
  async function poll() {
    const running = rows().filter((row) => row.dataset.status === "running").map((row) => row.dataset.runId);
    if (!running.length) return;
    try {
      const response = await fetch(`${url}?ids=${[...new Set(running)].join(",")}`, { headers: { Accept: "application/json" } });
      if (response.ok) (await response.json()).runs.forEach(update);
    } finally {
      setTimeout(poll, 1000);
    }
  }
  setTimeout(poll, 500);
})();
