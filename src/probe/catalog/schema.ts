import { EVENT_ID } from "js-yaml";
import { LINK_STATES, MEDIA, ROLES } from "../../model/index.ts";
import {
  id,
  type Infer,
  INVALID,
  list,
  number,
  object,
  oneOf,
  optional,
  plainKind,
  required,
  scalar,
  type Schema,
  text,
  withDefault,
} from "../../model/kit.ts";
import { PROBE_KINDS } from "../types.ts";
import { DURATION_UNITS, parseDuration } from "../../lib/duration.ts";
import { dataRecord } from "../../lib/records.ts";

/**
 * The schema of a `checks/*.yaml` file, built from the model's event-stream
 * schema library so a catalog finding has the same `file:line:col` shape as
 * an inventory finding. Kind-specific parts (params, conditions) are read
 * here as plain data and checked against the probe kind in load.ts, which
 * knows where each one sits.
 */

export const OBJECTS = ["servers", "links", "devices"] as const;
export type ObjectKind = (typeof OBJECTS)[number];

/** `2s`, `500ms`: a duration in milliseconds. */
export const duration = (options: { min: number; max: number }) =>
  scalar("a duration such as 2s or 500ms", (value, r, node) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      r.report(
        "schema.bad-value",
        node,
        `"${value.slice(0, 30)}" is not a duration`,
        `write a number and a unit: ${Object.keys(DURATION_UNITS).join(", ")} (e.g. 2s)`,
      );
      return INVALID;
    }
    if (ms < options.min || ms > options.max) {
      r.report("schema.bad-value", node, `${value} is outside ${options.min}ms…${options.max / 1000}s`, "pick a value in that range");
      return INVALID;
    }
    return ms;
  });

export type ParamValue = string | number | boolean | string[];

/** A mapping of names to scalars (or lists of them), typed later by the probe kind. */
export const paramMap: Schema<Record<string, ParamValue>> = {
  expected: "a mapping of parameters",
  read(r) {
    const node = r.i;
    if (r.kinds[node] === EVENT_ID.SCALAR && plainKind(r, node) === "nothing") {
      r.i = node + 1;
      return {};
    }
    if (r.kinds[node] !== EVENT_ID.MAPPING) return r.wrongType("a mapping of parameters");
    const out = dataRecord<ParamValue>();
    let ok = true;
    r.i = node + 1;
    while (r.i < r.kinds.length && r.kinds[r.i] !== EVENT_ID.POP) {
      if (r.kinds[r.i] !== EVENT_ID.SCALAR) {
        r.report("schema.wrong-type", r.i, "a key must be plain text", "write `name: value`");
        r.i = r.source.skip(r.source.skip(r.i));
        ok = false;
        continue;
      }
      const keyNode = r.i;
      const name = r.text(keyNode);
      r.i++;
      if (Object.hasOwn(out, name)) {
        r.report("yaml.duplicate-key", keyNode, `parameter "${name}" appears twice`, "keep one of them");
        ok = false;
      }
      const valueKind = r.kinds[r.i];
      if (valueKind === EVENT_ID.SCALAR) {
        out[name] = typed(plainKind(r, r.i), r.text(r.i));
        r.i++;
      } else if (valueKind === EVENT_ID.SEQUENCE) {
        const items = list(text()).read(r);
        if (items === INVALID) ok = false;
        else out[name] = items;
      } else {
        r.wrongType("a value or a list of values");
        ok = false;
      }
    }
    r.i++;
    return ok ? out : INVALID;
  },
};

function typed(kind: ReturnType<typeof plainKind>, value: string): string | number | boolean {
  if (kind === "a number") return Number(value.replaceAll("_", ""));
  if (kind === "a boolean") return /^t/i.test(value);
  return value;
}

export const selector = object(
  {
    objects: required(oneOf(OBJECTS), `what the check probes: ${OBJECTS.join(" | ")}`),
    roles: optional(list(oneOf(ROLES), { min: 1 }), "servers with any of these roles"),
    servers: optional(list(id(), { min: 1 }), "these servers (ids)"),
    sites: optional(list(id(), { min: 1 }), "servers on these sites"),
    medium: optional(list(oneOf(MEDIA), { min: 1 }), "links of these media"),
    operators: optional(list(id(), { min: 1 }), "links of these operators"),
    districts: optional(list(id(), { min: 1 }), "stations of these electoral districts"),
    stationKind: optional(list(oneOf(["fixed", "mobile"] as const), { min: 1 }), "fixed | mobile stations"),
    setting: optional(list(oneOf(["urban", "rural"] as const), { min: 1 }), "urban | rural stations"),
    lifecycle: optional(list(oneOf(LINK_STATES), { min: 1 }), "links in these lifecycle states (default: live)"),
  },
  { origin: true },
);

export const check = object(
  {
    id: required(id(), "an id such as link-icmp"),
    name: optional(text(), "a name for people"),
    probe: required(oneOf(PROBE_KINDS), PROBE_KINDS.join(" | ")),
    select: required(selector, "which inventory objects it applies to"),
    port: optional(number({ min: 1, max: 65535, integer: true }), "the port (default per probe kind)"),
    timeout: withDefault(duration({ min: 10, max: 120_000 }), 2000, "per attempt, e.g. 2s"),
    retries: withDefault(number({ min: 0, max: 5, integer: true }), 1, "extra attempts to confirm a failure"),
    params: withDefault(paramMap, {}, "probe-kind parameters (see docs/checks.md)"),
    dependsOn: withDefault(list(id()), [], "checks whose failure makes this one unreachable"),
    conditions: withDefault(list(text({ max: 500 })), [], "conditions such as `[RTT] < 150ms`"),
  },
  { id: "id", origin: true },
);

export const catalogFile = object({
  limits: optional(
    object({
      operators: withDefault(paramMap, {}, "probes per second per operator id"),
    }),
    "rate limits",
  ),
  checks: withDefault(list(check), [], "the checks"),
});

export type CheckDecl = Infer<typeof check>;
export type SelectorDecl = Infer<typeof selector>;
export type CatalogFileDecl = Infer<typeof catalogFile>;
