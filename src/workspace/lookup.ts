import type { LongCodeNumber } from "../bird/types.js";
import type { WorkspaceConnection } from "./connections.js";

/** A fresh look for one number in the workspace (not the inventory's cache): is it there? */
export async function lookupNumber(
  connection: Pick<WorkspaceConnection, "client" | "inventory">,
  numberString: string,
): Promise<LongCodeNumber | undefined> {
  const page = await connection.client.listNumbers({ numberString }, { limit: 10 });
  const found = page.results.find((n) => n.numberString === numberString);
  if (found) connection.inventory.putNumber(found);
  return found;
}
