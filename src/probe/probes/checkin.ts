import { ProbeError } from "../../lib/errors.ts";
import { GATEWAY_FILES } from "../../model/render/index.ts";
import { parsePublicKey } from "../../model/index.ts";
import type { Observation, ProbeContext, Target } from "../types.ts";
import { type CheckinRecord, isAttemptLine, parseAttempt, parseRecord, type RejectedAttempt } from "./checkin-record.ts";
import { attemptSignal, failed, since, type Values } from "./observe.ts";
import { numberParam, stringParam, type ProbeOptions } from "./options.ts";
import { classifySshFailure, shellQuote, sshExec } from "./sshexec.ts";

/**
 * Reads a gateway's check-in log over SSH from a cursor (ADR 0004) and turns
 * the new records into one Observation per station and link.
 *
 * The SSH connection trusts only the inventory's pinned host key (sshexec.ts:
 * StrictHostKeyChecking=yes, -F /dev/null, BatchMode). A gateway without a
 * pin is not contacted.
 *
 * The cursor is the log file's inode and a byte offset. Only complete lines
 * are consumed, so a record being written is read next time; a different
 * inode or a file shorter than the offset means the log was rotated or
 * truncated, and reading restarts at 0. At most params.maxBytes (default
 * 8 MiB) are read per call; CHECKIN_MORE says there is more.
 *
 * target: the gateway (address, port = its SSH port, server = its id);
 * params: hostKey (pinned public key, required), user, log (path, default
 * /var/log/amadegi/checkin.jsonl), maxBytes.
 */
export interface CheckinCursor {
  readonly inode: string;
  readonly offset: number;
}

export interface CheckinBatch {
  /** The read itself: ok, or why the gateway could not be read (then nothing else is set). */
  readonly observation: Observation;
  /** Valid new records, in log order. */
  readonly records: readonly CheckinRecord[];
  /** Where the next read starts (unchanged when the read failed). */
  readonly cursor: CheckinCursor | undefined;
  /** The latest record per `<station>/<link>` (link: the gateway's sourceLink when known, else the device's). */
  readonly observations: ReadonlyMap<string, Observation>;
  /** Lines that were not valid records: how many, and the first few reasons with their byte offsets. */
  readonly rejected: { readonly count: number; readonly examples: readonly string[] };
  /** Rejected attempts (security events, issue 17) per `<station>/<link>` of the source: how many (with those suppressed) and the latest. */
  readonly attempts: ReadonlyMap<string, AttemptSummary>;
}

/** A link's rejected attempts in one read: their number (the recorder's suppressed ones included) and the latest. */
export interface AttemptSummary {
  readonly count: number;
  readonly latest: RejectedAttempt;
}

export interface CheckinReader {
  readonly kind: "checkin";
  read(gateway: Target, cursor: CheckinCursor | undefined, context: ProbeContext): Promise<CheckinBatch>;
}

const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const MAX_LINE = 8192;
const MAX_EXAMPLES = 5;
const NO_LOG_EXIT = 65;
const HOUR_MS = 3_600_000;

/** The remote side: stat the log, pick the start (cursor, or 0 after a rotation), print a header, then the bytes. */
function remoteCommand(log: string, cursor: CheckinCursor | undefined, maxBytes: number): string {
  const inode = cursor === undefined ? "none" : cursor.inode.replace(/[^0-9]/g, "");
  const offset = cursor === undefined ? 0 : Math.max(0, Math.floor(cursor.offset));
  return [
    `f=${shellQuote(log)}`,
    `s=$(stat -L -c '%i %s' -- "$f" 2>/dev/null) || { echo "no check-in log at $f" >&2; exit ${NO_LOG_EXIT}; }`,
    "set -- $s",
    `if [ "$1" = "${inode}" ] && [ "$2" -ge ${offset} ]; then o=${offset}; else o=0; fi`,
    'echo "AMADEGI-CURSOR $1 $2 $o"',
    `tail -c +$((o + 1)) -- "$f" | head -c ${maxBytes}`,
  ].join("; ");
}

export function checkinReader(options: ProbeOptions): CheckinReader {
  const ssh = options.ssh?.ssh ?? ["ssh"];
  return {
    kind: "checkin",
    async read(gateway: Target, cursor: CheckinCursor | undefined, context: ProbeContext): Promise<CheckinBatch> {
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
      const log = stringParam(gateway, "log") ?? GATEWAY_FILES.checkinLog;
      const maxBytes = numberParam(gateway, "maxBytes") ?? DEFAULT_MAX_BYTES;
      const signal = attemptSignal(context);
      const start = performance.now();
      // sshExec runs the allow-list guard before ssh is spawned.
      const run = await sshExec({ key: gateway.key, address: gateway.address, port, user, hostKey: pin }, remoteCommand(log, cursor, maxBytes), {
        allow: options.allow,
        ssh,
        ...(options.ssh?.identityFile === undefined ? {} : { identityFile: options.ssh.identityFile }),
        timeoutMs: context.timeoutMs,
        signal,
        maxStdout: maxBytes + 256,
        ...(options.spawner === undefined ? {} : { spawner: options.spawner }),
      });
      const timings = { total: since(start) };
      const where = `gateway ${gateway.server ?? gateway.key} (${gateway.address}:${port})`;
      if (run.code !== 0) {
        const observation =
          run.killed || signal.aborted
            ? failed("timeout", `${where}: no answer within ${context.timeoutMs} ms`, timings)
            : sshFailure(where, run.code, run.stderr, log, timings);
        return { observation, records: [], cursor, observations: new Map(), rejected: { count: 0, examples: [] }, attempts: new Map() };
      }
      return consume(run.stdout, cursor, maxBytes, timings, where);
    },
  };
}

