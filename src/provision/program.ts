import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  addDays,
  type DeviceKeys,
  deviceFingerprint,
  formatFinding,
  hasErrors,
  type Inventory,
  loadInventory,
  readDeviceKeys,
  readPins,
  type Server,
  serverReach,
  silencesOf,
} from "../model/index.ts";
import { statePaths } from "../lib/state.ts";
import { alertmanagerUrl, pkiServer, type ProvisionedServer, renderServer, type RoleRender, TLS_FILES } from "../model/render/index.ts";
import { repoRoot } from "../toolchain/paths.ts";
import { type InventorySource, inventorySource, readStackConfig, type StackConfig } from "./config.ts";
import { Pki, type PkiServer } from "./pki.ts";
import type { PinnedHost } from "../toolchain/ssh.ts";
import { guardTarget, type Target } from "./guard.ts";
import { readRevocations, type Revocation } from "./revocation.ts";
import { CentralServer, type CentralServerArgs, commandConnection, type IssuedFile } from "./server.ts";

/** Certificates outlive election day by the policy's margin plus this many days. */
const CERT_EXTRA_DAYS = 90;

function fromRoot(path: string): string {
  return isAbsolute(path) ? path : resolve(repoRoot, path);
}

async function inventoryOf(config: StackConfig, source: InventorySource): Promise<Inventory> {
  const result = await loadInventory(source.dir, { committeeFile: source.committeeFile });
  const errors = result.findings.filter((f) => f.severity === "error" && f.waived === undefined);
  if (result.inventory === undefined || hasErrors(result.findings)) {
    throw new Error(
      `stack ${config.stack}: the inventory ${source.shown} has ${errors.length} error(s); run amadegi validate:\n` +
        `${errors.slice(0, 5).map(formatFinding).join("\n")}`,
    );
  }
  return result.inventory;
}

interface Reach {
  /** Address, port, user and pinned host key (commandConnection makes `@pulumi/command`'s connection of it). */
  readonly host: PinnedHost;
  /** The login key's content, a secret. */
  readonly privateKey: pulumi.Output<string>;
  readonly root: string;
  /** The pins overlay's generation ("" without an overlay). */
  readonly epoch: string;
}

/** How each server is reached: the pins overlay's host keys, users, roots and key (the rehearsal), else the inventory's pins. */
function reachOf(config: StackConfig, inventory: Inventory): Map<string, Reach> {
  if (config.allow.length === 0)
    throw new Error(`stack ${config.stack}: amadegi:probe.allow is empty; declare the ranges this stack may reach in stacks/Pulumi.${config.stack}.yaml`);
  const reach = new Map<string, Reach>();
  const overlay = config.pins === undefined ? undefined : readPins(fromRoot(config.pins), inventory.servers, { stack: config.stack });
  if (overlay !== undefined && overlay.pins === undefined) {
    throw new Error(`stack ${config.stack}: the pins overlay ${config.pins} is not usable:\n${overlay.findings.map(formatFinding).join("\n")}`);
  }
  const identityFile = overlay?.controlKey ?? (config.identityFile === undefined ? undefined : fromRoot(config.identityFile));
  if (identityFile === undefined)
    throw new Error(
      `stack ${config.stack}: no SSH key to log in with; set amadegi:ssh.identityFile (a path on the machine that runs the stack; never the key itself)`,
    );
  // Read once for every server: one key logs in everywhere.
  const privateKey = loginKey(config, identityFile);
  for (const server of inventory.servers) {
    const way = serverReach(server, overlay?.pins?.get(server.id));
    const hostKey = way.hostKey;
    if (hostKey === undefined)
      throw new Error(
        `stack ${config.stack}: server ${server.id} has no pinned SSH host key; pin it in servers.yaml (ssh.hostKey) after checking it out of band`,
      );
    const target: Target = { host: way.address, allow: config.allow, ...(config.netns === undefined ? {} : { netns: config.netns }) };
    // The network-safety guard, in the program: it holds whichever provider runs the resources.
    guardTarget(server.id, target, { sending: !pulumi.runtime.isDryRun() });
    reach.set(server.id, {
      root: way.root,
      epoch: overlay?.generation ?? "",
      host: { address: way.address, port: way.port, user: way.user, hostKey },
      privateKey,
    });
  }
  return reach;
}

