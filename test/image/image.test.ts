import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../helpers/cluster.js";
import {
  builtImage,
  imageConfig,
  readBlob,
  runOnce,
  unpack,
  type Bundle,
  type BuiltImage,
} from "../helpers/container.js";
import { imageFacts, nodeVersion, packageVersion } from "../helpers/image-env.js";

const run = promisify(execFile);
const ROOT = new URL("../..", import.meta.url).pathname;
const MAX_COMPRESSED_BYTES = 70 * 1000 * 1000;

interface Manifest {
  config: { digest: string; size: number };
  layers: { digest: string; size: number; mediaType: string }[];
}

/** What scripts/build-image.sh built, checked from the outside: configuration, size, contents, and a rebuild. */
describe("the image scripts/build-image.sh builds", () => {
  let image: BuiltImage;
  let manifest: Manifest;
  let files: string[];
  let bundle: Bundle;

  beforeAll(async () => {
    image = builtImage();
    manifest = readBlob<Manifest>(image, image.digest);
    const layers = await Promise.all(
      manifest.layers.map(async (layer) => {
        const { stdout } = await run("tar", ["-tzf", join(image.layout, "blobs", ...layer.digest.split(":"))], {
          maxBuffer: 64 * 1024 * 1024,
        });
        return stdout.split("\n").filter(Boolean);
      }),
    );
    files = layers.flat().map((path) => `/${path.replace(/^\.?\//, "")}`);
    bundle = await unpack(image);
  });

  afterAll(() => bundle?.remove());

  it(
    "has the configuration in scripts/image/image.env, package.json's version " + "and this checkout's revision",
    async () => {
      const facts = imageFacts();
      const { config, architecture, os } = imageConfig(image);
      expect(os).toBe("linux");
      expect(architecture).toBe((await run("dpkg", ["--print-architecture"])).stdout.trim());
      expect(config.User).toBe(facts.user);
      expect(config.User).toBe("65532:65532");
      expect(config.WorkingDir).toBe(facts.workdir);
      expect(config.Entrypoint).toEqual(facts.entrypoint);
      expect(config.Cmd).toEqual(facts.cmd);
      expect(config.Env).toEqual(facts.env);
      expect(Object.keys(config.ExposedPorts ?? {})).toEqual(facts.ports);
      const revision = (await run("git", ["-C", ROOT, "rev-parse", "HEAD"])).stdout.trim();
      expect(config.Labels).toEqual({
        ...facts.labels,
        "org.opencontainers.image.version": packageVersion(),
        "org.opencontainers.image.revision": expect.stringMatching(new RegExp(`^${revision}(-dirty)?$`)) as string,
      });
    },
  );

  it(`is at most ${MAX_COMPRESSED_BYTES / 1e6} MB compressed`, () => {
    const compressed = manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    console.log(
      `[image] ${image.digest}: ${(compressed / 1e6).toFixed(1)} MB compressed in ${manifest.layers.length} layer(s)`,
    );
    expect(manifest.layers.every((layer) => layer.mediaType === "application/vnd.oci.image.layer.v1.tar+gzip")).toBe(
      true,
    );
    expect(compressed).toBeLessThanOrEqual(MAX_COMPRESSED_BYTES);
  });

  it("holds node, glibc, libstdc++ and the CA bundle, and no shell, package manager or npm", () => {
    expect(files).toContain("/usr/local/bin/node");
    expect(files.some((f) => /^\/lib\/[^/]+-linux-gnu\/libc\.so\.6$/.test(f))).toBe(true);
    expect(files.some((f) => /libstdc\+\+\.so\.6$/.test(f))).toBe(true);
    expect(files).toContain("/etc/ssl/certs/ca-certificates.crt");
    const packages = files
      .filter((f) => f.startsWith("/var/lib/dpkg/status.d/") && !f.endsWith("/"))
      .map((f) => f.split("/").pop());
    expect(packages.sort()).toEqual([...imageFacts().debianPackages].sort());
    const executables = ["sh", "bash", "dash", "busybox", "apt", "apt-get", "dpkg", "npm", "npx", "corepack"];
    expect(files.filter((f) => executables.includes(f.split("/").pop() ?? "") && !f.endsWith("/"))).toEqual([]);
    expect(files.filter((f) => f.includes("/node_modules/npm/") || f.includes("/node_modules/corepack/"))).toEqual([]);
    const passwd = readFileSync(join(bundle.dir, "rootfs", "etc", "passwd"), "utf8");
    expect(passwd).toContain("nonroot:x:65532:65532:");
  });

  it("holds the compiled app with production dependencies only, without the development commands", () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const installed = new Set(
      files
        .filter((f) => /^\/app\/node_modules\/(@[^/]+\/)?[^/@]+\/package\.json$/.test(f))
        .map((f) => f.replace(/^\/app\/node_modules\/|\/package\.json$/g, "")),
    );
    for (const name of Object.keys(pkg.dependencies)) expect(installed, name).toContain(name);
    const dev = Object.keys(pkg.devDependencies).filter((name) => installed.has(name));
    expect(dev).toEqual([]);
    expect(files).toContain("/app/dist/cli/main.js");
    expect(files.filter((f) => /^\/app\/dist\/(simulator|control-plane|demo|cli\/dev)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith("/app/src/") || f.endsWith(".ts"))).toEqual([]);
  });

  it(
    "runs `version` read-only as nonroot and prints package.json's version, " + "on the Node.js of .node-version",
    async () => {
      const version = await runOnce(bundle, uniqueName("bird-operator-version"), [...bundle.entrypoint, "version"]);
      expect(version).toEqual({ code: 0, output: `bird-operator ${packageVersion()}\n` });
      const node = await runOnce(bundle, uniqueName("bird-operator-node"), ["/usr/local/bin/node", "--version"]);
      expect(node).toEqual({ code: 0, output: `v${nodeVersion()}\n` });
    },
  );

  it(
    "is reproducible, and npm run release pins its digest: " + "a release from the same checkout builds the same image",
    async () => {
      const out = mkdtempSync(join(tmpdir(), "bird-operator-release-"));
      try {
        const { stdout } = await run(
          "bash",
          [`${ROOT}scripts/release.sh`, "--image-dir", join(out, "image"), "--dist", join(out, "dist")],
          { maxBuffer: 16 * 1024 * 1024 },
        );
        expect(stdout.trim().split("\n").pop()).toBe(image.digest);
        expect(readFileSync(join(out, "image", "digest"), "utf8").trim()).toBe(image.digest);
        expect(readFileSync(join(out, "dist", "install.yaml"), "utf8")).toContain(
          `image: ghcr.io/bird-operator/bird-operator@${image.digest}\n`,
        );
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
