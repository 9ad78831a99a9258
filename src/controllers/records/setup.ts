import type { AlphaSender, PhoneNumber } from "../../api/v1alpha1/index.js";
import type { OwnershipRecord, RecordStore } from "../../ownership/records.js";
import { Controller } from "../../runtime/controller.js";
import type { InformerEventType } from "../../runtime/informer.js";
import { controllerOptions, type SetupDeps } from "../setup-deps.js";
import { RecordReconciler } from "./reconciler.js";

/** The BirdNumber and BirdSender controllers: one RecordReconciler each, woken by their records and their holders. */
export function setupRecordControllers(deps: SetupDeps): { numbers: Controller; senders: Controller } {
  const { clients, informers, connections, events, config, ownWrites } = deps;
  const shared = {
    connections,
    events,
    namespaces: config.namespaces,
    purchaseGrace: deps.purchaseGrace,
    resyncMs: config.resyncMs,
  };
  const numbers = new RecordReconciler({
    ...shared,
    records: deps.numberRecords,
    holders: informers.phoneNumbers,
    holderClient: clients.phoneNumber,
  });
  const senders = new RecordReconciler({
    ...shared,
    records: deps.senderRecords,
    holders: informers.alphaSenders,
    holderClient: clients.alphaSender,
  });
  return {
    numbers: new Controller(controllerOptions(deps, "birdnumber", numbers.reconcile))
      .watchPrimary(informers.birdNumbers, ownWrites)
      .watchRelated(informers.phoneNumbers, recordHeldBy(deps.numberRecords as RecordStore<OwnershipRecord>), 1000),
    senders: new Controller(controllerOptions(deps, "birdsender", senders.reconcile))
      .watchPrimary(informers.birdSenders, ownWrites)
      .watchRelated(informers.alphaSenders, recordHeldBy(deps.senderRecords as RecordStore<OwnershipRecord>), 1000),
  };
}

/** A holder deleted without cleanup (finalizer removed by hand) wakes its record at once. */
function recordHeldBy(
  store: RecordStore<OwnershipRecord>,
): (holder: PhoneNumber | AlphaSender, old: unknown, type: InformerEventType) => string[] {
  return (holder: PhoneNumber | AlphaSender, _old: unknown, type: InformerEventType): string[] => {
    const record = type === "delete" ? store.heldBy(holder) : undefined;
    return record ? [record.metadata?.name ?? ""] : [];
  };
}
