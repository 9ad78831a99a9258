import {
  BIRD_NUMBER_PLURAL,
  type BirdNumber,
  type BirdNumberStatus,
  type BirdWorkspace,
  type PhoneNumberStatus,
} from "../../src/api/v1alpha1/index.js";
import { sumMoney } from "../../src/controllers/guardrails.js";
import { formatMoney, type Money } from "../../src/bird/money.js";
import type { RunningSimulator } from "../../src/simulator/index.js";
import { DEFAULT_WORKSPACE_ID, type EndpointSubscription, type LongCodeNumber } from "../../src/simulator/types.js";
import { CRD_BASE, type BenchCluster } from "./cluster.js";
import { collectionPath, createObject, KUBE_CONCURRENCY, patchStatus } from "./kube.js";
import { pool, seconds } from "./util.js";

/**
 * The scale scenario's fast set-up: objects an operator left for one adopted number (its PhoneNumber and BirdNumber)
 * are copied for other numbers of the same kind, every value that names the number or its holder replaced by the
 * other number's, as Bird (the simulator) has them. A restart that writes nothing proves the copies are exact.
 */

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string } & Record<string, unknown>;
  spec?: unknown;
  status?: unknown;
}

/** What Bird knows of one number that a status or a record may carry. */
export interface BirdFacts {
  number: LongCodeNumber;
  subscription: EndpointSubscription;
}

/** An adopted number's objects, as the API server holds them after the operator went quiet, and its Bird facts. */
export interface CloneTemplate {
  phoneNumber: KubeObject;
  birdNumber: KubeObject;
  bird: BirdFacts;
}

/** A PhoneNumber to write as the operator would have left it: its name and its number. */
export interface CloneTarget {
  name: string;
  bird: BirdFacts;
}

export interface CloneResult {
  numbers: number;
  /** PhoneNumbers and BirdNumbers created. */
  objects: number;
  /** API requests: per number a PhoneNumber create, its status patch and a BirdNumber create (status included). */
  writes: number;
  seconds: number;
  writesPerSecond: number;
  concurrency: number;
  /** The BirdWorkspace's monthlySpend before and after settleWorkspaceSpend (its status patch is one of the writes). */
  workspaceSpend?: { before: string; after: string };
}

/** PhoneNumber metadata an operator's object carries that a copy keeps (no uid, resourceVersion, timestamps...). */
const PHONE_NUMBER_METADATA = ["name", "namespace", "labels", "annotations", "finalizers"];
/** The same for the cluster-scoped BirdNumber. */
const BIRD_NUMBER_METADATA = ["name", "labels", "annotations", "finalizers"];
/** Subscription values a status may carry: its id, its dates. */
const SUBSCRIPTION_FIELDS = ["id", "correlationId", "subscribedAt", "updatedAt", "startAt", "endAt", "canceledAt"];

export function birdFacts(bird: RunningSimulator, numberId: string): BirdFacts {
  const { state } = bird.sim;
  return {
    number: state.getNumber(DEFAULT_WORKSPACE_ID, numberId),
    subscription: state.subscription(state.anyEndpoint(numberId), "main"),
  };
}

/** The sample's PhoneNumber and the BirdNumber it is bound to, read from the API server. */
export async function readTemplate(
  cluster: BenchCluster,
  bird: RunningSimulator,
  namespace: string,
  name: string,
): Promise<CloneTemplate> {
  const get = (path: string): Promise<KubeObject> => cluster.http.request<KubeObject>({ method: "GET", path });
  const phoneNumber = await get(`${collectionPath("PhoneNumber", namespace)}/${name}`);
  const status = phoneNumber.status as { boundTo?: string; numberId?: string } | undefined;
  if (!status?.boundTo || !status.numberId)
    throw new Error(`set-up: the sample ${namespace}/${name} has no boundTo or numberId in its status`);
  const birdNumber = await get(`${CRD_BASE}/${BIRD_NUMBER_PLURAL}/${status.boundTo}`);
  const template = { phoneNumber, birdNumber, bird: birdFacts(bird, status.numberId) };
  checkTemplate(template);
  return template;
}

/**
 * The restart re-reads only what Bird's number list carries: the subscription dates and prices it does not read
 * again, so a clone's are right only if the template's are Bird's as they are (not reformatted), which this checks.
 */
