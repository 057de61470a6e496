import { describe, expect, it } from "vitest";
import { decodeRuns, encodeRuns, fillRuns, labelRuns, paintContours, rgba32, runsTotal } from "../src/codec";

// Bytes written by vseg_widgets/transport.py (encode_varints / encode_mask): the two ends of
// the wire must agree, so these are golden vectors from the Python side.
const PY_VARINTS = [0, 1, 127, 128, 1, 172, 2, 128, 128, 1, 255, 255, 255, 255, 15];
const PY_VALUES = [0, 1, 127, 16384, 300, 16384, 2 ** 32 - 1];

describe("decodeRuns", () => {
  it("reads the varints Python writes, including multi-byte and uint32-max values", () => {
    // 0, 1, 127 | 128 = [128, 1] | 300 = [172, 2] | 16384 = [128, 128, 1] | 2**32-1
    const runs = decodeRuns(Uint8Array.from(PY_VARINTS));
    expect(Array.from(runs)).toEqual([0, 1, 127, 128, 300, 16384, 2 ** 32 - 1]);
    expect(PY_VALUES.length).toBe(runs.length);
  });

  it("round-trips through encodeRuns", () => {
    const values = [5, 0, 127, 128, 16383, 16384, 2097151, 2097152, 123456789];
    expect(Array.from(decodeRuns(encodeRuns(values)))).toEqual(values);
    expect(Array.from(encodeRuns([0, 1, 127, 128, 300, 16384, 2 ** 32 - 1]))).toEqual(PY_VARINTS);
  });

  it("rejects a buffer that ends inside a varint", () => {
    expect(() => decodeRuns(Uint8Array.from([5, 0x80]))).toThrow(/ends inside a varint/);
  });

  it("decodes an empty buffer to no runs", () => {
    expect(decodeRuns(new Uint8Array(0)).length).toBe(0);
  });
});

describe("rasterising runs", () => {
  // The 3x4 mask Python encodes as runs [0, 2, 3, 2, 4, 1]:
  //   1 1 0 0
  //   0 1 1 0
  //   0 0 0 1
  const runs = decodeRuns(Uint8Array.from([0, 2, 3, 2, 4, 1]));
  const expected = [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1];

  it("fills the foreground runs row-major with the colour", () => {
    expect(runsTotal(runs)).toBe(12);
    const px = new Uint32Array(12);
    const painted = fillRuns(px, runs, 7);
    expect(Array.from(px)).toEqual(expected.map((v) => v * 7));
    expect(painted).toBe(5);
  });

  it("never writes past the target even when runs overflow it", () => {
    const px = new Uint32Array(4);
    expect(fillRuns(px, Uint32Array.from([2, 10]), 1)).toBe(2);
    expect(Array.from(px)).toEqual([0, 0, 1, 1]);
  });

  it("labels pixels for contours; later objects overwrite earlier ones", () => {
    const labels = new Uint8Array(12);
    labelRuns(labels, runs, 1);
    labelRuns(labels, Uint32Array.from([6, 6]), 2); // pixels 6..11
    expect(Array.from(labels)).toEqual([1, 1, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2]);
  });
});

describe("paintContours", () => {
  it("paints the border of a filled square and not its inside", () => {
    const W = 5;
    const H = 5;
    const labels = new Uint8Array(W * H);
    for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) labels[y * W + x] = 1;
    const target = new Uint32Array(W * H);
    const colors = new Uint32Array(256);
    colors[1] = 9;
    const painted = paintContours(target, labels, W, H, colors);
    expect(painted).toBe(8); // the 3x3 ring around the centre
    expect(target[2 * W + 2]).toBe(0); // centre
    expect(target[1 * W + 1]).toBe(9);
    expect(target[0]).toBe(0); // background untouched
  });

  it("treats the frame border as an edge", () => {
    const labels = new Uint8Array(9).fill(1);
    const target = new Uint32Array(9);
    const colors = new Uint32Array(256);
    colors[1] = 1;
    expect(paintContours(target, labels, 3, 3, colors)).toBe(8);
    expect(target[4]).toBe(0);
  });
});

describe("rgba32", () => {
  it("packs #rrggbb and alpha for a little-endian RGBA byte view", () => {
    const px = new Uint32Array([rgba32("#1f77b4", 1)]);
    expect(Array.from(new Uint8Array(px.buffer))).toEqual([0x1f, 0x77, 0xb4, 255]);
    const half = new Uint32Array([rgba32("#ff0000", 0.5)]);
    expect(Array.from(new Uint8Array(half.buffer))).toEqual([255, 0, 0, 128]);
  });
});
