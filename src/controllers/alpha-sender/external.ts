import type { AlphaSenderSpec, BirdWorkspace } from "../../api/v1alpha1/index.js";
import { isBirdApiError } from "../../bird/errors.js";
import type {
  ActivateDestinationsResult,
  AlphaNumber,
  Destination,
  EndpointSubscription,
  SendGuard,
} from "../../bird/types.js";
import type { UsageSource } from "../../ownership/usage.js";
import type { WorkspaceConnection } from "../../workspace/connections.js";
import { CAPABILITY, claimsSender, findSender } from "./desired.js";

/**
 * One workspace's alphanumeric senders as the AlphaSender reconciler sees them, split like Crossplane's external
 * client. No API creates a sender, so there is no create: observations read (the shared inventory answers first),
 * activate (and its validate-only quote) and deactivate update the sender's sms countries, cancel ends one country's
 * subscription. These are all the Bird calls an AlphaSender makes, so the reconciler can be tested with a fake.
 */
export interface SenderExternal extends UsageSource {
  readonly workspace: BirdWorkspace;
  /** The sender by `knownId` (else spec.alphaNumberId, else as the spec names it); undefined when Bird has none. */
  observe(spec: AlphaSenderSpec, knownId?: string): Promise<AlphaNumber | undefined>;
  /** A fresh read of the sender, past the shared inventory. */
  observeFresh(id: string): Promise<AlphaNumber>;
  /** Whether the sender's cached destination counts are Bird's (no write of ours since the last read). */
  countsCurrent(id: string): boolean;
  /** Every subscription of the sender (one per country, named after it): what is paid for. */
  observeSubscriptions(sender: AlphaNumber): Promise<EndpointSubscription[]>;

  /** What activating the countries would cost, without activating them (validate only). */
  quote(sender: AlphaNumber, countries: string[]): Promise<ActivateDestinationsResult>;
  /**
   * The writes take a `guard`, asked right before each attempt leaves: its error stops the call unsent (the record no
   * longer names the resource, or this replica may no longer act).
   */
  activate(sender: AlphaNumber, countries: string[], guard?: SendGuard): Promise<ActivateDestinationsResult>;
  deactivate(sender: AlphaNumber, countries: string[], guard?: SendGuard): Promise<Destination[]>;
  /** Our writes changed the sender: its cached destination counts are stale until the next read. */
  markChanged(id: string): void;

  /** Cancels the country's subscription; one already gone counts as done. */
  cancel(sender: AlphaNumber, country: string, guard?: SendGuard): Promise<void>;
}

/** How a reconciler gets the external client of a workspace; injected so tests can hand in a fake. */
export type SenderExternalFactory = (connection: WorkspaceConnection) => SenderExternal;

/**
 * The real one: Bird through the workspace's connection (read at each call: a retargeted connection swaps its client).
 */
export const birdSenders: SenderExternalFactory = (connection) => new BirdSenderExternal(connection);

class BirdSenderExternal implements SenderExternal {
  constructor(private readonly connection: WorkspaceConnection) {}

  get workspace(): BirdWorkspace {
    return this.connection.workspace;
  }

  get inventory(): UsageSource["inventory"] {
    return this.connection.inventory;
  }

  /**
   * The shared inventory answers first; only a sender it lacks (registered since its last refresh, or really missing)
   * costs a fresh read: one GET by id, or a fresh paged list by string, whose find is then loaded into the inventory
   * so the next reconcile finds it there.
   */
  async observe(spec: AlphaSenderSpec, knownId?: string): Promise<AlphaNumber | undefined> {
    const senders = await this.connection.inventory.senders();
    const id = knownId ?? spec.alphaNumberId;
    const listed = id ? senders.find((s) => s.id === id) : findSender(spec, senders);
    if (listed) return listed;
    const freshId = id ? id : await this.listedId(spec);
    if (!freshId) return undefined;
    try {
      return await this.connection.inventory.reloadSender(freshId);
    } catch (error) {
      if (isBirdApiError(error) && error.kind === "not-found") return undefined;
      throw error;
    }
  }

  private async listedId(spec: AlphaSenderSpec): Promise<string | undefined> {
    for await (const sender of this.connection.client.alphaNumbers()) if (claimsSender(spec, sender)) return sender.id;
    return undefined;
  }

  observeFresh(id: string): Promise<AlphaNumber> {
    return this.connection.inventory.reloadSender(id);
  }

  countsCurrent(id: string): boolean {
    return this.connection.inventory.isSenderCurrent(id);
  }

  observeSubscriptions(sender: AlphaNumber): Promise<EndpointSubscription[]> {
    return this.connection.client.listSubscriptions(sender.endpointId);
  }

  quote(sender: AlphaNumber, countries: string[]): Promise<ActivateDestinationsResult> {
    return this.connection.client.activateDestinations(sender.endpointId, CAPABILITY, countries, { validate: true });
  }

  activate(sender: AlphaNumber, countries: string[], guard?: SendGuard): Promise<ActivateDestinationsResult> {
    return this.connection.client.activateDestinations(sender.endpointId, CAPABILITY, countries, { guard });
  }

  deactivate(sender: AlphaNumber, countries: string[], guard?: SendGuard): Promise<Destination[]> {
    return this.connection.client.deactivateDestinations(sender.endpointId, CAPABILITY, countries, { guard });
  }

  markChanged(id: string): void {
    this.connection.inventory.markSenderChanged(id);
  }

  async cancel(sender: AlphaNumber, country: string, guard?: SendGuard): Promise<void> {
    try {
      await this.connection.client.cancelSubscription(sender.endpointId, country, { guard });
    } catch (error) {
      if (!(isBirdApiError(error) && error.kind === "not-found")) throw error;
    }
  }
}
