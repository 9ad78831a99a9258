import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DOC, mermaid, moduleEdges, withPicture } from "../../scripts/architecture.js";

const KINDS = ["controllers/phone-number", "controllers/alpha-sender", "controllers/workspace", "controllers/records"];
const LOW = ["bird", "runtime", "api"];
const HIGH = ["controllers", ...KINDS, "ownership", "workspace", "plan", "operator"];
const DEV_ONLY = ["simulator", "control-plane", "demo"];
const DEV_ENTRY = ["cli", "demo", ...DEV_ONLY];

describe("the module picture and its rules", () => {
  const edges = moduleEdges();
  const imports = (from: string, to: string): boolean => edges.some((e) => e.from === from && e.to === to);

  it("docs/architecture.md shows the modules as the code has them (npm run generate:architecture)", () => {
    const doc = readFileSync(DOC, "utf8");
    expect(doc).toBe(withPicture(doc, mermaid(edges)));
  });

  it("a kind's controller never imports another kind's folder", () => {
    const crossing = edges.filter((e) => KINDS.includes(e.from) && KINDS.includes(e.to));
    expect(crossing).toEqual([]);
  });

  it("the Bird client, the runtime and the API types know nothing of controllers, ownership or plans", () => {
    for (const low of LOW) for (const high of HIGH) expect(imports(low, high), `${low} -> ${high}`).toBe(false);
  });

  it("only the development entry imports the simulator, the control plane and the demo", () => {
    const offenders = edges.filter((e) => DEV_ONLY.includes(e.to) && !DEV_ENTRY.includes(e.from));
    expect(offenders).toEqual([]);
  });
});
