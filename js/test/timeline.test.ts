import { describe, expect, it } from "vitest";
import {
  CONF_GAP, CONF_HEIGHT, DOUBT_COLOR, DROP_THRESHOLD, LANE_GAP, LANE_HEIGHT, doubtfulFrames, frameAtX, frameSpan, hasConfidence, isPresent,
  lanePitch, laneAtY, layoutTimeline, nextDoubtful, timelineHeight,
} from "../src/timeline";
import { LruCache, framesToFetch } from "../src/cache";

describe("timeline geometry", () => {
  it("maps x to the frame under it, clamped to the video", () => {
    expect(frameAtX(0, 480, 48)).toBe(0);
    expect(frameAtX(9.99, 480, 48)).toBe(0);
    expect(frameAtX(10, 480, 48)).toBe(1);
    expect(frameAtX(479.9, 480, 48)).toBe(47);
    expect(frameAtX(500, 480, 48)).toBe(47);
    expect(frameAtX(-5, 480, 48)).toBe(0);
  });

  it("gives each frame a column and inverts frameAtX", () => {
    for (const f of [0, 7, 47]) {
      const { x, w } = frameSpan(f, 480, 48);
      expect(w).toBe(10);
      expect(frameAtX(x + w / 2, 480, 48)).toBe(f);
    }
  });

  it("finds the lane under y and nothing in the gaps", () => {
    expect(laneAtY(LANE_GAP + 1, 2)).toBe(0);
    expect(laneAtY(LANE_GAP + LANE_HEIGHT + LANE_GAP + 1, 2)).toBe(1);
    expect(laneAtY(LANE_GAP + LANE_HEIGHT + 1, 2)).toBeNull();
    expect(laneAtY(timelineHeight(2) + 1, 2)).toBeNull();
    expect(laneAtY(0, 2)).toBeNull();
  });

  it("tests membership in sorted [start, stop) ranges", () => {
    const ranges: [number, number][] = [[0, 3], [10, 11], [20, 30]];
    expect([0, 2, 3, 9, 10, 11, 19, 20, 29, 30].map((f) => isPresent(ranges, f))).toEqual([
      true, true, false, false, true, false, false, true, true, false,
    ]);
    expect(isPresent([], 0)).toBe(false);
  });
});

describe("layoutTimeline", () => {
  const data = {
    kind: "iou_prev",
    lanes: [
      { obj_id: 1, present: [[0, 4]] as [number, number][], scores: [null, 0.95, 0.5, 1] },
      { obj_id: 2, present: [] as [number, number][], scores: null },
    ],
  };
  const prompts = [{ frame: 0, obj_id: 1 }, { frame: 3, obj_id: 2 }];
  const color = (o: number) => (o === 1 ? "#1f77b4" : "#ff7f0e");
  const rects = layoutTimeline(data, prompts, color, new Set(), 400, 4);
  const of = (kind: string, lane?: number) =>
    rects.filter((r) => {
      const top = LANE_GAP + (lane ?? 0) * (LANE_HEIGHT + LANE_GAP);
      return r.kind === kind && (lane === undefined || (r.y >= top && r.y + r.h <= top + LANE_HEIGHT));
    });

  it("draws one lane per object in its colour", () => {
    expect(of("lane").map((r) => r.color)).toEqual(["#1f77b4", "#ff7f0e"]);
  });

  it("covers the frames with a mask", () => {
    expect(of("present", 0)).toHaveLength(1);
    expect(of("present", 0)[0]).toMatchObject({ x: 0, w: 400 });
    expect(of("present", 1)).toHaveLength(0);
  });

  it("draws score bars whose height follows the score, none where undefined", () => {
    const bars = of("score", 0);
    expect(bars.map((r) => r.x)).toEqual([100, 200, 300]);
    expect(bars[0].h).toBeGreaterThan(bars[1].h);
    expect(bars[2].h).toBe(LANE_HEIGHT - 4);
  });

  it("flags sudden changes below the threshold", () => {
    expect(DROP_THRESHOLD).toBeGreaterThan(0.5);
    expect(of("drop").map((r) => r.x)).toEqual([200]);
  });

  it("marks prompts in their object's lane", () => {
    const marks = of("prompt");
    expect(marks).toHaveLength(2);
    expect(marks[0].y).toBe(LANE_GAP);
    expect(marks[0].x + marks[0].w / 2).toBeCloseTo(50);
    expect(marks[1].y).toBe(LANE_GAP + LANE_HEIGHT + LANE_GAP);
  });

  it("dims hidden objects", () => {
    const dimmed = layoutTimeline(data, prompts, color, new Set([1]), 400, 4);
    const lane0 = dimmed.find((r) => r.kind === "present")!;
    expect(lane0.alpha).toBeLessThan(of("present", 0)[0].alpha);
  });

  it("draws each shot cut as a line across every lane, ignoring frame 0 and frames past the end", () => {
    const cut = layoutTimeline(data, prompts, color, new Set(), 400, 4, [0, 2, 9]).filter((r) => r.kind === "cut");
    expect(cut).toHaveLength(1);
    expect(cut[0].x + cut[0].w / 2).toBe(200); // the left edge of frame 2's column
    expect([cut[0].y, cut[0].h]).toEqual([0, timelineHeight(2)]);
    expect(of("cut")).toHaveLength(0); // no cuts given, none drawn
  });
});