function checkTemplate({ phoneNumber, birdNumber, bird }: CloneTemplate): void {
  const pn = (phoneNumber.status ?? {}) as PhoneNumberStatus;
  const record = (birdNumber.status ?? {}) as BirdNumberStatus;
  const price = bird.subscription.price;
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const money = (m: Money | undefined): unknown => m && [m.amount, m.currencyCode, m.exponent];
  const checks: [string, boolean][] = [
    ["status.numberString", pn.numberString === bird.number.numberString],
    ["status.numberId", pn.numberId === bird.number.id && record.numberId === bird.number.id],
    ["status.subscription.startAt", pn.subscription?.startAt === bird.subscription.subscription?.startAt],
    ["status.subscription.endAt", pn.subscription?.endAt === bird.subscription.subscription?.endAt],
    [
      "status.monthlyPrice",
      same(money(pn.monthlyPrice), money(price)) && same(money(record.monthlyPrice), money(price)),
    ],
  ];
  const wrong = checks.filter(([, ok]) => !ok).map(([field]) => field);
  if (wrong.length)
    throw new Error(`set-up: the template ${phoneNumber.metadata.name} disagrees with Bird on ${wrong.join(", ")}`);
}

/** One number to clone: the template of its kind, the PhoneNumber's name, the Bird number it names. */
export interface CloneWork {
  template: CloneTemplate;
  name: string;
  numberId: string;
}

/**
 * Writes the clones, `concurrency` numbers in flight, each number's writes one after another: the PhoneNumber
 * (metadata and spec), its status through the status subresource, then its BirdNumber (whose CRD has no status
 * subresource: the record's status goes with its create, as the operator's adoption writes it). Each number's Bird
 * facts are read from the simulator when its turn comes.
 */
export async function writeClones(
  cluster: BenchCluster,
  bird: RunningSimulator,
  work: readonly CloneWork[],
  log: (line: string) => void,
  concurrency = KUBE_CONCURRENCY,
): Promise<CloneResult> {
  const started = performance.now();
  let objects = 0;
  let writes = 0;
  await pool(work, concurrency, async ({ template, name, numberId }) => {
    const written = await writeClone(cluster, template, { name, bird: birdFacts(bird, numberId) });
    writes += written;
    objects += 2;
    if (objects % 10_000 === 0)
      log(`scale: set-up: cloned ${objects} of ${work.length * 2} objects (${writes} writes) in ${since(started)} s`);
  });
  const elapsed = since(started);
  return { numbers: work.length, objects, writes, seconds: elapsed, writesPerSecond: writes / elapsed, concurrency };
}

function since(started: number): number {
  return seconds(performance.now() - started);
}

async function writeClone(cluster: BenchCluster, template: CloneTemplate, target: CloneTarget): Promise<number> {
  const collection = collectionPath("PhoneNumber", template.phoneNumber.metadata.namespace ?? "");
  const created = await createObject<KubeObject>(cluster, collection, phoneNumberClone(template, target));
  const uid = created.metadata.uid;
  if (!uid) throw new Error(`set-up: the API server answered the create of ${target.name} without a uid`);
  const clone = cloneOf(template, target, uid);
  await patchStatus(cluster, `${collection}/${target.name}`, clone(template.phoneNumber.status));
  const { apiVersion, kind, metadata, spec, status } = template.birdNumber;
  const record = clone({ apiVersion, kind, metadata: picked(metadata, BIRD_NUMBER_METADATA), spec, status });
  await createObject(cluster, `${CRD_BASE}/${BIRD_NUMBER_PLURAL}`, record as KubeObject);
  return 3;
}

/**
 * The BirdWorkspace's status sums the prices its number records hold (the workspace reconciler's `counts`): after the
 * sample's adoption it shows the sample's spend, and an operator that adopted every number would show them all. Sets
 * monthlySpend and its text from the records as the API server holds them, summed by the operator's own function in
 * the currency the status shows. Answers the spend before and after (undefined when the status shows none).
 */
export async function settleWorkspaceSpend(
  cluster: BenchCluster,
  workspace: string,
): Promise<{ before: Money; after: Money } | undefined> {
  const path = `${CRD_BASE}/birdworkspaces/${workspace}`;
  const before = (await cluster.http.request<BirdWorkspace>({ method: "GET", path })).status?.monthlySpend;
  if (!before) return undefined;
  const prices: Money[] = [];
  let token: string | undefined;
  do {
    const page = await cluster.http.request<{ items: BirdNumber[]; metadata: { continue?: string } }>({
      method: "GET",
      path: `${CRD_BASE}/${BIRD_NUMBER_PLURAL}`,
      query: { limit: 500, continue: token },
    });
    for (const record of page.items)
      if (record.spec.workspaceRef.name === workspace && record.status?.monthlyPrice)
        prices.push(record.status.monthlyPrice);
    token = page.metadata.continue || undefined;
  } while (token);
  const { total } = sumMoney(prices, before.currencyCode);
  await patchStatus(cluster, path, { monthlySpend: total, monthlySpendText: formatMoney(total) });
  return { before, after: total };
}

