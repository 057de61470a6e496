// The player view: canvas with frame + mask overlay + prompts, transport controls, object
// list, propagation controls, timeline strip and status line. One instance per rendered view.
//
// Durable state (frame, objects, prompts, settings, progress, timeline) comes from synced
// traits; frames (JPEG) and masks ("runs-v1") arrive as custom messages with binary buffers.
// Python validates everything we send; its "error" events land in the status line.

import { addPoint, resizeRadius, strokeMessages, type Tool } from "./brush";
import { LruCache, framesToFetch } from "./cache";
import { decodeRuns, fillRuns, labelRuns, paintContours, rgba32, runsTotal } from "./codec";
import { boxFromCorners, clampToFrame, clientToFrame, frameScale, type Point } from "./coords";
import { frameAtX, hasConfidence, layoutTimeline, nextDoubtful, timelineHeight, type TimelineData } from "./timeline";

// The subset of the anywidget model API used here.
export interface Model {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: (...args: any[]) => void): void;
  off(event: string, cb?: (...args: any[]) => void): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
}

interface ObjectInfo {
  id: number;
  color: string;
  visible: boolean;
  label?: string | null;
}

interface PromptInfo {
  frame: number;
  obj_id: number;
  kind: "points" | "box" | "mask";
  points?: [number, number][];
  labels?: number[];
  box?: [number, number, number, number];
}

/** Figures the browser test and the benchmark read from the root element (`el.vsegDebug`). */
export interface Debug {
  draws: number;
  overlayPixels: number; // overlay pixels painted in the last draw
  drawMs: number[]; // time of each draw while playing
  playTimes: number[]; // performance.now() of each frame shown while playing
  clickLatencies: number[]; // pointer up -> the new mask drawn, ms
  frameBytes: number[]; // JPEG bytes of each frame message
  maskBytes: number[]; // mask bytes of each masks message (one frame, all its objects)
  maskFrames: number[]; // the frame of each masks message with at least one mask
  strokes: number; // stroke messages sent
  doubtJumps: (number | null)[]; // where each "next doubtful frame" went (null: nowhere to go)
  errors: string[];
}

const SYNC_INTERVAL_MS = 200; // frame trait updates while playing or scrubbing
const MAX_REQUEST = 16; // frames per request message
const HINTS: Record<Tool, string> = {
  click: "Click: positive point · shift/right-click: negative · drag: box · b/e: brush/eraser · space: play · p: propagate · n: next doubtful frame",
  brush: "Brush: paint onto the selected object · [ ]: size · e: eraser · v: back to clicks · ctrl-z: undo",
  eraser: "Eraser: erase from the selected object · [ ]: size · b: brush · v: back to clicks · ctrl-z: undo",
};

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// The widget manager hands buffers over as DataViews (or ArrayBuffers) of plain, never
// shared, ArrayBuffers: the type says so, so that the bytes can go into a Blob.
type Bytes = Uint8Array<ArrayBuffer>;

function bytesOf(buf: ArrayBuffer | DataView<ArrayBuffer> | Bytes): Bytes {
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof DataView) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return new Uint8Array(buf);
}

export class PlayerView {
  readonly root: HTMLDivElement;
  readonly debug: Debug = {
    draws: 0, overlayPixels: 0, drawMs: [], playTimes: [], clickLatencies: [], frameBytes: [], maskBytes: [], maskFrames: [], strokes: 0,
    doubtJumps: [], errors: [],
  };
  private W: number;
  private H: number;
  private n: number;
  private cur: number;
  private canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private overlay: HTMLCanvasElement;
  private octx: CanvasRenderingContext2D;
  private pixels: ImageData;
  private pix32: Uint32Array;
  private labels: Uint8Array;
  private overlayKey = "";
  private frames: LruCache<number, ImageBitmap>;
  private pendingFrames = new Set<number>();
  private masks = new Map<number, Map<number, Uint32Array>>();
  private pendingMasks = new Set<number>();
  private maskVersion = 0;
  private playing = false;
  private nextDue = 0;
  private raf = 0;
  private lastSync = 0;
  private syncTimer: ReturnType<typeof setTimeout> | null = null;
  private drag: { start: Point; end: Point; x: number; y: number; negative: boolean; moved: boolean } | null = null;
  // A prompt sent and not yet answered: its message id, and whether the kernel's masks
  // reply to it (``reply_to``) came; other masks messages (answers to earlier requests)
  // do not end it.
  private pendingClick: { t0: number; frame: number; id: number; answered: boolean } | null = null;
  private promptIds = 0;
  // A brush or eraser stroke being drawn, then shown until the frame's new masks arrive.
  private stroke: { frame: number; tool: "brush" | "eraser"; radius: number; points: Point[]; sent: boolean } | null = null;
  private hover: Point | null = null; // the pointer over the frame, for the brush outline
  private error: { text: string; until: number } | null = null;
  private note: { text: string; until: number } | null = null; // what the last jump found, for a while
  private ui: Record<string, HTMLElement> = {};
  private timeline: HTMLCanvasElement;
  private timelineBase: HTMLCanvasElement | null = null;
  private resize: ResizeObserver | null = null;
  private listeners: [string, (...a: any[]) => void][] = [];

