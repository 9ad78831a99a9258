/**
 * Renders docs/dashboard.png, the README's picture of the Grafana dashboard, from a real run: a control plane, the
 * Bird simulator, the operator (leader election on, as deployed) and Prometheus (the binary from Debian's prometheus
 * package, scraping /metrics every 2 s), driven through a few minutes of what teams do: numbers and senders asked
 * for, a workspace reaching its caps, purchases refused, Bird failing for a while, numbers deleted. Then every panel
 * of deploy/monitoring/dashboard.json is queried from that Prometheus with its own expression, drawn in a page
 * laid out like the dashboard, and photographed with headless Chromium. Grafana itself installs from neither Debian
 * nor npm here, so the page stands in for it; the series and queries are the dashboard's.
 *
 * Not run in CI: `npx tsx scripts/render-dashboard.ts` (about 7 minutes; needs Go for the control plane the first
 * time, `apt-get install chromium`). Prints the series counts of the final scrape.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { ControlPlane } from "../src/control-plane/control-plane.js";
import { freePort, waitUntil } from "../src/control-plane/processes.js";
import { freezeConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { createOperator } from "../src/operator.js";
import { Metrics } from "../src/runtime/metrics.js";
import { startSimulator } from "../src/simulator/index.js";
import { kubectl } from "../test/support/kubectl.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUTPUT = join(ROOT, "docs/dashboard.png");
const SCRAPE_SECONDS = 2;
const ORGANIZATION_ID = "11111111-1111-4111-8111-111111111111";
const PAYMENTS_WORKSPACE_ID = "22222222-2222-4222-8222-222222222222";
const SUPPORT_WORKSPACE_ID = "33333333-3333-4333-8333-333333333333";
/** One AccessKey per Bird workspace, both in the operator's Secret. */
const ACCESS_KEYS = { payments: "payments-access-key", support: "support-access-key" };

interface Target {
  expr: string;
  legendFormat?: string;
  instant?: boolean;
}
interface Panel {
  type: "stat" | "timeseries" | "table";
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets: Target[];
  fieldConfig?: {
    defaults?: {
      unit?: string;
      decimals?: number;
      custom?: { stacking?: unknown };
      thresholds?: { steps: { color: string; value: number | null }[] };
    };
  };
}
interface Series {
  metric: Record<string, string>;
  values?: [number, string][];
  value?: [number, string];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bird-dashboard-"));
  const plane = await ControlPlane.start({ crdDir: join(ROOT, "crds"), onProgress: (line) => console.log(line) });
  // Two Bird workspaces of one organization, one per BirdWorkspace.
  const sim = await startSimulator({
    port: 0,
    provisioningDelayMs: 1500,
    organizationId: ORGANIZATION_ID,
    workspaceId: PAYMENTS_WORKSPACE_ID,
    accessKey: ACCESS_KEYS.payments,
    extraWorkspaces: [
      { organizationId: ORGANIZATION_ID, workspaceId: SUPPORT_WORKSPACE_ID, accessKey: ACCESS_KEYS.support },
    ],
  });
  const k = (args: string[], input?: string): Promise<unknown> => kubectl(plane.kubeconfigPath, args, { input });
  const apply = (...docs: object[]): Promise<unknown> =>
    k(["apply", "-f", "-"], docs.map((d) => stringify(d)).join("---\n"));

