// Brush and eraser strokes: the pointer's path in frame pixels, thinned while drawing,
// simplified to half a pixel and split into messages Python accepts (it rasterises them at
// full resolution, see vseg_widgets/brush.py). Pure functions, unit-tested.

import type { Point } from "./coords";

export type Tool = "click" | "brush" | "eraser";

export const MIN_RADIUS = 0.5; // the same bounds as vseg_widgets.widget (MIN/MAX_BRUSH_RADIUS)
export const MAX_RADIUS = 256;
export const MAX_STROKE_POINTS = 2048; // per message (vseg_widgets.widget.MAX_STROKE_POINTS)
export const SIMPLIFY_PX = 0.5; // simplification keeps every point within this of the drawn path

export interface StrokeMessage {
  type: "stroke";
  frame: number;
  obj_id: number;
  tool: "brush" | "eraser";
  radius: number;
  points: [number, number][];
}

/** The brush radius one step larger (dir 1, "]") or smaller (dir -1, "["): about 25 %, at least 1 px. */
export function resizeRadius(radius: number, dir: 1 | -1): number {
  const r = dir > 0 ? Math.max(radius + 1, Math.round(radius * 1.25)) : Math.min(radius - 1, Math.round(radius / 1.25));
  return clampRadius(r);
}

export function clampRadius(radius: number): number {
  if (!Number.isFinite(radius)) return MIN_RADIUS;
  return Math.min(MAX_RADIUS, Math.max(1, radius));
}

/** Append `p` to the path when it is at least `minStep` frame pixels from the last point; true if added. */
export function addPoint(points: Point[], p: Point, minStep = 1): boolean {
  const last = points[points.length - 1];
  if (last && Math.hypot(p.x - last.x, p.y - last.y) < minStep) return false;
  points.push({ x: p.x, y: p.y });
  return true;
}

function distToSegment(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.min(1, Math.max(0, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2)) : 0;
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** Ramer-Douglas-Peucker: the fewest points whose polyline stays within `epsilon` of every drawn point. */
export function simplify(points: Point[], epsilon = SIMPLIFY_PX): Point[] {
  if (points.length <= 2) return points.slice();
  const keep = new Uint8Array(points.length);
  keep[0] = keep[points.length - 1] = 1;
  const stack: [number, number][] = [[0, points.length - 1]];
  while (stack.length) {
    const [i, j] = stack.pop()!;
    let worst = -1;
    let far = 0;
    for (let k = i + 1; k < j; k++) {
      const d = distToSegment(points[k], points[i], points[j]);
      if (d > far) {
        far = d;
        worst = k;
      }
    }
    if (worst >= 0 && far > epsilon) {
      keep[worst] = 1;
      stack.push([i, worst], [worst, j]);
    }
  }
  return points.filter((_, k) => keep[k]);
}

/** The messages of one stroke: simplified, coordinates clamped to the frame [0, W] x [0, H]
 *  and rounded to 1/100 px, split into runs of at most `maxPoints` that share their ends. */
export function strokeMessages(
  frame: number, objId: number, tool: "brush" | "eraser", radius: number, path: Point[], W: number, H: number,
  maxPoints = MAX_STROKE_POINTS,
): StrokeMessage[] {
  if (!path.length) return [];
  const pts = simplify(path).map(({ x, y }): [number, number] => [
    Math.round(Math.min(W, Math.max(0, x)) * 100) / 100,
    Math.round(Math.min(H, Math.max(0, y)) * 100) / 100,
  ]);
  const out: StrokeMessage[] = [];
  const step = Math.max(2, maxPoints) - 1;
  for (let i = 0; i === 0 || i < pts.length - 1; i += step) {
    out.push({ type: "stroke", frame, obj_id: objId, tool, radius: clampRadius(radius), points: pts.slice(i, i + step + 1) });
  }
  return out;
}