  constructor(private model: Model, el: HTMLElement) {
    this.W = model.get("width");
    this.H = model.get("height");
    this.n = model.get("num_frames");
    this.cur = model.get("frame");
    this.frames = new LruCache((model.get("cache_mb") ?? 256) * 2 ** 20, (b) => b.close());

    this.canvas = h("canvas", { class: "vseg-canvas", "data-testid": "vseg-canvas", width: `${this.W}`, height: `${this.H}` });
    this.ctx = this.canvas.getContext("2d")!;
    this.overlay = h("canvas", { width: `${this.W}`, height: `${this.H}` });
    this.octx = this.overlay.getContext("2d")!;
    this.pixels = this.octx.createImageData(this.W, this.H);
    this.pix32 = new Uint32Array(this.pixels.data.buffer);
    this.labels = new Uint8Array(this.W * this.H);
    this.timeline = h("canvas", { class: "vseg-timeline", "data-testid": "vseg-timeline" });
    this.root = this.build();
    el.append(this.root);
    (this.root as any).vsegDebug = this.debug;

    this.bindModel();
    this.bindPointer();
    this.bindKeys();
    this.renderObjects();
    this.renderSettings();
    this.renderProgress();
    this.resize = new ResizeObserver(() => this.drawTimeline(true));
    this.resize.observe(this.root);
    this.show(this.cur, false);
  }

  // -- DOM -------------------------------------------------------------------------------
  private build(): HTMLDivElement {
    const ui = this.ui;
    const button = (testid: string, label: string, title: string) =>
      (ui[testid] = h("button", { class: "vseg-btn", "data-testid": testid, title, type: "button" }, [label]));
    ui.slider = h("input", {
      class: "vseg-slider", "data-testid": "vseg-slider", type: "range", min: "0", max: `${this.n - 1}`, step: "1", value: `${this.cur}`,
      "aria-label": "frame",
    });
    ui.frame = h("span", { class: "vseg-frame", "data-testid": "vseg-frame" });
    ui.objects = h("div", { class: "vseg-objects", "data-testid": "vseg-objects" });
    ui.overlay = h("select", { class: "vseg-select", "data-testid": "vseg-overlay", title: "mask overlay" }, [
      h("option", { value: "filled" }, ["filled"]), h("option", { value: "contour" }, ["contour"]), h("option", { value: "off" }, ["off"]),
    ]);
    ui.opacity = h("input", { class: "vseg-opacity", "data-testid": "vseg-opacity", type: "range", min: "0", max: "1", step: "0.05", title: "overlay opacity" });
    ui.direction = h("select", { class: "vseg-select", "data-testid": "vseg-direction", title: "propagation direction" }, [
      h("option", { value: "both" }, ["both ways"]), h("option", { value: "forward" }, ["forward"]), h("option", { value: "backward" }, ["backward"]),
    ]);
    ui.follow = h("input", { type: "checkbox", "data-testid": "vseg-follow" });
    ui.scope = h("select", { class: "vseg-select", "data-testid": "vseg-scope", title: "how far a propagation goes" }, [
      h("option", { value: "next_prompt" }, ["to next prompt"]), h("option", { value: "video" }, ["whole video"]),
    ]);
    ui.brushSize = h("input", {
      class: "vseg-brush-size", "data-testid": "vseg-brush-size", type: "range", min: "1", max: "128", step: "1",
      title: "brush size: radius in frame pixels ([ and ])", "aria-label": "brush size",
    });
    ui.brushValue = h("span", { class: "vseg-label vseg-brush-value", "data-testid": "vseg-brush-value" });
    ui.doubt = h("input", {
      class: "vseg-doubt", "data-testid": "vseg-doubt-threshold", type: "number", min: "0", max: "1", step: "0.05",
      title: "a mask whose confidence is below this is doubtful (red on the timeline)", "aria-label": "doubt threshold",
    });
    ui.progress = h("progress", { class: "vseg-progress", "data-testid": "vseg-progress", max: "1", value: "0" });
    ui.status = h("div", { class: "vseg-status", "data-testid": "vseg-status", role: "status", "aria-live": "polite" });

    // data-lm-suppress-shortcuts: Lumino (JupyterLab, Notebook 7) runs no keyboard shortcut
    // for a key event whose target is inside this element; see bindKeys.
    const root = h("div", { class: "vseg-player", "data-testid": "vseg-player", tabindex: "0", "data-lm-suppress-shortcuts": "true" }, [
      h("div", { class: "vseg-stage" }, [this.canvas]),
      this.timeline,
      h("div", { class: "vseg-row" }, [
        button("vseg-play", "▶", "play / pause (space)"),
        button("vseg-step-back", "◀❙", "previous frame (←, shift: 10)"),
        button("vseg-step-fwd", "❙▶", "next frame (→, shift: 10)"),
        button("vseg-next-doubt", "⚑ doubtful", "jump to the next frame whose confidence is below the threshold (n; shift-n: previous)"),
        h("label", { class: "vseg-label", title: "a mask whose confidence is below this is doubtful" }, ["< ", ui.doubt]),
        ui.slider,
        ui.frame,
      ]),
      h("div", { class: "vseg-row" }, [
        ui.objects,
        button("vseg-add-object", "+ object", "add an object"),
        button("vseg-undo", "↶ undo", "undo the last prompt (ctrl/cmd-z)"),
        h("span", { class: "vseg-sep" }),
        h("span", { class: "vseg-tools", role: "group", "aria-label": "tool" }, [
          button("vseg-tool-click", "✚ click", "click points and drag boxes (v)"),
          button("vseg-tool-brush", "✎ brush", "paint onto the selected object's mask (b)"),
          button("vseg-tool-eraser", "⌫ eraser", "erase from the selected object's mask (e)"),
        ]),
        ui.brushSize,
        ui.brushValue,
        h("label", { class: "vseg-label" }, ["overlay ", ui.overlay]),
        ui.opacity,
      ]),
      h("div", { class: "vseg-row" }, [
        ui.direction,
        ui.scope,
        button("vseg-propagate", "Propagate", "propagate the prompted masks (p)"),
        button("vseg-cancel", "Cancel", "cancel the propagation (Escape)"),
        ui.progress,
        h("label", { class: "vseg-label", title: "show each frame as it is propagated" }, [ui.follow, " follow"]),
      ]),
      ui.status,
    ]);

    ui["vseg-play"].addEventListener("click", () => this.togglePlay());
    ui["vseg-step-back"].addEventListener("click", () => this.step(-1));
    ui["vseg-step-fwd"].addEventListener("click", () => this.step(1));
    ui["vseg-add-object"].addEventListener("click", () => this.send({ type: "add_object" }));
    ui["vseg-undo"].addEventListener("click", () => this.send({ type: "undo" }));
    ui["vseg-propagate"].addEventListener("click", () => this.propagate());
    ui["vseg-cancel"].addEventListener("click", () => this.send({ type: "cancel" }));
    ui["vseg-next-doubt"].addEventListener("click", () => this.jumpDoubtful(1));
    ui.doubt.addEventListener("change", () => {
      const v = Number((ui.doubt as HTMLInputElement).value);
      if (Number.isFinite(v)) this.setTrait("doubt_threshold", Math.min(1, Math.max(0, v)));
      this.renderSettings();
    });
    ui.slider.addEventListener("input", () => {
      this.pause();
      this.show(Number((ui.slider as HTMLInputElement).value));
    });
    ui.overlay.addEventListener("change", () => this.setTrait("overlay", (ui.overlay as HTMLSelectElement).value));
    ui.opacity.addEventListener("input", () => this.setTrait("opacity", Number((ui.opacity as HTMLInputElement).value)));
    ui.direction.addEventListener("change", () => this.setTrait("direction", (ui.direction as HTMLSelectElement).value));
    ui.follow.addEventListener("change", () => this.setTrait("follow", (ui.follow as HTMLInputElement).checked));
    ui.scope.addEventListener("change", () => this.setTrait("scope", (ui.scope as HTMLSelectElement).value));
    for (const tool of ["click", "brush", "eraser"] as Tool[]) ui[`vseg-tool-${tool}`].addEventListener("click", () => this.setTool(tool));
    ui.brushSize.addEventListener("input", () => this.setTrait("brush_size", Number((ui.brushSize as HTMLInputElement).value)));
    this.timeline.addEventListener("pointerdown", (e) => {
      const seek = (ev: PointerEvent) => {
        const r = this.timeline.getBoundingClientRect();
        this.pause();
        this.show(frameAtX(ev.clientX - r.left, r.width, this.n));
      };
      seek(e);
      this.timeline.setPointerCapture(e.pointerId);
      const move = (ev: PointerEvent) => seek(ev);
      const up = () => {
        this.timeline.removeEventListener("pointermove", move);
        this.timeline.removeEventListener("pointerup", up);
      };
      this.timeline.addEventListener("pointermove", move);
      this.timeline.addEventListener("pointerup", up);
    });
    return root;
  }

