/* Follows the computation of a segment's new version on its change page until it is current. */
(function () {
  "use strict";
  const box = document.getElementById("segment-computation");
  if (!box) return;
  const set = (name, value) => box.querySelectorAll(`[data-field="${name}"]`).forEach((el) => { el.textContent = value; });
  async function poll() {
    let computing = true;
    try {
      const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const progress = await response.json();
        computing = progress.computing;
        const bar = box.querySelector("progress");
        bar.max = Math.max(progress.chunks_total, 1);
        bar.value = computing ? progress.chunks_done : bar.max;
        set("chunks", `${computing ? progress.chunks_done : progress.chunks_total}/${progress.chunks_total}`);
        if (!computing) {
          set("heading", box.dataset.doneText
            .replace("%(version)s", progress.current_version)
            .replace("%(count)s", (progress.member_count || 0).toLocaleString()));
          box.querySelectorAll('[data-field="note"]').forEach((el) => { el.hidden = true; });
        }
      }
    } finally {
      if (computing) setTimeout(poll, 1000);
    }
  }
  setTimeout(poll, 500);
})();
