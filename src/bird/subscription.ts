import type { LongCodeNumber } from "./types.js";

/**
 * Whether a number's `main` subscription has ended: Bird says so on the endpoint, or schedules the number's removal.
 * Listing numbers tells this for free; the subscription's dates and price take a GET of their own.
 */
export function subscriptionEnded(number: LongCodeNumber): boolean {
  return Boolean(number.deprovisionAt) || (number.endpoint?.issues ?? []).includes("subscription-is-not-active");
}
