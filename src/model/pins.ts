import { type Finding, sortFindings } from "./finding.ts";
import { readOverlay } from "./overlay.ts";
import { list, number, object, optional, required, text } from "./schema/core.ts";
import { id, ipv4, publicKey } from "./schema/scalars.ts";
import { didYouMean } from "./suggest.ts";
import type { Server } from "./types.ts";

/**
 * A pins overlay: SSH host keys (and users) that replace the inventory's
 * `servers[].ssh.hostKey` for one stack. The rehearsal writes one
 * (`rehearsal/pins.yaml` of the state directory, src/rehearsal/sshd.ts `writePins`): its
 * servers are sshd processes on this machine with keys of their own, while the
 * inventory's pins are production's. Read like an inventory file (positions,
 * closed mappings, "did you mean"), and checked against the inventory it is
 * used with: a server the inventory does not have, one it has that the overlay
 * lacks, or an address or port that differs means the overlay was written for
 * another inventory — an error, never a silent fallback to the inventory's pins.
 */
export interface ServerPin {
  readonly hostKey: string;
  readonly user?: string;
  readonly address?: string;
  readonly port?: number;
  /** The server's root directory (the rehearsal's servers share this machine's file system). */
  readonly root?: string;
}

export type PinOverlay = ReadonlyMap<string, ServerPin>;

/** How a server is reached over SSH: its address, and port, user, host key and root from its pin if it has one, else the inventory's. */
export interface ServerReach {
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** Absent only for a server the inventory did not pin (validate reports it). */
  readonly hostKey?: string;
  readonly root: string;
}

/**
 * The one home of "how to reach a server" (issue 15): provisioning
 * (src/provision/program.ts) and drift's facts (src/readiness/drift/run.ts)
 * log in the same way. The address is always the inventory's: a pin may
 * only repeat it.
 */
export function serverReach(server: Server, pin: ServerPin | undefined): ServerReach {
  const hostKey = pin?.hostKey ?? server.ssh.hostKey;
  return {
    address: server.address,
    port: pin?.port ?? server.ssh.port,
    user: pin?.user ?? server.ssh.user,
    ...(hostKey === undefined ? {} : { hostKey }),
    root: pin?.root ?? "",
  };
}

export interface PinsResult {
  readonly file: string;
  readonly pins?: Map<string, ServerPin>;
  /** The private key the overlay's servers accept (the rehearsal's control key). */
  readonly controlKey?: string;
  /** Which build of the servers the overlay describes: it changes when they are built again (empty). */
  readonly generation?: string;
  readonly findings: Finding[];
}

const pinEntry = object(
  {
    id: required(id(), "the server's id in servers.yaml"),
    address: optional(ipv4(), "the address its sshd listens on (must be the inventory's)"),
    port: optional(number({ min: 1, max: 65535, integer: true }), "its SSH port (must be the inventory's ssh.port)"),
    user: optional(text({ max: 100 }), "the SSH user, in place of the inventory's ssh.user"),
    hostKey: required(publicKey(), "its SSH host key, as `ssh-keyscan` prints it"),
    root: optional(text({ max: 4096 }), "the server's root directory in the rehearsal: provisioning writes its files under it"),
  },
  { id: "id", origin: true },
);

const overlay = object({
  stack: optional(text({ max: 100 }), "the stack the overlay was written for"),
  prefix: optional(text({ max: 100 }), "the rehearsal's namespace prefix (informational)"),
  generation: optional(text({ max: 100 }), "which build of the servers this is: a new one means they start empty, and the stack provisions them again"),
  controlKey: optional(text({ max: 4096 }), "the private key the servers accept (the rehearsal's control key)"),
  servers: required(list(pinEntry, { min: 1 }), "one entry per server: id, hostKey, and optionally user, address, port"),
});

export interface ReadPinsOptions {
  /** The stack using the overlay: an overlay whose `stack:` names another is refused. */
  readonly stack?: string;
}

/**
 * Read and check the overlay `file` against `servers` (the inventory's).
 * Findings (with positions) make `pins` undefined; a file that does not exist
 * or cannot be read throws InventoryError naming it.
 */
export function readPins(file: string, servers: readonly Pick<Server, "id" | "address" | "ssh">[], options: ReadPinsOptions = {}): PinsResult {
  const read = readOverlay(file, overlay, "pins overlay", "write the overlay first (the rehearsal's: `amadegi rehearsal up`)");
  if (!read.ok) return { file, findings: read.findings };
  const { source, value, sink } = read;

  if (options.stack !== undefined && value.stack !== undefined && value.stack !== options.stack) {
    sink.add(
      "schema.bad-value",
      source.at(source.find(1, ["stack"])),
      "-",
      `the overlay was written for stack "${value.stack}", not "${options.stack}"`,
      "point the stack's amadegi:probe.pins at its own overlay",
    );
  }
  const byId = new Map(servers.map((s) => [s.id, s]));
  const pins = new Map<string, ServerPin>();
  for (const entry of value.servers) {
    const node = entry.origin.node;
    const at = (field: string) => source.at(source.find(node, [field]));
    const server = byId.get(entry.id);
    if (server === undefined) {
      sink.add(
        "reference.unknown",
        at("id"),
        entry.id,
        `server "${entry.id}" is not in the inventory${didYouMean(entry.id, byId.keys())}`,
        "the overlay was written for another inventory: write it again from this one (`amadegi rehearsal up`)",
      );
      continue;
    }
    if (pins.has(entry.id)) {
      sink.add("uniqueness.id", at("id"), entry.id, `server "${entry.id}" is pinned twice`, "keep one entry per server");
      continue;
    }
    if (entry.address !== undefined && entry.address !== server.address) {
      sink.add(
        "schema.bad-value",
        at("address"),
        entry.id,
        `address ${entry.address} is not the inventory's (${server.address})`,
        "the overlay was written for another inventory: write it again from this one (`amadegi rehearsal up`)",
      );
    }
    if (entry.port !== undefined && entry.port !== server.ssh.port) {
      sink.add(
        "schema.bad-value",
        at("port"),
        entry.id,
        `port ${entry.port} is not the inventory's ssh.port (${server.ssh.port})`,
        "the overlay was written for another inventory: write it again from this one (`amadegi rehearsal up`)",
      );
    }
    pins.set(entry.id, {
      hostKey: entry.hostKey,
      ...(entry.user === undefined ? {} : { user: entry.user }),
      ...(entry.address === undefined ? {} : { address: entry.address }),
      ...(entry.port === undefined ? {} : { port: entry.port }),
      ...(entry.root === undefined ? {} : { root: entry.root }),
    });
  }
  const listed = new Set(value.servers.map((e) => e.id));
  for (const server of servers) {
    if (!listed.has(server.id)) {
      sink.add(
        "schema.missing-field",
        source.at(source.find(1, ["servers"], true)),
        server.id,
        `server "${server.id}" of the inventory has no pin in the overlay`,
        "the overlay was written for another inventory: write it again from this one (`amadegi rehearsal up`)",
      );
    }
  }
  const findings = sortFindings(sink.close());
  if (findings.some((f) => f.severity === "error")) return { file, findings };
  return {
    file,
    pins,
    ...(value.controlKey === undefined ? {} : { controlKey: value.controlKey }),
    ...(value.generation === undefined ? {} : { generation: value.generation }),
    findings,
  };
}
