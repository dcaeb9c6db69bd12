import { Resolver } from "node:dns/promises";
import { ProbeError } from "../../lib/errors.ts";
import { assertAllowed } from "../allow.ts";
import type { Observation, Probe, ProbeContext, Target } from "../types.ts";
import { attemptSignal, errorCode, failed, since } from "./observe.ts";
import { stringParam, type ProbeOptions } from "./options.ts";

/**
 * Asks one given server (the target's address and port, default 53) one
 * question: params.name, params.type (A default; AAAA, CNAME, MX, NS, PTR,
 * SRV, TXT). A fresh Resolver per attempt, so nothing is cached between
 * attempts and the system resolver is never consulted. One try; retries are
 * the campaign's decision.
 *
 * An authoritative "no such name" or "no data" is an answer (ok, DNS_RCODE
 * NXDOMAIN / NOERROR with no answers): the catalog judges whether it was the
 * expected one. A server that fails the question (SERVFAIL, REFUSED, a
 * malformed reply) is failure "dns".
 */
const TYPES = ["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT"] as const;
type RrType = (typeof TYPES)[number];

const ANSWERED: Readonly<Record<string, string>> = { ENOTFOUND: "NXDOMAIN", ENODATA: "NOERROR" };
const SERVER_FAILED: Readonly<Record<string, string>> = {
  ESERVFAIL: "SERVFAIL",
  EREFUSED: "REFUSED",
  EFORMERR: "FORMERR",
  EBADRESP: "BADRESP",
  ENOTIMP: "NOTIMP",
  EBADFAMILY: "BADFAMILY",
};

export function dnsProbe(options: ProbeOptions): Probe {
  return {
    kind: "dns",
    async probe(target: Target, context: ProbeContext): Promise<Observation> {
      const name = stringParam(target, "name");
      const type = (stringParam(target, "type") ?? "A").toUpperCase();
      if (name === undefined || !(TYPES as readonly string[]).includes(type)) {
        throw new ProbeError(`target ${target.key}: a dns probe needs params.name and a type of ${TYPES.join(", ")} (got ${JSON.stringify(type)})`, {
          hint: `fix check ${target.check} in checks/`,
        });
      }
      const port = target.port ?? 53;
      assertAllowed(target.key, target.address, options.allow);
      const signal = attemptSignal(context);
      const resolver = new Resolver({ timeout: Math.max(1, Math.round(context.timeoutMs)), tries: 1 });
      resolver.setServers([`${target.address}:${port}`]);
      const onAbort = (): void => resolver.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
      const start = performance.now();
      try {
        const answers = await query(resolver, name, type as RrType);
        const values = { DNS_RCODE: "NOERROR", DNS_ANSWERS: answers.sort(), DNS_COUNT: answers.length };
        return { ok: true, timings: { total: since(start) }, values };
      } catch (error) {
        const code = errorCode(error) ?? "unknown";
        const timings = { total: since(start) };
        const where = `${target.address}:${port} ${type} ${name}`;
        const rcode = ANSWERED[code];
        if (rcode !== undefined) return { ok: true, timings, values: { DNS_RCODE: rcode, DNS_ANSWERS: [], DNS_COUNT: 0 } };
        if (signal.aborted || code === "ETIMEOUT" || code === "ECANCELLED")
          return failed("timeout", `${where}: no answer within ${context.timeoutMs} ms`, timings);
        if (code === "ECONNREFUSED") return failed("refused", `${where}: the server refused the connection (nothing listens)`, timings);
        const failedCode = SERVER_FAILED[code];
        if (failedCode !== undefined) return failed("dns", `${where}: the server answered ${failedCode}`, timings, { DNS_RCODE: failedCode });
        return failed("internal", `${where}: ${code}: ${error instanceof Error ? error.message : String(error)}`, timings);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

/** Answers as text, so a condition can compare them: MX "10 mail.x", SRV "0 5 443 gw.x", TXT joined. */
async function query(resolver: Resolver, name: string, type: RrType): Promise<string[]> {
  switch (type) {
    case "A":
      return resolver.resolve4(name);
    case "AAAA":
      return resolver.resolve6(name);
    case "CNAME":
      return resolver.resolveCname(name);
    case "NS":
      return resolver.resolveNs(name);
    case "PTR":
      return resolver.resolvePtr(name);
    case "MX":
      return (await resolver.resolveMx(name)).map((r) => `${r.priority} ${r.exchange}`);
    case "SRV":
      return (await resolver.resolveSrv(name)).map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`);
    case "TXT":
      return (await resolver.resolveTxt(name)).map((parts) => parts.join(""));
  }
}