/** ssh's own failures (exit 255) by what it printed; the remote "no log" by our exit code. */
function sshFailure(where: string, code: number | null, stderr: string, log: string, timings: { total: number }): Observation {
  if (code === NO_LOG_EXIT) return failed("protocol", `${where}: no check-in log at ${log}`, timings);
  const { failure, hostKeyMismatch, said } = classifySshFailure(code, stderr);
  if (hostKeyMismatch)
    return failed("assertion", `${where}: its SSH host key is not the pinned one; nothing was read (${said})`, timings, { HOST_KEY_VERIFIED: false });
  return failed(failure, failure === "internal" ? `${where}: ssh exited ${code}: ${said}` : `${where}: ${said}`, timings);
}

/** Records parsed between two turns of the event loop: 8 MiB of records at once would hold it for a quarter of a second. */
const LINES_PER_TURN = 1000;

async function consume(
  output: Buffer,
  previous: CheckinCursor | undefined,
  maxBytes: number,
  timings: { total: number },
  where: string,
): Promise<CheckinBatch> {
  const headerEnd = output.indexOf(0x0a);
  const header = /^AMADEGI-CURSOR (\d+) (\d+) (\d+)$/.exec(output.subarray(0, Math.max(0, headerEnd)).toString("latin1"));
  if (header === null) {
    const observation = failed("protocol", `${where}: the remote side did not answer with a cursor header`, timings);
    return { observation, records: [], cursor: previous, observations: new Map(), rejected: { count: 0, examples: [] }, attempts: new Map() };
  }
  const [, inode = "0", size = "0", startText = "0"] = header;
  const start = Number(startText);
  const data = output.subarray(headerEnd + 1);
  const records: CheckinRecord[] = [];
  const attempts: RejectedAttempt[] = [];
  const examples: string[] = [];
  let rejected = 0;
  let consumed = 0;
  let lines = 0;
  for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a, consumed)) {
    if (++lines % LINES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    const line = data.subarray(consumed, newline);
    const at = start + consumed;
    consumed = newline + 1;
    if (line.length === 0) continue;
    const text = line.length > MAX_LINE ? undefined : line.toString("utf8");
    if (text !== undefined && isAttemptLine(text)) {
      const parsed = parseAttempt(text);
      if (parsed.ok) {
        attempts.push(parsed.attempt);
        continue;
      }
    }
    const result = text === undefined ? { ok: false as const, reason: `longer than ${MAX_LINE} bytes` } : parseRecord(text);
    if (result.ok) records.push(result.record);
    else {
      rejected += 1;
      if (examples.length < MAX_EXAMPLES) examples.push(`byte ${at}: ${result.reason}`);
    }
  }
  // A single line longer than the whole read window can never complete: skip it rather than stall forever.
  if (consumed === 0 && data.length >= maxBytes) {
    consumed = data.length;
    rejected += 1;
    if (examples.length < MAX_EXAMPLES) examples.push(`byte ${start}: a line longer than the read window (${maxBytes} bytes) was skipped`);
  }
  const cursor = { inode, offset: start + consumed };
  const rotated = previous !== undefined && (previous.inode !== inode || start < previous.offset);
  const values: Values = {
    CHECKIN_RECORDS: records.length,
    CHECKIN_REJECTED: rejected,
    CHECKIN_BYTES: consumed,
    CHECKIN_ROTATED: rotated,
    CHECKIN_MORE: cursor.offset < Number(size),
  };
  values.CHECKIN_ATTEMPTS_REJECTED = attempts.reduce((n, a) => n + 1 + a.suppressed, 0);
  return {
    observation: { ok: true, timings, values },
    records,
    cursor,
    observations: perLink(records, timings),
    rejected: { count: rejected, examples },
    attempts: attemptsByLink(attempts),
  };
}

/** Rejected attempts by the link of their source (the network's word); those from unlisted sources under `?/<source>`. */
function attemptsByLink(attempts: readonly RejectedAttempt[]): Map<string, AttemptSummary> {
  const out = new Map<string, AttemptSummary>();
  for (const a of attempts) {
    const key = a.station !== undefined && a.sourceLink !== undefined ? `${a.station}/${a.sourceLink}` : `?/${a.source}`;
    const seen = out.get(key);
    const count = (seen?.count ?? 0) + 1 + a.suppressed;
    out.set(key, { count, latest: seen === undefined || Date.parse(a.time) >= Date.parse(seen.latest.time) ? a : seen.latest });
  }
  return out;
}

function perLink(records: readonly CheckinRecord[], timings: { total: number }): Map<string, Observation> {
  const latest = new Map<string, CheckinRecord>();
  for (const record of records) {
    const key = `${record.station}/${record.sourceLink ?? record.link}`;
    const seen = latest.get(key);
    if (seen === undefined || Date.parse(record.time) >= Date.parse(seen.time)) latest.set(key, record);
  }
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
