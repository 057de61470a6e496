// Entry point of the standalone HTML player (`seg.to_html`, vseg_widgets/exports/html_player.py):
// the same PlayerView as in the notebook, fed by a StaticModel over the frames and masks
// embedded in the page instead of a kernel. Bundled as a classic script (IIFE), so that the
// page works inline from file:// in any browser, with no module loading and no network.
//
// The page holds, for each player, an element `<div data-vseg-data="ID">` and a
// `<script type="application/json" id="ID">` with the StandaloneData.

import { PlayerView } from "./player";
import { StaticModel, checkData, type StandaloneData } from "./static_model";

/** What the status line says when there is nothing else to say (the notebook's hints are
 *  about clicking and propagating, which a read-only page cannot do). */
export const READ_ONLY_HINT =
  "Read-only player · space: play · ←/→: step (shift: 10) · timeline: seek · ◉: show/hide an object · overlay and opacity";

/** Build the read-only player in `el` from `data`; returns it (or null, with the problems shown). */
export function mount(el: HTMLElement, data: unknown): PlayerView | null {
  const problems = checkData(data);
  if (problems.length) {
    el.textContent = `vseg_widgets: cannot show this player: ${problems.join("; ")}.`;
    el.style.color = "#d62728";
    return null;
  }
  const view = new PlayerView(new StaticModel(data as StandaloneData), el);
  makeReadOnly(view.root);
  return view;
}

/** Marks the root read-only (player.css + standalone.css hide the editing controls) and
 *  keeps the object labels and the status line fit for a page without a kernel. The player
 *  re-renders both, so observers keep them so. */
function makeReadOnly(root: HTMLElement): void {
  root.classList.add("vseg-readonly");
  root.dataset.readonly = "true";
  const lockLabels = () =>
    root.querySelectorAll<HTMLInputElement>(".vseg-obj-label").forEach((input) => {
      input.readOnly = true;
      input.tabIndex = -1;
      input.title = input.value ? `label: ${input.value}` : "no label";
    });
  const objects = root.querySelector<HTMLElement>("[data-testid=vseg-objects]");
  if (objects) new MutationObserver(lockLabels).observe(objects, { childList: true });
  lockLabels();
  const status = root.querySelector<HTMLElement>("[data-testid=vseg-status]");
  if (status) {
    const hint = () => {
      if (!status.dataset.kind && status.textContent !== READ_ONLY_HINT) status.textContent = READ_ONLY_HINT;
    };
    new MutationObserver(hint).observe(status, { childList: true, characterData: true, subtree: true, attributes: true });
    hint();
  }
}

function mountAll(): void {
  document.querySelectorAll<HTMLElement>("[data-vseg-data]").forEach((el) => {
    const script = document.getElementById(el.dataset.vsegData ?? "");
    let data: unknown = null;
    try {
      data = JSON.parse(script?.textContent ?? "null");
    } catch (e) {
      data = null;
    }
    mount(el, data);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
else mountAll();
