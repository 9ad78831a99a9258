import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCrds, REPO_ROOT, type CrdSchema } from "../../scripts/generate-crd-types.js";

/** Static rules for the CRD sources; crds.test.ts proves on a real API server that they behave. */
const crds = readCrds(join(REPO_ROOT, "crds"));

interface Field {
  path: string;
  schema: CrdSchema;
}

/** Every schema below `schema`, with a readable path (`[]` for array items). */
function fields(schema: CrdSchema, path: string): Field[] {
  const children: Field[] = Object.entries(schema.properties ?? {}).map(([key, child]) => ({
    path: `${path}.${key}`,
    schema: child,
  }));
  if (schema.items) children.push({ path: `${path}[]`, schema: schema.items });
  if (typeof schema.additionalProperties === "object")
    children.push({ path: `${path}{}`, schema: schema.additionalProperties });
  return children.flatMap((child) => [child, ...fields(child.schema, child.path)]);
}

describe.each(crds.map((crd) => ({ kind: crd.spec.names.kind, crd })))("$kind CRD", ({ kind, crd }) => {
  const root = crd.spec.versions[0]?.schema.openAPIV3Schema ?? {};
  const all = fields(root, kind);
  const spec = all.filter((field) => field.path.startsWith(`${kind}.spec`));

  it("documents every field, so kubectl explain teaches the API", () => {
    const undocumented = all
      .filter(({ path }) => !path.endsWith("[]") && !path.endsWith("{}") && path !== `${kind}.metadata`)
      .filter(({ schema }) => !schema.description?.trim())
      .map(({ path }) => path);
    expect(undocumented).toEqual([]);
  });

  it("bounds every spec string and list, so CEL cost estimates stay low", () => {
    const unbounded = spec
      .filter(
        ({ schema }) =>
          (schema.type === "string" && !schema.enum && schema.maxLength === undefined) ||
          (schema.type === "array" && schema.maxItems === undefined),
      )
      .map(({ path }) => path);
    expect(unbounded).toEqual([]);
  });

  // Ownership records are written whole (the claim and the purchase intent in one create), so they have no status
  // subresource, and they stay out of category bird, which tenants list (kubectl get bird) but may not read records of.
  const isRecord = kind === "BirdNumber" || kind === "BirdSender";
  it(
    isRecord
      ? "is one served storage version without a status subresource, in category bird-records"
      : "is one served storage version with a status subresource, in category bird",
    () => {
      const raw = crd as unknown as {
        spec: {
          names: { categories?: string[] };
          versions: { served: boolean; storage: boolean; subresources?: { status?: object } }[];
        };
      };
      expect(raw.spec.names.categories).toEqual([isRecord ? "bird-records" : "bird"]);
      expect(raw.spec.versions).toHaveLength(1);
      expect(raw.spec.versions[0]).toMatchObject({ served: true, storage: true });
      expect(raw.spec.versions[0]?.subresources?.status).toEqual(isRecord ? undefined : {});
    },
  );
});