/** The PhoneNumber to create: the template's kept metadata and spec, for the target's number (no uid yet). */
export function phoneNumberClone(template: CloneTemplate, target: CloneTarget): KubeObject {
  const { apiVersion, kind, metadata, spec } = template.phoneNumber;
  return cloneOf(template, target)({ apiVersion, kind, metadata: picked(metadata, PHONE_NUMBER_METADATA), spec });
}

function picked(metadata: KubeObject["metadata"], keys: readonly string[]): KubeObject["metadata"] {
  return Object.fromEntries(keys.flatMap((k) => (k in metadata ? [[k, metadata[k]]] : []))) as KubeObject["metadata"];
}

/**
 * Copies a part of the template for the target: serialized to JSON, every template value that names the number or
 * its holder (see `substitutions`) replaced by the target's, its price objects by the target's price. Refuses a
 * target of another kind (country, type, capabilities) and a copy that still holds a template value.
 */
export function cloneOf(template: CloneTemplate, target: CloneTarget, uid?: string): <T>(part: T) => T {
  sameKind(template.bird.number, target.bird.number);
  const map = substitutions(template, target, uid);
  const olds = [...map.keys()].sort((a, b) => b.length - a.length).map(escape);
  // Whole values only: a template value inside a longer word or number is not the template's.
  const source = olds.length ? `(?<![0-9A-Za-z])(?:${olds.join("|")})(?![0-9A-Za-z])` : "(?!)";
  const pattern = new RegExp(source, "g");
  const leftover = new RegExp(source);
  const oldPrice = template.bird.subscription.price;
  const newPrice = target.bird.subscription.price;
  return <T>(part: T): T => {
    if (part === undefined) return part;
    const json = JSON.stringify(part).replace(pattern, (old) => map.get(old) ?? old);
    const left = leftover.exec(json);
    if (left) throw new Error(`set-up: the clone for ${target.name} still holds the template's ${left[0]}`);
    const copy = JSON.parse(json) as T;
    return oldPrice && newPrice ? (withPrice(copy, oldPrice, newPrice) as T) : copy;
  };
}

/**
 * Template value -> the target's, for every string that names the number (with and without `+`, its number and
 * endpoint ids), its holder (PhoneNumber name and uid), its `main` subscription (id, dates) or its price as text.
 */
function substitutions(template: CloneTemplate, target: CloneTarget, uid?: string): Map<string, string> {
  const a = template.bird;
  const b = target.bird;
  const price = (facts: BirdFacts): string | undefined =>
    facts.subscription.price ? formatMoney(facts.subscription.price) : undefined;
  const field = (facts: BirdFacts, key: string): unknown =>
    (facts.subscription.subscription as Record<string, unknown> | undefined)?.[key];
  const pairs: [unknown, unknown][] = [
    [a.number.numberString, b.number.numberString],
    [a.number.numberString.replace(/^\+/, ""), b.number.numberString.replace(/^\+/, "")],
    [a.number.id, b.number.id],
    [a.number.endpointId, b.number.endpointId],
    [template.phoneNumber.metadata.name, target.name],
    [template.phoneNumber.metadata.uid, uid],
    [price(a), price(b)],
    ...SUBSCRIPTION_FIELDS.map((key): [unknown, unknown] => [field(a, key), field(b, key)]),
  ];
  const map = new Map<string, string>();
  for (const [old, value] of pairs) {
    if (typeof old !== "string" || typeof value !== "string" || !old || old === value) continue;
    const known = map.get(old);
    if (known !== undefined && known !== value)
      throw new Error(`set-up: the template's ${old} stands for both ${known} and ${value} in ${target.name}`);
    map.set(old, value);
  }
  return map;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Every object equal to the template's price (Money: amount, currencyCode, exponent) becomes the target's. */
function withPrice(value: unknown, oldPrice: Money, newPrice: Money): unknown {
  if (Array.isArray(value)) return value.map((v) => withPrice(v, oldPrice, newPrice));
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value);
  const isOld =
    entries.length === 3 && entries.every(([k, v]) => (oldPrice as unknown as Record<string, unknown>)[k] === v);
  if (isOld) return { ...newPrice };
  return Object.fromEntries(entries.map(([k, v]) => [k, withPrice(v, oldPrice, newPrice)]));
}

/** A template serves only numbers of its kind: the status's country, type and capabilities are copied as they are. */
function sameKind(a: LongCodeNumber, b: LongCodeNumber): void {
  const kind = (n: LongCodeNumber): string => JSON.stringify([n.countryCode, n.type, n.capabilities]);
  if (kind(a) !== kind(b))
    throw new Error(`set-up: ${b.numberString} (${kind(b)}) is not of the template's kind (${kind(a)})`);
}
