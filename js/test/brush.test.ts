import { describe, expect, it } from "vitest";
import { addPoint, clampRadius, MAX_RADIUS, resizeRadius, simplify, strokeMessages } from "../src/brush";

describe("resizeRadius", () => {
  it("grows and shrinks by about a quarter, at least a pixel, within bounds", () => {
    expect(resizeRadius(12, 1)).toBe(15);
    expect(resizeRadius(12, -1)).toBe(10);
    expect(resizeRadius(1, 1)).toBe(2);
    expect(resizeRadius(2, -1)).toBe(1);
    expect(resizeRadius(1, -1)).toBe(1);
    expect(resizeRadius(250, 1)).toBe(MAX_RADIUS);
    let r = 1;
    for (let i = 0; i < 40; i++) r = resizeRadius(r, 1);
    expect(r).toBe(MAX_RADIUS);
  });

  it("clamps nonsense", () => {
    expect(clampRadius(Number.NaN)).toBe(0.5);
    expect(clampRadius(-4)).toBe(1);
    expect(clampRadius(1e6)).toBe(MAX_RADIUS);
  });
});

describe("addPoint", () => {
  it("keeps points at least a step apart", () => {
    const path = [{ x: 0, y: 0 }];
    expect(addPoint(path, { x: 0.5, y: 0.5 })).toBe(false);
    expect(addPoint(path, { x: 1, y: 0 })).toBe(true);
    expect(addPoint(path, { x: 1.2, y: 0.9 }, 1)).toBe(false);
    expect(path).toEqual([{ x: 0, y: 0 }, { x: 1, y: 0 }]);
    const empty: { x: number; y: number }[] = [];
    expect(addPoint(empty, { x: 3, y: 4 })).toBe(true);
  });
});

describe("simplify", () => {
  it("drops collinear points and keeps corners", () => {
    const line = Array.from({ length: 50 }, (_, i) => ({ x: i, y: 10 }));
    expect(simplify(line)).toEqual([{ x: 0, y: 10 }, { x: 49, y: 10 }]);
    const corner = [...line, ...Array.from({ length: 20 }, (_, i) => ({ x: 49, y: 11 + i }))];
    expect(simplify(corner)).toEqual([{ x: 0, y: 10 }, { x: 49, y: 10 }, { x: 49, y: 30 }]);
  });

  it("stays within half a pixel of every drawn point", () => {
    const circle = Array.from({ length: 400 }, (_, i) => ({ x: 100 + 50 * Math.cos(i / 40), y: 80 + 50 * Math.sin(i / 40) }));
    const s = simplify(circle, 0.5);
    expect(s.length).toBeLessThan(60);
    expect(s[0]).toEqual(circle[0]);
    expect(s[s.length - 1]).toEqual(circle[circle.length - 1]);
    for (const p of circle) {
      const d = Math.min(...s.slice(1).map((b, k) => {
        const a = s[k];
        const dx = b.x - a.x, dy = b.y - a.y;
        const t = Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy)));
        return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy);
      }));
      expect(d).toBeLessThanOrEqual(0.5 + 1e-9);
    }
  });
});

describe("strokeMessages", () => {
  it("makes one message for a dab or a short stroke, clamped and rounded", () => {
    expect(strokeMessages(3, 2, "brush", 8, [{ x: 10.123, y: 5.678 }], 100, 50)).toEqual([
      { type: "stroke", frame: 3, obj_id: 2, tool: "brush", radius: 8, points: [[10.12, 5.68]] },
    ]);
    const [m] = strokeMessages(0, 1, "eraser", 4, [{ x: -3, y: 10 }, { x: 40, y: 70 }], 100, 50);
    expect(m.points).toEqual([[0, 10], [40, 50]]);
    expect(strokeMessages(0, 1, "brush", 4, [], 100, 50)).toEqual([]);
  });

  it("splits a long zigzag into messages of at most maxPoints that share their ends", () => {
    const zigzag = Array.from({ length: 25 }, (_, i) => ({ x: i * 4, y: i % 2 ? 20 : 0 }));
    const msgs = strokeMessages(0, 1, "brush", 3, zigzag, 200, 50, 10);
    expect(msgs.length).toBe(3);
    expect(msgs.every((m) => m.points.length <= 10)).toBe(true);
    expect(msgs[0].points[9]).toEqual(msgs[1].points[0]);
    const joined = [msgs[0].points[0], ...msgs.flatMap((m) => m.points.slice(1))];
    expect(joined).toEqual(zigzag.map((p) => [p.x, p.y]));
  });
});
