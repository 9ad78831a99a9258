/**
 * A seeded pseudo-random source: the same seed gives the same stock on every start, so demos and tests can rely on it.
 */
export type Random = () => number;

/** mulberry32: tiny, fast and good enough for generating test data (not for anything secret). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a: turns strings (organization ids, sender names) into seeds. */
export function hashString(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function randomInt(random: Random, maxExclusive: number): number {
  return Math.floor(random() * maxExclusive);
}

export function randomDigits(random: Random, count: number): string {
  let digits = "";
  for (let i = 0; i < count; i++) digits += String(randomInt(random, 10));
  return digits;
}

/** A version-4-shaped uuid drawn from `random`, so generated ids are stable for a given seed. */
export function randomUuid(random: Random): string {
  const hex: string[] = [];
  for (let i = 0; i < 32; i++) hex.push(randomInt(random, 16).toString(16));
  hex[12] = "4";
  hex[16] = (8 + randomInt(random, 4)).toString(16);
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