describe("frame cache", () => {
  it("evicts least recently used entries beyond the byte budget", () => {
    const evicted: string[] = [];
    const cache = new LruCache<number, string>(300, (v) => evicted.push(v));
    cache.set(1, "a", 100);
    cache.set(2, "b", 100);
    cache.set(3, "c", 100);
    expect(cache.get(1)).toBe("a"); // 1 is now the newest
    cache.set(4, "d", 100);
    expect(evicted).toEqual(["b"]);
    expect(cache.has(2)).toBe(false);
    expect(cache.bytes).toBe(300);
    expect(cache.size).toBe(3);
  });

  it("keeps the newest entry even when it alone exceeds the budget", () => {
    const cache = new LruCache<number, string>(10);
    cache.set(1, "a", 5);
    cache.set(2, "b", 50);
    expect(cache.has(2)).toBe(true);
    expect(cache.has(1)).toBe(false);
  });

  it("replacing a key re-counts its bytes and shrinking the budget trims", () => {
    const cache = new LruCache<number, string>(1000);
    cache.set(1, "a", 400);
    cache.set(1, "a2", 100);
    cache.set(2, "b", 100);
    expect(cache.bytes).toBe(200);
    cache.budget = 150;
    cache.trim();
    expect(cache.has(1)).toBe(false);
    expect(cache.has(2)).toBe(true);
  });

  it("prefetches only missing frames, within the video and the request limit", () => {
    const have = (f: number) => f === 11 || f === 12;
    expect(framesToFetch(10, 6, 14, have, 16)).toEqual([10, 13]);
    expect(framesToFetch(0, 100, 50, () => false, 16)).toHaveLength(16);
    expect(framesToFetch(48, 10, 50, () => false, 16)).toEqual([48, 49]);
  });
});

