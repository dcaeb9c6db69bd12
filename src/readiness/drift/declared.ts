import { createHash } from "node:crypto";
import type { ProvisionedServer, RoleRender } from "../../model/render/index.ts";
import type { FactsExpectation } from "../../probe/facts.ts";

/**
 * What the inventory declares of a server, in the provisioned state's terms
 * (file hashes, services, stations), and what to ask the server for.
 */

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** What the declared renders of one server come to, in the provisioned state's terms. */
export function declaredServer(address: string, renders: readonly RoleRender[]): ProvisionedServer {
  const stations = [...new Set(renders.flatMap((r) => r.stations))].sort();
  return {
    address,
    roles: renders.map((r) => r.role),
    files: Object.fromEntries(renders.flatMap((r) => r.files.map((f) => [f.path, sha256(f.content)] as const))),
    services: renders.flatMap((r) => r.services.map((s) => ({ name: s.name, listens: s.listens }))),
    stationsHash: sha256(stations.join("\n")),
    stations: stations.length,
  };
}

/** What to ask a server for: every file declared or provisioned, and its declared services' version commands. */
export function factsExpectation(renders: readonly RoleRender[] | undefined, provisioned: ProvisionedServer | undefined): FactsExpectation {
  const files = new Set<string>([...(renders ?? []).flatMap((r) => r.files.map((f) => f.path)), ...Object.keys(provisioned?.files ?? {})]);
  const services = (renders ?? []).flatMap((r) => r.services.map((s) => ({ name: s.name, version: s.version })));
  return { files: [...files].sort(), services };
}
