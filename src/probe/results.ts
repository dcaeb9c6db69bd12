import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { ProbeError } from "../lib/errors.ts";
import { type ProbeResult, STATUSES, type Status } from "./types.ts";

/**
 * A campaign's results file: JSON lines, streamed as results come, so an
 * interrupted run keeps what it measured. The first line is a `campaign`
 * header, then one `result` per target, and an `end` footer once the run is
 * over (absent when the process died: readers then know it is partial).
 */
export const RESULTS_VERSION = 1;

export interface CampaignHeader {
  readonly type: "campaign";
  readonly version: number;
  readonly id: string;
  readonly stack: string;
  readonly from: string;
  readonly startedAt: string;
  readonly deadlineMs: number;
  readonly targets: number;
  /** A shard: the `--select` its targets were chosen by (absent: everything). */
  readonly select?: string;
  /** A merged file: the shards it was made of. */
  readonly shards?: readonly ShardInfo[];
}

/** What a merged header says of each shard. */
export interface ShardInfo {
  readonly file: string;
  readonly id: string;
  readonly from: string;
  readonly select?: string;
}

export interface CampaignFooter {
  readonly type: "end";
  readonly id: string;
  readonly finishedAt: string;
  /** False when the prober itself was starved (see `invalid`) or the run was interrupted. */
  readonly valid: boolean;
  readonly invalid: readonly string[];
  readonly interrupted: boolean;
  readonly counts: Readonly<Record<Status, number>>;
}

export type ResultRecord = { readonly type: "result" } & ProbeResult;

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 200;

export class ResultsWriter {
  readonly path: string;
  private fd: number;
  private buffer: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(path: string, header: CampaignHeader) {
    this.path = path;
    try {
      // Only when missing: a recursive mkdirSync under /proc never returns (Node 24).
      if (!existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, "w", 0o644);
    } catch (error) {
      throw new ProbeError(`cannot write results to ${path}: ${(error as Error).message}`, {
        file: path,
        hint: "pass --out FILE in a writable directory",
        cause: error,
      });
    }
    this.line(header);
    this.flush();
    // Flush on a timer too, so a slow campaign's file is never more than a moment behind.
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  write(result: ProbeResult): void {
    this.line({ type: "result", ...result });
    if (this.bytes >= FLUSH_BYTES) this.flush();
  }

  close(footer: CampaignFooter): void {
    if (this.fd < 0) return;
    clearInterval(this.timer);
    this.line(footer);
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  private line(record: object): void {
    const text = `${JSON.stringify(record)}\n`;
    this.buffer.push(text);
    this.bytes += text.length;
  }

  flush(): void {
    if (this.buffer.length === 0 || this.fd < 0) return;
    writeSync(this.fd, this.buffer.join(""));
    this.buffer = [];
    this.bytes = 0;
  }
}

/**
 * The longest line a results file may hold: a result is a few hundred bytes,
 * a check-in's values a few KiB. A longer line is damage (or an attack on the
 * reader's memory), never a record.
 */
export const MAX_RESULT_LINE = 1024 * 1024;

/**
 * Where a record may stand (issue 14): the header first, the end record last,
 * each once. A second header, a second end record, or anything after the end
 * is damage: appending `{"type":"end","valid":true}` to an invalid campaign's
 * file must not make it valid. Both readers (this one and the gate's,
 * src/readiness/evidence.ts) apply it through this one function.
 */
export function placeRecord(kind: "campaign" | "end" | "result", seen: { records: number; header: boolean; footer: boolean }): boolean {
  const first = seen.records === 0;
  seen.records++;
  if (seen.footer) return false;
  if (kind === "campaign") {
    if (seen.header || !first) return false;
    seen.header = true;
    return true;
  }
  if (kind === "end") seen.footer = true;
  return true;
}

export interface ReadSummary {
  readonly header?: CampaignHeader;
  readonly footer?: CampaignFooter;
  readonly results: number;
  /** Lines that were not a record (a torn last line of an interrupted run, or damage), with line numbers. */
  readonly damaged: readonly number[];
}

/** Stream a results file: `onResult` sees each result; nothing is kept. */
export async function readResults(path: string, onResult: (r: ResultRecord) => void = () => {}): Promise<ReadSummary> {
  let header: CampaignHeader | undefined;
  let footer: CampaignFooter | undefined;
  let results = 0;
  const damaged: number[] = [];
  let n = 0;
  const seen = { records: 0, header: false, footer: false };
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === "") continue;
      const record = parseLine(line);
      const kind = record === DAMAGED ? undefined : recordKind(record);
      if (kind === undefined || !placeRecord(kind, seen)) damaged.push(n);
      else if (kind === "campaign") header = record as CampaignHeader;
      else if (kind === "end") footer = record as CampaignFooter;
      else {
        results++;
        onResult(record as ResultRecord);
      }
    }
  } catch (error) {
    throw new ProbeError(`cannot read results ${path}: ${(error as Error).message}`, { file: path, cause: error });
  }
  return { ...(header === undefined ? {} : { header }), ...(footer === undefined ? {} : { footer }), results, damaged };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

const STATUS_SET: ReadonlySet<string> = new Set(STATUSES);

/** A line that is no record: too long to be one, or not JSON. */
export const DAMAGED: unique symbol = Symbol("damaged line");

/** A line's JSON value, or DAMAGED. */
export function parseLine(line: string): unknown {
  if (line.length > MAX_RESULT_LINE) return DAMAGED;
  try {
    return JSON.parse(line);
  } catch {
    return DAMAGED;
  }
}

/**
 * What a line's value is: a campaign header, an end record, a result (of a
 * known status), or undefined — damage. The one rule of both readers (this
 * one and the gate's, src/readiness/evidence.ts); results first, the most.
 */
export function recordKind(v: unknown): "campaign" | "end" | "result" | undefined {
  if (!isObject(v)) return undefined;
  if (v.type === "result") return typeof v.key === "string" && typeof v.status === "string" && STATUS_SET.has(v.status) ? "result" : undefined;
  if (v.type === "campaign") return typeof v.id === "string" && typeof v.startedAt === "string" ? "campaign" : undefined;
  if (v.type === "end") return typeof v.valid === "boolean" && isObject(v.counts) ? "end" : undefined;
  return undefined;
}