  private renderObjects(): void {
    const objects: ObjectInfo[] = this.model.get("objects");
    const selected: number = this.model.get("selected");
    const box = this.ui.objects;
    // A label being typed survives a re-render (objects change while the person types).
    const active = document.activeElement as HTMLInputElement | null;
    const typing = active && box.contains(active) && active.dataset.obj
      ? { obj: Number(active.dataset.obj), value: active.value, at: active.selectionStart ?? active.value.length }
      : null;
    box.replaceChildren(
      ...objects.map((o, i) => {
        const chip = h("span", {
          class: `vseg-obj${o.id === selected ? " vseg-selected" : ""}${o.visible ? "" : " vseg-hidden"}`,
          "data-testid": `vseg-object-${o.id}`, "data-obj": `${o.id}`,
          title: `object ${o.id}${o.label ? ` (${o.label})` : ""} (key ${i + 1})`,
        });
        chip.style.setProperty("--vseg-obj-color", o.color);
        const pick = h("button", { class: "vseg-obj-pick", type: "button", "aria-pressed": `${o.id === selected}` }, [
          h("span", { class: "vseg-swatch" }), `${o.id}`,
        ]);
        const eye = h("button", { class: "vseg-obj-eye", type: "button", "data-testid": `vseg-visible-${o.id}`, title: o.visible ? "hide" : "show" }, [
          o.visible ? "◉" : "○",
        ]);
        const del = h("button", { class: "vseg-obj-del", type: "button", "data-testid": `vseg-remove-${o.id}`, title: "remove object" }, ["×"]);
        const label = h("input", {
          class: "vseg-obj-label", type: "text", "data-testid": `vseg-label-${o.id}`, "data-obj": `${o.id}`, maxlength: "100",
          placeholder: "label", title: `label of object ${o.id} (Enter to set, Escape to keep)`, "aria-label": `label of object ${o.id}`,
          spellcheck: "false",
        });
        label.value = o.label ?? "";
        label.addEventListener("change", () => {
          if (label.value.trim() !== (o.label ?? "")) this.send({ type: "label", obj_id: o.id, label: label.value });
        });
        label.addEventListener("keydown", (e) => {
          if (e.key === "Enter") label.blur(); // "change" sends it
          else if (e.key === "Escape") {
            label.value = o.label ?? "";
            label.blur();
          } else return;
          e.preventDefault();
          e.stopPropagation(); // not the player's Escape (cancel)
          this.root.focus({ preventScroll: true });
        });
        pick.addEventListener("click", () => this.select(o.id));
        eye.addEventListener("click", () => this.send({ type: "set_visible", obj_id: o.id, visible: !o.visible }));
        del.addEventListener("click", () => this.send({ type: "remove_object", obj_id: o.id }));
        chip.append(pick, label, eye, del);
        return chip;
      }),
    );
    if (typing) {
      const input = box.querySelector<HTMLInputElement>(`input[data-obj="${typing.obj}"]`);
      if (input) {
        input.value = typing.value;
        input.focus({ preventScroll: true });
        input.setSelectionRange(typing.at, typing.at);
      }
    }
  }

