import type { Inventory, Role, Server } from "../types.ts";
import { renderDns } from "./dns.ts";
import { renderGateway } from "./gateway.ts";
import { renderMonitor } from "./monitor.ts";
import { renderNtp } from "./ntp.ts";
import { SERVER_FILE } from "./paths.ts";
import type { RenderedFile, RoleRender, ServerTarget } from "./types.ts";

export type * from "./types.ts";
export {
  DNS_FILES,
  GATEWAY_FILES,
  LIB_DIR,
  LOG_DIR,
  MONITOR_FILES,
  NTP_FILES,
  PKI_FILES,
  REHEARSAL_SOCKETS,
  rooted,
  RUN_DIR,
  SERVER_FILE,
  SOCKET_PATH_MAX,
  socketPath,
  TLS_FILES,
  unitName,
  unitPath,
} from "./paths.ts";
export {
  ALERTMANAGER_PORT,
  alertmanagerUrl,
  alertTimingOf,
  CENTRAL_CHECKS,
  centralTargets,
  checkinGateways,
  LINK_CHECK,
  LINK_EXPORTER_PORT,
  LINK_PROBER_ASSET,
  LINK_PROBER_SEND_MS,
  linkProbeDelay,
  linkRoundSpread,
  rehearsalPace,
  linkTargets,
  monitorIds,
  MONITORS_PER_STATION,
  REHEARSAL_RECEIVER_PORT,
  serverMonitors,
  stationMonitors,
  TIME_EXPORTER_PORT,
  timeServerExporters,
} from "./monitor.ts";
export { clientRanges, electionNames, ELECTION_ZONE } from "./dns.ts";
export { linksOf, RECORDER_ASSET, stationsOf, tokenScript } from "./gateway.ts";
export { LOCAL_STRATUM, REHEARSAL_STRATUM } from "./ntp.ts";
export { REHEARSAL_PLUMBING, siteRanges, stationRanges } from "./ranges.ts";
export { contentHash, provisionedRecord } from "./provisioned.ts";
export { LISTEN_POLLS, REHEARSAL_NICE, REHEARSAL_NODE_HEAP } from "./service.ts";

/**
 * What the inventory declares server `serverId` runs: one RoleRender per role,
 * in the order servers.yaml lists its roles. Pure (the only thing read is the
 * check-in recorder the gateway role ships, when its content is asked for):
 * the same inventory and target give the same bytes.
 *
 * The first role's render also carries the base file every server gets,
 * `/etc/amadegi/server.json` (id, roles, site, environment), so every
 * provisioned server has something drift can compare.
 *
 * Roles amadegi does not render — pki, auth, tally, registry, bastion: the
 * election's applications are installed by their own teams, and the `pki`
 * server's CA is made by the stack's PKI component (ADR 0008), not a role's
 * files — render no files or services of their own (only the base file, when first).
 */
export function renderServer(inventory: Inventory, serverId: string, target: ServerTarget): RoleRender[] {
  const server = inventory.serversById.get(serverId);
  if (server === undefined)
    throw new Error(`renderServer: no server "${serverId}" in the inventory (servers.yaml): render only servers the validated inventory has`);
  if (target.address !== server.address && target.environment === "production") {
    throw new Error(
      `renderServer: server ${serverId} has address ${server.address} in servers.yaml, ` +
        `but the target says ${target.address}: production serves the inventory's address`,
    );
  }
  const renders = server.roles.map((role) => renderRole(inventory, server, role, target));
  const [first, ...rest] = renders;
  if (first === undefined) return [];
  return [{ ...first, files: [baseFile(server, target), ...first.files] }, ...rest];
}

/** `/etc/amadegi/server.json`: what the server is, as the inventory says. */
export function baseFile(server: Server, target: ServerTarget): RenderedFile {
  const content = `${JSON.stringify({ id: server.id, roles: server.roles, site: server.site, environment: target.environment }, null, 2)}\n`;
  return { path: SERVER_FILE, content, mode: 0o644 };
}

/** The server the election's issuing CA lives on (ADR 0008): the first in servers.yaml with role `pki`. */
export function pkiServer(inventory: Inventory): Server | undefined {
  return inventory.servers.find((s) => s.roles.includes("pki"));
}

function renderRole(inventory: Inventory, server: Server, role: Role, target: ServerTarget): RoleRender {
  switch (role) {
    case "gateway":
      return renderGateway(inventory, server, target);
    case "dns":
      return renderDns(inventory, server, target);
    case "ntp":
      return renderNtp(inventory, server, target);
    case "monitor":
      return renderMonitor(inventory, server, target);
    case "pki":
    case "auth":
    case "tally":
    case "registry":
    case "bastion":
      return { server: server.id, role, files: [], services: [], stations: [] };
  }
}
