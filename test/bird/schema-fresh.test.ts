import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** src/bird/schema.d.ts is what `npm run generate` makes of openapi/bird.yaml: edit the contract, then regenerate. */
describe("generated Bird types", () => {
  it("match openapi/bird.yaml (run `npm run generate` after changing it)", () => {
    const out = join(mkdtempSync(join(tmpdir(), "bird-schema-")), "schema.d.ts");
    execFileSync(join(root, "node_modules/.bin/openapi-typescript"), [join(root, "openapi/bird.yaml"), "-o", out], {
      stdio: "pipe",
    });
    expect(readFileSync(join(root, "src/bird/schema.d.ts"), "utf8")).toBe(readFileSync(out, "utf8"));
  }, 60_000);
});