  private renderSettings(): void {
    (this.ui.overlay as HTMLSelectElement).value = this.model.get("overlay");
    (this.ui.opacity as HTMLInputElement).value = `${this.model.get("opacity")}`;
    (this.ui.direction as HTMLSelectElement).value = this.model.get("direction");
    (this.ui.follow as HTMLInputElement).checked = this.model.get("follow");
    (this.ui.scope as HTMLSelectElement).value = this.model.get("scope") ?? "next_prompt";
    (this.ui.doubt as HTMLInputElement).value = `${this.threshold()}`;
    const tool = this.tool();
    for (const t of ["click", "brush", "eraser"] as Tool[]) {
      const b = this.ui[`vseg-tool-${t}`];
      b.setAttribute("aria-pressed", `${t === tool}`);
      b.classList.toggle("vseg-active", t === tool);
    }
    const r = this.radius();
    (this.ui.brushSize as HTMLInputElement).value = `${r}`;
    this.ui.brushValue.textContent = `${r} px`;
    const painting = tool !== "click";
    this.ui.brushSize.style.display = this.ui.brushValue.style.display = painting ? "" : "none";
    this.canvas.dataset.tool = tool;
  }

  private threshold(): number {
    const t = Number(this.model.get("doubt_threshold"));
    return Number.isFinite(t) ? t : 0.5;
  }

  /** Show the first frame of the next (1) or previous (-1) run of frames where a visible
   *  object's confidence is below the threshold, and say in the status line what it is. */
  jumpDoubtful(direction: 1 | -1): void {
    const data: TimelineData = this.model.get("timeline") ?? { kind: null, lanes: [] };
    const objects: ObjectInfo[] = this.model.get("objects") ?? [];
    const hidden = new Set(objects.filter((o) => !o.visible).map((o) => o.id));
    const threshold = this.threshold();
    const target = nextDoubtful(data, this.cur, threshold, this.n, direction, hidden);
    this.debug.doubtJumps.push(target);
    let text: string;
    if (target === null) {
      text = hasConfidence(data)
        ? `No frame has a confidence below ${threshold}.`
        : "The engine gives no confidence for these masks: nothing to jump to.";
    } else {
      this.pause();
      this.show(target);
      const worst = data.lanes
        .filter((l) => !hidden.has(l.obj_id) && typeof l.confidence?.[target] === "number")
        .map((l) => ({ obj: l.obj_id, c: l.confidence![target] as number }))
        .sort((a, b) => a.c - b.c)[0];
      text = `Frame ${target}: object ${worst.obj} has confidence ${worst.c.toFixed(2)} (below ${threshold}) · n: next, shift-n: previous`;
    }
    this.error = null;
    this.note = { text, until: performance.now() + 8000 };
    this.renderStatus();
    setTimeout(() => this.renderStatus(), 8050);
  }

  private tool(): Tool {
    const t = this.model.get("tool");
    return t === "brush" || t === "eraser" ? t : "click";
  }

  private radius(): number {
    return Number(this.model.get("brush_size")) || 12;
  }

  private setTool(tool: Tool): void {
    if (this.stroke && !this.stroke.sent) this.stroke = null; // a tool change drops a stroke being drawn
    this.drag = null;
    this.setTrait("tool", tool);
    this.renderSettings();
    this.renderStatus();
    this.draw();
  }

  private renderProgress(): void {
    const p = this.model.get("progress") ?? {};
    const bar = this.ui.progress as HTMLProgressElement;
    bar.max = Math.max(1, p.total ?? 0);
    bar.value = p.done ?? 0;
    bar.style.visibility = p.running || p.done ? "visible" : "hidden";
    (this.ui["vseg-propagate"] as HTMLButtonElement).disabled = !!p.running;
    (this.ui["vseg-cancel"] as HTMLButtonElement).disabled = !p.running;
    this.renderStatus();
  }

  private renderStatus(): void {
    const s = this.ui.status;
    const p = this.model.get("progress") ?? {};
    let text = HINTS[this.tool()];
    let kind = "";
    if (this.error && performance.now() < this.error.until) {
      text = this.error.text;
      kind = "error";
    } else if (this.note && performance.now() < this.note.until) {
      text = this.note.text;
      kind = "note";
    } else if (this.model.get("working")) {
      text = String(this.model.get("working"));
      kind = "busy";
    } else if (p.running) {
      text = `Propagating… ${p.done} / ${p.total || "?"} frames (Escape cancels)`;
      kind = "busy";
    } else if (p.total) {
      text = p.cancelled ? `Propagation cancelled after ${p.done} frames.` : `Propagated ${p.done} frames.`;
    }
    s.textContent = text;
    s.dataset.kind = kind;
  }

  // -- model ------------------------------------------------------------------------------
  private on(event: string, cb: (...a: any[]) => void): void {
    this.model.on(event, cb);
    this.listeners.push([event, cb]);
  }