/** The stack's device-keys overlay (`amadegi:devices.keys`, the rehearsal's), checked against the inventory; undefined without one. */
function deviceKeysOf(config: StackConfig, inventory: Inventory): DeviceKeys | undefined {
  if (config.deviceKeys === undefined) return undefined;
  const read = readDeviceKeys(fromRoot(config.deviceKeys), inventory.stations);
  if (read.keys === undefined)
    throw new Error(`stack ${config.stack}: the device-keys overlay ${config.deviceKeys} is not usable:\n${read.findings.map(formatFinding).join("\n")}`);
  return read.keys;
}

/**
 * The login key's content, read where the stack runs, as a secret: `@pulumi/command` takes the key
 * itself, and the state keeps it encrypted like the PKI's keys (ADR 0007). Never a path in the state.
 */
function loginKey(config: StackConfig, path: string): pulumi.Output<string> {
  try {
    return pulumi.secret(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(
      `stack ${config.stack}: cannot read the SSH key ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}); fix amadegi:ssh.identityFile`,
      {
        cause: error,
      },
    );
  }
}

/** What the PKI writes on a server, by role: a gateway's certificate, key and trust; the monitor's trust in the servers' certificates. */
function issuedFiles(pki: Pki, server: Server): Record<string, IssuedFile[]> {
  const issued: Record<string, IssuedFile[]> = {};
  const certificate = pki.certificates.get(server.id);
  if (certificate !== undefined)
    issued.gateway = [
      { path: TLS_FILES.serverCert, content: certificate.certPem, mode: 0o644 },
      { path: TLS_FILES.serverKey, content: certificate.keyPem, mode: 0o600, secret: true },
      // One election authority issues both the devices' and the servers' certificates.
      { path: TLS_FILES.devicesCa, content: pki.caCert, mode: 0o644 },
      // nginx starts with it (ssl_crl); a publication reinstalls it by the gateway's own CRL command (crlOf).
      { path: TLS_FILES.devicesCrl, content: pki.crl, mode: 0o644 },
      { path: TLS_FILES.serversCa, content: pki.caCert, mode: 0o644 },
    ];
  if (server.roles.includes("monitor")) issued.monitor = [{ path: TLS_FILES.serversCa, content: pki.caCert, mode: 0o644 }];
  return issued;
}

/** A gateway's CRL, and what re-reads it there (its nginx); nothing for a server that is no gateway. */
function crlOf(pki: Pki, renders: readonly RoleRender[]): Pick<CentralServerArgs, "crl"> {
  const gateway = renders.find((r) => r.role === "gateway");
  if (gateway === undefined) return {};
  const refresh = gateway.services.flatMap((s) => (s.name === "nginx" && s.refresh !== undefined ? [s.refresh] : []));
  return { crl: { path: TLS_FILES.devicesCrl, content: pki.crl, refresh } };
}

/**
 * The committee's revocations of this stack's devices (`amadegi devices revoke`), each signature
 * checked against the inventory's committee. A file that is not a revocation in force stops the
 * program, named: a device the committee meant to revoke must never silently stay trusted.
 */
async function revocationsOf(config: StackConfig, inventory: Inventory): Promise<Revocation[]> {
  const dir = join(statePaths().revocations, config.stack);
  const read = await readRevocations(dir, { committee: inventory.committee, election: inventory.election.id, stack: config.stack });
  if (read.problems.length > 0)
    throw new Error(`stack ${config.stack}: revocations that are not in force:\n${read.problems.join("\n")}\nremove each file, or have it signed again`);
  for (const file of read.pending) void pulumi.log.warn(`${file} is not signed (no ${file}.sig): not in force`);
  return [...read.revoked];
}

/** The `pki` server (ADR 0008) as the PKI reaches it; a stack whose inventory has none is refused, naming the fix. */
function pkiServerOf(config: StackConfig, inventory: Inventory, reach: ReadonlyMap<string, Reach>): PkiServer {
  const server = pkiServer(inventory);
  const way = server === undefined ? undefined : reach.get(server.id);
  if (server === undefined || way === undefined)
    throw new Error(`stack ${config.stack}: no server has role pki in servers.yaml; the election's CA is made on it and its key never leaves it: declare one`);
  return way;
}

export interface ProgramOptions {
  /**
   * Read the inventory from this directory (absolute) instead of the stack's
   * `amadegi:inventory`: `amadegi preview --inventory`, a pull request's
   * inventory as data. Passed in by the caller, never read from the
   * environment; every other setting stays the stack's.
   */
  readonly inventory?: string;
}

/** The program with `options` applied (the Automation API's inline program). */
export function programFor(options: ProgramOptions = {}): () => Promise<Record<string, unknown>> {
  return () => run(options);
}

/**
 * The Pulumi program: the election PKI, then every central server of the
 * inventory as a `CentralServer` (its roles' files and services over SSH).
 * Exports what drift needs: per server, the hashes of what was written and
 * which stations it was configured for (ADR 0006).
 */
export function program(): Promise<Record<string, unknown>> {
  return run({});
}

async function run(options: ProgramOptions): Promise<Record<string, unknown>> {
  const config = readStackConfig();
  const inventory = await inventoryOf(config, inventorySource(config, options.inventory));
  const reach = reachOf(config, inventory);
  const deviceKeys = deviceKeysOf(config, inventory);
  const gateways = inventory.servers.filter((s) => s.roles.includes("gateway"));
  const revoked = await revocationsOf(config, inventory);
  const pki = new Pki("election", {
    server: pkiServerOf(config, inventory, reach),
    commonName: `amadegi ${config.stack} election CA`,
    validUntil: addDays(inventory.election.day, inventory.election.policy.certMarginDays + CERT_EXTRA_DAYS),
    servers: gateways.map((s) => ({ id: s.id, address: s.address, names: [`${s.id}.gw.election.ir`, s.id] })),
    ...(config.caFile === undefined ? {} : { caFile: fromRoot(config.caFile) }),
    ...(config.devices === undefined
      ? {}
      : {
          devices: {
            requests: fromRoot(config.devices.requests),
            issued: fromRoot(config.devices.issued),
            declared: inventory.stations.map((s) => ({ serial: s.device.serial, fingerprint: deviceFingerprint(s, deviceKeys) })),
          },
        }),
    revoked,
  });
  if (config.alerting === undefined && config.environment !== "rehearsal" && inventory.servers.some((s) => s.roles.includes("monitor"))) {
    void pulumi.log.warn(
      `stack ${config.stack} has no amadegi:alerting: Alertmanager keeps the alerts and tells no one; set amadegi:alerting.webhook (docs/monitoring.md)`,
    );
  }
  const servers: Record<string, pulumi.Output<ProvisionedServer>> = {};
  for (const server of inventory.servers) {
    const { host, privateKey, root, epoch } = reach.get(server.id) as Reach;
    const renders = renderServer(inventory, server.id, {
      root,
      environment: config.environment,
      address: server.address,
      ...(deviceKeys === undefined ? {} : { deviceKeys }),
      ...(config.alerting === undefined ? {} : { alerting: config.alerting }),
    });
    const central = new CentralServer(
      server.id,
      {
        server,
        renders,
        connection: commandConnection(host, privateKey),
        root,
        assets: join(statePaths().assets, config.stack),
        epoch,
        issued: issuedFiles(pki, server),
        ...crlOf(pki, renders),
        ...(server.roles.includes("monitor") ? { silences: { url: alertmanagerUrl(server.address), silences: silencesOf(inventory) } } : {}),
      },
      // No `dependsOn: [pki]`: a component's dependency is every one of its children, one URN per gateway's certificate,
      // kept for every server (O(servers × gateways) in the checkpoint). What needs the PKI takes its outputs, and waits for them.
    );
    servers[server.id] = central.provisioned;
  }
  return {
    environment: config.environment,
    // The stack's setting, also under an override: a preview shows no output change for it.
    inventory: config.inventory,
    stack: config.stack,
    servers,
    pki: { caCert: pki.caCert, caNotAfter: pki.caNotAfter, devices: pki.devices, refused: pki.refused, crl: pki.crl, revoked: revoked.map((r) => r.device) },
  };
}
