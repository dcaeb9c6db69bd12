/**
 * Check: the inputs of each resource type as pulumi-command 1.2.1's schema has them
 * (provider/cmd/pulumi-resource-command/schema.json; the Go types in provider/pkg/provider/local/base.go,
 * common/inputs.go, remote/command.go, remote/connection.go, remote/copy.go), with the defaults its
 * Check applies (connection: user root, port 22, dialErrorLimit 10, perDialTimeout 15) and
 * `connection` made secret (`provider:"secret"`). What this stand-in does not do, and amadegi's own
 * rule (no SSH connection without a pinned host key), fail here: before anything is sent.
 */
import { ARCHIVE_SIG, ASSET_SIG, isObject, isSecret, type Props, reveal, secret, SIG_KEY, UNKNOWN, type Value } from "./wire.ts";

export const LOCAL_COMMAND = "command:local:Command";
export const REMOTE_COMMAND = "command:remote:Command";
export const COPY_TO_REMOTE = "command:remote:CopyToRemote";

export interface Failure {
  readonly property: string;
  readonly reason: string;
}

type Kind = "string" | "boolean" | "number" | "integer" | "string[]" | "any[]" | "string map" | "logging" | "connection" | "asset or archive";

const COMMANDS: Record<string, Kind> = { create: "string", update: "string", delete: "string", triggers: "any[]" };
const INPUTS: Readonly<Record<string, Readonly<Record<string, Kind>>>> = {
  [LOCAL_COMMAND]: {
    ...COMMANDS,
    stdin: "string",
    logging: "logging",
    interpreter: "string[]",
    dir: "string",
    environment: "string map",
    assetPaths: "string[]",
    archivePaths: "string[]",
    addPreviousOutputInEnv: "boolean",
  },
  [REMOTE_COMMAND]: {
    ...COMMANDS,
    stdin: "string",
    logging: "logging",
    connection: "connection",
    environment: "string map",
    addPreviousOutputInEnv: "boolean",
  },
  [COPY_TO_REMOTE]: { connection: "connection", triggers: "any[]", source: "asset or archive", remotePath: "string" },
};
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  [REMOTE_COMMAND]: ["connection"],
  [COPY_TO_REMOTE]: ["connection", "source", "remotePath"],
};
const CONNECTION: Readonly<Record<string, Kind>> = {
  host: "string",
  port: "number",
  user: "string",
  password: "string",
  privateKey: "string",
  privateKeyPassword: "string",
  agentSocketPath: "string",
  dialErrorLimit: "integer",
  perDialTimeout: "integer",
  hostKey: "string",
};
const CONNECTION_DEFAULTS: Props = { user: "root", port: 22, dialErrorLimit: 10, perDialTimeout: 15 };
const LOGGING = ["stdout", "stderr", "stdoutAndStderr", "none"];

/** The input property names of a resource type (its outputs repeat them). */
export function inputKeys(type: string): string[] {
  return Object.keys(INPUTS[type] ?? {});
}

export function standInRefusal(what: string, instead: string): string {
  return `${what} is not supported by amadegi's stand-in for pulumi-resource-command: ${instead}, or install Pulumi's pulumi-resource-command 1.2.1`;
}

function kindOk(kind: Kind, v: Value): boolean {
  switch (kind) {
    case "string":
      return typeof v === "string";
    case "boolean":
      return typeof v === "boolean";
    case "number":
      return typeof v === "number";
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "string[]":
      return Array.isArray(v) && v.every((e) => typeof reveal(e) === "string" || e === UNKNOWN);
    case "any[]":
      return Array.isArray(v);
    case "string map":
      return isObject(v) && Object.values(v).every((e) => typeof reveal(e) === "string" || e === UNKNOWN);
    case "logging":
      return typeof v === "string" && LOGGING.includes(v);
    case "connection":
    case "asset or archive":
      return isObject(v);
  }
}

function checkFields(fields: Readonly<Record<string, Kind>>, props: Props, prefix: string, failures: Failure[]): void {
  for (const [key, kind] of Object.entries(fields)) {
    const raw = props[key];
    if (raw === undefined || raw === null || raw === UNKNOWN) continue;
    const v = isSecret(raw) ? (raw.value ?? null) : raw;
    if (v === UNKNOWN) continue;
    if (!kindOk(kind, v)) {
      const expected = kind === "logging" ? `one of ${LOGGING.join(", ")}` : `a ${kind}`;
      failures.push({ property: `${prefix}${key}`, reason: `${prefix}${key} must be ${expected}` });
    }
  }
}