  private bindModel(): void {
    this.on("msg:custom", (msg: any, buffers: any[]) => this.onMessage(msg, buffers ?? []));
    this.on("change:frame", () => {
      const f = this.model.get("frame");
      if (f !== this.cur) this.show(f, false); // set from Python
    });
    this.on("change:objects", () => {
      this.renderObjects();
      this.overlayKey = "";
      this.draw();
    });
    this.on("change:selected", () => this.renderObjects());
    this.on("change:prompts", () => {
      this.draw();
      this.drawTimeline(true);
    });
    this.on("change:timeline", () => this.drawTimeline(true));
    this.on("change:cuts", () => this.drawTimeline(true));
    this.on("change:doubt_threshold", () => {
      this.renderSettings();
      this.drawTimeline(true);
    });
    for (const name of ["overlay", "opacity", "direction", "follow", "scope", "tool", "brush_size"]) {
      this.on(`change:${name}`, () => {
        this.renderSettings();
        this.renderStatus();
        this.draw();
      });
    }
    this.on("change:progress", () => this.renderProgress());
    this.on("change:working", () => this.renderStatus());
    this.on("change:cache_mb", () => {
      this.frames.budget = this.model.get("cache_mb") * 2 ** 20;
      this.frames.trim();
    });
  }

  private send(content: Record<string, unknown>): void {
    this.error = null;
    this.renderStatus();
    this.model.send(content);
  }

  private setTrait(name: string, value: unknown): void {
    this.model.set(name, value);
    this.model.save_changes();
  }

  private select(obj: number): void {
    this.setTrait("selected", obj);
    this.renderObjects();
  }

  private propagate(): void {
    this.send({ type: "propagate", direction: this.model.get("direction"), scope: this.model.get("scope") ?? "next_prompt" });
  }

  private onMessage(msg: any, buffers: any[]): void {
    if (!msg || typeof msg.type !== "string") return;
    if (msg.type === "frame") this.onFrame(msg.frame, bytesOf(buffers[0]), msg.mime ?? "image/jpeg");
    else if (msg.type === "masks") {
      const pc = this.pendingClick;
      if (pc && msg.reply_to === pc.id) pc.answered = true;
      this.onMasks(msg.frame, msg.objects, buffers.map(bytesOf));
    }
    else if (msg.type === "masks_reset") {
      this.masks.clear();
      this.maskVersion++;
      this.requestAround(this.cur);
      this.draw();
    } else if (msg.type === "error") this.showError(String(msg.message));
  }

  private showError(text: string): void {
    this.debug.errors.push(text);
    // A refused request never answers: forget what is pending so it can be asked again.
    this.pendingFrames.clear();
    this.pendingMasks.clear();
    this.error = { text, until: performance.now() + 10000 };
    this.pendingClick = null;
    if (this.stroke?.sent) {
      this.stroke = null; // refused: stop showing it
      this.draw();
    }
    this.renderStatus();
    setTimeout(() => this.renderStatus(), 10050);
  }

  private onFrame(frame: number, bytes: Bytes, mime: string): void {
    this.debug.frameBytes.push(bytes.byteLength);
    createImageBitmap(new Blob([bytes], { type: mime })).then(
      (bitmap) => {
        this.pendingFrames.delete(frame);
        this.frames.set(frame, bitmap, bitmap.width * bitmap.height * 4);
        if (frame === this.cur) this.draw();
      },
      () => {
        this.pendingFrames.delete(frame);
        this.showError(`could not decode frame ${frame}.`);
      },
    );
  }

  private onMasks(frame: number, objects: number[], buffers: Uint8Array[]): void {
    const map = new Map<number, Uint32Array>();
    this.debug.maskBytes.push(buffers.reduce((sum, b) => sum + b.byteLength, 0)); // per frame, all objects
    if (objects.length) this.debug.maskFrames.push(frame);
    for (let i = 0; i < objects.length; i++) {
      const runs = decodeRuns(buffers[i]);
      if (runsTotal(runs) !== this.W * this.H) {
        this.showError(`mask of object ${objects[i]} on frame ${frame} has the wrong size; ignored.`);
        continue;
      }
      map.set(objects[i], runs);
    }
    this.masks.set(frame, map);
    this.pendingMasks.delete(frame);
    this.maskVersion++;
    if (this.stroke?.sent && this.stroke.frame === frame) this.stroke = null; // the mask now shows it
    const p = this.model.get("progress") ?? {};
    if (p.running && this.model.get("follow") && !this.playing && frame !== this.cur) {
      this.show(frame); // follow the propagation head
    } else if (frame === this.cur) {
      this.overlayKey = "";
      this.draw();
    }
  }

  // -- navigation -------------------------------------------------------------------------
  /** Show frame f; `sync` sends it to Python (false when Python set it). */
  show(f: number, sync = true): void {
    f = Math.max(0, Math.min(this.n - 1, Math.round(f)));
    this.cur = f;
    (this.ui.slider as HTMLInputElement).value = `${f}`;
    const fps = this.model.get("fps") || 24;
    this.ui.frame.textContent = `frame ${f} / ${this.n - 1} · ${(f / fps).toFixed(2)} s`;
    this.ui.frame.dataset.frame = `${f}`;
    this.requestAround(f);
    this.draw();
    this.drawTimeline(false);
    if (sync) this.syncFrame();
  }

  private step(delta: number): void {
    this.pause();
    this.show(this.cur + delta);
  }

