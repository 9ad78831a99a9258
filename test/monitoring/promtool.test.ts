/**
 * The alerts in deploy/monitoring, proven with Prometheus' own tool: `promtool check rules` on the PrometheusRule's
 * groups and `promtool test rules` on test/monitoring/alerts.test.yaml, whose cases fire each alert and keep it quiet
 * where it must be. promtool comes from Debian's prometheus package (scripts/prometheus-tools.sh, cached).
 * The kustomize Component is rendered as a user would, and the README must name every alert.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { REPO_ROOT } from "../../scripts/generate-crd-types.js";
import { alertNames, dashboardExpressions, MONITORING_DIR, readPrometheusRule } from "../helpers/monitoring.js";

const run = promisify(execFile);
const TESTS_FILE = join(REPO_ROOT, "test/monitoring/alerts.test.yaml");

interface AlertTests {
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

describe("alerts (deploy/monitoring/prometheus-rule.yaml)", () => {
  let promtool = "";
  let dir = "";

  beforeAll(async () => {
    const { stdout } = await run("bash", [join(REPO_ROOT, "scripts/prometheus-tools.sh"), "promtool"], {
      timeout: 170_000,
    });
    promtool = stdout.trim().split("\n").pop() ?? "";
    dir = mkdtempSync(join(tmpdir(), "bird-alerts-"));
    writeFileSync(join(dir, "rules.yaml"), stringify({ groups: readPrometheusRule().spec.groups }));
    copyFileSync(TESTS_FILE, join(dir, "alerts.test.yaml"));
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("pass promtool check rules", async () => {
    const { stdout } = await run(promtool, ["check", "rules", join(dir, "rules.yaml")]);
    expect(stdout).toContain(`SUCCESS: ${alertNames().length} rules found`);
  });

  it("pass their promtool unit tests", async () => {
    const result = await run(promtool, ["test", "rules", join(dir, "alerts.test.yaml")]).catch(
      (error: { stdout?: string; stderr?: string }) => error,
    );
    expect(`${result.stdout ?? ""}${result.stderr ?? ""}`).toMatch(/^\s*SUCCESS\s*$/m);
  });

  it("each have a unit test that fires them and one that expects them quiet", () => {
    const tests = (parse(readFileSync(TESTS_FILE, "utf8")) as AlertTests).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alertNames()) {
      const cases = tests.filter((t) => t.alertname === alert);
      expect(
        cases.some((t) => t.exp_alerts.length > 0),
        `${alert} fires in some test`,
      ).toBe(true);
      expect(
        cases.some((t) => t.exp_alerts.length === 0),
        `${alert} stays quiet in some test`,
      ).toBe(true);
    }
  });

  it("each tell what to do: a summary, a description and a severity", () => {
    for (const rule of readPrometheusRule().spec.groups.flatMap((g) => g.rules)) {
      expect(rule.labels?.severity, rule.alert).toMatch(/^(critical|warning)$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description?.length ?? 0, rule.alert).toBeGreaterThan(100);
    }
  });

  it("are each listed with what to do in the README's Monitoring section", () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const section = readme.slice(
      readme.indexOf("## Monitoring"),
      readme.indexOf("\n## ", readme.indexOf("## Monitoring") + 1),
    );
    expect(section).toContain("## Monitoring");
    for (const alert of alertNames())
      expect(section, alert).toMatch(new RegExp(`\\| \`${alert}\` \\|[^\\n]+\\|[^\\n]{40,}\\|`));
  });
});

describe("the monitoring Component (deploy/monitoring)", () => {
  it(
    "renders with kubectl kustomize: " +
      "ServiceMonitor, PrometheusRule and the dashboard ConfigMap for Grafana's sidecar",
    async () => {
      const { stdout } = await run("kubectl", ["kustomize", MONITORING_DIR]);
      const objects = parseAllDocuments(stdout).map(
        (doc) =>
          doc.toJS() as {
            kind: string;
            metadata: { name: string; namespace?: string; labels?: Record<string, string> };
            data?: Record<string, string>;
          },
      );
      expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        "ConfigMap/bird-operator-dashboard",
        "PrometheusRule/bird-operator",
        "ServiceMonitor/bird-operator",
      ]);
      const dashboard = objects.find((o) => o.kind === "ConfigMap");
      expect(dashboard?.metadata.labels?.grafana_dashboard).toBe("1");
      expect(JSON.parse(dashboard?.data?.["bird-operator.json"] ?? "{}")).toEqual(
        JSON.parse(readFileSync(join(MONITORING_DIR, "dashboard.json"), "utf8")),
      );
    },
  );

  it("has a dashboard whose every panel queries Prometheus through the datasource variable", () => {
    const expressions = dashboardExpressions();
    expect(expressions.length).toBeGreaterThan(15);
    for (const { panel, expr, datasource } of expressions) {
      expect(datasource, panel).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(expr, panel).toMatch(/bird_|controller_runtime_|workqueue_|leader_election_|up\{/);
    }
  });

  it("scrapes the Service the base deploys, on its metrics port", async () => {
    const [serviceMonitor] = parseAllDocuments(readFileSync(join(MONITORING_DIR, "service-monitor.yaml"), "utf8")).map(
      (d) => d.toJS() as { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } },
    );
    const service = parse(readFileSync(join(REPO_ROOT, "deploy/service.yaml"), "utf8")) as {
      metadata: { name: string; labels: Record<string, string> };
      spec: { ports: { name: string }[] };
    };
    expect(service.metadata.labels).toMatchObject(serviceMonitor?.spec.selector.matchLabels ?? { missing: true });
    expect(service.spec.ports.map((p) => p.name)).toContain(serviceMonitor?.spec.endpoints[0]?.port);
    // The alerts select the job Prometheus Operator names after the Service.
    for (const rule of readPrometheusRule().spec.groups.flatMap((g) => g.rules)) {
      for (const job of rule.expr.matchAll(/job="([^"]+)"/g)) expect(job[1]).toBe(service.metadata.name);
    }
  });
});
