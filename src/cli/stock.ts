import { InvalidArgumentError, type Command } from "commander";
import { BIRD_WORKSPACE_PLURAL, GROUP, VERSION, type BirdWorkspace } from "../api/v1alpha1/index.js";
import { createBirdClient, type BirdClientOptions } from "../bird/client.js";
import { formatMoney } from "../bird/money.js";
import { capabilitiesOf } from "../controllers/phone-number/desired.js";
import { DEFAULT_ENDPOINT, DEFAULT_SECRET_KEY } from "../workspace/connections.js";
import { loadKubeConnection } from "../runtime/kube-config.js";
import { KubeHttp } from "../runtime/kube-http.js";

interface StockFlags {
  country: string;
  type?: string;
  prefix?: string;
  capability?: string[];
  limit: string;
  workspace?: string;
  kubeconfig?: string;
  endpoint: string;
  organizationId?: string;
  workspaceId?: string;
  accessKey?: string;
}

export function registerStockCommand(program: Command): void {
  declareStockOptions(program.command("stock")).action((flags: StockFlags) => listStock(flags));
}

function declareStockOptions(command: Command): Command {
  return command
    .description(
      "list numbers available to buy for a country, type and prefix, through a BirdWorkspace's credentials or flags",
    )
    .requiredOption("--country <code>", "ISO 3166-1 alpha-2 country code, e.g. US", (v) => countryCode(v))
    .option("--type <type>", "local, mobile, toll-free or national")
    .option("--prefix <prefix>", "area code in full international form, e.g. +1212")
    .option("--capability <name...>", "capabilities the number must have, e.g. sms-outbound")
    .option("--limit <n>", "how many numbers to show (at most 99)", "20")
    .option("--workspace <name>", "use this BirdWorkspace's endpoint, ids and AccessKey Secret (needs a kubeconfig)")
    .option(
      "--kubeconfig <file>",
      "kubeconfig for --workspace (default: the files in KUBECONFIG, then in-cluster, then ~/.kube/config)",
    )
    .option("--endpoint <url>", "Bird API base URL, without --workspace", DEFAULT_ENDPOINT)
    .option("--organization-id <uuid>", "without --workspace")
    .option("--workspace-id <uuid>", "without --workspace")
    .option("--access-key <key>", "without --workspace (env BIRD_ACCESS_KEY)", process.env.BIRD_ACCESS_KEY);
}

async function listStock(flags: StockFlags): Promise<void> {
  const client = createBirdClient(
    flags.workspace ? await fromWorkspace(flags.workspace, flags.kubeconfig) : fromFlags(flags),
  );
  const page = await client.searchStock(
    {
      countryCodes: [flags.country],
      types: flags.type ? [flags.type] : undefined,
      prefix: flags.prefix,
      features: flags.capability,
    },
    { limit: Math.min(99, Number(flags.limit)) },
  );
  const rows = page.results.map((item) => [
    item.numberString,
    item.countryCode,
    item.type,
    capabilitiesOf(item.capabilities).join(","),
    formatMoney(item.monthlyPrice),
  ]);
  process.stdout.write(table([["NUMBER", "COUNTRY", "TYPE", "CAPABILITIES", "MONTHLY PRICE"], ...rows]));
  if (rows.length === 0) process.stdout.write("No numbers in stock match.\n");
}

function countryCode(value: string): string {
  if (!/^[A-Za-z]{2}$/.test(value)) throw new InvalidArgumentError("expected a two-letter country code");
  return value.toUpperCase();
}

function fromFlags(flags: StockFlags): BirdClientOptions {
  const { organizationId, workspaceId, accessKey } = flags;
  if (!organizationId || !workspaceId || !accessKey) {
    throw new InvalidArgumentError(
      "give --workspace <BirdWorkspace>, or all of --organization-id, --workspace-id and --access-key",
    );
  }
  return { baseUrl: flags.endpoint, organizationId, workspaceId, accessKey };
}

/** Reads the workspace and its AccessKey Secret with the caller's own Kubernetes permissions. */
async function fromWorkspace(name: string, kubeconfig: string | undefined): Promise<BirdClientOptions> {
  const http = new KubeHttp(await loadKubeConnection({ path: kubeconfig }));
  try {
    const workspace = await http.request<BirdWorkspace>({
      method: "GET",
      path: `/apis/${GROUP}/${VERSION}/${BIRD_WORKSPACE_PLURAL}/${name}`,
    });
    const ref = workspace.spec.accessKeySecretRef;
    const secret = await http.request<{ data?: Record<string, string> }>({
      method: "GET",
      path: `/api/v1/namespaces/${ref.namespace}/secrets/${ref.name}`,
    });
    const encoded = secret.data?.[ref.key ?? DEFAULT_SECRET_KEY];
    if (!encoded) throw new Error(`Secret ${ref.namespace}/${ref.name} has no key "${ref.key ?? DEFAULT_SECRET_KEY}"`);
    return {
      baseUrl: workspace.spec.endpoint ?? DEFAULT_ENDPOINT,
      organizationId: workspace.spec.organizationId,
      workspaceId: workspace.spec.workspaceId,
      accessKey: Buffer.from(encoded, "base64").toString("utf8"),
    };
  } finally {
    http.close();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}
