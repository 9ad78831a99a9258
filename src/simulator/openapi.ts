import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse as parseYaml } from "yaml";
import type { FieldError } from "./errors.js";

type Json = Record<string, unknown>;
type ParameterKind = "array" | "integer" | "number" | "boolean" | "string";

interface ParameterSpec {
  name: string;
  in: "path" | "query";
  required: boolean;
  kind: ParameterKind;
}

export interface Operation {
  operationId: string;
  method: string;
  template: string;
  segments: string[];
  parameters: ParameterSpec[];
  validateParameters: ValidateFunction;
  validateBody?: ValidateFunction;
  bodyRequired: boolean;
  /** Compiled answer schemas by status; a status absent here is one the contract does not declare. */
  responses: Map<number, ValidateFunction>;
}

export interface ParsedParameters {
  path: Record<string, unknown>;
  query: Record<string, unknown>;
}

export type RouteMatch =
  | { kind: "operation"; operation: Operation; pathParams: Record<string, string> }
  | { kind: "method-not-allowed"; allowed: string[] }
  | { kind: "none" };

const SCHEMA_REF = "#/components/schemas/";
const METHODS = ["get", "post", "put", "patch", "delete"];

/** Makes the document's schema refs point into one registered schema, so ajv resolves them like any $ref. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== "object") return value;
  const out: Json = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] =
      key === "$ref" && typeof inner === "string" && inner.startsWith(SCHEMA_REF)
        ? `bird#/$defs/${inner.slice(SCHEMA_REF.length)}`
        : rewriteRefs(inner);
  }
  return out;
}

function resolveRef(document: Json, value: Json): Json {
  const ref = value.$ref;
  if (typeof ref !== "string" || ref.startsWith(SCHEMA_REF)) return value;
  let node: unknown = document;
  for (const part of ref.replace(/^#\//, "").split("/")) node = (node as Json | undefined)?.[part];
  if (node === undefined) throw new Error(`Unresolvable $ref ${ref} in the Bird contract`);
  return node as Json;
}

function kindOf(document: Json, schema: Json): ParameterKind {
  const resolved = typeof schema.$ref === "string" ? (document.components as Json).schemas : undefined;
  const target = resolved ? ((resolved as Json)[String(schema.$ref).slice(SCHEMA_REF.length)] as Json) : schema;
  const type = target.type;
  return type === "array" || type === "integer" || type === "number" || type === "boolean" ? type : "string";
}

function instanceField(path: string): string {
  return path
    .split("/")
    .filter(Boolean)
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join("");
}

function childField(error: ErrorObject): string | undefined {
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  return params.missingProperty ?? params.additionalProperty;
}

/** ajv errors as `{in, field, message}`: what a 422's `details.errors` names. */
export function fieldErrors(errors: readonly ErrorObject[], where: "body" | "parameters"): FieldError[] {
  return errors.slice(0, 20).map((error) => {
    const parts = error.instancePath.split("/").filter(Boolean);
    const location: FieldError["in"] = where === "body" ? "body" : parts.shift() === "path" ? "path" : "query";
    const child = childField(error);
    const field = [instanceField(parts.join("/")), child].filter(Boolean).join(parts.length && child ? "." : "");
    const message = error.keyword === "additionalProperties" ? "is not allowed" : (error.message ?? "is invalid");
    return { in: location, field: field || where, message };
  });
}

