import { isDeepStrictEqual } from "node:util";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The RFC 7386 merge patch that turns `from` into `to`: changed keys, nested objects patched recursively, and
 * `null` for keys that disappear (a plain merge patch of `to` would leave them behind).
 */
export function createMergePatch(from: unknown, to: unknown): unknown {
  const a = normalize(from);
  const b = normalize(to);
  if (!isObject(a) || !isObject(b)) return b;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(a)) if (!(key in b)) patch[key] = null;
  for (const [key, value] of Object.entries(b)) {
    if (isDeepStrictEqual(a[key], value)) continue;
    patch[key] = isObject(a[key]) && isObject(value) ? createMergePatch(a[key], value) : value;
  }
  return patch;
}

function normalize(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}

function isObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
