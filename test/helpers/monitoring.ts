import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../../scripts/generate-crd-types.js";

export const MONITORING_DIR = join(REPO_ROOT, "deploy/monitoring");

export interface AlertRule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function readPrometheusRule(): { spec: { groups: { name: string; rules: AlertRule[] }[] } } {
  return parse(readFileSync(join(MONITORING_DIR, "prometheus-rule.yaml"), "utf8")) as {
    spec: { groups: { name: string; rules: AlertRule[] }[] };
  };
}

export function alertNames(): string[] {
  return readPrometheusRule().spec.groups.flatMap((g) => g.rules.map((r) => r.alert));
}

interface Panel {
  title: string;
  datasource?: unknown;
  targets?: { expr: string; datasource?: unknown }[];
}

export function dashboardExpressions(): { panel: string; expr: string; datasource: unknown }[] {
  const dashboard = JSON.parse(readFileSync(join(MONITORING_DIR, "dashboard.json"), "utf8")) as { panels: Panel[] };
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ panel: panel.title, expr: t.expr, datasource: t.datasource })),
  );
}

/**
 * Metric names a PromQL expression reads; `up` is Prometheus' own and left out. Histogram suffixes name their family.
 */
export function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  const names = [
    ...withoutStrings.matchAll(
      /\b((?:bird|controller_runtime|workqueue|leader_election|process|nodejs)_[a-z0-9_]+)\b/g,
    ),
  ].map((m) => m[1] ?? "");
  return [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, "")))];
}

/** Every metric name the alerts and the dashboard read. */
export function monitoredMetricNames(): string[] {
  const exprs = [
    ...readPrometheusRule().spec.groups.flatMap((g) => g.rules.map((r) => r.expr)),
    ...dashboardExpressions().map((e) => e.expr),
  ];
  return [...new Set(exprs.flatMap(metricNames))].sort();
}