/** The connection with its defaults, checked; amadegi refuses one without a pinned host key (Pulumi's skips verification then). */
function checkConnection(raw: Value, prefix: string, failures: Failure[], isProxy: boolean): Value {
  const wasSecret = isSecret(raw);
  const inner = wasSecret ? (raw.value ?? null) : raw;
  if (!isObject(inner)) return raw;
  const conn: Props = { ...inner };
  for (const [k, v] of Object.entries(CONNECTION_DEFAULTS)) conn[k] ??= v;
  checkFields(CONNECTION, conn, prefix, failures);
  if (conn.host === undefined || conn.host === null) failures.push({ property: `${prefix}host`, reason: `missing required property ${prefix}host` });
  const hostKey = reveal(conn.hostKey);
  if (hostKey === undefined || hostKey === null || (typeof hostKey === "string" && hostKey.trim() === "")) {
    failures.push({
      property: `${prefix}hostKey`,
      reason:
        `${prefix}hostKey is not set: amadegi never connects to a server whose host key is not pinned ` +
        `(Pulumi's provider would skip host key verification); set it to the server's public host key, ` +
        `e.g. the "ssh-ed25519 AAAA…" line of \`ssh-keyscan -t ed25519 <host>\` checked against the server`,
    });
  } else if (typeof hostKey === "string" && !/^\S+ [A-Za-z0-9+/=]+(\s|$)/.test(hostKey.trim())) {
    failures.push({ property: `${prefix}hostKey`, reason: `${prefix}hostKey must be a public key in authorized_keys form ("ssh-ed25519 AAAA…")` });
  }
  for (const key of ["password", "privateKeyPassword"]) {
    if (conn[key] !== undefined && conn[key] !== null) {
      failures.push({ property: `${prefix}${key}`, reason: standInRefusal(`${prefix}${key}`, "use an unencrypted privateKey or agentSocketPath") });
    }
  }
  if (isProxy && conn.proxy !== undefined && conn.proxy !== null) {
    failures.push({ property: `${prefix}proxy`, reason: `${prefix}proxy: a proxy connection has no proxy of its own` });
  }
  if (!isProxy && conn.proxy !== undefined && conn.proxy !== null && conn.proxy !== UNKNOWN) {
    conn.proxy = checkConnection(conn.proxy, `${prefix}proxy.`, failures, true);
  }
  return wasSecret ? secret(conn) : conn;
}

function checkSource(raw: Value, failures: Failure[]): void {
  const v = reveal(raw) ?? null;
  if (!isObject(v)) return;
  if (v[SIG_KEY] === ASSET_SIG) {
    if (typeof v.path !== "string" && typeof v.text !== "string") {
      failures.push({ property: "asset", reason: "asset must be a path-based file asset or a text asset" });
    }
  } else if (v[SIG_KEY] === ARCHIVE_SIG) {
    if (typeof v.path !== "string") failures.push({ property: "archive", reason: "archive must be a path to a file or directory" });
  } else {
    failures.push({ property: "asset", reason: "either asset or archive must be set" });
  }
}

/** The checked inputs and the failures, for one resource of `type`. */
export function check(type: string, news: Props): { inputs: Props; failures: Failure[] } {
  const fields = INPUTS[type];
  if (fields === undefined) return { inputs: news, failures: [{ property: "", reason: `unknown resource type ${type}` }] };
  const failures: Failure[] = [];
  const inputs: Props = { ...news };
  for (const key of REQUIRED[type] ?? []) {
    if (inputs[key] === undefined || inputs[key] === null) failures.push({ property: key, reason: `missing required property ${key}` });
  }
  checkFields(fields, inputs, "", failures);
  if (inputs.connection !== undefined && inputs.connection !== null && inputs.connection !== UNKNOWN) {
    inputs.connection = secret(checkConnection(inputs.connection, "connection.", failures, false));
  }
  if (inputs.source !== undefined && inputs.source !== null) checkSource(inputs.source, failures);
  for (const key of ["assetPaths", "archivePaths"]) {
    if (inputs[key] !== undefined && inputs[key] !== null) {
      failures.push({ property: key, reason: standInRefusal(key, "copy the files with a command, or read them in the program") });
    }
  }
  const env = reveal(inputs.environment);
  if (type === REMOTE_COMMAND && isObject(env)) {
    for (const name of Object.keys(env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        failures.push({
          property: `environment.${name}`,
          reason: standInRefusal(`the environment variable name "${name}"`, "use a name of letters, digits and _"),
        });
      }
    }
  }
  return { inputs, failures };
}
