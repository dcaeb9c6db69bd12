import type { Reporter } from "../report.ts";
import type { Inventory } from "../types.ts";

/**
 * Security rules that need the whole model. (Secrets and bidirectional
 * controls are found on the raw text, in scan.ts, so comments are covered.)
 * The inventory is the only place a host key is pinned: without it, the SSH
 * connection would silently accept any key.
 */
export function checkSecurity(inv: Inventory, report: Reporter): void {
  for (const server of inv.servers) {
    if (server.ssh.hostKey === undefined) {
      report("security.host-key-missing", server.origin, ["ssh"], server.id, `server ${server.id} has no pinned SSH host key`, `add ssh.hostKey: the line \`ssh-keyscan -t ed25519 ${server.address}\` prints, checked out of band`);
    }
  }
}
