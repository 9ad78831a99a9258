import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readManifests } from "../../src/plan/input.js";

const dir = mkdtempSync(join(tmpdir(), "plan-input-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pn = (name: string): string =>
  `apiVersion: numbers.birdoperator.dev/v1alpha1\nkind: PhoneNumber\nmetadata: {name: ${name}}\n` +
  "spec: {workspaceRef: {name: default}, countryCode: US, type: local}\n";

/** The input as `kubectl apply -f` takes it: files, directories, kustomizations, stdin, Lists. */
describe("readManifests", () => {
  it("reads a file with several documents, skipping empty ones, and names the source", () => {
    const file = join(dir, "two.yaml");
    writeFileSync(file, `${pn("a")}---\n---\n${pn("b")}`);
    expect(readManifests([file]).map((m) => [m.metadata?.name, m.source])).toEqual([
      ["a", file],
      ["b", file],
    ]);
  });

  it("reads a directory's .yaml, .yml and .json files in name order, not its other files or subdirectories", () => {
    const sub = mkdtempSync(join(dir, "dir-"));
    writeFileSync(join(sub, "b.yml"), pn("b"));
    writeFileSync(join(sub, "a.yaml"), pn("a"));
    writeFileSync(
      join(sub, "c.json"),
      JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "c" } }),
    );
    writeFileSync(join(sub, "README.md"), "# not a manifest");
    expect(readManifests([sub]).map((m) => m.metadata?.name)).toEqual(["a", "b", "c"]);
  });

  it("renders a kustomization directory with kubectl kustomize (its namespace applied)", () => {
    const kustomization = mkdtempSync(join(dir, "kustomize-"));
    writeFileSync(join(kustomization, "pn.yaml"), pn("k"));
    writeFileSync(join(kustomization, "kustomization.yaml"), "namespace: team-a\nresources: [pn.yaml]\n");
    const [object] = readManifests([kustomization]);
    expect(object?.metadata).toEqual({ name: "k", namespace: "team-a" });
    expect(object?.source).toBe(`${kustomization} (kustomize)`);
  });

  it("reads - from stdin and unpacks Lists", () => {
    const list = JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        { kind: "PhoneNumber", metadata: { name: "x" } },
        { kind: "AlphaSender", metadata: { name: "y" } },
      ],
    });
    expect(readManifests(["-"], () => list).map((m) => `${m.kind}/${m.metadata?.name} ${m.source}`)).toEqual([
      "PhoneNumber/x <stdin>",
      "AlphaSender/y <stdin>",
    ]);
  });

  it("names the source of what it cannot read", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "kind: [unclosed\n");
    expect(() => readManifests([bad])).toThrow(bad);
    expect(() => readManifests([join(dir, "missing.yaml")])).toThrow(/no such file/);
    writeFileSync(join(dir, "scalar.yaml"), "just text\n");
    expect(() => readManifests([join(dir, "scalar.yaml")])).toThrow(/not an object/);
  });
});
