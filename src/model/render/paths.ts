import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { contentHash } from "./provisioned.ts";
import type { ServerTarget } from "./types.ts";

/**
 * Where the roles' files live on a server, as production sees them. A config
 * that names another file names `rooted(target, path)`: the same renderer
 * serves production (root "") and the rehearsal, where every server shares
 * this machine's file system under its own root.
 */

/** Files the PKI writes (not rendered here: the roles only reference them). */
export const TLS_FILES = {
  /** The server's certificate (chain) and key: gateways serve them on :443. */
  serverCert: "/etc/amadegi/tls/server.crt",
  serverKey: "/etc/amadegi/tls/server.key",
  /** The CA that issues the stations' authentication devices' client certificates. */
  devicesCa: "/etc/amadegi/tls/devices-ca.crt",
  /** That CA's revocation list (issue 17): nginx refuses a revoked device's certificate. Installed by its own command. */
  devicesCrl: "/etc/amadegi/tls/devices.crl",
  /** The CA that issues the central servers' certificates: the monitor verifies gateways and auth with it. */
  serversCa: "/etc/amadegi/tls/servers-ca.crt",
} as const;

/**
 * The election's issuing CA on the inventory's `pki` server (ADR 0008): its key (0600, made there,
 * never leaving it), its certificate, and the devices' certificates with their issuance log.
 */
export const PKI_FILES = { dir: "/var/lib/amadegi/pki" } as const;

/** Every provisioned server: what drift can always compare. */
export const SERVER_FILE = "/etc/amadegi/server.json";

/** Directories of runtime state (pid files, sockets), logs and data. */
export const RUN_DIR = "/run/amadegi";
export const LOG_DIR = "/var/log/amadegi";
export const LIB_DIR = "/var/lib/amadegi";

export const GATEWAY_FILES = {
  nginxConf: "/etc/amadegi/nginx/nginx.conf",
  links: "/etc/amadegi/gateway/links.json",
  recorder: "/opt/amadegi/checkin-recorder.js",
  socket: `${RUN_DIR}/checkin.sock`,
  /** The token nginx sends the recorder (an nginx snippet, made on the server when its recorder first starts: never in the state or the inventory). */
  recorderToken: "/etc/amadegi/gateway/recorder-token.conf",
  /** Every accepted and rejected attempt, one JSON line each; the recorder rotates it (.1 … .K). */
  checkinLog: `${LOG_DIR}/checkin.jsonl`,
  /** The latest check-in and rejected attempts per station/link (ADR 0004, "The check-in table"): what a campaign reads. */
  checkinTable: `${LIB_DIR}/checkin/checkin-latest.json`,
  recorderLog: `${LOG_DIR}/checkin-recorder.log`,
  recorderPid: `${RUN_DIR}/checkin-recorder.pid`,
  nginxPid: `${RUN_DIR}/nginx.pid`,
  nginxErrorLog: `${LOG_DIR}/nginx-error.log`,
  nginxAccessLog: `${LOG_DIR}/nginx-access.log`,
  nginxTemp: `${LIB_DIR}/nginx`,
} as const;

export const DNS_FILES = {
  conf: "/etc/amadegi/unbound/unbound.conf",
  pid: `${RUN_DIR}/unbound.pid`,
  log: `${LOG_DIR}/unbound.log`,
  dir: `${LIB_DIR}/unbound`,
} as const;

export const NTP_FILES = {
  conf: "/etc/amadegi/chrony/chrony.conf",
  pid: `${RUN_DIR}/chronyd.pid`,
  log: `${LOG_DIR}/chronyd.log`,
  dir: `${LIB_DIR}/chrony`,
  drift: `${LIB_DIR}/chrony/chrony.drift`,
} as const;

