import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  CHART_DIR,
  generateChart,
  generatedFilesOnDisk,
  packageVersion,
  renderKustomize,
} from "../../scripts/generate-helm-chart.js";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { kubectl } from "../support/kubectl.js";
import { helm, resolveHelm } from "../helpers/helm.js";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string> | null;
    annotations?: Record<string, string> | null;
  };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

const NAMESPACE = "bird-operator";
/** What Helm legitimately adds: its labels on every object and the keep policy on CRDs. */
const HELM_LABELS = [
  "helm.sh/chart",
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
];

const parse = (yaml: string): Manifest[] =>
  parseAllDocuments(yaml)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);

const keyOf = (doc: Manifest): string => `${doc.kind}/${doc.metadata.namespace ?? ""}/${doc.metadata.name}`;

/** kustomize's `managed-by: kustomize` and Helm's labels and keep annotation removed; nothing else. */
function normalise(doc: Manifest): Manifest {
  const copy = structuredClone(doc);
  const labels = copy.metadata.labels ?? {};
  for (const label of HELM_LABELS) delete labels[label];
  const annotations = copy.metadata.annotations ?? {};
  delete annotations["helm.sh/resource-policy"];
  if (Object.keys(annotations).length === 0) delete copy.metadata.annotations;
  return copy;
}

const byKey = (docs: Manifest[]): Map<string, Manifest> => new Map(docs.map((doc) => [keyOf(doc), normalise(doc)]));

/**
 * deploy/helm/bird-operator is generated from `kubectl kustomize deploy/` (npm run generate:helm). These tests fail
 * when the generated files are stale, when the chart renders anything but what kustomize renders (beyond Helm's labels,
 * the CRDs' keep policy and the Namespace, which Helm leaves to --create-namespace), when a value does not reach what
 * it should, and when helm lint, helm install or helm uninstall misbehave on a real API server.
 */
