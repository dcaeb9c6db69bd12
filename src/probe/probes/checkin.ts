import { ProbeError } from "../../lib/errors.ts";
import { isRecord } from "../../lib/records.ts";
import { GATEWAY_FILES } from "../../model/render/index.ts";
import { parsePublicKey } from "../../model/index.ts";
import type { Observation, ProbeContext, Target } from "../types.ts";
import { attemptFrom, type CheckinRecord, isAttemptLine, jsonObject, parseRecord, recordFrom, type RejectedAttempt } from "./checkin-record.ts";
import { attemptSignal, failed, since, type Values } from "./observe.ts";
import { numberParam, stringParam, type ProbeOptions } from "./options.ts";
import { classifySshFailure, shellQuote, sshExec } from "./sshexec.ts";
import { PUBLIC_DATA_KEX } from "../../toolchain/ssh.ts";
import { UNTIMED_NICE } from "../spawner.ts";

/**
 * Reads a gateway's check-ins over SSH (ADR 0004), in one of two ways:
 *
 * - `checkinReader` (a campaign): the recorder's **table** — the latest check-in and the rejected
 *   attempts per `<station>/<link>` the gateway serves — read whole (at most params.maxBytes,
 *   default 8 MiB), one Observation per station and link. A link's last check-in may be older
 *   than the last campaign, and shards run on different runners: a campaign reads the table, not
 *   "what is new", so a device that floods the log cannot push the others' check-ins out of view.
 *   target params: hostKey (required), user, table (path, default GATEWAY_FILES.checkinTable), maxBytes.
 * - `checkinLogReader` (a drill): the **log** of every attempt from a cursor (the file's inode and
 *   a byte offset), for when each check-in happened. Only complete lines are consumed; a different
 *   inode or a shorter file means the log rotated and reading restarts at 0 of the new file.
 *   target params: hostKey, user, log (default GATEWAY_FILES.checkinLog), maxBytes.
 *
 * The SSH connection trusts only the inventory's pinned host key (sshexec.ts:
 * StrictHostKeyChecking=yes, -F /dev/null, BatchMode). A gateway without a
 * pin is not contacted.
 */
export interface CheckinBatch {
  /** The read itself: ok, or why the gateway could not be read (then nothing else is set). */
  readonly observation: Observation;
  /** The latest check-in per `<station>/<link>` (link: the gateway's sourceLink, the network's word). */
  readonly observations: ReadonlyMap<string, Observation>;
  /** Table entries that were not valid: how many, and the first few reasons. */
  readonly rejected: { readonly count: number; readonly examples: readonly string[] };
  /**
   * Rejected attempts (security events, issue 17) per `<station>/<link>` of the source, `?/unlisted` for sources none of
   * the links: those of the last day (REJECTED_WINDOW_MS), with the recorder's suppressed ones.
   */
  readonly attempts: ReadonlyMap<string, AttemptSummary>;
}

/** A link's rejected attempts: their number (the recorder's suppressed ones included) and the latest. */
export interface AttemptSummary {
  readonly count: number;
  readonly latest: RejectedAttempt;
}

export interface CheckinReader {
  readonly kind: "checkin";
  read(gateway: Target, context: ProbeContext): Promise<CheckinBatch>;
}

export interface CheckinCursor {
  readonly inode: string;
  readonly offset: number;
}

export interface CheckinLogBatch {
  readonly observation: Observation;
  /** Valid new check-in records, in log order (rejected attempts are skipped). */
  readonly records: readonly CheckinRecord[];
  /** Where the next read starts (unchanged when the read failed). */
  readonly cursor: CheckinCursor | undefined;
}

export interface CheckinLogReader {
  read(gateway: Target, cursor: CheckinCursor | undefined, context: ProbeContext): Promise<CheckinLogBatch>;
}

const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const MAX_LINE = 8192;
const MAX_EXAMPLES = 5;
const NO_FILE_EXIT = 65;
const HOUR_MS = 3_600_000;
/** A link's rejected attempts count while their latest is at most this old (the recorder starts a new count after a day too). */
export const REJECTED_WINDOW_MS = 24 * HOUR_MS;

type Remote =
  | { readonly ok: true; readonly stdout: Buffer; readonly timings: { total: number }; readonly where: string }
  | { readonly ok: false; readonly observation: Observation };

