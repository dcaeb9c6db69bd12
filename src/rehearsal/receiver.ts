import { appendFileSync, closeSync, openSync } from "node:fs";
import { createServer, type Server } from "node:http";
import process from "node:process";
import { parseArgs } from "node:util";

/**
 * The rehearsal's notification receiver: what a messaging or SMS gateway is in
 * the field, reduced to recording. Alertmanager's webhook posts its JSON
 * payload here; each valid one becomes one JSON line in `--out` (appended, one
 * write per line), with the time it arrived. The drill counts them
 * (src/rehearsal/drill/notifications.ts).
 *
 * The payload arrives from outside: it is bounded (MAX_BODY), checked field by
 * field, and only what the drill reads is kept (receiver, status, group labels,
 * each alert's status, labels and start), every text clipped. Labels are kept
 * as [name, value] pairs, never as an object's keys.
 *
 * Run inside the rehearsal's core namespace, on the monitor server's address:
 *
 *   node receiver.ts --listen ADDRESS:PORT --out FILE
 */

/** This program, as the drill starts it (and finds it again by its command line). */
export const RECEIVER = import.meta.filename;

/** Alertmanager posts at most a group's alerts; a drill's largest group is a district's links. */
export const MAX_BODY = 4 * 1024 * 1024;
const MAX_TEXT = 256;
const MAX_LABELS = 64;
const MAX_ALERTS = 20_000;

export interface NotifiedAlert {
  readonly status: "firing" | "resolved";
  readonly labels: readonly (readonly [string, string])[];
  readonly startsAt: string;
}

export interface Notification {
  /** When it arrived (ISO). */
  readonly at: string;
  readonly receiver: string;
  readonly status: "firing" | "resolved";
  readonly groupLabels: readonly (readonly [string, string])[];
  readonly alerts: readonly NotifiedAlert[];
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v.length <= MAX_TEXT ? v : undefined);
const status = (v: unknown): "firing" | "resolved" | undefined => (v === "firing" || v === "resolved" ? v : undefined);

function pairs(v: unknown): [string, string][] | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_LABELS) return undefined;
  const out: [string, string][] = [];
  for (const [k, value] of entries) {
    const name = text(k);
    const val = text(value);
    if (name === undefined || val === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined;
    out.push([name, val]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** An Alertmanager webhook payload as the drill keeps it, or why it is not one. */
export function parseNotification(body: string, at: Date): Notification | string {
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return "not JSON";
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return "not an object";
  const p = payload as Record<string, unknown>;
  const receiver = text(p.receiver);
  const st = status(p.status);
  const groupLabels = pairs(p.groupLabels ?? {});
  if (receiver === undefined || st === undefined || groupLabels === undefined) return "no receiver, status or group labels";
  if (!Array.isArray(p.alerts) || p.alerts.length > MAX_ALERTS) return "no alerts";
  const alerts: NotifiedAlert[] = [];
  for (const a of p.alerts as unknown[]) {
    if (typeof a !== "object" || a === null) return "an alert is not an object";
    const r = a as Record<string, unknown>;
    const s = status(r.status);
    const labels = pairs(r.labels);
    const startsAt = text(r.startsAt);
    if (s === undefined || labels === undefined || startsAt === undefined) return "an alert without status, labels or start";
    alerts.push({ status: s, labels, startsAt });
  }
  return { at: at.toISOString(), receiver, status: st, groupLabels, alerts };
}

/** Listens on `host:port`; each valid notification is appended to `out` as one line. */
export function startReceiver(host: string, port: number, out: string): Promise<Server> {
  const fd = openSync(out, "a", 0o600);
  const server = createServer((req, res) => {
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > MAX_BODY) return;
      const parsed = parseNotification(Buffer.concat(chunks).toString("utf8"), new Date());
      if (typeof parsed === "string") {
        res.writeHead(400, { "content-type": "text/plain" }).end(`${parsed}\n`);
        return;
      }
      appendFileSync(fd, `${JSON.stringify(parsed)}\n`);
      res.writeHead(200).end();
    });
  });
  server.on("close", () => closeSync(fd));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({ options: { listen: { type: "string" }, out: { type: "string" } } });
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(values.listen ?? "");
  // A bad command line or a port taken: thrown, so node exits non-zero with the message.
  if (m === null || values.out === undefined) throw new Error("usage: node receiver.ts --listen ADDRESS:PORT --out FILE");
  const server = await startReceiver(m[1] as string, Number(m[2]), values.out);
  process.stdout.write(`listening on ${values.listen}\n`);
  // Stopped: the server closes and, with nothing left to wait for, node exits 0.
  const stop = (): void => void server.close();
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
