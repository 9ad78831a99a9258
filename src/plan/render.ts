import { addMoney, formatMoney, type Money } from "../bird/money.js";
import type { Action, Plan, ResourcePlan, WorkspacePlan } from "./types.js";

type Paint = (code: Colour, text: string) => string;
type Colour = "green" | "red" | "yellow" | "dim" | "bold";

const ANSI: Record<Colour, string> = { green: "32", red: "31", yellow: "33", dim: "2", bold: "1" };

/** The plan for people in a terminal; `colour` only when writing to one (and NO_COLOR is not set). */
export function renderText(plan: Plan, colour: boolean): string {
  const paint: Paint = colour ? (code, text) => `\x1b[${ANSI[code]}m${text}\x1b[0m` : (_code, text) => text;
  const lines: string[] = [paint("bold", headline(plan)), ""];
  for (const resource of plan.resources) {
    if (!worthShowing(resource)) continue;
    lines.push(paint("bold", `${resource.kind} ${resource.namespace}/${resource.name}: ${operationText(resource)}`));
    for (const action of resource.actions)
      lines.push(`  ${paint(actionColour(action), `${sign(action)} ${action.description}`)}`);
    for (const p of resource.problems)
      lines.push(`  ${paint(p.severity === "violation" ? "red" : "yellow", `! ${p.reason}: ${p.message}`)}`);
    for (const note of resource.notes) lines.push(`  ${paint("dim", `· ${note}`)}`);
    lines.push("");
  }
  const unchanged = plan.resources.filter((r) => !worthShowing(r)).length;
  if (unchanged) lines.push(paint("dim", `${unchanged} resource${unchanged === 1 ? "" : "s"} without changes`), "");
  for (const workspace of plan.workspaces) lines.push(...workspaceText(workspace, paint), "");
  for (const violation of plan.violations.filter((v) => v.kind === "BirdWorkspace"))
    lines.push(paint("red", `! ${violation.object}: ${violation.reason}: ${violation.message}`));
  for (const warning of plan.warnings) lines.push(paint("yellow", `warning: ${warning}`));
  for (const error of plan.errors) lines.push(paint("red", `error: ${error}`));
  return `${lines.join("\n").trimEnd()}\n`;
}

/** The plan as a pull-request comment (GitHub-flavoured Markdown). */
export function renderMarkdown(plan: Plan): string {
  const out: string[] = [`### bird-operator plan`, "", `**${headline(plan)}**`, ""];
  const shown = plan.resources.filter(worthShowing);
  if (shown.length) {
    out.push("| | Resource | Change | What the operator will do |", "|---|---|---|---|");
    for (const r of shown)
      out.push(
        `| ${markdownSign(r)} | ${r.kind} \`${r.namespace}/${r.name}\` | ${cell(operationText(r))} | ` +
          `${cell(r.actions.map((a) => a.description).join("; ") || "nothing in Bird")} |`,
      );
    out.push("");
  }
  out.push(...markdownRefused(plan, shown));
  if (plan.workspaces.length) {
    out.push("#### Workspaces", "", "| Workspace | Numbers | Monthly spend | Policy |", "|---|---|---|---|");
    for (const w of plan.workspaces)
      out.push(`| \`${w.name}\` | ${numbersText(w)} | ${spendText(w)} | ${cell(policyText(w))} |`);
    out.push("");
  }
  const notes = shown.flatMap((r) => r.notes.map((n) => `- ${r.kind} \`${r.namespace}/${r.name}\`: ${inline(n)}`));
  if (notes.length) out.push("<details><summary>Notes</summary>", "", ...notes, "", "</details>", "");
  for (const warning of plan.warnings) out.push(`> ⚠️ ${inline(warning)}`, "");
  for (const error of plan.errors) out.push(`> ❌ ${inline(error)}`, "");
  out.push(
    `<sub>Against ${plan.server} at ${plan.generatedAt}${plan.prune ? ", with --prune" : ""}. ` +
      "Nothing was written: the plan reads, and asks the API server and Bird only for dry runs.</sub>",
  );
  return `${out.join("\n")}\n`;
}

/** The "Refused or waiting" section: the resources' problems and the workspaces' violations; none without them. */
function markdownRefused(plan: Plan, shown: ResourcePlan[]): string[] {
  const problems = shown.filter((r) => r.problems.length);
  if (!problems.length && !plan.violations.some((v) => v.kind === "BirdWorkspace")) return [];
  const out = [`#### Refused or waiting`, ""];
  for (const r of problems)
    for (const p of r.problems)
      out.push(
        `- ${p.severity === "violation" ? "🛑" : "⏳"} ${r.kind} \`${r.namespace}/${r.name}\`: **${p.reason}**: ` +
          `${inline(p.message)}`,
      );
  for (const v of plan.violations.filter((x) => x.kind === "BirdWorkspace"))
    out.push(`- 🛑 \`${v.object}\`: **${v.reason}**: ${inline(v.message)}`);
  out.push("");
  return out;
}

