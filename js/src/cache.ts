// A least-recently-used cache with a byte budget, for decoded frames (ImageBitmaps).
// A 480p RGBA frame is ~1.6 MB decoded, so the budget, not a count, is what bounds memory.

export class LruCache<K, V> {
  private map = new Map<K, { value: V; bytes: number }>();
  private used = 0;

  constructor(
    public budget: number,
    private onEvict: (value: V) => void = () => {},
  ) {}

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.used;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** The value, marked as most recently used. */
  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (!entry) return undefined;
    this.map.delete(key);
    this.map.set(key, entry); // Map keeps insertion order: re-inserting makes it newest
    return entry.value;
  }

  set(key: K, value: V, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.used -= old.bytes;
      if (old.value !== value) this.onEvict(old.value);
    }
    this.map.set(key, { value, bytes });
    this.used += bytes;
    this.trim();
  }

  delete(key: K): void {
    const entry = this.map.get(key);
    if (!entry) return;
    this.map.delete(key);
    this.used -= entry.bytes;
    this.onEvict(entry.value);
  }

  clear(): void {
    for (const key of [...this.map.keys()]) this.delete(key);
  }

  /** Evict oldest entries until within budget; the newest entry always stays. */
  trim(): void {
    for (const [key, entry] of this.map) {
      if (this.used <= this.budget || this.map.size <= 1) break;
      this.map.delete(key);
      this.used -= entry.bytes;
      this.onEvict(entry.value);
    }
  }
}

/** Frames to request next: up to `count` frames from `start` on that are neither cached nor pending. */
export function framesToFetch(
  start: number,
  count: number,
  n: number,
  have: (f: number) => boolean,
  limit: number,
): number[] {
  const out: number[] = [];
  for (let f = Math.max(0, start); f < Math.min(n, start + count) && out.length < limit; f++) {
    if (!have(f)) out.push(f);
  }
  return out;
}
