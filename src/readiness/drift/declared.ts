import { contentHash, type ProvisionedServer, provisionedRecord, type RoleRender } from "../../model/render/index.ts";
import type { FactsExpectation } from "../../probe/facts.ts";

/**
 * What the inventory declares of a server, in the provisioned state's terms
 * (file hashes, services, stations), and what to ask the server for.
 */

/** What the declared renders of one server come to, in the provisioned state's terms. */
export function declaredServer(address: string, renders: readonly RoleRender[]): ProvisionedServer {
  return provisionedRecord(address, renders, Object.fromEntries(renders.flatMap((r) => r.files.map((f) => [f.path, contentHash(f.content)] as const))));
}

/** What to ask a server for: every file declared or provisioned, and its declared services' version commands. */
export function factsExpectation(renders: readonly RoleRender[] | undefined, provisioned: ProvisionedServer | undefined): FactsExpectation {
  const files = new Set<string>([...(renders ?? []).flatMap((r) => r.files.map((f) => f.path)), ...Object.keys(provisioned?.files ?? {})]);
  const services = (renders ?? []).flatMap((r) => r.services.map((s) => ({ name: s.name, version: s.version })));
  return { files: [...files].sort(), services };
}