  const metricsPort = await freePort();
  const config = freezeConfig({
    namespaces: [],
    operatorNamespace: "bird-operator",
    workers: 4,
    resyncMs: 30_000,
    leaderElection: {
      enabled: true,
      leaseName: "bird-operator",
      leaseNamespace: "bird-operator",
      identity: "bird-operator-0",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    metricsAddress: `127.0.0.1:${metricsPort}`,
    healthAddress: "127.0.0.1:0",
    logLevel: "silent",
    logFormat: "json",
    purchaseGraceMs: 30_000,
    birdTimeoutMs: 10_000,
    shutdownDeadlineMs: 5_000,
  });
  await apply(
    ...["bird-operator", "team-payments", "team-support"].map((name) => ({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    })),
  );
  await apply({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "bird-access-key", namespace: "bird-operator" },
    stringData: ACCESS_KEYS,
  });
  const manager = createOperator({
    config,
    kubeConfig: plane.kubeConfig(),
    logger: createLogger({ level: "silent", name: "bird-operator" }),
    metrics: new Metrics({ defaultMetrics: true }),
  });
  await manager.start();
  const prometheus = await startPrometheus(work, metricsPort);
  try {
    const started = Date.now() / 1000;
    await scenario(apply, k, sim.url, sim.sim);
    const ended = Date.now() / 1000;
    console.log(`scenario ran ${Math.round(ended - started)} s; querying Prometheus`);
    await render(prometheus.url, work, started, ended);
    await printSeriesCounts(metricsPort);
  } finally {
    prometheus.process.kill("SIGTERM");
    await manager.stop();
    await sim.close();
    await plane.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

type Apply = (...docs: object[]) => Promise<unknown>;

/** A few minutes of two teams' work, with every kind of event the dashboard shows. */
async function scenario(
  apply: Apply,
  k: (args: string[]) => Promise<unknown>,
  endpoint: string,
  sim: { setFaults: (f: object) => unknown },
): Promise<void> {
  const workspace = (name: string, namespace: string, policy: object): object => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "BirdWorkspace",
    metadata: { name },
    spec: {
      organizationId: ORGANIZATION_ID,
      workspaceId: name === "payments" ? PAYMENTS_WORKSPACE_ID : SUPPORT_WORKSPACE_ID,
      endpoint,
      accessKeySecretRef: { namespace: "bird-operator", name: "bird-access-key", key: name },
      allowedNamespaces: { names: [namespace] },
      policy,
    },
  });
  const pn = (
    namespace: string,
    ws: string,
    name: string,
    countryCode: string,
    type: string,
    deletionPolicy = "Delete",
  ): object => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "PhoneNumber",
    metadata: { name, namespace },
    spec: { workspaceRef: { name: ws }, countryCode, type, deletionPolicy },
  });
  const sender = (namespace: string, ws: string, alphaString: string, countries: string[]): object => ({
    apiVersion: "numbers.birdoperator.dev/v1alpha1",
    kind: "AlphaSender",
    metadata: { name: alphaString.toLowerCase(), namespace },
    spec: { workspaceRef: { name: ws }, alphaString, countries, deletionPolicy: "Retain" },
  });
  await apply(
    workspace("payments", "team-payments", {
      maxNumbers: 10,
      maxMonthlySpend: { currencyCode: "EUR", amount: 40, exponent: 0 },
    }),
    workspace("support", "team-support", { allowedCountries: ["US", "GB", "NL", "DE", "AT", "BE"] }),
  );
  await sleep(20_000);
  const payments = [
    ...[1, 2, 3, 4, 5, 6].map((i) => pn("team-payments", "payments", `checkout-us-${i}`, "US", "local")),
    ...[1, 2, 3, 4].map((i) => pn("team-payments", "payments", `checkout-nl-${i}`, "NL", "mobile")),
  ];
  await apply(...payments, sender("team-payments", "payments", "ACME", ["NL", "GB", "DE", "FR"]));
  await sleep(30_000);
  await apply(
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => pn("team-support", "support", `hotline-${i}`, "US", "toll-free")),
    sender("team-support", "support", "BIRDIE", ["DE", "AT", "BE"]),
  );
  await sleep(30_000);
  // The payments workspace is at its caps: these wait with QuotaExceeded; CA is outside support's allowed countries.
  await apply(
    pn("team-payments", "payments", "refunds-gb", "GB", "mobile"),
    pn("team-payments", "payments", "refunds-us", "US", "local"),
    pn("team-support", "support", "hotline-ca", "CA", "local"),
  );
  await sleep(30_000);
  console.log("Bird fails: 30 % of calls answer 5xx for 60 s, and a burst of 429s");
  sim.setFaults({ errorRate: 0.3, rateLimitBurst: { count: 10 }, seed: 7 });
  await apply(...[9, 10, 11, 12].map((i) => pn("team-support", "support", `hotline-${i}`, "US", "local")));
  await sleep(60_000);
  sim.setFaults({});
  await sleep(30_000);
  for (const name of ["hotline-1", "hotline-2", "hotline-3"])
    await k(["delete", "pn", name, "-n", "team-support", "--wait=false"]);
  await k([
    "patch",
    "pn",
    "checkout-us-6",
    "-n",
    "team-payments",
    "--type=merge",
    "-p",
    '{"spec":{"deletionPolicy":"Retain"}}',
  ]);
  await k(["delete", "pn", "checkout-us-6", "-n", "team-payments", "--wait=false"]);
  await sleep(90_000);
}

