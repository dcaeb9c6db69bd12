import { createHash } from "node:crypto";
import { UsageError } from "../../lib/errors.ts";
import { renderServer } from "../../model/render/index.ts";
import type { Inventory, Role } from "../../model/index.ts";
import type { Plan } from "../plan.ts";
import { type ExpectedFault, type ResultLine, signalOf } from "./attribution.ts";
import type { Scope, ScopeLink } from "./scope.ts";

/**
 * The drills: which fault each injects, chosen from the inventory and the
 * baseline campaign (a cut of a link that was already down would show
 * nothing), and as what a perfect pipeline would name it.
 */
export const SCENARIOS = ["fiber-cut", "operator-outage", "pop-lost", "gateway-lost", "dns-down", "clock-skew", "cert-expiring"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const SCENARIO_HELP: Readonly<Record<Scenario, string>> = {
  "fiber-cut": "the fiber links of a share of the stations (--share, default 20%) stop answering",
  "operator-outage": "every link of one operator (--target OPERATOR; default: the one with most links in scope)",
  "pop-lost": "every link that depends on one point of presence, through its backhaul too (--target POP)",
  "gateway-lost": "a gateway's services (nginx, check-in recorder) stop (--target SERVER)",
  "dns-down": "a DNS server's unbound stops (--target SERVER)",
  "clock-skew": "a time server's chronyd runs under faketime, 10 minutes ahead (--target SERVER); this machine's clock is never touched",
  "cert-expiring": "a gateway serves a certificate of the election CA that expires before election day (--target SERVER)",
};

/** How far ahead the clock-skew drill puts a time server (libfaketime's relative offset). */
export const SKEW_OFFSET = "+10m";

/** A daemon of a server as the drill stops and restarts it: the role's own commands (ServiceSpec). */
export interface ServiceScript {
  readonly name: string;
  readonly start: string;
  readonly stop: string;
}

/** One change to kernel or process state, with everything needed to undo it (kept in the drill marker). */
export type Action =
  | { readonly kind: "drop"; readonly ns: string; readonly operator: string; readonly addresses: readonly string[] }
  | { readonly kind: "stop"; readonly ns: string; readonly server: string; readonly services: readonly ServiceScript[] }
  | { readonly kind: "skew"; readonly ns: string; readonly server: string; readonly root: string; readonly offset: string; readonly service: ServiceScript }
  | {
      readonly kind: "cert";
      readonly ns: string;
      readonly server: string;
      /** The drill's own nginx: its directory (config, certificate, key, pid), and the stack's nginx it stands in for. */
      readonly dir: string;
      readonly notAfter: string;
      readonly service: ServiceScript;
    };

/** Which stations a fault should push onto another path, and which path. */
export interface Affected {
  /** "links": the stations' injected links fail; "gateway": their primary gateway fails; "none": no station should notice. */
  readonly kind: "links" | "gateway" | "none";
  readonly stations: readonly string[];
  /** Injected link ids (every operator namespace, in scope or not). */
  readonly links: readonly string[];
  readonly gateway?: string;
}

export interface FaultPlan {
  readonly scenario: Scenario;
  readonly description: string;
  readonly expected: readonly ExpectedFault[];
  readonly actions: readonly Action[];
  readonly affected: Affected;
  /** Said about the choice (e.g. a target that was not healthy in the baseline). */
  readonly notes: readonly string[];
}

export interface PlanContext {
  readonly inventory: Inventory;
  /** The drill's scope (one district or all) and the whole inventory's. */
  readonly scope: Scope;
  readonly whole: Scope;
  readonly plan: Plan;
  readonly baseline: ReadonlyMap<string, ResultLine>;
  /** Server id → its root in the rehearsal (the pins overlay). */
  readonly roots: ReadonlyMap<string, string>;
  /** Where the cert drill keeps its nginx (a directory of the drill's own). */
  readonly drillDir: string;
}

export interface ScenarioOptions {
  readonly scenario: Scenario;
  /** Fiber cut: the share of stations (0 < share ≤ 1). */
  readonly share: number;
  readonly target?: string;
}

/** `20%`, `0.2` → 0.2; a usage error otherwise. */
export function parseShare(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  const value = match === null ? Number.NaN : Number(match[1]) / (match[2] === "%" ? 100 : 1);
  if (!(value > 0 && value <= 1))
    throw new UsageError(`--share ${JSON.stringify(text)}: expected a share of the stations such as 20% or 0.2 (more than 0, at most 100%)`, {
      hint: "see `amadegi drill --help`",
    });
  return value;
}

/** Links the baseline saw answer: a check of theirs was up, degraded, or only slow. */
export function observableLinks(scope: Scope, baseline: ReadonlyMap<string, ResultLine>): Set<string> {
  const ok = new Set<string>();
  for (const r of baseline.values()) {
    if (r.link === undefined || !scope.linksById.has(r.link)) continue;
    const s = signalOf(r);
    if (s === "ok" || s === "quality") ok.add(r.link);
  }
  return ok;
}

/** Servers every result of which was healthy (or only slow) in the baseline. */
export function cleanServers(baseline: ReadonlyMap<string, ResultLine>): Set<string> {
  const seen = new Set<string>();
  const dirty = new Set<string>();
  for (const r of baseline.values()) {
    if (r.server === undefined || r.link !== undefined) continue;
    seen.add(r.server);
    const s = signalOf(r);
    if (s !== "ok" && s !== "quality") dirty.add(r.server);
  }
  return new Set([...seen].filter((s) => !dirty.has(s)));
}

const order = (text: string): string => createHash("sha256").update(text).digest("hex");

function byOperatorNs(ctx: PlanContext, links: readonly ScopeLink[]): Action[] {
  const byOperator = new Map<string, string[]>();
  for (const l of links) byOperator.set(l.operator, [...(byOperator.get(l.operator) ?? []), l.address]);
  const actions: Action[] = [];
  for (const [operator, addresses] of [...byOperator].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ns = ctx.plan.operators.find((o) => o.id === operator)?.ns;
    if (ns === undefined)
      throw new UsageError(`operator ${operator} has no namespace in the rehearsal`, {
        hint: "run `amadegi rehearsal up` again: it was built from another inventory",
      });
    actions.push({ kind: "drop", ns, operator, addresses: [...new Set(addresses)].sort() });
  }
  return actions;
}

function stationsOf(scope: Scope, links: readonly string[]): string[] {
  const set = new Set(links);
  return [...new Set(scope.links.filter((l) => set.has(l.id)).map((l) => l.station))].sort();
}

function services(ctx: PlanContext, server: string, role: Role): ServiceScript[] {
  const s = ctx.inventory.serversById.get(server);
  const root = ctx.roots.get(server);
  if (s === undefined || root === undefined)
    throw new UsageError(`server ${server} is not in the rehearsal's pins overlay`, { hint: "run `amadegi rehearsal up` again" });
  const render = renderServer(ctx.inventory, server, { root, environment: "rehearsal", address: s.address }).find((r) => r.role === role);
  return (render?.services ?? []).map((svc) => ({ name: svc.name, start: svc.start, stop: svc.stop }));
}

/** A server of `role`: the target (checked), or the default the scenario prefers among those healthy in the baseline. */
function pickServer(ctx: PlanContext, role: Role, target: string | undefined, prefer: (ids: string[]) => string[], notes: string[]): string {
  const ofRole = ctx.inventory.servers.filter((s) => s.roles.includes(role)).map((s) => s.id);
  if (ofRole.length === 0) throw new UsageError(`the inventory has no server with role ${role}`, { hint: "servers.yaml" });
  const clean = cleanServers(ctx.baseline);
  if (target !== undefined) {
    if (!ofRole.includes(target))
      throw new UsageError(`--target ${target}: not a server with role ${role} (those are ${ofRole.join(", ")})`, { hint: "see `amadegi drill --help`" });
    if (!clean.has(target)) notes.push(`${target} was not healthy in the baseline: its fault may not be told apart from what it already showed`);
    return target;
  }
  const [first] = prefer(ofRole.filter((id) => clean.has(id)));
  if (first === undefined)
    throw new UsageError(`no server with role ${role} was healthy in the baseline campaign: a fault on one would not show`, {
      hint: "see the baseline results; name one with --target",
    });
  return first;
}

/** Gateways by how many stations of the scope they are primary for, most first. */
function busiestGateways(ctx: PlanContext): (ids: string[]) => string[] {
  const count = new Map<string, number>();
  for (const [, [primary]] of ctx.scope.gateways) count.set(primary, (count.get(primary) ?? 0) + 1);
  return (ids) => [...ids].sort((a, b) => (count.get(b) ?? 0) - (count.get(a) ?? 0) || (a < b ? -1 : 1));
}

const sorted = (ids: string[]): string[] => [...ids].sort();

/** The faults of `options.scenario`, chosen against the baseline. */
export function planFaults(ctx: PlanContext, options: ScenarioOptions): FaultPlan {
  const notes: string[] = [];
  const observable = observableLinks(ctx.scope, ctx.baseline);
  const seen = (ids: readonly string[] | undefined): string[] => (ids ?? []).filter((id) => observable.has(id)).sort();
  const where = ctx.scope.district === undefined ? "the inventory" : `district ${ctx.scope.district}`;
  switch (options.scenario) {
    case "fiber-cut": {
      if (options.target !== undefined)
        throw new UsageError("--target does not apply to fiber-cut (it cuts a --share of the stations)", { hint: "see `amadegi drill --help`" });
      const candidates = [...ctx.scope.stations]
        .map(([station, links]) => ({ station, fiber: links.filter((l) => l.medium === "fiber" && l.live && observable.has(l.id)) }))
        .filter((c) => c.fiber.length > 0)
        .sort((a, b) => (order(a.station) < order(b.station) ? -1 : 1));
      if (candidates.length === 0)
        throw new UsageError(`no station of ${where} has a live fiber link that answered in the baseline`, { hint: "pick another --district or scenario" });
      const n = Math.max(1, Math.round(options.share * candidates.length));
      let picked = candidates.slice(0, n).flatMap((c) => c.fiber);
      // A cut of every link of an operator or of a point of presence is that outage, and the pipeline
      // rightly calls it so: a fiber cut leaves at least one observable link of each untouched.
      for (const group of [...ctx.scope.operators.values(), ...ctx.scope.pops.values()]) {
        const members = seen(group);
        const chosen = picked.filter((l) => members.includes(l.id));
        if (members.length >= 2 && chosen.length === members.length) {
          const spare = chosen[chosen.length - 1];
          picked = picked.filter((l) => l !== spare);
          notes.push(`left ${spare?.id ?? "?"} uncut: cutting it too would take every link of a point of presence or operator`);
        }
      }
      if (picked.length === 0)
        throw new UsageError(`no fiber link of ${where} can be cut without taking a whole point of presence`, { hint: "use pop-lost or operator-outage" });
      const ids = picked.map((l) => l.id).sort();
      return {
        scenario: "fiber-cut",
        description:
          `fiber cut: ${ids.length} fiber links of ${stationsOf(ctx.scope, ids).length} of ${candidates.length} stations ` +
          `with fiber in ${where} (${Math.round(options.share * 100)}%)`,
        expected: ids.map((id) => ({ object: { kind: "link", id }, cause: "path-lost", links: [id] })),
        actions: byOperatorNs(ctx, picked),
        affected: { kind: "links", stations: stationsOf(ctx.scope, ids), links: ids },
        notes,
      };
    }
    case "operator-outage": {
      const operators = [...ctx.scope.operators].map(([id, links]) => ({ id, links: seen(links) }));
      let operator = options.target;
      if (operator !== undefined) {
        if (!ctx.inventory.operatorsById.has(operator))
          throw new UsageError(`--target ${operator}: no such operator (operators.yaml has ${ctx.inventory.operators.map((o) => o.id).join(", ")})`, {
            hint: "see `amadegi drill --help`",
          });
      } else {
        operator = operators.filter((o) => o.links.length >= 2).sort((a, b) => b.links.length - a.links.length || (a.id < b.id ? -1 : 1))[0]?.id;
        if (operator === undefined)
          throw new UsageError(`no operator has two links in ${where} that answered in the baseline`, { hint: "pick another --district" });
      }
      const expectedLinks = seen(ctx.scope.operators.get(operator));
      if (expectedLinks.length < 2)
        notes.push(`operator ${operator} has ${expectedLinks.length} observable links in ${where}: an outage needs two to be told from a cut`);
      const all = (ctx.whole.operators.get(operator) ?? []).map((id) => ctx.whole.linksById.get(id)).filter((l): l is ScopeLink => l !== undefined);
      const ids = all.map((l) => l.id);
      return {
        scenario: "operator-outage",
        description: `operator outage: every link of ${operator} (${all.length} in the rehearsal, ${expectedLinks.length} observable in ${where})`,
        expected: [{ object: { kind: "operator", id: operator }, cause: "path-lost", links: expectedLinks }],
        actions: byOperatorNs(ctx, all),
        affected: { kind: "links", stations: stationsOf(ctx.scope, ids), links: sorted(ids) },
        notes,
      };
    }
    case "pop-lost": {
      let pop = options.target;
      if (pop !== undefined) {
        if (!ctx.inventory.popsById.has(pop))
          throw new UsageError(`--target ${pop}: no such point of presence in operators.yaml`, { hint: "see `amadegi drill --help`" });
      } else {
        // Told apart only if it is neither all of its operator's links nor the same links as another PoP.
        const footprints = [...ctx.scope.pops].map(([id, links]) => ({ id, links: seen(links) }));
        const key = (links: string[]) => links.join(",");
        const counts = new Map<string, number>();
        for (const f of footprints) counts.set(key(f.links), (counts.get(key(f.links)) ?? 0) + 1);
        const operatorSets = new Set([...ctx.scope.operators.values()].map((links) => key(seen(links))));
        // A local one (at most half of its operator's links) over an aggregation that is nearly the operator.
        const local = (f: { id: string; links: string[] }): number =>
          f.links.length * 2 <= seen(ctx.scope.operators.get(ctx.scope.popOperator.get(f.id) ?? "")).length ? 0 : 1;
        pop = footprints
          .filter((f) => f.links.length >= 2 && counts.get(key(f.links)) === 1 && !operatorSets.has(key(f.links)))
          .sort((a, b) => local(a) - local(b) || b.links.length - a.links.length || (a.id < b.id ? -1 : 1))[0]?.id;
        if (pop === undefined)
          throw new UsageError(`no point of presence in ${where} can be told apart from its operator or another PoP`, { hint: "name one with --target" });
      }
      const expectedLinks = seen(ctx.scope.pops.get(pop));
      const all = (ctx.whole.pops.get(pop) ?? []).map((id) => ctx.whole.linksById.get(id)).filter((l): l is ScopeLink => l !== undefined);
      const ids = all.map((l) => l.id);
      const operators = [...new Set(all.map((l) => l.operator))].sort();
      return {
        scenario: "pop-lost",
        description:
          `point of presence lost: ${pop} (${ctx.scope.popOperator.get(pop) ?? "?"}) and what backhauls through it: ` +
          `${all.length} links of ${operators.join(", ")}, ${expectedLinks.length} observable in ${where}`,
        expected: [{ object: { kind: "pop", id: pop }, cause: "path-lost", links: expectedLinks }],
        actions: byOperatorNs(ctx, all),
        affected: { kind: "links", stations: stationsOf(ctx.scope, ids), links: sorted(ids) },
        notes,
      };
    }
    case "gateway-lost": {
      const server = pickServer(ctx, "gateway", options.target, busiestGateways(ctx), notes);
      const stations = [...ctx.scope.gateways]
        .filter(([, [primary]]) => primary === server)
        .map(([s]) => s)
        .sort();
      return {
        scenario: "gateway-lost",
        description: `gateway lost: ${server}'s nginx and check-in recorder stopped (primary of ${stations.length} stations in ${where})`,
        expected: [{ object: { kind: "server", id: server }, cause: "service-down", links: [] }],
        actions: [{ kind: "stop", ns: ctx.plan.core, server, services: services(ctx, server, "gateway") }],
        affected: { kind: "gateway", stations, links: [], gateway: server },
        notes,
      };
    }
    case "dns-down": {
      const server = pickServer(ctx, "dns", options.target, sorted, notes);
      return {
        scenario: "dns-down",
        description: `DNS down: ${server}'s unbound stopped`,
        expected: [{ object: { kind: "server", id: server }, cause: "service-down", links: [] }],
        actions: [{ kind: "stop", ns: ctx.plan.core, server, services: services(ctx, server, "dns") }],
        affected: { kind: "none", stations: [], links: [] },
        notes,
      };
    }
    case "clock-skew": {
      const server = pickServer(ctx, "ntp", options.target, sorted, notes);
      const [chronyd] = services(ctx, server, "ntp");
      if (chronyd === undefined) throw new UsageError(`server ${server} runs no time service`, { hint: "see docs/rehearsal.md" });
      return {
        scenario: "clock-skew",
        description: `clock skew: ${server}'s chronyd restarted under faketime ${SKEW_OFFSET} (its clock 10 minutes ahead; this machine's clock untouched)`,
        expected: [{ object: { kind: "server", id: server }, cause: "clock", links: [] }],
        actions: [{ kind: "skew", ns: ctx.plan.core, server, root: ctx.roots.get(server) ?? "", offset: SKEW_OFFSET, service: chronyd }],
        affected: { kind: "none", stations: [], links: [] },
        notes,
      };
    }
    case "cert-expiring": {
      const server = pickServer(ctx, "gateway", options.target, busiestGateways(ctx), notes);
      const nginx = services(ctx, server, "gateway").find((s) => s.name === "nginx");
      if (nginx === undefined) throw new UsageError(`server ${server} runs no nginx`, { hint: "see docs/rehearsal.md" });
      const day = Date.parse(`${ctx.inventory.election.day}T00:00:00Z`);
      // Valid today (devices keep checking in), expired by election day.
      const notAfter = new Date(Math.max(Date.now() + 2 * 86_400_000, day - 86_400_000)).toISOString().slice(0, 10);
      return {
        scenario: "cert-expiring",
        description:
          `certificate expiring: ${server} serves a certificate of the election CA valid until ${notAfter}, ` +
          `before election day ${ctx.inventory.election.day}`,
        expected: [{ object: { kind: "server", id: server }, cause: "certificate", links: [] }],
        actions: [{ kind: "cert", ns: ctx.plan.core, server, dir: `${ctx.drillDir}/cert-${server}`, notAfter, service: nginx }],
        affected: { kind: "none", stations: [], links: [] },
        notes,
      };
    }
  }
}
