/**
 * The health script in the VM Argo CD itself runs it with: gopher-lua (Lua 5.1), through scripts/argocd-lua, a small Go
 * program that loads libraries, passes `obj` and reads the result as Argo CD's util/lua does. The cases are the
 * fengari test's (argocd-health-cases.ts); fengari is Lua 5.3, so this is what catches a script that works there
 * but not in Argo CD (a 5.3-only operator, a library Argo CD does not open, integer/float printing).
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { HEALTH_KINDS, HEALTH_LUA_FILE } from "../../scripts/generate-argocd-health.js";
import {
  cases,
  conditions,
  falseReasons,
  notReady,
  notSynced,
  resource,
  synced,
  type Health,
} from "./argocd-health-cases.js";

const BUILD_SCRIPT = fileURLToPath(new URL("../../scripts/build-argocd-lua.sh", import.meta.url));
const script = readFileSync(HEALTH_LUA_FILE, "utf8");

interface Verdict extends Partial<Health> {
  error?: string;
}

/** Runs every object through the script in one process (a Go start per case would cost more than the cases). */
async function runAll(runner: string, objects: Record<string, unknown>[]): Promise<Verdict[]> {
  const child = spawn(runner, [], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(JSON.stringify(objects.map((obj) => ({ script, obj }))));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`argocd-lua exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as Verdict[];
}

describe("Argo CD health script in gopher-lua (Argo CD's own Lua VM)", () => {
  const verdicts = new Map<string, Verdict>();
  const inputs: { id: string; object: Record<string, unknown> }[] = [];
  for (const kind of HEALTH_KINDS) {
    cases.forEach(({ status, generation, deleting }, i) =>
      inputs.push({ id: `${kind}/case/${i}`, object: resource(kind, { status, generation, deleting }) }),
    );
    for (const [reason] of falseReasons) {
      inputs.push({
        id: `${kind}/both/${reason}`,
        object: resource(kind, { status: conditions(2, notReady(reason, "why"), notSynced(reason, "why")) }),
      });
      inputs.push({
        id: `${kind}/ready/${reason}`,
        object: resource(kind, { status: conditions(2, notReady(reason, "why"), synced()) }),
      });
    }
  }

  beforeAll(async () => {
    // Built once from Go modules and cached (~/.cache/bird-operator/argocd-lua), like the control plane binaries.
    const { stdout } = await promisify(execFile)("bash", [BUILD_SCRIPT], { timeout: 170_000 });
    const runner = stdout.trim().split("\n").pop() ?? "";
    const results = await runAll(
      runner,
      inputs.map((input) => input.object),
    );
    inputs.forEach((input, i) => verdicts.set(input.id, results[i] ?? { error: "no result" }));
  }, 180_000);

  for (const kind of HEALTH_KINDS) {
    describe(kind, () => {
      it.each(cases.map((c, i) => ({ ...c, i })))("$reason", ({ i, want }) => {
        const got = verdicts.get(`${kind}/case/${i}`);
        expect(got?.error).toBeUndefined();
        expect(got?.status).toBe(want.status);
        if (want.message instanceof RegExp) expect(got?.message).toMatch(want.message);
        else expect(got?.message ?? "").toBe(want.message);
      });

      it.each(falseReasons)("Ready and Synced False with reason %s is %s", (reason, verdict) => {
        expect(verdicts.get(`${kind}/both/${reason}`)).toEqual({ status: verdict, message: `${reason}: why` });
      });

      it.each(falseReasons)("Ready False alone with reason %s is %s", (reason, verdict) => {
        expect(verdicts.get(`${kind}/ready/${reason}`)).toEqual({ status: verdict, message: `${reason}: why` });
      });
    });
  }
});