async function startPrometheus(work: string, metricsPort: number): Promise<{ url: string; process: ChildProcess }> {
  const binary =
    execFileSync("bash", [join(ROOT, "scripts/prometheus-tools.sh"), "prometheus"], { encoding: "utf8" })
      .trim()
      .split("\n")
      .pop() ?? "";
  const port = await freePort();
  const rule = parse(readFileSync(join(ROOT, "deploy/monitoring/prometheus-rule.yaml"), "utf8")) as {
    spec: { groups: unknown[] };
  };
  writeFileSync(join(work, "rules.yaml"), stringify({ groups: rule.spec.groups }));
  writeFileSync(
    join(work, "prometheus.yml"),
    stringify({
      global: { scrape_interval: `${SCRAPE_SECONDS}s`, evaluation_interval: `${SCRAPE_SECONDS}s` },
      rule_files: [join(work, "rules.yaml")],
      scrape_configs: [
        { job_name: "bird-operator-metrics", static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] },
      ],
    }),
  );
  const child = spawn(
    binary,
    [
      `--config.file=${join(work, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(work, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: "ignore" },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntil("prometheus", async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200, {
    timeoutMs: 30_000,
  });
  return { url, process: child };
}

async function query(
  url: string,
  expr: string,
  range?: { start: number; end: number; step: number },
): Promise<Series[]> {
  const params = new URLSearchParams({
    query: expr,
    ...(range
      ? { start: String(range.start), end: String(range.end), step: String(range.step) }
      : { time: String(Date.now() / 1000) }),
  });
  const response = await fetch(`${url}/api/v1/${range ? "query_range" : "query"}?${params.toString()}`);
  const body = (await response.json()) as { status: string; error?: string; data?: { result: Series[] } };
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? response.status}`);
  return body.data?.result ?? [];
}

const PALETTE = [
  "#73bf69",
  "#f2cc0c",
  "#8ab8ff",
  "#ff780a",
  "#f2495c",
  "#5794f2",
  "#b877d9",
  "#705da0",
  "#37872d",
  "#fade2a",
  "#ff9830",
  "#c4162a",
];

