import { Controller } from "../../runtime/controller.js";
import { Waiters } from "../../runtime/waiters.js";
import { claimsInNamespace, claimsOfWorkspace, holderOf } from "../claim-watches.js";
import { controllerOptions, managedDeps, type SetupDeps } from "../setup-deps.js";
import { NumberClaims } from "./claim.js";
import { LegacyClaims } from "./legacy.js";
import { Purchaser } from "./purchase.js";
import { PhoneNumberReconciler } from "./reconciler.js";

/** The PhoneNumber controller: its reconciler, the purchaser and claims behind it, and what wakes it. */
export function setupPhoneNumberController(deps: SetupDeps): Controller {
  const { config, clients, informers, events, numberRecords: records, now } = deps;
  const { phoneNumbers, workspaces, namespaces, birdNumbers } = informers;
  const wake = (key: string): void => controller.queue.add(key);
  const purchaser = newPurchaser(deps);
  const waiters = new Waiters(wake);
  const claims = new NumberClaims({
    records,
    purchaser,
    legacy: new LegacyClaims(phoneNumbers),
    client: clients.phoneNumber,
    events,
    waiters,
    purchaseGraceMs: config.purchaseGraceMs,
    grace: deps.purchaseGrace,
    now,
  });
  const reconciler = new PhoneNumberReconciler({
    ...managedDeps(deps),
    client: clients.phoneNumber,
    informer: phoneNumbers,
    records,
    claims,
    wake,
  });
  const controller = new Controller({
    ...controllerOptions(deps, "phonenumber", reconciler.reconcile),
    deferUntil: (key, wake) => untilNumberListed(deps, key, wake),
  })
    // Not for PhoneNumbers: after an API server restart their own writes' events are what brings a reconcile back
    // soon when the cache was behind (without, the chaos restart scenario converged in 15 to 30 s instead of 3).
    .watchPrimary(phoneNumbers, deps.ownWrites, { wakeOnOwnWrites: true })
    .watchRelated(workspaces, (ws, old) => claimsOfWorkspace(phoneNumbers, ws, old))
    .watchRelated(namespaces, (ns, old) => claimsInNamespace(phoneNumbers, ns, old))
    .watchRelated(birdNumbers, (record) => {
      waiters.notify(record.metadata?.name ?? "");
      return holderOf(record);
    });
  return controller;
}

/**
 * After a restart the workspace's numbers are being listed (about 50 ms a page of 99: 50 s for 100,000 numbers): a
 * PhoneNumber whose number the list has not shown yet waits off the workers, so those listed already are reconciled
 * meanwhile. The status's numberId is only a hint for the order: what the reconcile decides rests on its record.
 */
function untilNumberListed(deps: SetupDeps, key: string, wake: () => void): boolean {
  const pn = deps.informers.phoneNumbers.get(key);
  const id = pn?.status?.numberId;
  if (!pn || !id || pn.metadata?.deletionTimestamp) return false;
  const connection = deps.connections.connect(pn.spec.workspaceRef.name);
  return connection.ok && connection.value.inventory.onListed(id, wake);
}

function newPurchaser(deps: SetupDeps): Purchaser {
  const { config, events, metrics, numberRecords: records, now } = deps;
  return new Purchaser({
    records,
    usage: deps.usage,
    events,
    metrics,
    resyncMs: config.resyncMs,
    mayAct: deps.mayAct,
    grace: deps.purchaseGrace,
    now,
  });
}