/** Run `command` on the gateway over SSH (pinned host key, the allow-list first); a failure as an observation. */
async function remote(
  options: ProbeOptions,
  gateway: Target,
  context: ProbeContext,
  command: (path: string, maxBytes: number) => string,
  file: { readonly param: string; readonly fallback: string; readonly what: string },
): Promise<Remote> {
  const pin = stringParam(gateway, "hostKey");
  const parsed = pin === undefined ? undefined : parsePublicKey(pin);
  if (pin === undefined || parsed === undefined || !parsed.ok) {
    throw new ProbeError(
      `target ${gateway.key}: gateway ${gateway.server ?? gateway.address} has ` +
        `${pin === undefined ? "no" : "an invalid"} pinned SSH host key; its check-ins are not read`,
      {
        hint: "pin the gateway's key in the inventory (servers.yaml ssh.hostKey, as ssh-keyscan prints it)",
      },
    );
  }
  const port = gateway.port ?? 22;
  const user = stringParam(gateway, "user") ?? options.ssh?.user ?? "amadegi";
  const path = stringParam(gateway, file.param) ?? file.fallback;
  const maxBytes = numberParam(gateway, "maxBytes") ?? DEFAULT_MAX_BYTES;
  const signal = attemptSignal(context);
  const start = performance.now();
  // sshExec runs the allow-list guard before ssh is spawned.
  const run = await sshExec({ key: gateway.key, address: gateway.address, port, user, hostKey: pin }, command(path, maxBytes), {
    allow: options.allow,
    ssh: options.ssh?.ssh ?? ["ssh"],
    ...(options.ssh?.identityFile === undefined ? {} : { identityFile: options.ssh.identityFile }),
    timeoutMs: context.timeoutMs,
    signal,
    maxStdout: maxBytes + 256,
    // The tables' content is written into results and reports in the clear: no post-quantum key exchange for it.
    kex: PUBLIC_DATA_KEX,
    // A read times nothing: it yields the CPU to fping and the timed probes beside it.
    nice: UNTIMED_NICE,
    ...(options.spawner === undefined ? {} : { spawner: options.spawner }),
  });
  const timings = { total: since(start) };
  const where = `gateway ${gateway.server ?? gateway.key} (${gateway.address}:${port})`;
  if (run.code === 0) return { ok: true, stdout: run.stdout, timings, where };
  if (run.killed || signal.aborted) return { ok: false, observation: failed("timeout", `${where}: no answer within ${context.timeoutMs} ms`, timings) };
  if (run.code === NO_FILE_EXIT)
    return { ok: false, observation: failed("protocol", `${where}: no ${file.what} at ${path}${NO_FILE_HINT[file.param] ?? ""}`, timings) };
  const { failure, hostKeyMismatch, said } = classifySshFailure(run.code, run.stderr);
  if (hostKeyMismatch)
    return {
      ok: false,
      observation: failed("assertion", `${where}: its SSH host key is not the pinned one; nothing was read (${said})`, timings, { HOST_KEY_VERIFIED: false }),
    };
  return { ok: false, observation: failed(failure, failure === "internal" ? `${where}: ssh exited ${run.code}: ${said}` : `${where}: ${said}`, timings) };
}

const NO_FILE_HINT: Readonly<Record<string, string>> = {
  table: " (its check-in recorder has not run since it was installed: see the gateway's amadegi-checkin-recorder service and its log)",
};

// ---- The table (campaigns) ----

/** The remote side: the table whole, and one byte more than the cap (so a table over it is told from one at it). */
function tableCommand(path: string, maxBytes: number): string {
  return [`f=${shellQuote(path)}`, `[ -f "$f" ] || { echo "no check-in table at $f" >&2; exit ${NO_FILE_EXIT}; }`, `head -c ${maxBytes + 1} -- "$f"`].join(
    "; ",
  );
}

export function checkinReader(options: ProbeOptions): CheckinReader {
  return {
    kind: "checkin",
    async read(gateway: Target, context: ProbeContext): Promise<CheckinBatch> {
      const run = await remote(options, gateway, context, tableCommand, { param: "table", fallback: GATEWAY_FILES.checkinTable, what: "check-in table" });
      if (!run.ok) return { observation: run.observation, observations: new Map(), rejected: { count: 0, examples: [] }, attempts: new Map() };
      return readTable(run.stdout, numberParam(gateway, "maxBytes") ?? DEFAULT_MAX_BYTES, gateway.server, run.timings, run.where);
    },
  };
}