describe("the Helm chart", () => {
  let binary: string;
  let kustomized: Manifest[];
  const template = async (...args: string[]): Promise<Manifest[]> =>
    parse((await helm(binary, ["template", "bird-operator", CHART_DIR, "--namespace", NAMESPACE, ...args])).stdout);
  const deploymentOf = (
    docs: Manifest[],
  ): {
    spec: {
      replicas: number;
      template: {
        metadata: { annotations: Record<string, string> };
        spec: Record<string, unknown> & { containers: Record<string, unknown>[] };
      };
    };
  } => docs.find((d) => d.kind === "Deployment") as never;

  beforeAll(async () => {
    binary = await resolveHelm();
    kustomized = parse(renderKustomize());
  }, 900_000);

  it("is what scripts/generate-helm-chart.ts makes of deploy/ now (else run `npm run generate:helm`)", () => {
    const expected = generateChart(renderKustomize(), packageVersion()).files;
    const onDisk = generatedFilesOnDisk();
    expect([...onDisk.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [path, content] of expected) expect(onDisk.get(path), path).toBe(content);
  });

  it("passes helm lint --strict", async () => {
    const { stdout } = await helm(binary, ["lint", "--strict", CHART_DIR]);
    expect(stdout).toContain("0 chart(s) failed");
    expect(stdout).not.toMatch(/\[(ERROR|WARNING)\]/);
  });

  it("renders with default values exactly what kubectl kustomize deploy/ renders", async () => {
    const chart = byKey(await template());
    const base = byKey(kustomized.filter((doc) => doc.kind !== "Namespace"));
    expect([...chart.keys()].sort()).toEqual([...base.keys()].sort());
    for (const [key, doc] of base) expect(chart.get(key), key).toEqual(doc);
    const crds = (await template()).filter((doc) => doc.kind === "CustomResourceDefinition");
    expect(crds.length).toBeGreaterThan(0);
    expect(crds.every((crd) => crd.metadata.annotations?.["helm.sh/resource-policy"] === "keep")).toBe(true);
  });

  it("puts each value where it belongs", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const docs = await template(
      "--set",
      `image.digest=${digest}`,
      "--set",
      "image.repository=registry.example/bird-operator",
      "--set",
      "replicas=3",
      "--set",
      "resources.limits.memory=768Mi",
      "--set",
      "nodeOptions=--max-old-space-size=512",
      "--set",
      "watchNamespaces={team-a,team-b}",
      "--set",
      "workspaceSelector=tier in (prod)",
      "--set",
      "logLevel=debug",
      "--set",
      "podAnnotations.example\\.com/owner=platform",
      "--set",
      "nodeSelector.kubernetes\\.io/os=linux",
    );
    const deployment = deploymentOf(docs);
    const container = deployment.spec.template.spec.containers[0] as {
      image: string;
      args: string[];
      env: { name: string; value?: string }[];
      resources: { limits: { memory: string } };
    };
    expect(container.image).toBe(`registry.example/bird-operator@${digest}`);
    expect(deployment.spec.replicas).toBe(3);
    expect(container.resources.limits.memory).toBe("768Mi");
    expect(container.args).toEqual(
      expect.arrayContaining(["--namespaces=team-a,team-b", "--workspace-selector=tier in (prod)"]),
    );
    expect(container.env.find((e) => e.name === "LOG_LEVEL")?.value).toBe("debug");
    expect(container.env.find((e) => e.name === "NODE_OPTIONS")?.value).toBe("--max-old-space-size=512");
    expect(deployment.spec.template.metadata.annotations).toEqual({
      "kubectl.kubernetes.io/default-container": "operator",
      "example.com/owner": "platform",
    });
    expect(deployment.spec.template.spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    const tagged = deploymentOf(await template("--set", "image.tag=0.2.0-rc.1")).spec.template.spec.containers[0] as {
      image: string;
    };
    expect(tagged.image).toBe("ghcr.io/bird-operator/bird-operator:0.2.0-rc.1");
  });

  it("adds a ServiceMonitor that selects the metrics Service's port, only when asked", async () => {
    expect((await template()).some((doc) => doc.kind === "ServiceMonitor")).toBe(false);
    const docs = await template(
      "--set",
      "metrics.serviceMonitor.enabled=true",
      "--set",
      "metrics.serviceMonitor.labels.release=prometheus",
    );
    const monitor = docs.find((doc) => doc.kind === "ServiceMonitor") as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
    };
    expect(monitor.metadata.labels?.release).toBe("prometheus");
    const services = docs.filter((doc) => doc.kind === "Service") as (Manifest & {
      spec: { ports: { name: string }[] };
    })[];
    const selected = services.filter((service) =>
      Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => service.metadata.labels?.[k] === v),
    );
    expect(selected.map((service) => service.metadata.name)).toEqual(["bird-operator-metrics"]);
    expect(selected[0]!.spec.ports.map((port) => port.name)).toContain(monitor.spec.endpoints[0]!.port);
  });

  it("adds deploy/monitoring's alerts and dashboard, unchanged, only when asked", async () => {
    expect(
      (await template()).some(
        (doc) => doc.kind === "PrometheusRule" || doc.metadata.name === "bird-operator-dashboard",
      ),
    ).toBe(false);
    const docs = await template(
      "--set",
      "metrics.prometheusRule.enabled=true",
      "--set",
      "metrics.prometheusRule.labels.release=prometheus",
      "--set",
      "metrics.dashboard.enabled=true",
    );
    const component = parse(
      execFileSync("kubectl", ["kustomize", join(CHART_DIR, "../../monitoring")], { encoding: "utf8" }),
    );
    const rule = docs.find((doc) => doc.kind === "PrometheusRule");
    expect(rule?.metadata.labels?.release).toBe("prometheus");
    // The alerts' own {{ $labels }} templates reach Prometheus as they are, not rendered by Helm.
    expect(rule?.spec).toEqual(component.find((doc) => doc.kind === "PrometheusRule")?.spec);
    const dashboard = docs.find((doc) => doc.metadata.name === "bird-operator-dashboard") as Manifest & {
      data: Record<string, string>;
    };
    const expected = component.find((doc) => doc.kind === "ConfigMap") as Manifest & { data: Record<string, string> };
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe("1");
    expect(JSON.parse(dashboard.data["bird-operator.json"] ?? "")).toEqual(
      JSON.parse(expected.data["bird-operator.json"] ?? "-"),
    );
  });

  it("leaves the CRDs out, or without the keep policy, when asked", async () => {
    expect((await template("--set", "crds.install=false")).some((doc) => doc.kind === "CustomResourceDefinition")).toBe(
      false,
    );
    const crds = (await template("--set", "crds.keep=false")).filter((doc) => doc.kind === "CustomResourceDefinition");
    expect(crds.length).toBeGreaterThan(0);
    expect(crds.some((crd) => crd.metadata.annotations?.["helm.sh/resource-policy"] !== undefined)).toBe(false);
  });

  describe("on a real API server", () => {
    let plane: ControlPlane;
    let home: string;
    const env = (): Record<string, string> => ({
      KUBECONFIG: plane.kubeconfigPath,
      HELM_CACHE_HOME: join(home, "cache"),
      HELM_CONFIG_HOME: join(home, "config"),
      HELM_DATA_HOME: join(home, "data"),
    });

    beforeAll(async () => {
      home = mkdtempSync(join(tmpdir(), "helm-home-"));
      plane = await ControlPlane.start();
    });

    afterAll(async () => {
      await plane?.stop();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    it("installs the CRDs and the operator, and uninstalling keeps the CRDs", async () => {
      await helm(
        binary,
        ["install", "bird-operator", CHART_DIR, "--namespace", NAMESPACE, "--create-namespace"],
        env(),
      );
      const crdNames = kustomized
        .filter((doc) => doc.kind === "CustomResourceDefinition")
        .map((doc) => doc.metadata.name);
      const crds = async (): Promise<string[]> =>
        (await kubectl(plane.kubeconfigPath, ["get", "crds", "-o", "jsonpath={.items[*].metadata.name}"])).stdout
          .split(" ")
          .filter(Boolean)
          .sort();
      expect(await crds()).toEqual([...crdNames].sort());
      await kubectl(plane.kubeconfigPath, [
        "get",
        "deployment/bird-operator",
        "serviceaccount/bird-operator",
        "-n",
        NAMESPACE,
      ]);

      await helm(binary, ["uninstall", "bird-operator", "--namespace", NAMESPACE], env());
      expect(await crds()).toEqual([...crdNames].sort());
      const gone = await kubectl(plane.kubeconfigPath, ["get", "deployment/bird-operator", "-n", NAMESPACE], {
        allowFailure: true,
      });
      expect(gone.stderr).toMatch(/NotFound/);
    });
  });
});
