import { stringify } from "yaml";
import { Reason } from "../../src/api/v1alpha1/conditions.js";
import { API_VERSION, ORGANIZATION_ID, WORKSPACE_ID, type Doc } from "./env.js";
import { pick, type Random } from "./specs.js";

/** One generated manifest: either a document or raw text, and, for the cases with one answer, the Ready reason due. */
export interface BadInput {
  file: string;
  family: string;
  kind?: "PhoneNumber" | "AlphaSender" | "BirdWorkspace";
  name?: string;
  text: string;
  expectReason?: string;
}

export interface BadInputContext {
  namespace: string;
  workspace: string;
  /** Label that puts a BirdWorkspace under this scenario's operator. */
  label: Record<string, string>;
  endpoint: string;
  /** A registered sender, and one of its blocked countries. */
  sender: { alphaString: string; blockedCountry: string };
  /** A number another PhoneNumber owns. */
  ownedNumber: string;
}

type Mutation = (spec: Doc, r: Random) => void;
type Semantic = { family: string; spec: (r: Random) => Doc; reason?: string; annotations?: Record<string, string> };

const JUNK: ((r: Random) => unknown)[] = [
  () => null,
  () => 42,
  () => -1,
  () => true,
  () => "",
  () => [],
  () => ({}),
  () => ["a", 1, null],
  () => ({ nested: { deeper: [1, { x: "y" }] } }),
  () => "x".repeat(5000),
  () => "ünï©ødé 🐦 \u202e",
  () => "+1 (212) 555-0100",
  (r) => Math.floor(r() * 1e12),
  () => 1e308,
  () => "../../etc/passwd",
  () => "${jndi:ldap://x}",
];

const PN_FIELDS = [
  "workspaceRef",
  "countryCode",
  "type",
  "prefix",
  "capabilities",
  "maxMonthlyPrice",
  "numberString",
  "destinations",
  "deletionPolicy",
  "managementPolicy",
];
const AS_FIELDS = [
  "workspaceRef",
  "alphaString",
  "alphaNumberId",
  "countries",
  "maxMonthlyPricePerCountry",
  "deletionPolicy",
];
const WS_FIELDS = [
  "organizationId",
  "workspaceId",
  "accessKeySecretRef",
  "endpoint",
  "allowedNamespaces",
  "policy",
  "rateLimits",
];

/** Schema-level damage to a PhoneNumber spec: the API server must refuse each. */
const PN_MUTATIONS: Record<string, Mutation> = {
  "country-lowercase": (s) => (s.countryCode = "us"),
  "country-three-letters": (s) => (s.countryCode = "USA"),
  "type-unknown": (s) => (s.type = "premium"),
  "no-workspace": (s) => delete s.workspaceRef,
  "workspace-name-invalid": (s) => (s.workspaceRef = { name: "Not_A_Name!" }),
  "workspace-name-empty": (s) => (s.workspaceRef = { name: "" }),
  "nothing-to-buy": (s) => {
    delete s.countryCode;
    delete s.type;
  },
  "prefix-without-country": (s) => {
    delete s.countryCode;
    s.numberString = "+12125550100";
    s.prefix = "+1212";
  },
  "prefix-not-e164": (s) => (s.prefix = "1212"),
  "prefix-too-long": (s) => (s.prefix = `+1${"2".repeat(20)}`),
  "number-string-no-plus": (s) => (s.numberString = "12125550100"),
  "number-string-letters": (s) => (s.numberString = "+1212CALLNOW"),
  "number-string-too-short": (s) => (s.numberString = "+123"),
  "number-string-outside-prefix": (s) => {
    s.prefix = "+1212";
    s.numberString = "+14155550100";
  },
  "observe-only-without-number": (s) => (s.managementPolicy = "ObserveOnly"),
  "capability-unknown": (s) => (s.capabilities = ["fax-outbound"]),
  "capabilities-duplicate": (s) => (s.capabilities = ["sms-outbound", "sms-outbound"]),
  "capabilities-not-a-list": (s) => (s.capabilities = "sms-outbound"),
  "price-missing-fields": (s) => (s.maxMonthlyPrice = { amount: 1 }),
  "price-negative": (s) => (s.maxMonthlyPrice = { currencyCode: "EUR", amount: -5, exponent: -6 }),
  "price-exponent-out-of-range": (s) => (s.maxMonthlyPrice = { currencyCode: "EUR", amount: 5, exponent: 3 }),
  "price-currency-lowercase": (s) => (s.maxMonthlyPrice = { currencyCode: "eur", amount: 5, exponent: -6 }),
  "price-amount-text": (s) => (s.maxMonthlyPrice = { currencyCode: "EUR", amount: "five", exponent: -6 }),
  "destination-capability-unknown": (s) => (s.destinations = [{ capability: "fax", countryCodes: ["US"] }]),
  "destination-no-countries": (s) => (s.destinations = [{ capability: "sms", countryCodes: [] }]),
  "destination-too-many-countries": (s) =>
    (s.destinations = [
      {
        capability: "sms",
        countryCodes: Array.from(
          { length: 101 },
          (_, i) => `${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`,
        ),
      },
    ]),
  "destination-duplicate-capability": (s) =>
    (s.destinations = [
      { capability: "sms", countryCodes: ["US"] },
      { capability: "sms", countryCodes: ["CA"] },
    ]),
  "destination-country-lowercase": (s) => (s.destinations = [{ capability: "sms", countryCodes: ["us"] }]),
  "destinations-too-many": (s) =>
    (s.destinations = ["sms", "voice", "mms", "sms"].map((capability) => ({ capability, countryCodes: ["US"] }))),
  "deletion-policy-unknown": (s) => (s.deletionPolicy = "Orphan"),
  "management-policy-unknown": (s) => (s.managementPolicy = "ReadWrite"),
  "unknown-field": (s) => (s.colour = "blue"),
  junk: (s, r) => (s[pick(r, PN_FIELDS)] = pick(r, JUNK)(r)),
  "double-junk": (s, r) => {
    s[pick(r, PN_FIELDS)] = pick(r, JUNK)(r);
    s[pick(r, PN_FIELDS)] = pick(r, JUNK)(r);
  },
};

