import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { packageVersion, renderKustomize } from "../../scripts/generate-helm-chart.js";
import { testCluster } from "../helpers/cluster.js";
import { helm, resolveHelm } from "../helpers/helm.js";

const run = promisify(execFile);
const ROOT = new URL("../..", import.meta.url).pathname;
const cluster = testCluster();

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec?: { containers?: { image: string }[] } } };
}

const parse = (yaml: string): Manifest[] =>
  parseAllDocuments(yaml)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
const imagesOf = (docs: Manifest[]): string[] =>
  docs.flatMap((doc) => doc.spec?.template?.spec?.containers?.map((c) => c.image) ?? []);

/**
 * `npm run release` with a given digest (the image build itself is tested in test/image/): the bundle is deploy/ and
 * crds/ as kustomize renders them, with every image pinned by that digest, in install.yaml and in the packaged chart.
 */
describe("npm run release", () => {
  const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
  let dist: string;
  let install: string;

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), "release-test-"));
    const { stdout } = await run("bash", [`${ROOT}scripts/release.sh`, "--digest", digest, "--dist", dist]);
    expect(stdout.trim().split("\n").pop()).toBe(digest);
    install = readFileSync(join(dist, "install.yaml"), "utf8");
  }, 900_000);

  afterAll(() => {
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  it("renders deploy/ into dist/install.yaml with the image pinned by digest, and nothing else changed", () => {
    const bundled = parse(install);
    expect(imagesOf(bundled)).toEqual([`ghcr.io/bird-operator/bird-operator@${digest}`]);
    const base = parse(renderKustomize());
    const unpinned = bundled.map(
      (doc) => JSON.parse(JSON.stringify(doc).replaceAll(`@${digest}`, `:${packageVersion()}`)) as Manifest,
    );
    expect(unpinned).toEqual(base);
    expect(install.split("\n").slice(0, 2).join("\n")).toContain(`bird-operator ${packageVersion()}`);
  });

  it("puts the CRDs alone in dist/crds.yaml, as install.yaml has them", () => {
    const crds = parse(readFileSync(join(dist, "crds.yaml"), "utf8"));
    const base = parse(renderKustomize()).filter((doc) => doc.kind === "CustomResourceDefinition");
    expect(crds.length).toBeGreaterThan(0);
    expect(crds).toEqual(base);
    expect(crds).toEqual(parse(install).filter((doc) => doc.kind === "CustomResourceDefinition"));
  });

  it("packages the chart with the same digest", async () => {
    const binary = await resolveHelm();
    const chart = join(dist, `bird-operator-${packageVersion()}.tgz`);
    const { stdout } = await helm(binary, ["template", "bird-operator", chart, "--namespace", "bird-operator"]);
    expect(imagesOf(parse(stdout))).toEqual(imagesOf(parse(install)));
  });

  it("is accepted by the API server (server-side dry run)", async () => {
    // A dry run creates no namespace for the objects after it: the namespace is applied for real first.
    const namespace = parseAllDocuments(install).find((doc) => (doc.toJS() as Manifest | null)?.kind === "Namespace");
    await cluster.kubectl(["apply", "-f", "-"], { input: String(namespace) });
    const { stdout } = await cluster.kubectl(["apply", "--dry-run=server", "-f", join(dist, "install.yaml")]);
    expect(stdout).toMatch(/deployment\.apps\/bird-operator (created|configured|unchanged) \(server dry run\)/);
  });
});
