import type { BirdNumber, BirdSender, BirdWorkspace } from "../api/v1alpha1/index.js";
import { createBirdClient, type BirdClient } from "../bird/client.js";
import { Inventory } from "../workspace/inventory.js";
import { StockPool } from "../workspace/stock-pool.js";
import type { LongCodeNumber } from "../bird/types.js";
import { DEFAULT_ENDPOINT, type Resolution } from "../workspace/connections.js";
import { Ledger, workspaceUsage, type Usage, type UsageInput } from "../ownership/usage.js";
import { fetchSend } from "../bird/http-send.js";
import { readOnlySend } from "./read-only.js";

/**
 * One workspace's Bird, read-only: the operator's own client, inventory and stock pool over a sender that cannot write.
 */
export interface BirdView {
  client: BirdClient;
  inventory: Inventory;
  stockPool: StockPool;
}

export function birdView(
  workspace: BirdWorkspace,
  accessKey: string,
  options: { timeoutMs: number; fetch?: typeof fetch },
): BirdView {
  const client = createBirdClient({
    baseUrl: workspace.spec.endpoint ?? DEFAULT_ENDPOINT,
    organizationId: workspace.spec.organizationId,
    workspaceId: workspace.spec.workspaceId,
    accessKey,
    rateLimits: workspace.spec.rateLimits,
    timeoutMs: options.timeoutMs,
    send: readOnlySend(options.fetch ? fetchSend(options.fetch) : undefined),
  });
  // One list of the workspace's numbers serves the whole plan: what the plan decides is as of one moment.
  return {
    client,
    inventory: new Inventory(client, Number.POSITIVE_INFINITY),
    stockPool: new StockPool(client, { maxAgeMs: Number.POSITIVE_INFINITY }),
  };
}

/**
 * A workspace as the plan sees it: its records and the claims the plan has made so far, the way the operator's record
 * caches and ledger would see them after the planned changes. Usage is computed by the operator's own workspaceUsage.
 */
export class WorkspaceState {
  /** BirdNumber records by name, as they will be once what the plan decided so far is done. */
  readonly numbers = new Map<string, BirdNumber>();
  readonly senders = new Map<string, BirdSender>();
  /** Purchases and sender countries the plan decided: counted as the operator counts claims in flight. */
  readonly ledger = new Ledger();
  /** Numbers whose `main` subscription the plan cancels. */
  readonly cancelled = new Set<string>();
  bird?: BirdView;
  /** Why Bird cannot be asked about this workspace. */
  birdError?: string;

  constructor(
    readonly workspace: BirdWorkspace,
    readonly usable: Resolution<true>,
    numbers: readonly BirdNumber[],
    senders: readonly BirdSender[],
  ) {
    for (const record of numbers) this.numbers.set(record.metadata?.name ?? "", record);
    for (const record of senders) this.senders.set(record.metadata?.name ?? "", record);
  }

  get name(): string {
    return this.workspace.metadata?.name ?? "";
  }

  /** What the spend and quota policies count now, with the plan's changes so far. */
  usage(): Usage {
    return workspaceUsage({
      numbers: [...this.numbers.values()],
      senders: [...this.senders.values()],
      ledger: this.ledger,
      inventory: this.inventory(),
    });
  }

  private inventory(): UsageInput["inventory"] {
    const inventory = this.bird?.inventory;
    const cancelled = this.cancelled;
    return {
      cachedByString: (numberString) => {
        const number = inventory?.cachedByString(numberString);
        return number && cancelled.has(numberString) ? ended(number) : number;
      },
      *activeNumberStrings() {
        for (const numberString of inventory?.activeNumberStrings() ?? [])
          if (!cancelled.has(numberString)) yield numberString;
      },
    };
  }
}

/** A number as it is once `main` is cancelled: Bird schedules its removal, so it no longer counts as billed. */
function ended(number: LongCodeNumber): LongCodeNumber {
  return { ...number, deprovisionAt: number.deprovisionAt ?? "cancelled by this plan" };
}