  /** Send the shown frame to Python, at most every SYNC_INTERVAL_MS (the last one always). */
  private syncFrame(): void {
    const flush = () => {
      this.syncTimer = null;
      this.lastSync = performance.now();
      if (this.model.get("frame") !== this.cur) this.setTrait("frame", this.cur);
    };
    if (performance.now() - this.lastSync >= SYNC_INTERVAL_MS) flush();
    else if (!this.syncTimer) this.syncTimer = setTimeout(flush, SYNC_INTERVAL_MS);
  }

  /** Request the frame and masks of f and the frames after it (more ahead while playing). */
  private requestAround(f: number): void {
    const ahead = this.playing ? this.model.get("prefetch") ?? 24 : 4;
    const frames = framesToFetch(f, ahead + 1, this.n, (i) => this.frames.has(i) || this.pendingFrames.has(i), MAX_REQUEST);
    if (frames.length) {
      frames.forEach((i) => this.pendingFrames.add(i));
      this.model.send({ type: "request_frames", frames });
    }
    const masks = framesToFetch(f, ahead + 1, this.n, (i) => this.masks.has(i) || this.pendingMasks.has(i), 4 * MAX_REQUEST);
    if (masks.length) {
      masks.forEach((i) => this.pendingMasks.add(i));
      this.model.send({ type: "request_masks", frames: masks });
    }
  }

  togglePlay(): void {
    if (this.playing) this.pause();
    else this.play();
  }