function readTable(output: Buffer, maxBytes: number, server: string | undefined, timings: { total: number }, where: string): CheckinBatch {
  const empty = { observations: new Map(), rejected: { count: 0, examples: [] }, attempts: new Map() };
  const bad = (why: string): CheckinBatch => ({ observation: failed("protocol", `${where}: ${why}`, timings), ...empty });
  if (output.length > maxBytes) return bad(`the check-in table is larger than ${maxBytes} bytes (maxBytes): not read`);
  const parsed = jsonObject(output.toString("utf8"));
  if (!parsed.ok) return bad(`the check-in table is ${parsed.reason}`);
  const t = parsed.r;
  if (t.v !== 1 || t.kind !== "checkin-table" || !Array.isArray(t.links)) return bad("the check-in table is not of format 1 (v 1, kind checkin-table, links)");
  if (server !== undefined && t.gateway !== server) return bad(`the check-in table is gateway ${JSON.stringify(t.gateway)}'s, not ${server}'s`);
  const latest = new Map<string, CheckinRecord>();
  const attempts = new Map<string, AttemptSummary>();
  const examples: string[] = [];
  let rejected = 0;
  const reject = (why: string) => {
    rejected += 1;
    if (examples.length < MAX_EXAMPLES) examples.push(why);
  };
  const now = Date.now();
  const summary = (value: unknown, at: string, key: string): void => {
    if (value === undefined) return;
    const s = isRecord(value) ? value : {};
    const a = isRecord(s.latest) ? attemptFrom(s.latest) : { ok: false as const, reason: "latest is not an object" };
    if (typeof s.count !== "number" || !Number.isSafeInteger(s.count) || s.count < 1) return reject(`${at}: rejected.count is not a count`);
    if (!a.ok) return reject(`${at}: rejected.latest: ${a.reason}`);
    // A day's attempts: an old one is not a security event of tonight.
    if (now - Date.parse(a.attempt.time) <= REJECTED_WINDOW_MS) attempts.set(key, { count: s.count, latest: a.attempt });
  };
  t.links.forEach((item: unknown, i) => {
    const at = `links[${i}]`;
    const e = isRecord(item) ? item : {};
    if (typeof e.station !== "string" || typeof e.link !== "string") return reject(`${at}: station or link is missing`);
    const key = `${e.station}/${e.link}`;
    if (e.checkin !== undefined) {
      const r = isRecord(e.checkin) ? recordFrom(e.checkin) : { ok: false as const, reason: "not an object" };
      if (!r.ok) reject(`${at} (${key}): checkin: ${r.reason}`);
      else if (r.record.station !== e.station || r.record.sourceLink !== e.link) reject(`${at} (${key}): checkin is another link's`);
      else latest.set(key, r.record);
    }
    summary(e.rejected, `${at} (${key})`, key);
  });
  summary(t.unlisted, "unlisted", "?/unlisted");
  const values: Values = {
    CHECKIN_LINKS: latest.size,
    CHECKIN_REJECTED: rejected,
    CHECKIN_ATTEMPTS_REJECTED: [...attempts.values()].reduce((n, a) => n + a.count, 0),
    CHECKIN_BYTES: output.length,
    ...(typeof t.written === "string" ? { CHECKIN_TABLE_AT: t.written.slice(0, 64) } : {}),
  };
  return { observation: { ok: true, timings, values }, observations: perLink(latest, timings), rejected: { count: rejected, examples }, attempts };
}

function perLink(latest: ReadonlyMap<string, CheckinRecord>, timings: { total: number }): Map<string, Observation> {
  const now = Date.now();
  const observations = new Map<string, Observation>();
  for (const [key, r] of latest) {
    const values: Values = {
      CHECKIN_AT: r.time,
      CHECKIN_AGE: Math.round(((now - Date.parse(r.time)) / HOUR_MS) * 100) / 100,
      SERIAL: r.serial,
      CERT_FINGERPRINT: r.certFingerprint,
      SOURCE: r.source,
      GATEWAY: r.gateway,
      LINK_REPORTED: r.link,
      LINK_CONSISTENT: r.sourceLink === undefined || r.sourceLink === r.link,
      ...(r.sourceLink === undefined ? {} : { LINK_BY_SOURCE: r.sourceLink }),
      ...(r.tlsVersion === undefined ? {} : { TLS_VERSION: r.tlsVersion }),
    };
    observations.set(key, { ok: true, timings, values });
  }
  return observations;
}

