import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { imageFacts } from "../helpers/image-env.js";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("the licence", () => {
  const { license } = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { license: string };

  it("LICENSE holds the licence package.json names, and the image's label names it too", () => {
    expect(license).toBe("Apache-2.0");
    const text = readFileSync(`${ROOT}LICENSE`, "utf8");
    expect(
      text
        .split("\n")
        .slice(0, 2)
        .map((line) => line.trim()),
    ).toEqual(["Apache License", "Version 2.0, January 2004"]);
    expect(text).toContain("END OF TERMS AND CONDITIONS");
    expect(imageFacts().labels["org.opencontainers.image.licenses"]).toBe(license);
  });
});
