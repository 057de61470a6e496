// Mask codec: "runs-v1" from vseg_widgets/transport.py.
// Row-major run lengths, alternating background/foreground and starting with background,
// each an unsigned LEB128 varint. Runs are kept encoded in the cache (a few KB per mask)
// and rasterised straight into an RGBA buffer when a frame is drawn.

/** LEB128 bytes -> run lengths. Throws on a truncated buffer. */
export function decodeRuns(bytes: Uint8Array): Uint32Array {
  const out = new Uint32Array(bytes.length); // at most one run per byte
  let n = 0;
  let value = 0;
  let shift = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    value += (b & 0x7f) * 2 ** shift; // not <<: shifts past 31 bits overflow in JS
    shift += 7;
    if ((b & 0x80) === 0) {
      out[n++] = value;
      value = 0;
      shift = 0;
    }
  }
  if (shift !== 0) throw new Error("mask buffer ends inside a varint");
  return out.slice(0, n);
}

/** Run lengths -> LEB128 bytes (the inverse of decodeRuns; used in tests). */
export function encodeRuns(runs: ArrayLike<number>): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < runs.length; i++) {
    let v = runs[i];
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
  }
  return Uint8Array.from(out);
}

/** Sum of run lengths: must equal width * height for a mask of that frame. */
export function runsTotal(runs: Uint32Array): number {
  let total = 0;
  for (let i = 0; i < runs.length; i++) total += runs[i];
  return total;
}

/** Paint the foreground runs into `target` (one uint32 per pixel) with `value`. */
export function fillRuns(target: Uint32Array, runs: Uint32Array, value: number): number {
  let pos = 0;
  let painted = 0;
  for (let i = 0; i < runs.length; i++) {
    const end = Math.min(pos + runs[i], target.length);
    if (i % 2 === 1 && end > pos) {
      target.fill(value, pos, end);
      painted += end - pos;
    }
    pos = end;
  }
  return painted;
}

/** Write `label` into `labels` (one byte per pixel) wherever the runs are foreground. */
export function labelRuns(labels: Uint8Array, runs: Uint32Array, label: number): void {
  let pos = 0;
  for (let i = 0; i < runs.length; i++) {
    const end = Math.min(pos + runs[i], labels.length);
    if (i % 2 === 1) labels.fill(label, pos, end);
    pos = end;
  }
}

/**
 * Contour of a label map: pixels whose label differs from a 4-neighbour (or that touch
 * the frame border) get `colors[label]`; everything else stays untouched.
 * `labels` is (height, width) row-major, 0 = background.
 */
export function paintContours(
  target: Uint32Array,
  labels: Uint8Array,
  width: number,
  height: number,
  colors: Uint32Array,
): number {
  let painted = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      const l = labels[i];
      if (l === 0) continue;
      const edge =
        x === 0 || x === width - 1 || y === 0 || y === height - 1 ||
        labels[i - 1] !== l || labels[i + 1] !== l || labels[i - width] !== l || labels[i + width] !== l;
      if (edge) {
        target[i] = colors[l];
        painted++;
      }
    }
  }
  return painted;
}

/** "#rrggbb" + alpha 0..1 -> a uint32 pixel for a little-endian Uint32Array view of RGBA bytes. */
export function rgba32(hex: string, alpha = 1): number {
  const v = parseInt(hex.slice(1), 16);
  const r = (v >> 16) & 0xff;
  const g = (v >> 8) & 0xff;
  const b = v & 0xff;
  const a = Math.round(Math.max(0, Math.min(1, alpha)) * 255);
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}
