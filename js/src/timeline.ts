// Timeline strip logic: one lane per object showing where it has a mask, its per-frame
// score (IoU with the previous frame, or J against ground truth; computed in Python), and
// its prompts; under each lane, when the engine reports one, a confidence strip (bar
// height = the engine's confidence, red below the doubt threshold). Pure functions that
// turn data into rectangles, so they can be unit-tested; player.ts paints the rectangles.
// nextDoubtful finds where the "next doubtful frame" button and key jump to.

export interface Lane {
  obj_id: number;
  present: [number, number][]; // [start, stop) frame ranges with a mask
  scores: (number | null)[] | null; // per frame; null where undefined (no mask, first frame)
  confidence?: (number | null)[] | null; // the engine's, per frame; null where it gave none
}

export interface TimelineData {
  kind: string | null; // "iou_prev" | "J" | null (no scores available)
  lanes: Lane[];
}

export interface PromptMark {
  frame: number;
  obj_id: number;
}

export type RectKind = "lane" | "present" | "score" | "drop" | "prompt" | "cut" | "confidence-lane" | "confidence" | "doubt";

export interface TimelineRect {
  kind: RectKind;
  x: number;
  y: number;
  w: number;
  h: number;
  color: string;
  alpha: number;
}

export const LANE_HEIGHT = 16;
export const LANE_GAP = 3;
/** A score below this is a sudden change of the mask: flagged on the lane. */
export const DROP_THRESHOLD = 0.7;
/** Height of the confidence strip under a lane, and its gap to the lane. */
export const CONF_HEIGHT = 8;
export const CONF_GAP = 1;
export const DOUBT_COLOR = "#d62728";
const SURE_COLOR = "#7f7f7f";

/** Does any lane carry a confidence (then every lane gets a strip, so lanes line up)? */
export function hasConfidence(data: TimelineData): boolean {
  return data.lanes.some((l) => Array.isArray(l.confidence));
}

/** Vertical distance from one lane's top to the next one's. */
export function lanePitch(confidence = false): number {
  return LANE_HEIGHT + LANE_GAP + (confidence ? CONF_GAP + CONF_HEIGHT : 0);
}

/** Frame under horizontal position x on a strip `width` wide showing `n` frames. */
export function frameAtX(x: number, width: number, n: number): number {
  if (n <= 0 || width <= 0) return 0;
  return Math.min(n - 1, Math.max(0, Math.floor((x / width) * n)));
}

/** Left edge and width of frame f's column. */
export function frameSpan(f: number, width: number, n: number): { x: number; w: number } {
  const w = width / n;
  return { x: f * w, w };
}

/** Height of the strip for `lanes` lanes (with a confidence strip under each when `confidence`). */
export function timelineHeight(lanes: number, confidence = false): number {
  return Math.max(1, lanes) * lanePitch(confidence) + LANE_GAP;
}

/** Lane index under vertical position y (the lane or its confidence strip), or null in a
 *  gap or below the last lane. */
export function laneAtY(y: number, lanes: number, confidence = false): number | null {
  const pitch = lanePitch(confidence);
  const i = Math.floor((y - LANE_GAP) / pitch);
  if (i < 0 || i >= lanes) return null;
  const within = y - LANE_GAP - i * pitch;
  return within <= pitch - LANE_GAP ? i : null;
}

/** Per frame: is some visible object's confidence below `threshold` there? */
export function doubtfulFrames(data: TimelineData, threshold: number, n: number, hidden: Set<number> = new Set()): boolean[] {
  const out = new Array<boolean>(Math.max(0, n)).fill(false);
  for (const lane of data.lanes) {
    if (hidden.has(lane.obj_id) || !Array.isArray(lane.confidence)) continue;
    lane.confidence.forEach((c, f) => {
      if (f < n && c !== null && Number.isFinite(c) && c < threshold) out[f] = true;
    });
  }
  return out;
}

/** Where "next doubtful frame" jumps from frame `from`: the first frame of the next run of
 *  doubtful frames (see doubtfulFrames) after `from` (`direction` 1) or before it (-1),
 *  wrapping around the video; null when no frame is doubtful. Runs, not frames: inside a
 *  long occlusion the key goes on to the next problem rather than one frame further. */
