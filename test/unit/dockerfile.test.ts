import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { imageFacts, packageVersion } from "../helpers/image-env.js";

const ROOT = new URL("../..", import.meta.url).pathname;

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped, grouped by stage. */
function stages(text: string): Instruction[][] {
  const joined = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ");
  const result: Instruction[][] = [[]];
  for (const line of joined.split("\n")) {
    const match = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!match) continue;
    if (match[1] === "FROM") result.push([]);
    result[result.length - 1]!.push({ keyword: match[1]!, args: match[2]!.trim() });
  }
  return result;
}

/** `key="value" key2=value2` pairs, as ENV and LABEL write them. */
function pairs(args: string): Record<string, string> {
  return Object.fromEntries([...args.matchAll(/([\w.-]+)=("([^"]*)"|\S+)/g)].map((m) => [m[1]!, m[3] ?? m[2]!]));
}

/**
 * The Dockerfile stays for people with Docker, and must build what scripts/build-image.sh builds without it: both run
 * scripts/image/'s steps, and the image's configuration is written once in scripts/image/image.env and again here.
 */
describe("Dockerfile and scripts/build-image.sh build the same image", () => {
  const dockerfile = readFileSync(`${ROOT}Dockerfile`, "utf8");
  const all = stages(dockerfile);
  const final = all[all.length - 1]!;
  const facts = imageFacts();
  const one = (keyword: string): string => {
    const found = final.filter((i) => i.keyword === keyword);
    expect(found, keyword).toHaveLength(1);
    return found[0]!.args;
  };

  it("ends in a stage from scratch holding only the assembled root filesystem", () => {
    expect(final[0]).toEqual({ keyword: "FROM", args: "scratch" });
    expect(final.filter((i) => i.keyword === "COPY").map((i) => i.args)).toEqual(["--from=rootfs /rootfs /"]);
    expect(final.some((i) => i.keyword === "RUN")).toBe(false);
  });

  it("has the user, working directory, entrypoint, command, environment and ports of image.env", () => {
    expect(one("USER")).toBe(facts.user);
    expect(one("WORKDIR")).toBe(facts.workdir);
    expect(JSON.parse(one("ENTRYPOINT"))).toEqual(facts.entrypoint);
    expect(JSON.parse(one("CMD"))).toEqual(facts.cmd);
    expect(pairs(one("ENV"))).toEqual(pairs(facts.env.join(" ")));
    expect(one("EXPOSE").split(/\s+/)).toEqual(facts.ports);
  });

  it("has image.env's labels, and package.json's version as the default version label", () => {
    const labels = pairs(one("LABEL"));
    expect(labels).toMatchObject(facts.labels);
    expect(labels["org.opencontainers.image.version"]).toBe("${VERSION}");
    const versionArg = final.find((i) => i.keyword === "ARG" && i.args.startsWith("VERSION="));
    expect(versionArg?.args).toBe(`VERSION=${packageVersion()}`);
  });

  it("stages the app, fetches node and assembles the root filesystem with the scripts build-image.sh runs", () => {
    const runs = all
      .flat()
      .filter((i) => i.keyword === "RUN")
      .map((i) => i.args)
      .join("\n");
    expect(runs).toMatch(/sh scripts\/image\/stage-app\.sh \/src \S+ \S+/);
    expect(runs).toMatch(/sh \/scripts\/image\/assemble-rootfs\.sh \/rootfs \/debs \S+ \S+/);
    expect(runs).toContain(". /scripts/image/image.env");
    expect(runs).toContain("apt-get download -q $DEBIAN_PACKAGES");
    expect(runs).toContain("node-linux-$arch@$(cat .node-version)");
    const script = readFileSync(`${ROOT}scripts/build-image.sh`, "utf8");
    expect(script).toContain('sh "$ROOT/scripts/image/stage-app.sh"');
    expect(script).toContain('sh "$ROOT/scripts/image/assemble-rootfs.sh"');
    expect(script).toContain('. "$ROOT/scripts/image/image.env"');
  });

  it("sends every file it copies from the context through .dockerignore", () => {
    const allowed = readFileSync(`${ROOT}.dockerignore`, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("!"))
      .map((line) => line.slice(1));
    const copied = all
      .flat()
      .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(copied.length).toBeGreaterThan(0);
    expect(copied.filter((path) => !allowed.includes(path))).toEqual([]);
  });
});
