import { dataRecord } from "../../lib/records.ts";
import type { Listen, ProvisionedServer, ProvisionedState } from "../../model/render/index.ts";
import { run } from "../../toolchain/inspect.ts";
import { isRecord } from "../../lib/records.ts";

/**
 * The provisioned state, read at the boundary: the stack's `servers` output or
 * a JSON file written for review. Each field is checked where it is read, and
 * only what was checked is kept.
 */

const HEX64 = /^[0-9a-f]{64}$/;

function parseListen(v: unknown, where: string, problems: string[]): Listen | undefined {
  if (
    !isRecord(v) ||
    (v.proto !== "tcp" && v.proto !== "udp") ||
    typeof v.address !== "string" ||
    typeof v.port !== "number" ||
    !Number.isInteger(v.port) ||
    v.port < 1 ||
    v.port > 65535
  ) {
    problems.push(`${where}: expected { proto: tcp|udp, address, port 1–65535 }`);
    return undefined;
  }
  return { proto: v.proto, address: v.address, port: v.port };
}

function roleNames(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((r): r is string => typeof r === "string") ? v : undefined;
}

function parseServer(id: string, v: unknown, problems: string[]): ProvisionedServer | undefined {
  const where = `servers.${id}`;
  const before = problems.length;
  if (!isRecord(v)) {
    problems.push(`${where}: expected an object`);
    return undefined;
  }
  const address = typeof v.address === "string" ? v.address : undefined;
  if (address === undefined) problems.push(`${where}.address: expected a string`);
  const roles = roleNames(v.roles);
  if (roles === undefined) problems.push(`${where}.roles: expected a list of role names`);
  const files = dataRecord<string>();
  if (!isRecord(v.files)) problems.push(`${where}.files: expected { path: sha256 }`);
  else {
    for (const [path, hash] of Object.entries(v.files)) {
      if (!path.startsWith("/")) problems.push(`${where}.files: "${path}" is not an absolute path`);
      else if (typeof hash !== "string" || !HEX64.test(hash)) problems.push(`${where}.files["${path}"]: expected a sha256 (64 hex digits)`);
      else files[path] = hash;
    }
  }
  const services: { name: string; listens: Listen[] }[] = [];
  if (!Array.isArray(v.services)) problems.push(`${where}.services: expected a list`);
  else {
    for (const [i, s] of v.services.entries()) {
      if (!isRecord(s) || typeof s.name !== "string" || !Array.isArray(s.listens)) {
        problems.push(`${where}.services[${i}]: expected { name, listens: [] }`);
        continue;
      }
      const listens = s.listens.map((l, j) => parseListen(l, `${where}.services[${i}].listens[${j}]`, problems)).filter((l) => l !== undefined);
      services.push({ name: s.name, listens });
    }
  }
  const stationsHash = typeof v.stationsHash === "string" && HEX64.test(v.stationsHash) ? v.stationsHash : undefined;
  if (stationsHash === undefined) problems.push(`${where}.stationsHash: expected a sha256 (64 hex digits)`);
  const stations = typeof v.stations === "number" && Number.isInteger(v.stations) && v.stations >= 0 ? v.stations : undefined;
  if (stations === undefined) problems.push(`${where}.stations: expected a count`);
  if (problems.length > before || address === undefined || roles === undefined || stationsHash === undefined || stations === undefined) return undefined;
  return { address, roles, files, services, stationsHash, stations };
}

/**
 * A provisioned state from JSON: `{ stack, servers: { id: ProvisionedServer }, crlNextUpdate? }`
 * (a file written for review), or the `servers` output alone. Every problem is
 * reported at once; the caller names the file.
 */
export function parseProvisioned(value: unknown, stack: string): { state?: ProvisionedState; problems: string[] } {
  const problems: string[] = [];
  if (!isRecord(value)) return { problems: ["expected a JSON object: { stack, servers: { <id>: … } }"] };
  const wrapped = isRecord(value.servers);
  const servers = isRecord(value.servers) ? value.servers : value;
  if (wrapped && value.stack !== undefined && value.stack !== stack) problems.push(`stack: the state is stack "${String(value.stack)}"'s, not "${stack}"'s`);
  const out = dataRecord<ProvisionedServer>();
  for (const [id, v] of Object.entries(servers)) {
    const parsed = parseServer(id, v, problems);
    if (parsed !== undefined) out[id] = parsed;
  }
  let crlNextUpdate: string | undefined;
  if (wrapped && value.crlNextUpdate !== undefined) {
    if (typeof value.crlNextUpdate === "string" && !Number.isNaN(Date.parse(value.crlNextUpdate))) crlNextUpdate = new Date(value.crlNextUpdate).toISOString();
    else problems.push("crlNextUpdate: expected a time (ISO 8601)");
  }
  return problems.length > 0 ? { problems } : { state: { stack, servers: out, ...(crlNextUpdate === undefined ? {} : { crlNextUpdate }) }, problems };
}

/**
 * The nextUpdate of a CRL (PEM: the stack's `pki.crl` output), as ISO, read by openssl; throws
 * naming what openssl said when it is not a CRL.
 */
export async function crlNextUpdate(pem: string): Promise<string> {
  const read = await run("openssl", ["crl", "-noout", "-nextupdate"], { input: pem });
  const at = /^nextUpdate=(.+)$/m.exec(read.stdout)?.[1];
  if (read.code !== 0 || at === undefined || Number.isNaN(Date.parse(at)))
    throw new Error(`the stack's CRL has no nextUpdate openssl can read: ${(read.error ?? read.stderr).trim().split("\n")[0] ?? ""}`);
  return new Date(at).toISOString();
}
