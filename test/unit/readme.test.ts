import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser, type Node } from "commonmark";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url).pathname;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

interface Heading {
  level: number;
  text: string;
  line: number;
}
interface CodeBlock {
  fenced: boolean;
  info: string;
  literal: string;
  start: number;
  end: number;
}

/** README.md as CommonMark (the reference parser) reads it: headings, code blocks and link destinations. */
function read(path: string): { lines: string[]; headings: Heading[]; code: CodeBlock[]; links: string[] } {
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const walker = new Parser().parse(text).walker();
  const headings: Heading[] = [];
  const code: CodeBlock[] = [];
  const links: string[] = [];
  const textOf = (node: Node): string => {
    let out = "";
    for (let child = node.firstChild; child; child = child.next) out += child.literal ?? textOf(child);
    return out;
  };
  for (let event = walker.next(); event; event = walker.next()) {
    const { node } = event;
    if (!event.entering) continue;
    if (node.type === "heading") headings.push({ level: node.level, text: textOf(node), line: node.sourcepos[0][0] });
    if (node.type === "code_block") {
      const start = node.sourcepos[0][0];
      code.push({
        fenced: FENCE.test(lines[start - 1] ?? ""),
        info: node.info ?? "",
        literal: node.literal ?? "",
        start,
        end: node.sourcepos[1][0],
      });
    }
    if (node.type === "link" && node.destination) links.push(node.destination);
  }
  return { lines, headings, code, links };
}

/** GitHub's anchor for a heading. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

describe("README.md renders as intended (CommonMark)", () => {
  const readme = read(join(ROOT, "README.md"));
  const inCode = (line: number): boolean => readme.code.some((block) => line >= block.start && line <= block.end);

  it("closes every fenced code block, and no fence line hides inside one", () => {
    for (const block of readme.code.filter((b) => b.fenced)) {
      const closing = readme.lines[block.end - 1] ?? "";
      expect(closing, `the code block opened on line ${block.start}`).toMatch(new RegExp(`${FENCE.source}\\s*$`));
      const inner = block.literal.split("\n").find((line) => FENCE.test(line));
      expect(inner, `a fence line inside the code block opened on line ${block.start}`).toBeUndefined();
      expect(block.literal, `a Markdown heading inside the code block opened on line ${block.start}`).not.toMatch(
        /^#{2,6} /m,
      );
    }
  });

  it("renders every heading line outside code blocks as a heading", () => {
    const headingLines = new Set(readme.headings.map((h) => h.line));
    const lost = readme.lines
      .map((line, i) => ({ line, number: i + 1 }))
      .filter(({ line, number }) => /^#{1,6} /.test(line) && !inCode(number) && !headingLines.has(number));
    expect(lost).toEqual([]);
  });

  it("puts Install first, then the local demo, with the sections a platform engineer looks for", () => {
    const sections = readme.headings.filter((h) => h.level === 2).map((h) => h.text);
    expect(sections[0]).toBe("Install");
    expect(sections.indexOf("Try it locally")).toBe(1);
    for (const section of ["Configuration", "Troubleshooting", "Performance", "Development"])
      expect(sections).toContain(section);
    const install = readme.headings.filter(
      (h) =>
        h.level === 3 &&
        h.line > readme.headings.find((x) => x.text === "Install")!.line &&
        h.line < readme.headings.find((x) => x.text === "Try it locally")!.line,
    );
    expect(install.map((h) => h.text)).toEqual([
      "With kubectl",
      "With Helm",
      "With Argo CD",
      "Upgrade",
      "Uninstall",
      "Production checklist",
      "Compatibility",
    ]);
  });

  it("keeps the newcomer's set-up to two commands", () => {
    const setUp = readme.headings.find((h) => h.text === "Set-up")!;
    const next = readme.headings.find((h) => h.line > setUp.line)!;
    const blocks = readme.code.filter((b) => b.start > setUp.line && b.start < next.line);
    expect(blocks).toHaveLength(1);
    const commands = blocks[0]!.literal
      .split("\n")
      .map((line) => line.replace(/\s+#.*$/, "").trim())
      .filter(Boolean);
    expect(commands).toEqual(["npm install && npm run demo", "npm test"]);
  });

  it("links only to headings and files that exist", () => {
    const anchors = new Set(readme.headings.map((h) => slug(h.text)));
    const local = readme.links.filter((link) => !/^[a-z]+:/i.test(link));
    expect(local.filter((link) => link.startsWith("#") && !anchors.has(link.slice(1)))).toEqual([]);
    expect(local.filter((link) => !link.startsWith("#") && !existsSync(join(ROOT, link.split("#")[0]!)))).toEqual([]);
  });

  it("says what to do about every condition reason the controllers set", () => {
    const used = new Set<string>();
    const visit = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) visit(join(dir, entry.name));
        else
          for (const match of readFileSync(join(dir, entry.name), "utf8").matchAll(/\bReason\.(\w+)/g))
            used.add(match[1]!);
      }
    };
    visit(join(ROOT, "src", "controllers"));
    expect(used.size).toBeGreaterThan(10);
    const rows = readme.lines.filter((line) => line.startsWith("| `"));
    const documented = new Set(
      rows.flatMap((row) => [...(row.split("|")[1] ?? "").matchAll(/`(\w+)`/g)].map((m) => m[1]!)),
    );
    expect([...used].filter((reason) => !documented.has(reason))).toEqual([]);
  });
});