class ContractBuilder {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: Json) {
    addFormatsModule.default(this.ajv);
    // OpenAPI's own schema annotations: strict mode must not reject a contract that uses them.
    this.ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs"]);
    const schemas = (document.components as Json).schemas as Json;
    this.ajv.addSchema({ $id: "bird", $defs: rewriteRefs(schemas) });
  }

  compile(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) this.compiled.set(key, (validate = this.ajv.compile(rewriteRefs(schema) as Json)));
    return validate;
  }

  operation(template: string, method: string, spec: Json): Operation {
    const parameters = ((spec.parameters ?? []) as Json[]).map((p) => resolveRef(this.document, p));
    const group = (where: string): Json => {
      const own = parameters.filter((p) => p.in === where);
      return {
        type: "object",
        properties: Object.fromEntries(own.map((p) => [p.name, p.schema])),
        required: own.filter((p) => p.required === true).map((p) => p.name),
      };
    };
    const body = spec.requestBody as Json | undefined;
    const bodySchema = ((body?.content as Json | undefined)?.["application/json"] as Json | undefined)?.schema as
      Json | undefined;
    return {
      operationId: String(spec.operationId),
      method: method.toUpperCase(),
      template,
      segments: template.split("/").filter(Boolean),
      parameters: parameters.map((p) => ({
        name: String(p.name),
        in: p.in as "path" | "query",
        required: p.required === true,
        kind: kindOf(this.document, p.schema as Json),
      })),
      validateParameters: this.compile({ type: "object", properties: { path: group("path"), query: group("query") } }),
      ...(bodySchema ? { validateBody: this.compile(bodySchema) } : {}),
      bodyRequired: body?.required === true,
      responses: this.responses(spec.responses as Json),
    };
  }

  private responses(responses: Json): Map<number, ValidateFunction> {
    const compiled = new Map<number, ValidateFunction>();
    for (const [status, value] of Object.entries(responses)) {
      const response = resolveRef(this.document, value as Json);
      const schema = ((response.content as Json | undefined)?.["application/json"] as Json | undefined)?.schema as
        Json | undefined;
      compiled.set(Number(status), this.compile(schema ?? {}));
    }
    return compiled;
  }
}

/** openapi/bird.yaml turned into routes and validators: the single source of what requests and answers may be. */
export class BirdContract {
  private constructor(
    readonly operations: readonly Operation[],
    private readonly builder: ContractBuilder,
  ) {}

  /** A validator for one of `components.schemas`, e.g. `DeactivateDestinationsRequest`. */
  schema(name: string): ValidateFunction {
    return this.builder.compile({ $ref: `${SCHEMA_REF}${name}` });
  }

  static load(path: URL | string = new URL("../../openapi/bird.yaml", import.meta.url)): BirdContract {
    const document = parseYaml(readFileSync(path, "utf8")) as Json;
    const builder = new ContractBuilder(document);
    const operations: Operation[] = [];
    for (const [template, item] of Object.entries(document.paths as Json)) {
      for (const method of METHODS) {
        const spec = (item as Json)[method];
        if (spec) operations.push(builder.operation(template, method, spec as Json));
      }
    }
    // Literal segments win over parameters, whatever order the document lists paths in.
    const literals = (op: Operation): number => op.segments.filter((s) => !s.startsWith("{")).length;
    operations.sort((a, b) => literals(b) - literals(a));
    return new BirdContract(operations, builder);
  }

  match(method: string, pathname: string): RouteMatch {
    const parts = pathname.replace(/\/$/, "").split("/").filter(Boolean);
    const allowed: string[] = [];
    for (const operation of this.operations) {
      const pathParams = matchSegments(operation.segments, parts);
      if (!pathParams) continue;
      if (operation.method === method) return { kind: "operation", operation, pathParams };
      allowed.push(operation.method);
    }
    return allowed.length > 0 ? { kind: "method-not-allowed", allowed } : { kind: "none" };
  }
}

function matchSegments(segments: readonly string[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const part = parts[i] as string;
    if (segment.startsWith("{")) {
      try {
        params[segment.slice(1, -1)] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (segment !== part) return undefined;
  }
  return params;
}

function coerce(kind: ParameterKind, values: string[]): unknown {
  if (kind === "array") return values.flatMap((v) => v.split(","));
  const value = values[values.length - 1] ?? "";
  if (kind === "integer" && /^-?\d+$/.test(value)) return Number(value);
  if (kind === "number" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  if (kind === "boolean" && (value === "true" || value === "false")) return value === "true";
  return value;
}

/**
 * Query strings carry text; the contract's types decide how to read them. Arrays may come as repeated parameters
 * (what openapi-fetch sends) or comma-separated. Values that do not parse stay strings so validation names them.
 */
export function readParameters(
  operation: Operation,
  pathParams: Record<string, string>,
  query: URLSearchParams,
): ParsedParameters {
  const parsed: ParsedParameters = { path: { ...pathParams }, query: {} };
  for (const parameter of operation.parameters) {
    if (parameter.in !== "query") continue;
    const values = query.getAll(parameter.name);
    if (values.length > 0) parsed.query[parameter.name] = coerce(parameter.kind, values);
  }
  return parsed;
}

let shared: BirdContract | undefined;

/** Compiling the contract takes a moment; every simulator in the process shares one. */
export function birdContract(): BirdContract {
  return (shared ??= BirdContract.load());
}
