// Mapping between where the pointer is on the (CSS-scaled) canvas and frame pixels.
// The canvas's backing store is the video's full resolution; CSS stretches it to the cell
// width, so a point maps by the ratio of the two sizes.

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** Client (CSS pixel) coordinates -> frame pixels, or null outside the frame. */
export function clientToFrame(clientX: number, clientY: number, rect: Rect, frameW: number, frameH: number): Point | null {
  if (rect.width <= 0 || rect.height <= 0) return null;
  const x = ((clientX - rect.left) * frameW) / rect.width;
  const y = ((clientY - rect.top) * frameH) / rect.height;
  if (!(x >= 0 && x < frameW && y >= 0 && y < frameH)) return null;
  return { x, y };
}

/** Frame pixels -> client coordinates (for tests and for placing things over the canvas). */
export function frameToClient(x: number, y: number, rect: Rect, frameW: number, frameH: number): Point {
  return { x: rect.left + (x * rect.width) / frameW, y: rect.top + (y * rect.height) / frameH };
}

/** Clamp a point to the frame: a drag that leaves the canvas still makes a valid box. */
export function clampToFrame(clientX: number, clientY: number, rect: Rect, frameW: number, frameH: number): Point {
  const x = ((clientX - rect.left) * frameW) / rect.width;
  const y = ((clientY - rect.top) * frameH) / rect.height;
  return { x: Math.min(Math.max(x, 0), frameW), y: Math.min(Math.max(y, 0), frameH) };
}

/** Two corners -> [x0, y0, x1, y1] with x0 < x1, y0 < y1, or null when thinner than `minSize` pixels. */
export function boxFromCorners(a: Point, b: Point, minSize = 2): [number, number, number, number] | null {
  const x0 = Math.min(a.x, b.x);
  const x1 = Math.max(a.x, b.x);
  const y0 = Math.min(a.y, b.y);
  const y1 = Math.max(a.y, b.y);
  if (x1 - x0 < minSize || y1 - y0 < minSize) return null;
  return [x0, y0, x1, y1];
}

/** How many frame pixels one CSS pixel covers (to draw markers of constant on-screen size). */
export function frameScale(rect: Rect, frameW: number): number {
  return rect.width > 0 ? frameW / rect.width : 1;
}
