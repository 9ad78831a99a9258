import type { KubeConfig } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../api/v1alpha1/index.js";
import { KubeHttp } from "../runtime/kube-http.js";

export interface Row {
  kind: string;
  name: string;
  what: string;
  status: string;
  ready: string;
  reason: string;
}

interface Item {
  metadata?: { name?: string; namespace?: string };
  spec?: { alphaString?: string; numberString?: string };
  status?: {
    numberString?: string;
    alphaString?: string;
    provisioningStatus?: string;
    conditions?: { type: string; status: string; reason: string }[];
  };
}

const KINDS = [
  ["BirdWorkspace", "birdworkspaces"],
  ["PhoneNumber", "phonenumbers"],
  ["AlphaSender", "alphasenders"],
] as const;

/** One row per resource of the three kinds, as `kubectl get bird -A` would show them, plus the Ready reason. */
export async function readRows(kubeConfig: KubeConfig): Promise<Row[]> {
  const http = new KubeHttp(kubeConfig);
  try {
    const rows: Row[] = [];
    for (const [kind, plural] of KINDS) {
      const list = await http.request<{ items: Item[] }>({
        method: "GET",
        path: `/apis/${GROUP}/${VERSION}/${plural}`,
      });
      for (const item of list.items) {
        const ready = item.status?.conditions?.find((c) => c.type === "Ready");
        rows.push({
          kind,
          name: item.metadata?.namespace
            ? `${item.metadata.namespace}/${item.metadata.name}`
            : (item.metadata?.name ?? ""),
          what:
            item.status?.numberString ??
            item.status?.alphaString ??
            item.spec?.numberString ??
            item.spec?.alphaString ??
            "",
          status: item.status?.provisioningStatus ?? "",
          ready: ready?.status ?? "Unknown",
          reason: ready?.reason ?? "",
        });
      }
    }
    return rows;
  } finally {
    http.close();
  }
}

export function renderTable(rows: Row[]): string {
  const header: Row = {
    kind: "KIND",
    name: "NAME",
    what: "NUMBER/SENDER",
    status: "STATUS",
    ready: "READY",
    reason: "REASON",
  };
  const all = [header, ...rows];
  const keys = Object.keys(header) as (keyof Row)[];
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  return (
    all
      .map((r) =>
        keys
          .map((k, i) => r[k].padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
