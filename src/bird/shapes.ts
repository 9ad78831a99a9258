/**
 * Checks of 2xx bodies, deliberately shallow: enough that callers never crash on a missing list or id, not a
 * schema validator (the simulator tests hold Bird's answers to the full contract).
 */

/** Names what is wrong with a body, or undefined when it has the expected shape. */
export type ShapeCheck = (body: unknown) => string | undefined;

export function parseJson(text: string | undefined): { value: unknown } | undefined {
  if (text === undefined || text.trim() === "") {
    return undefined;
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function objectWith(...keys: string[]): ShapeCheck {
  return (body) => {
    if (!isRecord(body)) {
      return "expected a JSON object";
    }
    const missing = keys.find((key) => typeof body[key] !== "string");
    return missing === undefined ? undefined : `${missing} is missing or not a string`;
  };
}

export function listOf(...itemKeys: string[]): ShapeCheck {
  const item = objectWith(...itemKeys);
  return (body) => {
    if (!isRecord(body)) {
      return "expected a JSON object";
    }
    if (!Array.isArray(body.results)) {
      return "results is missing or not an array";
    }
    const token = body.nextPageToken;
    if (token !== undefined && token !== null && typeof token !== "string") {
      return "nextPageToken is not a string";
    }
    const index = body.results.findIndex((entry) => item(entry) !== undefined);
    return index === -1 ? undefined : `results[${index}]: ${item(body.results[index])}`;
  };
}

/**
 * A validate-only activation is asked for its prices, which spend limits are checked against: an answer without
 * `subscriptionPrices` (and without the error Bird documents in the body) quotes nothing and is refused as malformed,
 * so a broken answer can never pass for "free".
 */
export function quoteShape(body: unknown): string | undefined {
  const problem = activateShape(body);
  if (problem || !isRecord(body) || (body.error !== undefined && body.error !== null)) return problem;
  return isRecord(body.subscriptionPrices) ? undefined : "subscriptionPrices is missing from a validate-only answer";
}

export function activateShape(body: unknown): string | undefined {
  if (!isRecord(body)) {
    return "expected a JSON object";
  }
  if (body.results !== undefined) {
    return listOf("countryCode")(body);
  }
  return body.subscriptionPrices !== undefined && !isRecord(body.subscriptionPrices)
    ? "subscriptionPrices is not an object"
    : undefined;
}