export const MONITOR_FILES = {
  dir: "/etc/amadegi/prometheus",
  prometheus: "/etc/amadegi/prometheus/prometheus.yml",
  blackbox: "/etc/amadegi/prometheus/blackbox.yml",
  storage: `${LIB_DIR}/prometheus`,
  prometheusPid: `${RUN_DIR}/prometheus.pid`,
  prometheusLog: `${LOG_DIR}/prometheus.log`,
  blackboxPid: `${RUN_DIR}/blackbox.pid`,
  blackboxLog: `${LOG_DIR}/blackbox.log`,
  /** The link prober (assets/link-prober.sh; its targets are beside prometheus.yml) and where it writes for its exporter. */
  linkProber: "/opt/amadegi/link-prober.sh",
  linkTextfiles: `${LIB_DIR}/link-prober`,
  linkProberPid: `${RUN_DIR}/link-prober.pid`,
  linkProberLog: `${LOG_DIR}/link-prober.log`,
  linkExporterPid: `${RUN_DIR}/link-exporter.pid`,
  linkExporterLog: `${LOG_DIR}/link-exporter.log`,
  /** The alerting rules (src/model/alerting.ts), named by prometheus.yml beside it. */
  rules: "/etc/amadegi/prometheus/rules.yml",
  alertmanager: "/etc/amadegi/alertmanager/alertmanager.yml",
  alertmanagerStorage: `${LIB_DIR}/alertmanager`,
  alertmanagerPid: `${RUN_DIR}/alertmanager.pid`,
  alertmanagerLog: `${LOG_DIR}/alertmanager.log`,
} as const;

/** A production path as this target's configs must name it. */
export function rooted(target: ServerTarget, path: string): string {
  return target.root.replace(/\/+$/, "") + path;
}

/** The most bytes a Unix socket's path may have: `sun_path` is 108 bytes, its closing NUL included. */
export const SOCKET_PATH_MAX = 107;
/** Where a rehearsal's sockets go whose rooted path would be too long: root's, on every host (`/run`). */
export const REHEARSAL_SOCKETS = "/run/amadegi-rehearsal";

/**
 * A Unix socket's path as this target's configs and scripts name it: the rooted path, unless that
 * is longer than a socket's path may be. The kernel refuses to bind such a path (EINVAL), and nginx
 * refuses to read it: a rehearsal under a deep state directory, with a long server id
 * (`gw-sistan-baluchestan-b01`), met that. Then, in the rehearsal only, a short path under
 * REHEARSAL_SOCKETS named by a hash of the rooted one, so each server's socket stays its own.
 * Production's paths are short and fixed (`/run/amadegi/…`).
 */
export function socketPath(target: ServerTarget, path: string): string {
  const full = rooted(target, path);
  if (Buffer.byteLength(full) <= SOCKET_PATH_MAX) return full;
  if (target.root === "") throw new Error(`${path}: a Unix socket's path has at most ${SOCKET_PATH_MAX} bytes`);
  return `${REHEARSAL_SOCKETS}/${contentHash(full).slice(0, 32)}.sock`;
}

/** The path of a systemd unit amadegi renders for a service (production only). */
export function unitPath(service: string): string {
  return `/etc/systemd/system/${unitName(service)}`;
}

export function unitName(service: string): string {
  return `amadegi-${service}.service`;
}

/** A file this package ships for a role to install (`src/model/render/assets/<name>`): its path here. */
export function assetPath(name: string): string {
  return fileURLToPath(new URL(`./assets/${name}`, import.meta.url));
}

const assetTexts = new Map<string, string>();

/**
 * An asset's text, read once, when a role's file first asks for it (so the rest of a role renders
 * before the asset exists). A missing one names the file to restore and what the role installs it as.
 */
export function assetText(name: string, what: string, installedAs: string): string {
  let text = assetTexts.get(name);
  if (text === undefined) {
    const path = assetPath(name);
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new Error(
        `${path}: cannot read the ${what} the role installs as ${installedAs} ` +
          `(${(error as NodeJS.ErrnoException).code ?? String(error)}); it is src/model/render/assets/${name} — restore it`,
        { cause: error },
      );
    }
    assetTexts.set(name, text);
  }
  return text;
}
