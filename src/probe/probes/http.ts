import type { Socket } from "node:net";
import { Client } from "undici";
import type { Observation, Probe, ProbeContext, Target, Timings } from "../types.ts";
import { guardedConnect } from "./connect.ts";
import { attemptSignal, classify, failed, since, type Values } from "./observe.ts";
import { requirePort, stringParam, type ProbeOptions } from "./options.ts";
import { tlsHandshake } from "./tlsconnect.ts";

const DEFAULT_MAX_BODY = 65_536;
/**
 * Passed to Client.destroy once a probe is over. Without one, undici builds a
 * fresh error (and its stack) per probe just to say "destroyed": at thousands
 * of probes a second that was a sixth of the probe's CPU.
 */
const DONE = Object.assign(new Error("probe finished"), { code: "AMADEGI_PROBE_DONE" });
const MAX_HEADERS = 64;
const MAX_HEADER_VALUE = 1024;

/**
 * One HTTP(S) request per attempt through undici, on a socket we open
 * ourselves (so the allow-list guard and the TLS verification of tls.ts are
 * the same code): a fresh connection each time, closed by us as soon as the
 * response is read (no keep-alive), no TLS session reuse. We do not send
 * `connection: close`: undici answers it with a per-request "reset" error
 * (stack and all), which cost a sixth of the probe's CPU. params: scheme ("http" | "https",
 * default http), path (default "/"), method (default GET).
 *
 * A wrong status or body is not a failure here: the probe reports STATUS,
 * BODY and HEADER_* and the catalog's conditions judge them.
 */
export function httpProbe(options: ProbeOptions): Probe {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  return {
    kind: "http",
    async probe(target: Target, context: ProbeContext): Promise<Observation> {
      const port = requirePort(target);
      const https = (stringParam(target, "scheme") ?? "http") === "https";
      const path = stringParam(target, "path") ?? "/";
      const method = stringParam(target, "method") ?? "GET";
      const signal = attemptSignal(context);
      const start = performance.now();
      const phase: { connect?: number; tls?: number; firstByte?: number; values: Values; problem?: string } = { values: {} };
      let phaseName = "connect";
      let received = 0;
      const client = new Client(`${https ? "https" : "http"}://${target.address}:${port}`, {
        connect: (_opts, callback) => {
          const opened: Promise<Socket> = https
            ? tlsHandshake(target, options.allow, options.tls, signal, { alpn: ["http/1.1"] }).then((hs) => {
                phase.connect = hs.connectMs;
                phase.tls = hs.tlsMs;
                phase.values = hs.values;
                if (hs.problem !== undefined) {
                  phase.problem = hs.problem;
                  hs.socket.destroy();
                  throw Object.assign(new Error(hs.problem), { code: "ERR_TLS_UNTRUSTED_PEER" });
                }
                return hs.socket;
              })
            : guardedConnect({ key: target.key, address: target.address, port }, options.allow, signal).then((socket) => {
                phase.connect = since(start);
                return socket;
              });
          opened.then(
            (socket) => {
              phaseName = "headers";
              callback(null, socket);
            },
            (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), null),
          );
        },
        headersTimeout: context.timeoutMs,
        bodyTimeout: context.timeoutMs,
        keepAliveTimeout: 1,
        keepAliveMaxTimeout: 1,
        pipelining: 1,
        maxHeaderSize: 16_384,
      });
      const timings = (): Timings => ({
        ...(phase.connect === undefined ? {} : { connect: phase.connect }),
        ...(phase.tls === undefined ? {} : { tls: phase.tls }),
        ...(phase.firstByte === undefined ? {} : { firstByte: phase.firstByte }),
        total: since(start),
      });
      try {
        const response = await client.request({
          path,
          method,
          headers: { host: target.hostname ?? target.address, "user-agent": "amadegi-probe" },
          signal,
        });
        phase.firstByte = since(start);
        phaseName = "body";
        const chunks: Buffer[] = [];
        let truncated = false;
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          const room = maxBody - received;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            received += room;
            truncated = true;
            break;
          }
          chunks.push(chunk);
          received += chunk.length;
        }
        if (truncated) response.body.destroy();
        const values: Values = {
          ...phase.values,
          STATUS: response.statusCode,
          BODY: Buffer.concat(chunks).toString("utf8"),
          BODY_BYTES: received,
          BODY_TRUNCATED: truncated,
          ...headerValues(response.headers),
        };
        return { ok: true, timings: timings(), values };
      } catch (error) {
        if (phase.problem !== undefined) return failed("tls", `${target.address}:${port}: ${phase.problem}`, timings(), phase.values);
        const { failure, detail, code } = classify(error, signal);
        const where =
          failure === "timeout" && phaseName === "headers"
            ? `no response headers within ${context.timeoutMs} ms`
            : failure === "timeout" && phaseName === "body"
              ? `body still arriving after ${context.timeoutMs} ms (${received} bytes read)`
              : detail;
        return failed(failure, `${target.address}:${port} ${method} ${path}: ${where}`, timings(), {
          ...phase.values,
          HTTP_ERROR: code,
          HTTP_PHASE: phaseName,
        });
      } finally {
        client.destroy(DONE).catch(() => undefined);
      }
    },
  };
}

/** HEADER_CONTENT_TYPE and the like: names the condition syntax can spell; bounded in count and size. */
function headerValues(headers: Record<string, string | string[] | undefined>): Values {
  const values: Values = {};
  let count = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || count >= MAX_HEADERS) continue;
    count += 1;
    const text = Array.isArray(value) ? value.join(", ") : value;
    values[`HEADER_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`] = text.slice(0, MAX_HEADER_VALUE);
  }
  return values;
}
