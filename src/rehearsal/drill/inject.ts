import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ToolError } from "../../lib/errors.ts";
import { execIn, listNetns } from "../../toolchain/netns.ts";
import { alive, cmdline, stopProcesses } from "../processes.ts";
import { issueExpiring, type Authority } from "./cert.ts";
import type { Action } from "./scenarios.ts";

/**
 * Faults as kernel and process state in the rehearsal's namespaces only —
 * nftables tables, stopped daemons, a daemon under faketime — each applied
 * and undone here. Undoing is idempotent: it is run on whatever the drill
 * marker names, whether or not the fault got applied before a crash.
 */

/** The nftables table a drill adds in an operator's namespace; nothing else is ever named so. */
export const DRILL_TABLE = "amadegi_drill";

export function dropRuleset(addresses: readonly string[]): string {
  return [
    // Declaring then deleting the table first makes the load replace any older drill table in one transaction.
    `table ip ${DRILL_TABLE}`,
    `delete table ip ${DRILL_TABLE}`,
    `table ip ${DRILL_TABLE} {`,
    `  set cut { type ipv4_addr; elements = { ${addresses.join(", ")} }; }`,
    "  chain input {",
    // Before the rehearsal's own link-quality table (priority 0).
    "    type filter hook input priority -10; policy accept;",
    "    ip daddr @cut drop",
    "  }",
    "  chain output {",
    "    type filter hook output priority -10; policy accept;",
    "    ip saddr @cut drop",
    "  }",
    "}",
    "",
  ].join("\n");
}

function oneLine(text: string): string {
  return text.trim().split("\n").slice(-3).join(" | ").slice(0, 400);
}

async function sh(ns: string, script: string, prefix: readonly string[] = []): Promise<void> {
  const result = await execIn(ns, [...prefix, "sh", "-s"], { input: script, timeoutMs: 30_000 });
  if (result.code !== 0)
    throw new ToolError(`in namespace ${ns}: ${oneLine(result.stderr || (result.error ?? "") || `exit ${result.code}`)}`, {
      hint: "see the service's log under the server's root (var/log/amadegi/)",
    });
}

/** Processes of the namespace whose environment runs them under libfaketime and whose command line names `match`. */
export function fakedProcesses(match: string): number[] {
  const found: number[] = [];
  // A root is an absolute directory: never match on a bare "/".
  if (match.length < 3) return found;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (!(cmdline(pid) ?? "").includes(match)) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "utf8");
      if (env.split("\0").some((v) => v.startsWith("FAKETIME="))) found.push(pid);
    } catch {
      // gone
    }
  }
  return found;
}

/** Processes whose command line names the drill's own directory (the cert drill's nginx). */
function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (/^\d+$/.test(entry) && (cmdline(Number(entry)) ?? "").includes(`${dir}/`)) found.push(Number(entry));
  }
  return found;
}

/** The drill nginx's configuration: the stack's, serving the drill's certificate and key, with its own pid file. */
export function drillNginxConf(stackConf: string, dir: string): string {
  return stackConf
    .replace(/^(\s*)ssl_certificate\s+\S+;$/m, `$1ssl_certificate ${join(dir, "server.crt")};`)
    .replace(/^(\s*)ssl_certificate_key\s+\S+;$/m, `$1ssl_certificate_key ${join(dir, "server.key")};`)
    .replace(/^pid\s+\S+;$/m, `pid ${join(dir, "nginx.pid")};`);
}

/** What the cert drill needs besides its action: the stack's nginx configuration and the CA that signs. */
export interface CertInputs {
  readonly nginxConf: string;
  readonly address: string;
  readonly names: readonly string[];
  readonly authority: () => Promise<Authority>;
}

export interface ApplyOptions {
  /** The cert drill's inputs, by server. */
  readonly cert?: (server: string) => Promise<CertInputs>;
}

