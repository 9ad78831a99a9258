/**
 * Bird's answers go into status, and the CRDs bound every string and list (etcd refuses objects over 1.5 MB, and one
 * over-long string fails the whole status write). What Bird sends is therefore bounded before it is written:
 * strings cut to the schema's length, lists cut with a last entry saying how many more there were.
 */

/** Bird's issue strings: at most 256 characters each (the CRDs' maxLength). */
export const MAX_TEXT = 256;
/** Issues per endpoint or country kept in status (the CRDs' maxItems). */
export const MAX_ISSUES = 20;

export function boundedText(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** Optional strings stay optional. */
export function boundedOptional(text: string | undefined, max = MAX_TEXT): string | undefined {
  return text === undefined ? undefined : boundedText(String(text), max);
}

export function boundedList(items: readonly string[], maxItems = MAX_ISSUES, maxLength = MAX_TEXT): string[] {
  const kept = items
    .slice(0, items.length > maxItems ? maxItems - 1 : maxItems)
    .map((item) => boundedText(String(item), maxLength));
  if (items.length > maxItems) kept.push(`... and ${items.length - kept.length} more`);
  return kept;
}