function legend(format: string | undefined, metric: Record<string, string>): string {
  return (
    (format ?? "").replace(/\{\{\s*(\w+)\s*\}\}/g, (_, key: string) => metric[key] ?? "") ||
    Object.values(metric).join(" ")
  );
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function formatValue(value: number, unit: string | undefined, decimals?: number): string {
  if (!Number.isFinite(value)) return "-";
  const rounded =
    decimals !== undefined
      ? value.toFixed(decimals)
      : Math.abs(value) >= 100
        ? value.toFixed(0)
        : Math.abs(value) >= 10
          ? value.toFixed(1).replace(/\.0$/, "")
          : String(Number(value.toPrecision(2)));
  return unit === "s"
    ? `${rounded} s`
    : unit === "reqps"
      ? `${rounded} req/s`
      : unit === "ops"
        ? `${rounded} ops/s`
        : rounded;
}

async function timeseries(
  url: string,
  panel: Panel,
  range: { start: number; end: number; step: number },
  width: number,
  height: number,
): Promise<string> {
  const lines: { name: string; points: [number, number][] }[] = [];
  for (const target of panel.targets) {
    for (const series of await query(url, target.expr, range))
      lines.push({
        name: legend(target.legendFormat, series.metric),
        points: (series.values ?? []).map(([t, v]) => [t, Number(v)]),
      });
  }
  const stacked = panel.fieldConfig?.defaults?.custom?.stacking !== undefined;
  /** For a stacked panel, each line's points before it was stacked on the ones drawn before it. */
  const floors: [number, number][][] = [];
  if (stacked) {
    const base = new Map<number, number>();
    for (const line of lines) {
      floors.push(line.points.map(([t]) => [t, base.get(t) ?? 0]));
      line.points = line.points.map(([t, v]): [number, number] => {
        const total = (base.get(t) ?? 0) + v;
        base.set(t, total);
        return [t, total];
      });
    }
  }
  const unit = panel.fieldConfig?.defaults?.unit;
  const values = lines.flatMap((l) => l.points.map(([, v]) => v)).filter(Number.isFinite);
  const max = Math.max(1e-9, ...values) * 1.1;
  const min = Math.min(0, ...values);
  const left = 72;
  const chartHeight = height - 30 - Math.ceil(lines.length / 3) * 16;
  const x = (t: number): number => left + ((t - range.start) / (range.end - range.start)) * (width - left - 10);
  const y = (v: number): number => 8 + (1 - (v - min) / (max - min)) * (chartHeight - 16);
  let svg = "";
  for (let i = 0; i <= 4; i++) {
    const v = min + ((max - min) * i) / 4;
    svg +=
      `<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#2c3235"/>` +
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${escape(formatValue(v, unit))}</text>`;
  }
  for (let i = 0; i <= 5; i++) {
    const t = range.start + ((range.end - range.start) * i) / 5;
    svg +=
      `<text x="${x(t)}" y="${chartHeight + 4}" text-anchor="middle">` +
      `${new Date(t * 1000).toISOString().slice(11, 16)}</text>`;
  }
  lines.forEach((line, i) => {
    const color = PALETTE[i % PALETTE.length] ?? "#fff";
    const finite = line.points.filter(([, v]) => Number.isFinite(v));
    if (!finite.length) return;
    const path = finite.map(([t, v], j) => `${j ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("");
    const floor = floors[i]?.filter(([, v]) => Number.isFinite(v)) ?? [];
    if (floor.length) {
      const under = [...floor]
        .reverse()
        .map(([t, v]) => `L${x(t).toFixed(1)},${y(v).toFixed(1)}`)
        .join("");
      svg += `<path d="${path}${under}Z" fill="${color}" fill-opacity="0.35" stroke="none"/>`;
    }
    svg += `<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`;
    const lx = 10 + (i % 3) * Math.floor((width - 20) / 3);
    const ly = chartHeight + 22 + Math.floor(i / 3) * 16;
    svg +=
      `<rect x="${lx}" y="${ly - 8}" width="12" height="4" fill="${color}"/>` +
      `<text x="${lx + 18}" y="${ly - 3}" class="legend">${escape(line.name.slice(0, 40))}</text>`;
  });
  return `<svg width="${width}" height="${height}">${svg}</svg>`;
}

async function stat(url: string, panel: Panel): Promise<string> {
  const [series] = await query(url, panel.targets[0]?.expr ?? "");
  const value = Number(series?.value?.[1] ?? NaN);
  const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [];
  const color = [...steps].reverse().find((s) => s.value === null || value >= s.value)?.color ?? "green";
  const css: Record<string, string> = { green: "#37872d", red: "#c4162a", orange: "#e0752d" };
  const text = escape(formatValue(value, panel.fieldConfig?.defaults?.unit, panel.fieldConfig?.defaults?.decimals));
  return `<div class="stat" style="background:${css[color] ?? color}">${text}</div>`;
}

async function table(url: string, panel: Panel): Promise<string> {
  const rows = await query(url, panel.targets[0]?.expr ?? "");
  const columns = ["kind", "namespace", "name", "reason"];
  const body = rows
    .map((r) => `<tr>${columns.map((c) => `<td>${escape(r.metric[c] ?? "")}</td>`).join("")}</tr>`)
    .join("");
  return `<table><tr>${columns.map((c) => `<th>${c}</th>`).join("")}</tr>${body}</table>`;
}

async function render(url: string, work: string, start: number, end: number): Promise<void> {
  const dashboard = JSON.parse(readFileSync(join(ROOT, "deploy/monitoring/dashboard.json"), "utf8")) as {
    title: string;
    panels: Panel[];
  };
  const unitWidth = 1600 / 24;
  const rowHeight = 38;
  const range = { start, end, step: SCRAPE_SECONDS * 2 };
  let html = "";
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos;
    const width = w * unitWidth - 8;
    const height = h * rowHeight - 8;
    const content =
      panel.type === "stat"
        ? await stat(url, panel)
        : panel.type === "table"
          ? await table(url, panel)
          : await timeseries(url, panel, range, width - 12, height - 34);
    const style = `left:${x * unitWidth + 4}px;top:${y * rowHeight + 48}px;width:${width}px;height:${height}px`;
    html += `<div class="panel" style="${style}"><h3>${escape(panel.title)}</h3>${content}</div>`;
  }
  const bottom = Math.max(...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h)) * rowHeight + 56;
  const page =
    `<!doctype html><html><head><meta charset="utf-8"><style>
    body{margin:0;background:#111217;color:#ccccdc;font:13px "DejaVu Sans",sans-serif;width:1600px;` +
    `height:${bottom}px;position:relative}
    header{position:absolute;left:12px;top:10px;font-size:18px;color:#fff}
    header span{font-size:12px;color:#8e8e8e;margin-left:16px}
    .panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:3px;overflow:hidden}
    h3{margin:6px 8px 4px;font-size:13px;font-weight:500;color:#ccccdc}
    svg text{fill:#8e8e8e;font-size:11px} svg text.legend{fill:#ccccdc}
    .stat{margin:0 8px;height:calc(100% - 36px);display:flex;align-items:center;` +
    `justify-content:center;font-size:40px;color:#fff;border-radius:2px}
    table{margin:0 8px;border-collapse:collapse;width:calc(100% - 16px);font-size:12px} ` +
    `th{text-align:left;color:#6e9fff;border-bottom:1px solid #2c3235;padding:3px}
    td{padding:3px;border-bottom:1px solid #202226}
  </style></head><body><header>${escape(dashboard.title)}<span>a real run: operator, Bird simulator, Prometheus; ` +
    `every panel is the dashboard's own query (deploy/monitoring/dashboard.json)</span></header>${html}</body></html>`;
  const file = join(work, "dashboard.html");
  writeFileSync(file, page);
  execFileSync(
    "chromium",
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--hide-scrollbars",
      `--window-size=1600,${bottom}`,
      `--screenshot=${OUTPUT}`,
      `file://${file}`,
    ],
    { stdio: "ignore" },
  );
  console.log(`wrote ${OUTPUT}`);
}

/** The figures the README quotes: series on the final scrape, by family. */
async function printSeriesCounts(metricsPort: number): Promise<void> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const name = line.split(/[{ ]/)[0] ?? "";
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(`final scrape: ${total} series`);
  for (const [name, count] of [...counts].filter(
    ([name]) =>
      name.startsWith("bird_operator_") ||
      name.startsWith("workqueue_unfinished") ||
      name.startsWith("workqueue_longest"),
  ))
    console.log(`  ${name}: ${count}`);
}

await main();
