import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateCrdTypes, readCrds, REPO_ROOT, TYPES_FILE } from "../../scripts/generate-crd-types.js";
import * as api from "../../src/api/v1alpha1/index.js";

const CRD_DIR = join(REPO_ROOT, "crds");

describe("src/api/v1alpha1/types.ts", () => {
  const scratch = mkdtempSync(join(tmpdir(), "crd-types-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("is what the generator makes of crds/ (run `npm run generate:crd-types` after changing a CRD)", () => {
    expect(readFileSync(TYPES_FILE, "utf8")).toBe(generateCrdTypes(CRD_DIR));
  });

  it("would be reported stale after a schema change", () => {
    const copy = join(scratch, "changed");
    cpSync(CRD_DIR, copy, { recursive: true });
    const file = join(copy, "phonenumbers.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("numberString:\n", "numberStrings:\n"));
    expect(generateCrdTypes(copy)).not.toBe(generateCrdTypes(CRD_DIR));
  });

  it("refuses two different schemas under one title, so Money and Condition keep one shape", () => {
    const copy = join(scratch, "diverged");
    cpSync(CRD_DIR, copy, { recursive: true });
    const file = join(copy, "alphasenders.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("minimum: -12", "minimum: -6"));
    expect(() => generateCrdTypes(copy)).toThrow(/titled Money differs/);
  });
});

describe("src/api/v1alpha1/index.ts constants", () => {
  const crds = readCrds(CRD_DIR);
  const byKind = new Map(crds.map((crd) => [crd.spec.names.kind, crd]));

  it.each([
    { kind: api.BIRD_WORKSPACE_KIND, plural: api.BIRD_WORKSPACE_PLURAL },
    { kind: api.PHONE_NUMBER_KIND, plural: api.PHONE_NUMBER_PLURAL },
    { kind: api.ALPHA_SENDER_KIND, plural: api.ALPHA_SENDER_PLURAL },
    { kind: api.BIRD_NUMBER_KIND, plural: api.BIRD_NUMBER_PLURAL },
    { kind: api.BIRD_SENDER_KIND, plural: api.BIRD_SENDER_PLURAL },
  ])("match the $kind CRD", ({ kind, plural }) => {
    const crd = byKind.get(kind);
    expect(crd?.spec.group).toBe(api.GROUP);
    expect(crd?.spec.names.plural).toBe(plural);
    expect(crd?.spec.versions.map((v) => v.name)).toEqual([api.VERSION]);
    expect(api.API_VERSION).toBe(`${api.GROUP}/${api.VERSION}`);
  });

  it("cover every CRD", () => {
    expect([...byKind.keys()].sort()).toEqual([
      api.ALPHA_SENDER_KIND,
      api.BIRD_NUMBER_KIND,
      api.BIRD_SENDER_KIND,
      api.BIRD_WORKSPACE_KIND,
      api.PHONE_NUMBER_KIND,
    ]);
  });
});
