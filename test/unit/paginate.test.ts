import { describe, expect, it } from "vitest";
import { paginate } from "../../src/bird/paginate.js";
import type { Page } from "../../src/bird/types.js";

/** Three pages of two items; records when each page was asked for, relative to the items handed out. */
function pages(): { fetchPage: (token?: string) => Promise<Page<string>>; log: string[] } {
  const log: string[] = [];
  const fetchPage = async (token?: string): Promise<Page<string>> => {
    const n = Number(token ?? 0);
    log.push(`fetch ${n}`);
    return { results: [`${n}a`, `${n}b`], nextPageToken: n < 2 ? String(n + 1) : undefined };
  };
  return { fetchPage, log };
}

describe("paginate", () => {
  it("asks for the next page before handing out a page's items when told to prefetch", async () => {
    const { fetchPage, log } = pages();
    for await (const item of paginate(fetchPage, "r", { prefetch: true })) log.push(item);
    expect(log).toEqual(["fetch 0", "fetch 1", "0a", "0b", "fetch 2", "1a", "1b", "2a", "2b"]);
  });

  it("asks for no page a consumer that stops early does not read, without prefetch", async () => {
    const { fetchPage, log } = pages();
    for await (const item of paginate(fetchPage, "r")) {
      log.push(item);
      if (item === "0b") break;
    }
    expect(log).toEqual(["fetch 0", "0a", "0b"]);
  });
});
