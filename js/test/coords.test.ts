import { describe, expect, it } from "vitest";
import { boxFromCorners, clampToFrame, clientToFrame, frameScale, frameToClient } from "../src/coords";

// An 854x480 frame shown 427 CSS pixels wide (half size) at (100, 50) on the page.
const rect = { left: 100, top: 50, width: 427, height: 240 };
const W = 854;
const H = 480;

describe("clientToFrame", () => {
  it("scales CSS pixels to frame pixels", () => {
    expect(clientToFrame(100, 50, rect, W, H)).toEqual({ x: 0, y: 0 });
    expect(clientToFrame(100 + 213.5, 50 + 120, rect, W, H)).toEqual({ x: 427, y: 240 });
    expect(clientToFrame(110, 60, rect, W, H)).toEqual({ x: 20, y: 20 });
  });

  it("returns null outside the frame, including the right and bottom edges", () => {
    expect(clientToFrame(99, 60, rect, W, H)).toBeNull();
    expect(clientToFrame(110, 49.5, rect, W, H)).toBeNull();
    expect(clientToFrame(100 + 427, 60, rect, W, H)).toBeNull();
    expect(clientToFrame(110, 50 + 240, rect, W, H)).toBeNull();
  });

  it("returns null for a canvas that has no size yet", () => {
    expect(clientToFrame(0, 0, { left: 0, top: 0, width: 0, height: 0 }, W, H)).toBeNull();
  });

  it("is inverted by frameToClient", () => {
    const p = frameToClient(300.5, 123.25, rect, W, H);
    const q = clientToFrame(p.x, p.y, rect, W, H)!;
    expect(q.x).toBeCloseTo(300.5, 9);
    expect(q.y).toBeCloseTo(123.25, 9);
  });
});

describe("boxes", () => {
  it("clamps drag ends that leave the canvas to the frame", () => {
    expect(clampToFrame(0, 1000, rect, W, H)).toEqual({ x: 0, y: H });
    expect(clampToFrame(1000, 0, rect, W, H)).toEqual({ x: W, y: 0 });
  });

  it("orders corners and rejects slivers", () => {
    expect(boxFromCorners({ x: 50, y: 40 }, { x: 10, y: 80 })).toEqual([10, 40, 50, 80]);
    expect(boxFromCorners({ x: 10, y: 10 }, { x: 11, y: 80 })).toBeNull();
    expect(boxFromCorners({ x: 10, y: 10 }, { x: 80, y: 10.5 })).toBeNull();
  });

  it("knows how many frame pixels a CSS pixel covers", () => {
    expect(frameScale(rect, W)).toBe(2);
  });
});