// ---- The log from a cursor (drills) ----

/** The remote side: stat the log, pick the start (cursor, or 0 after a rotation), print a header, then the bytes. */
function logCommand(cursor: CheckinCursor | undefined): (log: string, maxBytes: number) => string {
  const inode = cursor === undefined ? "none" : cursor.inode.replace(/[^0-9]/g, "");
  const offset = cursor === undefined ? 0 : Math.max(0, Math.floor(cursor.offset));
  return (log, maxBytes) =>
    [
      `f=${shellQuote(log)}`,
      `s=$(stat -L -c '%i %s' -- "$f" 2>/dev/null) || { echo "no check-in log at $f" >&2; exit ${NO_FILE_EXIT}; }`,
      "set -- $s",
      `if [ "$1" = "${inode}" ] && [ "$2" -ge ${offset} ]; then o=${offset}; else o=0; fi`,
      'echo "AMADEGI-CURSOR $1 $2 $o"',
      `tail -c +$((o + 1)) -- "$f" | head -c ${maxBytes}`,
    ].join("; ");
}

export function checkinLogReader(options: ProbeOptions): CheckinLogReader {
  return {
    async read(gateway: Target, cursor: CheckinCursor | undefined, context: ProbeContext): Promise<CheckinLogBatch> {
      const run = await remote(options, gateway, context, logCommand(cursor), { param: "log", fallback: GATEWAY_FILES.checkinLog, what: "check-in log" });
      if (!run.ok) return { observation: run.observation, records: [], cursor };
      return consume(run.stdout, cursor, numberParam(gateway, "maxBytes") ?? DEFAULT_MAX_BYTES, run.timings, run.where);
    },
  };
}

/** Records parsed between two turns of the event loop: 8 MiB of records at once would hold it for a quarter of a second. */
const LINES_PER_TURN = 1000;

async function consume(
  output: Buffer,
  previous: CheckinCursor | undefined,
  maxBytes: number,
  timings: { total: number },
  where: string,
): Promise<CheckinLogBatch> {
  const headerEnd = output.indexOf(0x0a);
  const header = /^AMADEGI-CURSOR (\d+) (\d+) (\d+)$/.exec(output.subarray(0, Math.max(0, headerEnd)).toString("latin1"));
  if (header === null) {
    return { observation: failed("protocol", `${where}: the remote side did not answer with a cursor header`, timings), records: [], cursor: previous };
  }
  const [, inode = "0", size = "0", startText = "0"] = header;
  const start = Number(startText);
  const data = output.subarray(headerEnd + 1);
  const records: CheckinRecord[] = [];
  let rejected = 0;
  let consumed = 0;
  let lines = 0;
  for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a, consumed)) {
    if (++lines % LINES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    const line = data.subarray(consumed, newline);
    consumed = newline + 1;
    if (line.length === 0) continue;
    const text = line.length > MAX_LINE ? undefined : line.toString("utf8");
    // A rejected attempt is the table's business (and a security event), never a check-in.
    if (text !== undefined && isAttemptLine(text)) continue;
    const result = text === undefined ? { ok: false as const } : parseRecord(text);
    if (result.ok) records.push(result.record);
    else rejected += 1;
  }
  // A single line longer than the whole read window can never complete: skip it rather than stall forever.
  if (consumed === 0 && data.length >= maxBytes) {
    consumed = data.length;
    rejected += 1;
  }
  const cursor = { inode, offset: start + consumed };
  const values: Values = {
    CHECKIN_RECORDS: records.length,
    CHECKIN_REJECTED: rejected,
    CHECKIN_BYTES: consumed,
    CHECKIN_ROTATED: previous !== undefined && (previous.inode !== inode || start < previous.offset),
    CHECKIN_MORE: cursor.offset < Number(size),
  };
  return { observation: { ok: true, timings, values }, records, cursor };
}
