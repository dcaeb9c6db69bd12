import { type Dirent, readdirSync } from "node:fs";
import { join } from "node:path";
import { EVENT_ID, SCALAR_STYLE } from "js-yaml";
import {
  clip,
  closest,
  didYouMean,
  type Finding,
  FindingSink,
  INVALID,
  isPlainFile,
  type Location,
  type Origin,
  parseSource,
  Reader,
  readSource,
  scanText,
  scanValues,
  sortFindings,
  type SourceFile,
  Sources,
} from "../../model/kit.ts";
import type { Inventory } from "../../model/index.ts";
import { ProbeError } from "../../lib/errors.ts";
import type { ProbeKind } from "../types.ts";
import { type Condition, parseCondition } from "./condition.ts";
import { checkParam, PARAMS } from "./params.ts";
import { catalogFile, type CheckDecl, type ObjectKind, type ParamValue, type SelectorDecl } from "./schema.ts";
import { ownEntry } from "../../lib/records.ts";

/**
 * Load the check catalog, in the inventory's order: read → parse → schema
 * (model machinery, one event parse per file) → per-kind params and
 * conditions → references across files (and to the inventory, when given).
 * Every finding carries file:line:col; nothing is thrown for a bad catalog.
 */

export interface Check {
  readonly id: string;
  readonly name?: string;
  readonly kind: ProbeKind;
  readonly select: SelectorDecl;
  readonly port?: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly dependsOn: readonly string[];
  readonly conditions: readonly Condition[];
  readonly origin: Origin;
}

export interface Catalog {
  readonly checks: readonly Check[];
  readonly byId: ReadonlyMap<string, Check>;
  /** Probes per second allowed toward each operator's network. */
  readonly operatorRates: ReadonlyMap<string, number>;
}

export interface CatalogResult {
  /** Present when no error was found. */
  readonly catalog?: Catalog;
  readonly findings: Finding[];
  readonly sources: Sources;
}

/**
 * Names of inventory objects (operators, districts, sites, servers) are
 * checked only when an inventory is given, and only near misses are errors:
 * one catalog serves the rehearsal's and production's inventories alike.
 */

/** Which selector fields apply to which objects. */
const SELECT_FIELDS: Record<ObjectKind, readonly string[]> = {
  servers: ["objects", "roles", "servers", "sites"],
  links: ["objects", "medium", "operators", "districts", "stationKind", "setting", "lifecycle"],
  devices: ["objects", "medium", "operators", "districts", "stationKind", "setting", "lifecycle"],
};

/** Which objects each probe kind can be aimed at. */
const KIND_OBJECTS: Record<ProbeKind, readonly ObjectKind[]> = {
  icmp: ["servers", "links"],
  tcp: ["servers", "links"],
  tls: ["servers", "links"],
  http: ["servers", "links"],
  dns: ["servers"],
  ntp: ["servers"],
  ssh: ["servers"],
  checkin: ["devices"],
};

export interface CatalogOptions {
  /** Check ids and names against this inventory (operators, districts, sites, servers). */
  readonly inventory?: Inventory;
}

