import type { Doc } from "./env.js";

/** mulberry32: a seeded generator, so a failing campaign can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

export function sample<T>(random: Random, items: readonly T[], count: number): T[] {
  const copy = [...items];
  const out: T[] = [];
  while (out.length < count && copy.length) out.push(copy.splice(Math.floor(random() * copy.length), 1)[0] as T);
  return out;
}

/** What the simulator stocks (country, type), and whether those numbers can text. */
const CATALOG = [
  { countryCode: "US", type: "local", sms: true },
  { countryCode: "US", type: "toll-free", sms: true },
  { countryCode: "CA", type: "local", sms: true },
  { countryCode: "GB", type: "mobile", sms: true },
  { countryCode: "GB", type: "local", sms: false },
  { countryCode: "NL", type: "mobile", sms: true },
  { countryCode: "NL", type: "national", sms: false },
  { countryCode: "DE", type: "mobile", sms: true },
  { countryCode: "DE", type: "local", sms: false },
] as const;

const DESTINATIONS = ["US", "CA", "GB", "NL", "DE", "BE", "FR", "ES", "IT", "SE"];

/** A valid PhoneNumber spec the simulator can satisfy; a third keep sms destinations active. */
export function phoneNumberSpec(random: Random): Doc {
  const item = pick(random, CATALOG);
  const spec: Doc = { countryCode: item.countryCode, type: item.type };
  if (item.sms && random() < 0.35) {
    spec.capabilities = ["sms-outbound"];
    spec.destinations = [
      { capability: "sms", countryCodes: sample(random, DESTINATIONS, 1 + Math.floor(random() * 3)).sort() },
    ];
  }
  return spec;
}

/** Countries an alpha sender can serve in the simulator (not US/CA), none blocked for fresh senders. */
export const ALPHA_COUNTRIES = ["GB", "NL", "DE", "BE", "ES", "IT", "SE", "PT", "IE", "AT"];