describe("confidence strip and the next doubtful frame", () => {
  const conf = {
    kind: "iou_prev",
    lanes: [
      { obj_id: 1, present: [[0, 10]] as [number, number][], scores: null, confidence: [1, 0.9, 0.2, 0.3, 0.9, 0.9, 0.1, 0.95, null, 0.9] },
      { obj_id: 2, present: [[0, 10]] as [number, number][], scores: null, confidence: [1, 1, 1, 1, 1, 1, 1, 1, 0.4, 1] },
    ],
  };
  const color = () => "#1f77b4";

  it("adds a strip under every lane when confidence is known, and not otherwise", () => {
    expect(hasConfidence(conf)).toBe(true);
    expect(hasConfidence({ kind: null, lanes: [{ obj_id: 1, present: [], scores: null }] })).toBe(false);
    expect(lanePitch(true)).toBe(LANE_HEIGHT + LANE_GAP + CONF_GAP + CONF_HEIGHT);
    expect(timelineHeight(2, true)).toBe(2 * lanePitch(true) + LANE_GAP);
    expect(timelineHeight(2)).toBe(2 * (LANE_HEIGHT + LANE_GAP) + LANE_GAP); // unchanged without
    expect(laneAtY(LANE_GAP + lanePitch(true) + LANE_HEIGHT + 2, 2, true)).toBe(1); // on lane 2's strip
    expect(laneAtY(LANE_GAP + lanePitch(true) - 1, 2, true)).toBeNull(); // the gap after lane 1's strip
  });

  it("draws each frame's confidence, red below the threshold, nothing where unknown", () => {
    const rects = layoutTimeline(conf, [], color, new Set(), 100, 10, [], 0.5);
    const strip1 = LANE_GAP + LANE_HEIGHT + CONF_GAP;
    const lane1 = rects.filter((r) => (r.kind === "confidence" || r.kind === "doubt") && r.y >= strip1 && r.y < strip1 + CONF_HEIGHT);
    expect(lane1.filter((r) => r.kind === "doubt").map((r) => r.x)).toEqual([20, 30, 60]);
    expect(lane1.map((r) => r.x)).not.toContain(80); // frame 8 has no confidence
    const sure = lane1.filter((r) => r.kind === "confidence");
    expect(sure.find((r) => r.x === 0)!.h).toBe(CONF_HEIGHT);
    expect(sure.find((r) => r.x === 10)!.h).toBeCloseTo(0.9 * CONF_HEIGHT);
    const doubts = lane1.filter((r) => r.kind === "doubt");
    expect(doubts.every((r) => r.color === DOUBT_COLOR && r.h === CONF_HEIGHT)).toBe(true);
    expect(doubts[2].alpha).toBeGreaterThan(doubts[1].alpha); // 0.1 is more doubtful than 0.3
    // a lower threshold: 0.3 is no longer doubtful
    const strict = layoutTimeline(conf, [], color, new Set(), 100, 10, [], 0.25).filter((r) => r.kind === "doubt");
    expect(strict.map((r) => r.x)).toEqual([20, 60]);
  });

  it("marks a frame doubtful when any visible object is below the threshold", () => {
    expect(doubtfulFrames(conf, 0.5, 10).map(Number)).toEqual([0, 0, 1, 1, 0, 0, 1, 0, 1, 0]);
    expect(doubtfulFrames(conf, 0.5, 10, new Set([2])).map(Number)).toEqual([0, 0, 1, 1, 0, 0, 1, 0, 0, 0]);
  });

  it("jumps to the start of the next run of doubtful frames, wrapping around", () => {
    expect(nextDoubtful(conf, 0, 0.5, 10)).toBe(2);
    expect(nextDoubtful(conf, 2, 0.5, 10)).toBe(6); // inside a run: on to the next one
    expect(nextDoubtful(conf, 3, 0.5, 10)).toBe(6);
    expect(nextDoubtful(conf, 6, 0.5, 10)).toBe(8);
    expect(nextDoubtful(conf, 8, 0.5, 10)).toBe(2); // wraps
    expect(nextDoubtful(conf, 0, 0.5, 10, 1, new Set([2]))).toBe(2);
    expect(nextDoubtful(conf, 6, 0.5, 10, 1, new Set([2]))).toBe(2); // object 2 hidden: frame 8 is fine
    expect(nextDoubtful(conf, 0, 0.05, 10)).toBeNull(); // nothing that doubtful
    expect(nextDoubtful({ kind: null, lanes: [] }, 0, 0.5, 10)).toBeNull();
  });

  it("jumps backwards with direction -1", () => {
    expect(nextDoubtful(conf, 9, 0.5, 10, -1)).toBe(8);
    expect(nextDoubtful(conf, 7, 0.5, 10, -1)).toBe(6);
    expect(nextDoubtful(conf, 3, 0.5, 10, -1)).toBe(8); // inside the first run: wraps to the last
    expect(nextDoubtful(conf, 6, 0.5, 10, -1)).toBe(2);
  });
});
