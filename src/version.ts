import { readFileSync } from "node:fs";

/** package.json's version: what `bird-operator version` prints, the image's version label and the User-Agent carry. */
export const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Sent with every request to the API server and to Bird, so both sides' logs and audit trails name the operator. */
export const USER_AGENT = `bird-operator/${VERSION}`;

/** The field manager of every API server write: managedFields and audit logs say which fields the operator owns. */
export const FIELD_MANAGER = "bird-operator";
