// A read-only, in-memory stand-in for the anywidget model, for the standalone HTML player
// (`seg.to_html`). It holds the player's synced traits as Python wrote them and answers the
// player's messages from frames and masks embedded in the page: "request_frames" and
// "request_masks" as the kernel would (same message shapes, see vseg_widgets/widget.py),
// "set_visible" by changing its own `objects`, and every editing message with an "error"
// event saying that the export is read-only. There is no kernel behind it.

import type { Model } from "./player";

/** What vseg_widgets/exports/html_player.py embeds in the page (format "vseg-standalone-1"). */
export interface StandaloneData {
  format: string;
  state: Record<string, unknown>; // the player's synced traits (width, height, num_frames, objects, timeline, ...)
  mime: string; // of every frame, "image/jpeg"
  frames: string[]; // per frame: base64 of its JPEG bytes
  masks: Record<string, string>[]; // per frame: {obj_id: base64 of its "runs-v1" bytes}; {} where none
}

export const FORMAT = "vseg-standalone-1";

/** Traits the read-only player may change: what is seen, never what is segmented. */
const VIEW_TRAITS = new Set(["frame", "selected", "overlay", "opacity", "follow", "direction", "scope", "brush_size", "doubt_threshold"]);

/** Messages that would change the segmentation; each gets this answer. */
const EDITS = new Set(["click", "box", "undo", "add_object", "remove_object", "label", "stroke", "propagate", "cancel"]);
export const READ_ONLY_MESSAGE =
  "Read-only export: prompts, edits and propagation need the notebook (vseg_widgets: seg.to_html). Play, scrub, hide objects and change the overlay here.";

type Listener = (...args: any[]) => void;

/** base64 -> bytes (atob: in every browser, and in Node for the tests). */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** Problems with embedded data, or [] when a player can be built from it. */
export function checkData(data: unknown): string[] {
  const d = data as Partial<StandaloneData> | null;
  if (!d || typeof d !== "object") return ["no player data in the page"];
  if (d.format !== FORMAT) return [`unknown data format ${JSON.stringify(d.format)} (this player reads ${FORMAT})`];
  const problems: string[] = [];
  const s = d.state ?? {};
  const n = s.num_frames;
  for (const key of ["width", "height", "num_frames"]) {
    const v = s[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) problems.push(`state.${key} must be a positive integer`);
  }
  if (!Array.isArray(d.frames) || d.frames.length !== n) problems.push(`frames must hold one image per frame (${n})`);
  if (!Array.isArray(d.masks) || d.masks.length !== n) problems.push(`masks must hold one entry per frame (${n})`);
  return problems;
}

export class StaticModel implements Model {
  private state: Record<string, any>;
  private listeners = new Map<string, Set<Listener>>();

  constructor(private data: StandaloneData) {
    this.state = { ...data.state, tool: "click", working: "" };
  }

  get(name: string): any {
    return this.state[name];
  }

  /** Change a trait and tell the listeners, as a Backbone model does; refused (silently, the
   *  player re-reads the trait) for traits that would edit: `tool` stays "click". */
  set(name: string, value: unknown): void {
    if (!VIEW_TRAITS.has(name) || this.state[name] === value) return;
    this.state[name] = value;
    this.emit(`change:${name}`);
  }

  save_changes(): void {} // nothing to sync to

  on(event: string, cb: Listener): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(cb);
  }

  off(event: string, cb?: Listener): void {
    if (cb) this.listeners.get(event)?.delete(cb);
    else this.listeners.delete(event);
  }

  /** A message from the player; answered asynchronously, like the kernel would. */
  send(content: unknown): void {
    const msg = content as Record<string, any> | null;
    const type = msg && typeof msg.type === "string" ? msg.type : "";
    if (type === "request_frames") {
      for (const f of this.frameList(msg!.frames)) {
        this.later({ type: "frame", frame: f, mime: this.data.mime }, [fromBase64(this.data.frames[f])]);
      }
    } else if (type === "request_masks") {
      for (const f of this.frameList(msg!.frames)) {
        const entry = this.data.masks[f] ?? {};
        const ids = Object.keys(entry);
        this.later({ type: "masks", frame: f, objects: ids.map(Number) }, ids.map((id) => fromBase64(entry[id])));
      }
    } else if (type === "set_visible") {
      const objects = (this.state.objects ?? []) as { id: number; visible: boolean }[];
      if (!objects.some((o) => o.id === msg!.obj_id) || typeof msg!.visible !== "boolean") {
        this.later({ type: "error", message: `unknown object ${JSON.stringify(msg!.obj_id)}.` });
        return;
      }
      this.state.objects = objects.map((o) => (o.id === msg!.obj_id ? { ...o, visible: msg!.visible } : o));
      queueMicrotask(() => this.emit("change:objects"));
    } else if (EDITS.has(type)) {
      this.later({ type: "error", message: READ_ONLY_MESSAGE });
    } else {
      this.later({ type: "error", message: `unknown message type ${JSON.stringify(type)}.` });
    }
  }

  private frameList(frames: unknown): number[] {
    const n = this.state.num_frames as number;
    return Array.isArray(frames) ? frames.filter((f): f is number => Number.isInteger(f) && f >= 0 && f < n) : [];
  }

  private later(msg: Record<string, unknown>, buffers: Uint8Array[] = []): void {
    queueMicrotask(() => this.emit("msg:custom", msg, buffers));
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const cb of [...(this.listeners.get(event) ?? [])]) cb(...args);
  }
}