  play(): void {
    if (this.playing) return;
    if (this.cur >= this.n - 1) this.show(0);
    this.playing = true;
    this.ui["vseg-play"].textContent = "❚❚";
    this.debug.playTimes = [];
    this.debug.drawMs = [];
    this.nextDue = performance.now();
    this.requestAround(this.cur);
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  pause(): void {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.ui["vseg-play"].textContent = "▶";
    this.lastSync = 0;
    this.syncFrame();
  }

  private tick(now: number): void {
    if (!this.playing) return;
    const period = 1000 / (this.model.get("fps") || 24);
    if (now >= this.nextDue - 1) {
      const next = this.cur + 1;
      if (next >= this.n) {
        this.pause();
        return;
      }
      if (this.frames.has(next)) {
        const t0 = performance.now();
        this.show(next);
        this.debug.drawMs.push(performance.now() - t0);
        this.debug.playTimes.push(now);
        this.nextDue += period;
        if (this.nextDue < now - period) this.nextDue = now; // after a stall: don't rush to catch up
      } else {
        this.requestAround(next); // stall until it arrives
      }
    }
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  // -- drawing ----------------------------------------------------------------------------
  draw(): void {
    const bitmap = this.frames.get(this.cur);
    if (!bitmap) return; // keep the last picture until this frame arrives
    const ctx = this.ctx;
    ctx.drawImage(bitmap, 0, 0, this.W, this.H);
    this.drawOverlay();
    this.drawPrompts();
    this.debug.draws++;
    const pc = this.pendingClick;
    if (pc && pc.answered && pc.frame === this.cur && this.masks.has(this.cur)) {
      this.debug.clickLatencies.push(performance.now() - pc.t0);
      this.pendingClick = null;
    }
  }

  private drawOverlay(): void {
    const mode = this.model.get("overlay");
    const masks = this.masks.get(this.cur);
    this.debug.overlayPixels = 0;
    if (mode === "off" || !masks || masks.size === 0) return;
    const objects: ObjectInfo[] = this.model.get("objects");
    const visible = objects.filter((o) => o.visible && masks.has(o.id));
    const key = `${this.cur}|${this.maskVersion}|${mode}|${visible.map((o) => o.id + o.color).join(",")}`;
    if (key !== this.overlayKey) {
      this.pix32.fill(0);
      let painted = 0;
      if (mode === "contour") {
        this.labels.fill(0);
        const colors = new Uint32Array(256);
        visible.forEach((o, i) => {
          labelRuns(this.labels, masks.get(o.id)!, i + 1);
          colors[i + 1] = rgba32(o.color);
        });
        painted = paintContours(this.pix32, this.labels, this.W, this.H, colors);
      } else {
        for (const o of visible) painted += fillRuns(this.pix32, masks.get(o.id)!, rgba32(o.color));
      }
      this.octx.putImageData(this.pixels, 0, 0);
      this.overlayKey = key;
      this.overlayPainted = painted;
    }
    this.debug.overlayPixels = this.overlayPainted;
    this.ctx.globalAlpha = mode === "filled" ? this.model.get("opacity") : 1;
    this.ctx.drawImage(this.overlay, 0, 0);
    this.ctx.globalAlpha = 1;
  }

  private overlayPainted = 0;

  private drawPrompts(): void {
    const ctx = this.ctx;
    const scale = frameScale(this.canvas.getBoundingClientRect(), this.W);
    const r = 5 * scale;
    const colorOf = this.colorMap();
    for (const p of this.model.get("prompts") as PromptInfo[]) {
      if (p.frame !== this.cur) continue;
      const color = colorOf.get(p.obj_id) ?? "#888";
      if (p.kind === "box" && p.box) {
        const [x0, y0, x1, y1] = p.box;
        ctx.setLineDash([6 * scale, 4 * scale]);
        ctx.lineWidth = 2 * scale;
        ctx.strokeStyle = color;
        ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
        ctx.setLineDash([]);
      }
      (p.points ?? []).forEach(([x, y], i) => {
        const positive = (p.labels ?? [])[i] === 1;
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fillStyle = positive ? color : "#111";
        ctx.fill();
        ctx.lineWidth = 1.5 * scale;
        ctx.strokeStyle = positive ? "#fff" : "#d62728";
        ctx.stroke();
        ctx.beginPath(); // + or - inside the dot
        ctx.moveTo(x - r * 0.55, y);
        ctx.lineTo(x + r * 0.55, y);
        if (positive) {
          ctx.moveTo(x, y - r * 0.55);
          ctx.lineTo(x, y + r * 0.55);
        }
        ctx.strokeStyle = "#fff";
        ctx.stroke();
      });
    }
    const st = this.stroke;
    if (st && st.frame === this.cur && st.points.length) {
      ctx.save();
      ctx.globalAlpha = 0.55;
      ctx.strokeStyle = ctx.fillStyle = st.tool === "brush" ? colorOf.get(this.model.get("selected")) ?? "#fff" : "#111";
      ctx.lineWidth = 2 * st.radius;
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.beginPath();
      ctx.moveTo(st.points[0].x, st.points[0].y);
      for (const p of st.points) ctx.lineTo(p.x, p.y);
      if (st.points.length === 1) ctx.lineTo(st.points[0].x + 0.01, st.points[0].y); // a dab
      ctx.stroke();
      ctx.restore();
    }
    const hv = this.hover;
    if (hv && this.tool() !== "click") {
      const r = this.radius();
      ctx.beginPath();
      ctx.arc(hv.x, hv.y, r, 0, 2 * Math.PI);
      ctx.lineWidth = 1.5 * scale;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(hv.x, hv.y, r + 1.5 * scale, 0, 2 * Math.PI);
      ctx.strokeStyle = this.tool() === "brush" ? colorOf.get(this.model.get("selected")) ?? "#000" : "#000";
      ctx.stroke();
    }
    const d = this.drag;
    if (d && d.moved) {
      ctx.setLineDash([4 * scale, 3 * scale]);
      ctx.lineWidth = 1.5 * scale;
      ctx.strokeStyle = colorOf.get(this.model.get("selected")) ?? "#fff";
      ctx.strokeRect(d.start.x, d.start.y, d.end.x - d.start.x, d.end.y - d.start.y);
      ctx.setLineDash([]);
    }
  }

  private colorMap(): Map<number, string> {
    return new Map((this.model.get("objects") as ObjectInfo[]).map((o) => [o.id, o.color]));
  }

  private drawTimeline(rebuild: boolean): void {
    const canvas = this.timeline;
    const data: TimelineData = this.model.get("timeline") ?? { kind: null, lanes: [] };
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || this.root.clientWidth || 600;
    const cssH = timelineHeight(data.lanes.length, hasConfidence(data));
    const W = Math.round(cssW * dpr);
    const H = Math.round(cssH * dpr);
    if (canvas.width !== W || canvas.height !== H || !this.timelineBase || rebuild) {
      canvas.width = W;
      canvas.height = H;
      canvas.style.height = `${cssH}px`;
      const base = this.timelineBase ?? document.createElement("canvas");
      base.width = W;
      base.height = H;
      const bctx = base.getContext("2d")!;
      bctx.clearRect(0, 0, W, H);
      bctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      const hidden = new Set((this.model.get("objects") as ObjectInfo[]).filter((o) => !o.visible).map((o) => o.id));
      const colors = this.colorMap();
      const cuts: number[] = this.model.get("cuts") ?? [];
      const rects = layoutTimeline(data, this.model.get("prompts"), (o) => colors.get(o) ?? "#888", hidden, cssW, this.n, cuts, this.threshold());
      for (const r of rects) {
        bctx.globalAlpha = r.alpha;
        bctx.fillStyle = r.color;
        bctx.fillRect(r.x, r.y, r.w, r.h);
      }
      bctx.globalAlpha = 1;
      this.timelineBase = base;
      canvas.title = (data.kind === "J"
        ? "per object: frames with a mask; bar height = J against ground truth; red tick = low"
        : "per object: frames with a mask; bar height = IoU with the previous frame; red tick = sudden change")
        + (hasConfidence(data) ? `; strip below = the engine's confidence, red below ${this.threshold()} (n jumps there)` : "");
    }
    const ctx = canvas.getContext("2d")!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.drawImage(this.timelineBase!, 0, 0);
    const x = ((this.cur + 0.5) / this.n) * W;
    ctx.fillStyle = getComputedStyle(this.root).getPropertyValue("--vseg-fg").trim() || "#333";
    ctx.fillRect(Math.round(x - dpr), 0, Math.max(2, Math.round(2 * dpr)), H);
  }

  // -- input ------------------------------------------------------------------------------
  private bindPointer(): void {
    const c = this.canvas;
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener("pointerdown", (e) => {
      this.root.focus({ preventScroll: true });
      if (e.button !== 0 && e.button !== 2) return;
      const rect = c.getBoundingClientRect();
      const pt = clientToFrame(e.clientX, e.clientY, rect, this.W, this.H);
      if (!pt) return;
      e.preventDefault();
      this.pause();
      c.setPointerCapture(e.pointerId);
      const tool = this.tool();
      if (tool !== "click") {
        if (e.button !== 0) return;
        this.stroke = { frame: this.cur, tool, radius: this.radius(), points: [pt], sent: false };
        this.draw();
        return;
      }
      this.drag = { start: pt, end: pt, x: e.clientX, y: e.clientY, negative: e.shiftKey || e.button === 2, moved: false };
    });
    c.addEventListener("pointermove", (e) => {
      const rect = c.getBoundingClientRect();
      if (this.tool() !== "click") this.hover = clientToFrame(e.clientX, e.clientY, rect, this.W, this.H);
      const st = this.stroke;
      if (st && !st.sent) {
        // every pointer position since the last event, at full frame resolution
        const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
        for (const ev of events.length ? events : [e]) addPoint(st.points, clampToFrame(ev.clientX, ev.clientY, rect, this.W, this.H));
        this.draw();
        return;
      }
      if (this.hover) this.draw();
      const d = this.drag;
      if (!d) return;
      if (Math.hypot(e.clientX - d.x, e.clientY - d.y) > 5 && e.buttons === 1) d.moved = true;
      d.end = clampToFrame(e.clientX, e.clientY, c.getBoundingClientRect(), this.W, this.H);
      if (d.moved) this.draw();
    });
    c.addEventListener("pointerleave", () => {
      if (!this.hover) return;
      this.hover = null;
      this.draw();
    });
    c.addEventListener("pointerup", () => {
      const st = this.stroke;
      if (st && !st.sent) {
        this.finishStroke(st);
        return;
      }
      const d = this.drag;
      this.drag = null;
      if (!d) return;
      const obj = this.model.get("selected");
      if (d.moved) {
        const box = boxFromCorners(d.start, d.end);
        this.draw();
        if (!box) return;
        this.send({ type: "box", frame: this.cur, obj_id: obj, box, id: this.expectReply(this.cur) });
      } else {
        const id = this.expectReply(this.cur);
        this.send({ type: "click", frame: this.cur, obj_id: obj, x: d.start.x, y: d.start.y, label: d.negative ? 0 : 1, id });
      }
    });
    c.addEventListener("pointercancel", () => {
      this.drag = null;
      if (this.stroke && !this.stroke.sent) this.stroke = null;
      this.draw();
    });
  }

  /** A new prompt message id, whose masks reply ends the latency measured from ``t0``. */
  private expectReply(frame: number, t0: number = performance.now()): number {
    const id = ++this.promptIds;
    this.pendingClick = { t0, frame, id, answered: false };
    return id;
  }

  /** Send a finished stroke (simplified to half a pixel; a very long one in several parts). */
  private finishStroke(st: NonNullable<PlayerView["stroke"]>): void {
    st.sent = true;
    const msgs = strokeMessages(st.frame, this.model.get("selected"), st.tool, st.radius, st.points, this.W, this.H);
    const t0 = performance.now();
    for (const m of msgs) this.send({ ...(m as unknown as Record<string, unknown>), id: this.expectReply(st.frame, t0) });
    this.debug.strokes += msgs.length;
    this.draw();
  }

  private bindKeys(): void {
    // Keys inside the player are the player's, never notebook commands (e.g. "1" would turn
    // the cell into a heading, "d d" delete it). JupyterLab listens on the document in the
    // bubbling phase, but Notebook 7 in the capture phase, before any handler here could
    // stop the event: the root's data-lm-suppress-shortcuts attribute is what keeps
    // Lumino's command registry out in both. Stopping propagation as well keeps other
    // document listeners (and hosts without Lumino) from acting on the keys.
    const stop = (e: Event) => e.stopPropagation();
    this.root.addEventListener("keyup", (e) => {
      e.stopPropagation();
      // Space activates a focused button on keyup: it is play/pause here, not a click.
      if (e.key === " " && (e.target as HTMLElement).tagName === "BUTTON") e.preventDefault();
    });
    this.root.addEventListener("keypress", stop);
    this.root.addEventListener("keydown", (e) => {
      e.stopPropagation();
      const target = e.target as HTMLElement;
      const inControl = target !== this.root && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName);
      if (inControl && e.key !== "Escape") return; // let the control have its keys (e.g. arrows on the slider)
      if (this.handleKey(e)) e.preventDefault();
    });
  }

  /** Act on a key; true when it was one of the player's. */
  handleKey(e: KeyboardEvent): boolean {
    const mod = e.ctrlKey || e.metaKey;
    if (mod && (e.key === "z" || e.key === "Z")) {
      this.send({ type: "undo" });
      return true;
    }
    if (mod || e.altKey) return false;
    switch (e.key) {
      case " ":
        this.togglePlay();
        return true;
      case "ArrowRight":
        this.step(e.shiftKey ? 10 : 1);
        return true;
      case "ArrowLeft":
        this.step(e.shiftKey ? -10 : -1);
        return true;
      case "Home":
        this.step(-this.n);
        return true;
      case "End":
        this.step(this.n);
        return true;
      case "p":
      case "P":
        this.propagate();
        return true;
      case "n":
        this.jumpDoubtful(1);
        return true;
      case "N":
        this.jumpDoubtful(-1);
        return true;
      case "b":
      case "B":
        this.setTool("brush");
        return true;
      case "e":
      case "E":
        this.setTool("eraser");
        return true;
      case "v":
      case "V":
        this.setTool("click");
        return true;
      case "[":
      case "]":
        this.setTrait("brush_size", resizeRadius(this.radius(), e.key === "]" ? 1 : -1));
        this.renderSettings();
        this.draw();
        return true;
      case "Escape":
        if (this.drag || (this.stroke && !this.stroke.sent)) {
          this.drag = null;
          this.stroke = null;
          this.draw();
        } else this.send({ type: "cancel" });
        return true;
    }
    if (/^[1-9]$/.test(e.key)) {
      const objects: ObjectInfo[] = this.model.get("objects");
      const o = objects[Number(e.key) - 1];
      if (o) this.select(o.id);
      return true;
    }
    return false;
  }

  destroy(): void {
    this.playing = false;
    cancelAnimationFrame(this.raf);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    for (const [event, cb] of this.listeners) this.model.off(event, cb);
    this.resize?.disconnect();
    this.frames.clear();
    this.root.remove();
  }
}
