import { readFileSync } from "node:fs";

const ROOT = new URL("../..", import.meta.url).pathname;

/** scripts/image/image.env: what both scripts/build-image.sh and the Dockerfile say about the image. */
export interface ImageFacts {
  debianPackages: string[];
  user: string;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  ports: string[];
  labels: Record<string, string>;
}

export function imageFacts(): ImageFacts {
  const text = readFileSync(`${ROOT}scripts/image/image.env`, "utf8");
  const vars = new Map([...text.matchAll(/^([A-Z_]+)="([^"]*)"/gm)].map((m) => [m[1]!, m[2]!] as const));
  const get = (name: string): string => {
    const value = vars.get(name);
    if (value === undefined) throw new Error(`scripts/image/image.env has no ${name}`);
    return value;
  };
  const words = (name: string): string[] => get(name).split(/\s+/).filter(Boolean);
  return {
    debianPackages: words("DEBIAN_PACKAGES"),
    user: get("IMAGE_USER"),
    workdir: get("IMAGE_WORKDIR"),
    entrypoint: words("IMAGE_ENTRYPOINT"),
    cmd: words("IMAGE_CMD"),
    env: words("IMAGE_ENV"),
    ports: words("IMAGE_PORTS"),
    labels: Object.fromEntries(
      get("IMAGE_LABELS")
        .split("\n")
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    ),
  };
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { version: string }).version;
}

export function nodeVersion(): string {
  return readFileSync(`${ROOT}.node-version`, "utf8").trim();
}