export function nextDoubtful(
  data: TimelineData, from: number, threshold: number, n: number, direction: 1 | -1 = 1, hidden: Set<number> = new Set(),
): number | null {
  const bad = doubtfulFrames(data, threshold, n, hidden);
  const starts = bad.flatMap((b, f) => (b && (f === 0 || !bad[f - 1]) ? [f] : []));
  if (!starts.length) return null;
  if (direction > 0) return starts.find((f) => f > from) ?? starts[0];
  // backwards: the start of the run before the one `from` is in (or, outside a run, before `from`)
  const limit = bad[from] ? starts.filter((f) => f <= from).pop()! : from;
  const before = starts.filter((f) => f < limit);
  return before.length ? before[before.length - 1] : starts[starts.length - 1];
}

/** Is frame f inside one of the [start, stop) ranges? (binary search: ranges are sorted) */
export function isPresent(ranges: [number, number][], f: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = ranges[mid];
    if (f < a) hi = mid - 1;
    else if (f >= b) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The rectangles of the strip, back to front. The playhead is drawn separately.
 *  `cuts` are shot boundaries (first frames of new shots): a line across every lane. */
export function layoutTimeline(
  data: TimelineData,
  prompts: PromptMark[],
  colorOf: (obj: number) => string,
  hidden: Set<number>,
  width: number,
  n: number,
  cuts: number[] = [],
  threshold = 0.5,
): TimelineRect[] {
  const rects: TimelineRect[] = [];
  const col = width / Math.max(n, 1);
  const withConfidence = hasConfidence(data);
  data.lanes.forEach((lane, i) => {
    const y = LANE_GAP + i * lanePitch(withConfidence);
    const color = colorOf(lane.obj_id);
    const dim = hidden.has(lane.obj_id) ? 0.4 : 1;
    rects.push({ kind: "lane", x: 0, y, w: width, h: LANE_HEIGHT, color, alpha: 0.08 * dim });
    for (const [a, b] of lane.present) {
      rects.push({ kind: "present", x: a * col, y, w: (b - a) * col, h: LANE_HEIGHT, color, alpha: 0.3 * dim });
    }
    if (lane.scores) {
      lane.scores.forEach((s, f) => {
        if (s === null || !Number.isFinite(s)) return;
        const h = Math.max(1, Math.min(1, s) * (LANE_HEIGHT - 4));
        rects.push({ kind: "score", x: f * col, y: y + LANE_HEIGHT - h, w: Math.max(col, 1), h, color, alpha: 0.9 * dim });
        if (s < DROP_THRESHOLD) {
          rects.push({ kind: "drop", x: f * col, y, w: Math.max(col, 2), h: 3, color: "#d62728", alpha: dim });
        }
      });
    }
    for (const p of prompts) {
      if (p.obj_id !== lane.obj_id) continue;
      const w = Math.max(col, 3);
      rects.push({ kind: "prompt", x: p.frame * col + col / 2 - w / 2, y, w, h: LANE_HEIGHT, color, alpha: dim });
    }
    if (withConfidence) {
      const cy = y + LANE_HEIGHT + CONF_GAP;
      rects.push({ kind: "confidence-lane", x: 0, y: cy, w: width, h: CONF_HEIGHT, color: SURE_COLOR, alpha: 0.12 * dim });
      (lane.confidence ?? []).forEach((c, f) => {
        if (c === null || !Number.isFinite(c)) return;
        const doubt = c < threshold;
        const h = Math.max(1, Math.min(1, Math.max(0, c)) * CONF_HEIGHT);
        rects.push({
          kind: doubt ? "doubt" : "confidence", x: f * col, y: cy + CONF_HEIGHT - (doubt ? CONF_HEIGHT : h),
          w: Math.max(col, doubt ? 2 : 1), h: doubt ? CONF_HEIGHT : h, color: doubt ? DOUBT_COLOR : SURE_COLOR,
          alpha: (doubt ? 0.35 + 0.65 * (1 - c / Math.max(threshold, 1e-6)) : 0.7) * dim,
        });
      });
    }
  });
  const h = timelineHeight(data.lanes.length, withConfidence);
  for (const f of cuts) {
    if (f > 0 && f < n) rects.push({ kind: "cut", x: f * col - 1, y: 0, w: 2, h, color: "#7f7f7f", alpha: 1 });
  }
  return rects;
}