export function loadCatalog(dir: string, options: CatalogOptions = {}): CatalogResult {
  const sink = new FindingSink();
  const sources = new Sources();
  let entries: Dirent[];
  try {
    // `dir` itself may be a link (a checkout may be); nothing in it is followed.
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.name.endsWith(".yaml"));
  } catch (error) {
    throw new ProbeError(`cannot read the check catalog ${dir}: ${(error as Error).message}`, {
      file: dir,
      hint: "pass --checks DIR, the directory holding checks/*.yaml",
      cause: error,
    });
  }
  if (entries.length === 0)
    throw new ProbeError(`no checks in ${dir}`, { file: dir, hint: "a catalog holds one or more *.yaml files with a `checks:` list (docs/checks.md)" });

  const decls: { decl: CheckDecl; file: SourceFile }[] = [];
  const rates = new Map<string, { rate: number; origin: Origin; name: string }>();
  const note = "its checks are not loaded";
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    // A link, a named pipe or a directory named x.yaml is refused, never
    // opened; readSource judges again what it opened (O_NOFOLLOW, fstat).
    const path = join(dir, e.name);
    const source = isPlainFile(sink, path, e, note) ? readSource(path, sink, note) : undefined;
    if (source === undefined) continue;
    sources.add(source);
    scanText(source, sink);
    const parsed = parseSource(source, sink);
    scanValues(source, sink);
    if (!parsed) continue;
    const reader = new Reader(source, sink);
    reader.i = 1;
    const data = catalogFile.read(reader);
    if (data === INVALID) continue;
    for (const decl of data.checks) decls.push({ decl, file: source });
    const limitsNode = source.find(1, ["limits", "operators"]);
    for (const [op, rate] of Object.entries(data.limits?.operators ?? {})) {
      const at = source.at(source.find(limitsNode, [op]));
      if (typeof rate !== "number" || !(rate > 0)) {
        sink.add(
          "schema.bad-value",
          at,
          clip(op),
          `rate limit for operator "${clip(op)}" must be a positive number of probes per second`,
          "write e.g. mci: 200",
        );
      } else {
        rates.set(op, { rate, origin: { file: source.path, node: limitsNode }, name: op });
      }
    }
  }

  const early = sink.close();
  if (early.some((f) => f.severity === "error")) return { findings: sortFindings(early), sources };

  const late = new FindingSink();
  const checks: Check[] = [];
  const byId = new Map<string, Check>();
  const ids = new Map<string, Origin>();
  for (const { decl, file } of decls) {
    const report = (path: (string | number)[], rule: Parameters<FindingSink["add"]>[0], message: string, hint: string, key = false) =>
      late.add(rule, key ? sources.locateKey(decl.origin, ...path) : sources.locate(decl.origin, ...path), decl.id, message, hint);
    const first = ids.get(decl.id.toLowerCase());
    if (first !== undefined) {
      const at = sources.locate(first, "id");
      report(["id"], "uniqueness.id", `check id "${decl.id}" is used twice`, `first at ${at.file}:${at.line}:${at.col}; give each check its own id`);
      continue;
    }
    ids.set(decl.id.toLowerCase(), decl.origin);
    const kind = decl.probe;
    const objects = decl.select.objects;
    if (!KIND_OBJECTS[kind].includes(objects)) {
      report(
        ["select", "objects"],
        "schema.bad-value",
        `a ${kind} probe cannot be aimed at ${objects}`,
        `a ${kind} check selects ${KIND_OBJECTS[kind].join(" or ")}`,
      );
    }
    for (const field of Object.keys(decl.select)) {
      if (field === "origin" || SELECT_FIELDS[objects].includes(field)) continue;
      report(
        ["select", field],
        "schema.unknown-field",
        `select field "${field}" does not apply to ${objects}`,
        `${objects} are selected by ${SELECT_FIELDS[objects].slice(1).join(", ")}`,
        true,
      );
    }
    if (kind === "tcp" && decl.port === undefined) report([], "schema.missing-field", `a tcp check needs a port`, "add port: N");
    const specs = PARAMS[kind];
    for (const [param, value] of Object.entries(decl.params)) {
      const s = ownEntry(specs, param);
      if (s === undefined) {
        const known = Object.keys(specs);
        report(
          ["params", param],
          "schema.unknown-field",
          `unknown ${kind} parameter "${clip(param)}"${didYouMean(param, known)}`,
          known.length === 0 ? `a ${kind} check takes no parameters` : `${kind} parameters: ${known.join(", ")}`,
          true,
        );
        continue;
      }
      const wrong = checkParam(s, value);
      if (wrong !== undefined)
        report(
          ["params", param],
          "schema.bad-value",
          `${kind} parameter ${param}: ${clip(wrong, 80)}${typeof value === "string" && s.values !== undefined ? didYouMean(value, s.values) : ""}`,
          s.doc,
        );
    }
    for (const [param, s] of Object.entries(specs)) {
      if (s.required === true && !Object.hasOwn(decl.params, param))
        report(["params"], "schema.missing-field", `a ${kind} check needs the parameter "${param}"`, `add params: { ${param}: … } (${s.doc})`);
    }
    const conditions: Condition[] = [];
    decl.conditions.forEach((text, i) => {
      const parsed = parseCondition(text, kind);
      if (parsed.ok) {
        const c = parsed.condition;
        if (kind === "http" && decl.params.scheme !== "https" && (c.placeholder === "CERTIFICATE_EXPIRATION" || c.placeholder === "TLS_VERSION")) {
          late.add(
            "schema.bad-value",
            conditionAt(file, sources, decl.origin, i, 0),
            decl.id,
            `[${c.placeholder}] needs HTTPS, but this check speaks plain HTTP`,
            "add params: { scheme: https }, or drop the condition",
          );
        }
        conditions.push(c);
      } else {
        late.add(
          "schema.bad-value",
          conditionAt(file, sources, decl.origin, i, parsed.error.offset),
          decl.id,
          `condition "${clip(text, 60)}": ${parsed.error.message}`,
          parsed.error.hint,
        );
      }
    });
    if (options.inventory !== undefined) checkInventoryRefs(decl, options.inventory, report);
    const built: Check = {
      id: decl.id,
      ...(decl.name === undefined ? {} : { name: decl.name }),
      kind,
      select: decl.select,
      ...(decl.port === undefined ? {} : { port: decl.port }),
      timeoutMs: decl.timeout,
      retries: decl.retries,
      params: decl.params,
      dependsOn: decl.dependsOn,
      conditions,
      origin: decl.origin,
    };
    checks.push(built);
    byId.set(built.id, built);
  }
  for (const c of checks) {
    c.dependsOn.forEach((dep, i) => {
      if (!byId.has(dep)) {
        late.add(
          "reference.unknown",
          sources.locate(c.origin, "dependsOn", i),
          c.id,
          `dependsOn names check "${dep}": no such check${didYouMean(dep, byId.keys())}`,
          "name a check id of the catalog",
        );
      } else if (dep === c.id) {
        late.add("schema.bad-value", sources.locate(c.origin, "dependsOn", i), c.id, "a check cannot depend on itself", "remove it from dependsOn");
      }
    });
  }
  const cycle = findCycle(checks, byId);
  if (cycle !== undefined) {
    const head = byId.get(cycle[0] ?? "");
    if (head !== undefined)
      late.add(
        "schema.bad-value",
        sources.locate(head.origin, "dependsOn"),
        head.id,
        `dependsOn forms a cycle: ${cycle.join(" → ")}`,
        "break the cycle: dependencies point upstream only",
      );
  }
  if (options.inventory !== undefined) {
    for (const { name, origin } of rates.values()) {
      // A catalog serves several inventories: a name absent here is fine, a near miss is a typo.
      if (!options.inventory.operatorsById.has(name) && closest(name, options.inventory.operatorsById.keys()) !== undefined) {
        late.add(
          "reference.unknown",
          sources.locateKey(origin, name),
          clip(name),
          `limits name operator "${clip(name)}": no such operator${didYouMean(name, options.inventory.operatorsById.keys())}`,
          "use an operator id of inventory/operators.yaml",
        );
      }
    }
  }
  const findings = sortFindings([...early, ...late.close()]);
  if (findings.some((f) => f.severity === "error")) return { findings, sources };
  const operatorRates = new Map([...rates].map(([k, v]) => [k, v.rate]));
  return { catalog: { checks, byId, operatorRates }, findings, sources };
}

