import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DEV_ONLY = ["src/cli/dev/", "src/simulator/", "src/control-plane/", "src/demo/"];

/** The sources `npm run build` (and so the image) compiles: tsconfig.build.json's files and everything they import. */
function shippedSources(): string[] {
  const path = ts.findConfigFile(ROOT, (p) => ts.sys.fileExists(p), "tsconfig.build.json");
  if (!path) throw new Error("tsconfig.build.json not found");
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(path, (p) => ts.sys.readFile(p)).config, ts.sys, ROOT);
  const program = ts.createProgram({
    rootNames: config.fileNames,
    options: { ...config.options, noEmit: true, noResolve: false, types: [] },
  });
  return program
    .getSourceFiles()
    .map((f) => f.fileName)
    .filter((f) => f.startsWith(`${ROOT}src/`))
    .map((f) => f.slice(ROOT.length));
}

describe("the shipped build", () => {
  it("compiles the production command line and none of the development-only code", () => {
    const files = shippedSources();
    expect(files).toContain("src/cli/main.ts");
    expect(files).toContain("src/operator.ts");
    expect(files.filter((f) => DEV_ONLY.some((dir) => f.startsWith(dir)))).toEqual([]);
  });
});
