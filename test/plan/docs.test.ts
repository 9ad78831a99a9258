import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { buildProgram } from "../../src/cli/index.js";

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const planFlags = new Set(
  buildProgram()
    .commands.find((c) => c.name() === "plan")
    ?.options.flatMap((o) => [o.long ?? "", o.short ?? ""]) ?? [],
);

/** Fenced code blocks of a Markdown file, with their language. */
function codeBlocks(markdown: string): { lang: string; code: string }[] {
  return [...markdown.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] ?? "", code: m[2] ?? "" }));
}

/** The flags of every `plan` command line in the text (continuation lines included). */
function flagsOfPlanCommands(code: string): string[] {
  const commands = code
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => /\bplan\b/.test(line) && /(bird-operator|main\.ts)/.test(line));
  return commands.flatMap((line) =>
    [
      ...line
        .split(/\bplan\b/)
        .slice(1)
        .join(" ")
        .matchAll(/(?<=\s)(--?[a-z][a-z-]*)/g),
    ].map((m) => m[1] ?? ""),
  );
}

/** What docs/plan.md, the README and the Argo CD example show is what the command takes. */
describe("the plan's documentation", () => {
  it("uses only flags the plan command has, in docs/plan.md, the README and the Argo CD hook", () => {
    const documented = [...codeBlocks(read("docs/plan.md")), ...codeBlocks(read("README.md"))].flatMap((b) =>
      flagsOfPlanCommands(b.code),
    );
    const job = parse(read("deploy/argocd/plan-presync/plan-presync.yaml")) as {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    const args = job.spec.template.spec.containers[0]?.args ?? [];
    expect(args[0]).toBe("plan");
    const hook = args.slice(1).map((a) => a.split("=")[0] ?? "");
    expect(documented.length).toBeGreaterThan(10);
    for (const flag of [...documented, ...hook]) expect(planFlags, flag).toContain(flag);
  });

  it("shows YAML that parses", () => {
    for (const block of codeBlocks(read("docs/plan.md")).filter((b) => b.lang === "yaml")) {
      for (const doc of parseAllDocuments(block.code)) expect(doc.errors, block.code).toEqual([]);
    }
  });
});
