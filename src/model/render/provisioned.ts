import { createHash } from "node:crypto";
import type { ProvisionedServer, RoleRender } from "./types.ts";

/**
 * The provisioned record of a server (render/types.ts's contract), one home
 * for both sides that must hash it identically: provisioning writes it as the
 * stack's output (src/provision/server.ts), drift builds the declared one to
 * compare (src/readiness/drift/declared.ts).
 */

/** A file's content hash, as the record and the servers' facts carry it: sha256, hex. */
export function contentHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The record of `renders` at `address`, with the files' hashes as the caller has them. */
export function provisionedRecord(address: string, renders: readonly RoleRender[], files: Readonly<Record<string, string>>): ProvisionedServer {
  const stations = [...new Set(renders.flatMap((r) => r.stations))].sort();
  return {
    address,
    roles: renders.map((r) => r.role),
    files,
    services: renders.flatMap((r) => r.services.map((s) => ({ name: s.name, listens: s.listens }))),
    stationsHash: contentHash(stations.join("\n")),
    stations: stations.length,
  };
}