export async function applyAction(action: Action, options: ApplyOptions = {}): Promise<void> {
  switch (action.kind) {
    case "drop": {
      const result = await execIn(action.ns, ["nft", "-f", "-"], { input: dropRuleset(action.addresses) });
      if (result.code !== 0) throw new ToolError(`nft in namespace ${action.ns}: ${oneLine(result.stderr)}`, { hint: "install nftables (amadegi doctor)" });
      return;
    }
    case "stop":
      for (const service of [...action.services].reverse()) await sh(action.ns, service.stop);
      return;
    case "skew":
      await sh(action.ns, action.service.stop);
      // The start command itself runs under libfaketime, so the chronyd it launches inherits the offset.
      await sh(action.ns, action.service.start, ["faketime", "-f", action.offset]);
      return;
    case "cert": {
      if (options.cert === undefined) throw new ToolError("the cert drill needs the stack's CA", { hint: "run it through `amadegi drill`" });
      const inputs = await options.cert(action.server);
      await mkdir(action.dir, { recursive: true, mode: 0o700 });
      await issueExpiring(await inputs.authority(), action.dir, action.server, inputs.address, inputs.names, action.notAfter);
      await writeFile(join(action.dir, "nginx.conf"), drillNginxConf(inputs.nginxConf, action.dir), { mode: 0o600 });
      const nginx = ["nginx", "-p", `${action.dir}/`, "-e", join(action.dir, "error.log"), "-c", join(action.dir, "nginx.conf")];
      const test = await execIn(action.ns, [...nginx, "-t", "-q"]);
      if (test.code !== 0)
        throw new ToolError(`the drill's nginx configuration for ${action.server} does not load: ${oneLine(test.stderr)}`, {
          file: join(action.dir, "nginx.conf"),
        });
      await sh(action.ns, action.service.stop);
      const started = await execIn(action.ns, nginx);
      if (started.code !== 0)
        throw new ToolError(`the drill's nginx for ${action.server} did not start: ${oneLine(started.stderr)}`, { file: join(action.dir, "error.log") });
      return;
    }
  }
}

/** Undo one action; returns what would not go back (empty when it did). Never throws. */
export async function undoAction(action: Action): Promise<string[]> {
  const left: string[] = [];
  try {
    switch (action.kind) {
      case "drop": {
        if (!listNetns().includes(action.ns)) return [];
        const result = await execIn(action.ns, ["nft", "delete", "table", "ip", DRILL_TABLE]);
        if (result.code !== 0 && !/No such file or directory|does not exist/i.test(result.stderr))
          left.push(`nftables table ${DRILL_TABLE} in ${action.ns}: ${oneLine(result.stderr)}`);
        return left;
      }
      case "stop":
        for (const service of action.services) {
          try {
            await sh(action.ns, service.start);
          } catch (error) {
            left.push(`${service.name} of ${action.server} did not start again: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
        return left;
      case "skew": {
        await sh(action.ns, action.service.stop).catch(() => undefined);
        const faked = fakedProcesses(`${action.root}/`);
        const stubborn = await stopProcesses(faked);
        for (const pid of stubborn) left.push(`process ${pid} (${cmdline(pid) ?? "?"}) still runs under faketime`);
        try {
          await sh(action.ns, action.service.start);
        } catch (error) {
          left.push(`${action.service.name} of ${action.server} did not start again: ${error instanceof Error ? error.message : String(error)}`);
        }
        return left;
      }
      case "cert": {
        const pidFile = join(action.dir, "nginx.pid");
        const pids = processesIn(action.dir);
        if (existsSync(pidFile)) {
          const pid = Number(readFileSync(pidFile, "utf8").trim());
          if (Number.isInteger(pid) && alive(pid) && (cmdline(pid) ?? "").startsWith("nginx")) pids.push(pid);
        }
        for (const pid of await stopProcesses(pids)) left.push(`the drill's nginx (pid ${pid}) would not stop`);
        try {
          await sh(action.ns, action.service.start);
        } catch (error) {
          left.push(`nginx of ${action.server} did not start again: ${error instanceof Error ? error.message : String(error)}`);
        }
        await rm(action.dir, { recursive: true, force: true });
        return left;
      }
    }
  } catch (error) {
    left.push(`${action.kind} on ${"server" in action ? action.server : action.ns}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return left;
}

/** What of the actions is still in place, looked at afresh (tables, faked processes, the drill's nginx). */
export async function leftovers(actions: readonly Action[]): Promise<string[]> {
  const left: string[] = [];
  const namespaces = new Set(listNetns());
  for (const action of actions) {
    if (action.kind === "drop" && namespaces.has(action.ns)) {
      const result = await execIn(action.ns, ["nft", "list", "table", "ip", DRILL_TABLE]);
      if (result.code === 0) left.push(`nftables table ${DRILL_TABLE} still in ${action.ns}`);
    }
    if (action.kind === "skew") for (const pid of fakedProcesses(`${action.root}/`)) left.push(`process ${pid} of ${action.server} still runs under faketime`);
    if (action.kind === "cert") for (const pid of processesIn(action.dir)) left.push(`the drill's nginx for ${action.server} still runs (pid ${pid})`);
  }
  return left;
}