function headline(plan: Plan): string {
  const s = plan.summary;
  if (s.changes === 0 && !s.violations && !plan.errors.length) return "No changes: the operator has nothing to do.";
  const parts: string[] = [];
  const bought = purchaseTotal(plan);
  if (s.purchases)
    parts.push(`${s.purchases} number${s.purchases === 1 ? "" : "s"} to buy${bought ? ` (${bought} a month)` : ""}`);
  if (s.adoptions) parts.push(`${s.adoptions} to adopt`);
  if (s.claims) parts.push(`${s.claims} to claim`);
  if (s.activations) parts.push(`${s.activations} destination${s.activations === 1 ? "" : "s"} to activate`);
  if (s.deactivations) parts.push(`${s.deactivations} to deactivate`);
  if (s.cancellations) parts.push(`${s.cancellations} subscription${s.cancellations === 1 ? "" : "s"} to cancel`);
  if (s.releases) parts.push(`${s.releases} to release`);
  const changes = `${s.changes} resource${s.changes === 1 ? "" : "s"} change${s.changes === 1 ? "s" : ""}`;
  const refused = s.violations ? `; ${s.violations} refused` : "";
  const errors = plan.errors.length ? `; ${plan.errors.length} error${plan.errors.length === 1 ? "" : "s"}` : "";
  return `Plan: ${changes}${parts.length ? `: ${parts.join(", ")}` : ""}${refused}${errors}.`;
}

/** What the purchases cost a month, per currency. */
function purchaseTotal(plan: Plan): string {
  const totals = new Map<string, Money>();
  for (const action of plan.resources.flatMap((r) => r.actions)) {
    if (action.type !== "buy") continue;
    const sum = totals.get(action.monthlyPrice.currencyCode);
    totals.set(action.monthlyPrice.currencyCode, sum ? addMoney(sum, action.monthlyPrice) : action.monthlyPrice);
  }
  return [...totals.values()].map(formatMoney).join(" + ");
}

function worthShowing(r: ResourcePlan): boolean {
  return r.operation !== "none" || r.actions.length > 0 || r.problems.length > 0;
}

function operationText(r: ResourcePlan): string {
  const fields = r.changedFields.length ? ` (spec.${r.changedFields.join(", spec.")})` : "";
  const policy = r.operation === "delete" && r.deletionPolicy ? ` (deletionPolicy ${r.deletionPolicy})` : "";
  const name = r.operation === "none" ? "no change in Kubernetes" : r.operation;
  const refused = r.apiServer.dryRun === "refused" ? ", refused by the API server" : "";
  return `${name}${fields}${policy}${refused}`;
}

function sign(action: Action): string {
  switch (action.type) {
    case "deactivate":
    case "cancel-subscription":
    case "forget-record":
      return "-";
    case "release":
    case "take-over":
      return "~";
    default:
      return "+";
  }
}

function actionColour(action: Action): Colour {
  return { "+": "green", "-": "red", "~": "yellow" }[sign(action)] as Colour;
}

function markdownSign(r: ResourcePlan): string {
  if (r.problems.some((p) => p.severity === "violation")) return "🛑";
  if (r.actions.some((a) => a.type === "cancel-subscription")) return "🔻";
  if (r.actions.some((a) => a.type === "buy")) return "💶";
  return r.actions.length ? "✏️" : "·";
}

function workspaceText(w: WorkspacePlan, paint: Paint): string[] {
  const lines = [
    paint("bold", `BirdWorkspace ${w.name}`),
    `  numbers        ${numbersText(w)}`,
    `  monthly spend  ${spendText(w)}`,
    `  policy         ${policyText(w)}`,
  ];
  if (w.monthlySpend.uncounted) lines.push(paint("dim", `  · ${w.monthlySpend.uncounted}`));
  if (w.unusable) lines.push(paint("yellow", `  ! ${w.unusable}`));
  return lines;
}

function numbersText(w: WorkspacePlan): string {
  return `${w.numbers.before} → ${w.numbers.after}${w.numbers.max !== undefined ? ` (max ${w.numbers.max})` : ""}`;
}

function spendText(w: WorkspacePlan): string {
  const { before, after, max } = w.monthlySpend;
  return `${formatMoney(before)} → ${formatMoney(after)}${max ? ` (max ${formatMoney(max)})` : ""}`;
}

function policyText(w: WorkspacePlan): string {
  const p = w.policy;
  const parts: string[] = [];
  parts.push(p.allowedCountries?.length ? `countries ${p.allowedCountries.join(", ")}` : "any country");
  if (p.maxPricePerNumber) parts.push(`at most ${formatMoney(p.maxPricePerNumber)} a number`);
  const names = p.allowedNamespaces?.names ?? [];
  const namespaces = [...names, ...(p.allowedNamespaces?.selector ? ["those the selector matches"] : [])];
  parts.push(`namespaces: ${namespaces.join(", ") || "the operator's only"}`);
  parts.push(`default deletion policy ${p.defaultDeletionPolicy}`);
  return parts.join("; ");
}

/** A table cell: no pipes or line breaks. */
function cell(text: string): string {
  return inline(text).replaceAll("|", "\\|");
}

function inline(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