type Report = (path: (string | number)[], rule: Parameters<FindingSink["add"]>[0], message: string, hint: string, key?: boolean) => void;

function checkInventoryRefs(decl: CheckDecl, inv: Inventory, report: Report): void {
  const sel = decl.select;
  const lists: [keyof SelectorDecl, readonly string[] | undefined, Iterable<string>, string][] = [
    ["servers", sel.servers, inv.serversById.keys(), "server"],
    ["sites", sel.sites, inv.sitesById.keys(), "site"],
    ["operators", sel.operators, inv.operatorsById.keys(), "operator"],
    ["districts", sel.districts, inv.districtsById.keys(), "district"],
  ];
  for (const [field, values, known, what] of lists) {
    const set = new Set(known);
    values?.forEach((v, i) => {
      if (!set.has(v) && closest(v, set) !== undefined)
        report(
          ["select", field, i],
          "reference.unknown",
          `select names ${what} "${v}": no such ${what} in the inventory${didYouMean(v, set)}`,
          `use a ${what} id of the inventory`,
        );
    });
  }
}

/** A cycle through dependsOn, as a list of ids, or undefined. */
function findCycle(checks: readonly Check[], byId: ReadonlyMap<string, Check>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 2) return undefined;
    if (state.get(id) === 1) return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 1);
    stack.push(id);
    for (const dep of byId.get(id)?.dependsOn ?? []) {
      if (dep === id || !byId.has(dep)) continue;
      const found = visit(dep);
      if (found !== undefined) return found;
    }
    stack.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const c of checks) {
    const found = visit(c.id);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The position of character `offset` of condition `i`: the scalar's own start
 * plus the offset, walking quote escapes so the column lands on the token.
 */
function conditionAt(file: SourceFile, sources: Sources, origin: Origin, i: number, offset: number): Location {
  const node = file.find(origin.node, ["conditions", i]);
  const event = file.events[node];
  const start = sources.locate(origin, "conditions", i);
  if (event?.type !== EVENT_ID.SCALAR || event.valueStart < 0) return start;
  let pos = event.valueStart;
  const quote = event.style === SCALAR_STYLE.SINGLE_QUOTED ? "'" : event.style === SCALAR_STYLE.DOUBLE_QUOTED ? '"' : undefined;
  if (quote === undefined && event.style !== SCALAR_STYLE.PLAIN) return start;
  for (let n = 0; n < offset && pos < event.valueEnd; n++) {
    const c = file.text[pos];
    if (c === "\n" || c === "\r") return start;
    if (quote === "'" && c === "'" && file.text[pos + 1] === "'") pos += 2;
    else if (quote === '"' && c === "\\") pos += 2;
    else pos++;
  }
  return file.position(pos);
}
