// Timeline strip logic: one lane per object showing where it has a mask, its per-frame
// score (IoU with the previous frame, or J against ground truth; computed in Python), and
// its prompts. Pure functions that turn data into rectangles, so they can be unit-tested;
// player.ts paints the rectangles.

export interface Lane {
  obj_id: number;
  present: [number, number][]; // [start, stop) frame ranges with a mask
  scores: (number | null)[] | null; // per frame; null where undefined (no mask, first frame)
}

export interface TimelineData {
  kind: string | null; // "iou_prev" | "J" | null (no scores available)
  lanes: Lane[];
}

export interface PromptMark {
  frame: number;
  obj_id: number;
}

export type RectKind = "lane" | "present" | "score" | "drop" | "prompt" | "cut";

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

/** Height of the strip for `lanes` lanes. */
export function timelineHeight(lanes: number): number {
  return Math.max(1, lanes) * (LANE_HEIGHT + LANE_GAP) + LANE_GAP;
}

/** Lane index under vertical position y, or null in a gap or below the last lane. */
export function laneAtY(y: number, lanes: number): number | null {
  const i = Math.floor((y - LANE_GAP) / (LANE_HEIGHT + LANE_GAP));
  if (i < 0 || i >= lanes) return null;
  const within = y - LANE_GAP - i * (LANE_HEIGHT + LANE_GAP);
  return within <= LANE_HEIGHT ? i : null;
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
): TimelineRect[] {
  const rects: TimelineRect[] = [];
  const col = width / Math.max(n, 1);
  data.lanes.forEach((lane, i) => {
    const y = LANE_GAP + i * (LANE_HEIGHT + LANE_GAP);
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
  });
  const h = timelineHeight(data.lanes.length);
  for (const f of cuts) {
    if (f > 0 && f < n) rects.push({ kind: "cut", x: f * col - 1, y: 0, w: 2, h, color: "#7f7f7f", alpha: 1 });
  }
  return rects;
}