const AS_MUTATIONS: Record<string, Mutation> = {
  "both-string-and-id": (s) => (s.alphaNumberId = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
  "neither-string-nor-id": (s) => delete s.alphaString,
  "alpha-too-long": (s) => (s.alphaString = "ABCDEFGHIJKL"),
  "alpha-symbols": (s) => (s.alphaString = "AC/ME!"),
  "alpha-digits-only": (s) => (s.alphaString = "12345"),
  "alpha-id-not-uuid": (s) => {
    delete s.alphaString;
    s.alphaNumberId = "not-a-uuid";
  },
  "countries-lowercase": (s) => (s.countries = ["nl"]),
  "countries-too-many": (s) =>
    (s.countries = Array.from(
      { length: 251 },
      (_, i) => `${String.fromCharCode(65 + (Math.floor(i / 26) % 26))}${String.fromCharCode(65 + (i % 26))}`,
    )),
  "countries-duplicate": (s) => (s.countries = ["NL", "NL"]),
  "price-bad": (s) => (s.maxMonthlyPricePerCountry = { currencyCode: "EURO", amount: 1, exponent: -6 }),
  "deletion-policy-unknown": (s) => (s.deletionPolicy = "Keep"),
  junk: (s, r) => (s[pick(r, AS_FIELDS)] = pick(r, JUNK)(r)),
};

const WS_MUTATIONS: Record<string, Mutation> = {
  "organization-not-uuid": (s) => (s.organizationId = "acme"),
  "workspace-missing": (s) => delete s.workspaceId,
  "secret-ref-missing": (s) => delete s.accessKeySecretRef,
  "secret-ref-bad-name": (s) => (s.accessKeySecretRef = { namespace: "x", name: "Bad Name", key: "accessKey" }),
  "endpoint-not-url": (s) => (s.endpoint = "api.bird.com"),
  "endpoint-ftp": (s) => (s.endpoint = "ftp://api.bird.com"),
  "rate-limits-negative": (s) => (s.rateLimits = { getPerSecond: -1, postPerSecond: 0 }),
  "policy-junk": (s, r) => (s.policy = { maxNumbers: pick(r, JUNK)(r), allowedCountries: "US" }),
  junk: (s, r) => (s[pick(r, WS_FIELDS)] = pick(r, JUNK)(r)),
};

/** Whole files kubectl itself cannot make sense of. */
const RAW: Record<string, (c: BadInputContext) => string> = {
  "yaml-unclosed-flow": () => "apiVersion: v1\nkind: [broken\n",
  "yaml-bad-indent": () => `apiVersion: ${API_VERSION}\nkind: PhoneNumber\nmetadata:\n  name: x\n    namespace: y\n`,
  "yaml-tabs": () => `apiVersion: ${API_VERSION}\nkind: PhoneNumber\n\tmetadata: {}\n`,
  "json-truncated": (c) =>
    `{"apiVersion":"${API_VERSION}","kind":"PhoneNumber",` +
    `"metadata":{"name":"trunc","namespace":"${c.namespace}"},"spec":{"workspaceRef":`,
  "binary-garbage": () => "\u0000\u0001\u0002\u00ff\u00fe garbage \u0007",
  "no-kind": (c) =>
    stringify({ apiVersion: API_VERSION, metadata: { name: "nokind", namespace: c.namespace }, spec: {} }),
  "unknown-kind": (c) =>
    stringify({
      apiVersion: API_VERSION,
      kind: "PhoneNumbre",
      metadata: { name: "typo", namespace: c.namespace },
      spec: {},
    }),
  "unknown-version": (c) =>
    stringify({
      apiVersion: "numbers.birdoperator.dev/v9",
      kind: "PhoneNumber",
      metadata: { name: "v9", namespace: c.namespace },
      spec: {},
    }),
  "no-name": (c) =>
    stringify({
      apiVersion: API_VERSION,
      kind: "PhoneNumber",
      metadata: { namespace: c.namespace },
      spec: { workspaceRef: { name: c.workspace }, countryCode: "US", type: "local" },
    }),
  "name-uppercase": (c) =>
    stringify({
      apiVersion: API_VERSION,
      kind: "PhoneNumber",
      metadata: { name: "Support_Line", namespace: c.namespace },
      spec: { workspaceRef: { name: c.workspace }, countryCode: "US", type: "local" },
    }),
  "spec-is-a-string": (c) =>
    stringify({
      apiVersion: API_VERSION,
      kind: "PhoneNumber",
      metadata: { name: "spec-string", namespace: c.namespace },
      spec: "buy me a number",
    }),
  "annotation-too-large": (c) =>
    stringify({
      apiVersion: API_VERSION,
      kind: "PhoneNumber",
      metadata: { name: "huge-annotation", namespace: c.namespace, annotations: { junk: "x".repeat(300_000) } },
      spec: { workspaceRef: { name: c.workspace }, countryCode: "US", type: "local" },
    }),
};

/** Valid for the API server, wrong for Bird or the cluster: each must end in this Ready reason. */
function phoneNumberSemantics(c: BadInputContext): Semantic[] {
  return [
    {
      family: "workspace-missing",
      spec: () => ({ workspaceRef: { name: "no-such-workspace" }, countryCode: "US", type: "local" }),
      reason: Reason.WorkspaceNotFound,
    },
    {
      family: "country-not-stocked",
      spec: () => ({ countryCode: "FR", type: "local" }),
      reason: Reason.NumberUnavailable,
    },
    {
      family: "country-not-a-country",
      spec: () => ({ countryCode: "ZZ", type: "mobile" }),
      reason: Reason.NumberUnavailable,
    },
    {
      family: "type-not-stocked",
      spec: () => ({ countryCode: "CA", type: "mobile" }),
      reason: Reason.NumberUnavailable,
    },
    {
      family: "country-forbidden",
      spec: () => ({ countryCode: "DE", type: "mobile" }),
      reason: Reason.PolicyViolation,
    },
    {
      family: "price-too-low",
      spec: () => ({
        countryCode: "US",
        type: "local",
        maxMonthlyPrice: { currencyCode: "EUR", amount: 1, exponent: -6 },
      }),
      reason: Reason.PriceAboveLimit,
    },
    {
      family: "prefix-other-country",
      spec: () => ({ countryCode: "US", type: "local", prefix: "+4420" }),
      reason: Reason.NumberUnavailable,
    },
    {
      family: "capability-not-offered",
      spec: () => ({ countryCode: "GB", type: "local", capabilities: ["sms-outbound"] }),
      reason: Reason.NumberUnavailable,
    },
    {
      family: "number-not-anywhere",
      spec: (r) => ({ numberString: `+1999${String(Math.floor(r() * 1e7)).padStart(7, "0")}` }),
      reason: Reason.NumberUnavailable,
    },
    {
      family: "observe-only-not-owned",
      spec: () => ({ numberString: "+31201234567", managementPolicy: "ObserveOnly" }),
      reason: Reason.NumberUnavailable,
    },
    { family: "number-owned-by-another", spec: () => ({ numberString: c.ownedNumber }), reason: Reason.NumberConflict },
    // Annotations prove nothing (a tenant writes them): a made-up number id is ignored and the spec is bought.
    {
      family: "annotation-unknown-number-id",
      spec: () => ({ countryCode: "US", type: "local" }),
      annotations: { "numbers.birdoperator.dev/number-id": "00000000-0000-4000-8000-000000000000" },
      reason: Reason.Available,
    },
    {
      family: "annotation-dot-number-id",
      spec: () => ({ countryCode: "US", type: "local" }),
      annotations: { "numbers.birdoperator.dev/number-id": ".." },
      reason: Reason.Available,
    },
    {
      family: "annotation-path-number-id",
      spec: () => ({ countryCode: "US", type: "local" }),
      annotations: { "numbers.birdoperator.dev/number-id": "../../numbers-alpha" },
      reason: Reason.Available,
    },
    {
      family: "annotation-intent-not-json",
      spec: () => ({ countryCode: "US", type: "local" }),
      annotations: { "numbers.birdoperator.dev/purchase-intent": "{not json" },
      reason: Reason.Available,
    },
    {
      family: "annotation-intent-stale",
      spec: () => ({ countryCode: "CA", type: "local" }),
      annotations: {
        "numbers.birdoperator.dev/purchase-intent": JSON.stringify({
          stockItemId: "x",
          numberString: "+14165550000",
          startedAt: "2020-01-01T00:00:00Z",
        }),
      },
      reason: Reason.Available,
    },
    {
      family: "destination-not-a-country",
      spec: () => ({ countryCode: "US", type: "local", destinations: [{ capability: "sms", countryCodes: ["ZZ"] }] }),
      reason: Reason.DestinationUnavailable,
    },
    // sms destinations need sms-outbound: no GB local number has it,
    // so none is bought (not one that cannot serve them).
    {
      family: "destination-capability-missing",
      spec: () => ({ countryCode: "GB", type: "local", destinations: [{ capability: "sms", countryCodes: ["GB"] }] }),
      reason: Reason.NumberUnavailable,
    },
  ];
}

function alphaSenderSemantics(c: BadInputContext): Semantic[] {
  return [
    {
      family: "sender-workspace-missing",
      spec: () => ({
        workspaceRef: { name: "no-such-workspace" },
        alphaString: c.sender.alphaString,
        countries: ["NL"],
      }),
      reason: Reason.WorkspaceNotFound,
    },
    {
      family: "sender-not-registered",
      spec: (r) => ({ alphaString: `NOPE${Math.floor(r() * 1e5)}`, countries: ["NL"] }),
      reason: Reason.SenderNotFound,
    },
    {
      family: "sender-id-unknown",
      spec: () => ({ alphaNumberId: "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", countries: ["NL"] }),
      reason: Reason.SenderNotFound,
    },
    { family: "sender-country-unsupported", spec: () => ({ alphaString: c.sender.alphaString, countries: ["US"] }) },
    {
      family: "sender-country-blocked",
      spec: () => ({ alphaString: c.sender.alphaString, countries: [c.sender.blockedCountry] }),
    },
    {
      family: "sender-price-too-low",
      spec: () => ({
        alphaString: c.sender.alphaString,
        countries: ["FR"],
        maxMonthlyPricePerCountry: { currencyCode: "EUR", amount: 1, exponent: -6 },
      }),
    },
  ];
}

/**
 * At least `count` manifests: schema damage the API server must refuse, files kubectl cannot parse, and valid
 * objects that are wrong for Bird or the cluster, each of which must end in a clear condition.
 */
export function generateBadInputs(c: BadInputContext, r: Random, count: number): BadInput[] {
  const out: BadInput[] = [];
  const add = (
    family: string,
    kind: BadInput["kind"],
    doc: Doc | undefined,
    text: string,
    expectReason?: string,
  ): void => {
    const name = (doc?.metadata as { name?: string } | undefined)?.name;
    out.push({ file: `${String(out.length).padStart(3, "0")}-${family}.yaml`, family, kind, name, text, expectReason });
  };
  const nameFor = (family: string): string => `bad-${out.length}-${family}`.slice(0, 63).replace(/-+$/, "");
  const pn = (family: string, spec: Doc, annotations?: Record<string, string>): Doc => ({
    apiVersion: API_VERSION,
    kind: "PhoneNumber",
    metadata: { name: nameFor(family), namespace: c.namespace, ...(annotations ? { annotations } : {}) },
    spec: { workspaceRef: { name: c.workspace }, ...spec },
  });
  const as = (family: string, spec: Doc): Doc => ({
    apiVersion: API_VERSION,
    kind: "AlphaSender",
    metadata: { name: nameFor(family), namespace: c.namespace },
    spec: { workspaceRef: { name: c.workspace }, ...spec },
  });
  const ws = (family: string, spec: Doc): Doc => ({
    apiVersion: API_VERSION,
    kind: "BirdWorkspace",
    metadata: { name: nameFor(`ws-${family}`), labels: c.label },
    spec: {
      organizationId: ORGANIZATION_ID,
      workspaceId: WORKSPACE_ID,
      endpoint: c.endpoint,
      accessKeySecretRef: { namespace: c.namespace, name: "bird-access-key", key: "accessKey" },
      ...spec,
    },
  });

  for (const [family, raw] of Object.entries(RAW)) add(family, undefined, undefined, raw(c));
  const semantics = [
    ...phoneNumberSemantics(c).map((s) => ({ ...s, kind: "PhoneNumber" as const })),
    ...alphaSenderSemantics(c).map((s) => ({ ...s, kind: "AlphaSender" as const })),
  ];
  for (const s of semantics) {
    const doc = s.kind === "PhoneNumber" ? pn(s.family, s.spec(r), s.annotations) : as(s.family, s.spec(r));
    add(s.family, s.kind, doc, stringify(doc), s.reason);
  }
  const families = [
    ...Object.entries(PN_MUTATIONS).map(([f, m]) => ({ f, kind: "PhoneNumber" as const, m, weight: 3 })),
    ...Object.entries(AS_MUTATIONS).map(([f, m]) => ({ f, kind: "AlphaSender" as const, m, weight: 2 })),
    ...Object.entries(WS_MUTATIONS).map(([f, m]) => ({ f, kind: "BirdWorkspace" as const, m, weight: 1 })),
  ].flatMap((x) => Array.from({ length: x.weight }, () => x));
  // Every mutation once, then random ones (and random pairs) until there are enough.
  const order = [...new Map(families.map((x) => [`${x.kind}/${x.f}`, x])).values()];
  while (out.length < count || order.length) {
    const first = order.shift() ?? pick(r, families);
    const second =
      order.length === 0 && r() < 0.3
        ? pick(
            r,
            families.filter((x) => x.kind === first.kind),
          )
        : undefined;
    const family = second ? `${first.f}+${second.f}` : first.f;
    const base: Doc =
      first.kind === "PhoneNumber"
        ? { countryCode: "US", type: "local" }
        : first.kind === "AlphaSender"
          ? { alphaString: c.sender.alphaString, countries: ["NL"] }
          : {};
    const spec = structuredClone(base);
    first.m(spec, r);
    second?.m(spec, r);
    const doc =
      first.kind === "PhoneNumber"
        ? pn(family, spec)
        : first.kind === "AlphaSender"
          ? as(family, spec)
          : ws(family, spec);
    // A junk mutation can remove the workspaceRef the helpers put in; that is the point.
    if ((first.f === "no-workspace" || second?.f === "no-workspace") && doc.spec && typeof doc.spec === "object")
      delete (doc.spec as Doc).workspaceRef;
    add(family, first.kind, doc, stringify(doc));
  }
  return out;
}

/** The BirdWorkspaces the issue names, with the reason each must report. */
export function brokenWorkspaces(
  c: BadInputContext,
  unreachable: string,
): { name: string; doc: Doc; reason: string }[] {
  const make = (suffix: string, spec: Doc, reason: string): { name: string; doc: Doc; reason: string } => {
    const name = `${c.namespace}-${suffix}`;
    return {
      name,
      reason,
      doc: {
        apiVersion: API_VERSION,
        kind: "BirdWorkspace",
        metadata: { name, labels: c.label },
        spec: {
          organizationId: ORGANIZATION_ID,
          workspaceId: WORKSPACE_ID,
          endpoint: c.endpoint,
          accessKeySecretRef: { namespace: c.namespace, name: "bird-access-key", key: "accessKey" },
          ...spec,
        },
      },
    };
  };
  return [
    make(
      "missing-secret",
      { accessKeySecretRef: { namespace: c.namespace, name: "no-such-secret", key: "accessKey" } },
      Reason.SecretNotFound,
    ),
    make(
      "secret-elsewhere",
      { accessKeySecretRef: { namespace: "kube-system", name: "bird-access-key", key: "accessKey" } },
      Reason.SecretNotFound,
    ),
    make(
      "wrong-key-name",
      { accessKeySecretRef: { namespace: c.namespace, name: "bird-access-key", key: "apiKey" } },
      Reason.KeyNotFound,
    ),
    make(
      "wrong-key-value",
      { accessKeySecretRef: { namespace: c.namespace, name: "wrong-access-key", key: "accessKey" } },
      Reason.Unauthorized,
    ),
    make("other-workspace", { workspaceId: "99999999-9999-4999-8999-999999999999" }, Reason.PermissionDenied),
    make("unreachable", { endpoint: unreachable }, Reason.BirdUnreachable),
    make("not-bird", { endpoint: `${c.endpoint}/_simulator/state` }, Reason.BirdUnreachable),
  ];
}
