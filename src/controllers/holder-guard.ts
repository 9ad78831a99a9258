import type { KubernetesObject } from "@kubernetes/client-node";
import { Reason } from "../api/v1alpha1/conditions.js";
import type { SendGuard } from "../bird/types.js";
import type { Claimant, OwnershipRecord, RecordStore } from "../ownership/records.js";
import { TransientError } from "../runtime/errors.js";
import { objectKey } from "../runtime/informer.js";

/**
 * The guard of every Bird write on what a resource holds (activate, deactivate, cancel), asked right before each
 * attempt leaves, after any wait for the workspace's rate limiter or a retry, which can take seconds. The call goes
 * out only if the record still binds the resource (the record cache, or this process's own later write) and this
 * replica may still act; otherwise it is not sent, and the reconcile fails transiently and starts again from what the
 * records say. A record freed or taken over meanwhile (the platform team cleared its claimRef, another resource claimed
 * it) is then never written to on the old holder's behalf.
 */
export function holderGuard<T extends OwnershipRecord>(
  records: Pick<RecordStore<T>, "heldBy">,
  holder: KubernetesObject & Claimant,
  record: string,
  mayAct?: () => boolean,
): SendGuard {
  return () => {
    if (mayAct && !mayAct())
      return new TransientError(
        "Bird write not sent: this replica's leader lease is no longer fresh; the leader acts instead",
        Reason.ReconcileError,
      );
    if (records.heldBy(holder)?.metadata?.name !== record)
      return new TransientError(
        `Bird write not sent: record ${record} no longer binds ${objectKey(holder)} (freed or claimed meanwhile)`,
        Reason.ReconcileError,
      );
    return undefined;
  };
}
