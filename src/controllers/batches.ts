/** Bird's limits per destinations call: 100 countries to activate, 25 to deactivate (the seed page on destinations). */
export const ACTIVATE_BATCH = 100;
export const DEACTIVATE_BATCH = 25;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
