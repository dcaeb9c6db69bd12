import { createSocket } from "node:dgram";
import { assertAllowed } from "../allow.ts";
import type { Observation, Probe, ProbeContext, Target } from "../types.ts";
import { attemptSignal, errorCode, failed, since } from "./observe.ts";
import type { ProbeOptions } from "./options.ts";

/**
 * An SNTP client (RFC 4330): one 48-byte mode-3 request, one answer. The
 * offset and delay use the four timestamps of the exchange; the answer must
 * echo our transmit time (a stray or spoofed packet is ignored). A stratum-0
 * answer is a kiss-of-death (RATE, DENY, RSTR…): the server told us to go away.
 */
const NTP_EPOCH_OFFSET = 2_208_988_800; // seconds from 1900-01-01 to 1970-01-01
const PACKET = 48;

/** Wall-clock time with sub-millisecond resolution, in ms since 1970. */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function writeTimestamp(buffer: Buffer, offset: number, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  buffer.writeUInt32BE(seconds + NTP_EPOCH_OFFSET, offset);
  buffer.writeUInt32BE(Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32), offset + 4);
}

function readTimestamp(buffer: Buffer, offset: number): number {
  return (buffer.readUInt32BE(offset) - NTP_EPOCH_OFFSET) * 1000 + (buffer.readUInt32BE(offset + 4) / 2 ** 32) * 1000;
}

export function ntpProbe(options: ProbeOptions): Probe {
  return {
    kind: "ntp",
    async probe(target: Target, context: ProbeContext): Promise<Observation> {
      const port = target.port ?? 123;
      assertAllowed(target.key, target.address, options.allow);
      const signal = attemptSignal(context);
      const start = performance.now();
      const where = `${target.address}:${port}`;
      const socket = createSocket("udp4");
      try {
        const answer = await exchange(socket, target.address, port, signal);
        const timings = { total: since(start) };
        const { reply, t1, t4 } = answer;
        const stratum = reply.readUInt8(1);
        const leap = reply.readUInt8(0) >> 6;
        const refid = reply.subarray(12, 16);
        if (stratum === 0) {
          const code = refid.toString("latin1").replace(/[^\x20-\x7e]/g, "");
          return failed("refused", `${where}: kiss-of-death ${code || "(no code)"}: the server refuses to serve us`, timings, { STRATUM: 0, NTP_KISS: code });
        }
        const t2 = readTimestamp(reply, 32);
        const t3 = readTimestamp(reply, 40);
        const offset = (t2 - t1 + (t3 - t4)) / 2;
        const delay = t4 - t1 - (t3 - t2);
        return {
          ok: true,
          timings,
          values: {
            NTP_OFFSET: Math.round(offset * 1000) / 1000,
            NTP_DELAY: Math.round(delay * 1000) / 1000,
            STRATUM: stratum,
            NTP_LEAP: leap,
            NTP_REFID: stratum === 1 ? refid.toString("latin1").replace(/\0+$/, "") : [...refid].join("."),
          },
        };
      } catch (error) {
        const code = errorCode(error) ?? "unknown";
        const timings = { total: since(start) };
        if (signal.aborted) return failed("timeout", `${where}: no NTP answer within ${context.timeoutMs} ms`, timings);
        // An ICMP port unreachable comes back to a connected UDP socket as ECONNREFUSED.
        if (code === "ECONNREFUSED") return failed("refused", `${where}: nothing listens on the NTP port`, timings);
        if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return failed("no-route", `${where}: ${code}`, timings);
        return failed("internal", `${where}: ${code}: ${error instanceof Error ? error.message : String(error)}`, timings);
      } finally {
        socket.close();
      }
    },
  };
}

function exchange(
  socket: ReturnType<typeof createSocket>,
  address: string,
  port: number,
  signal: AbortSignal,
): Promise<{ reply: Buffer; t1: number; t4: number }> {
  return new Promise((resolve, reject) => {
    const request = Buffer.alloc(PACKET);
    request.writeUInt8((0 << 6) | (4 << 3) | 3, 0); // LI 0, version 4, mode 3 (client)
    let t1 = 0;
    const finish = (error: unknown, value?: { reply: Buffer; t1: number; t4: number }): void => {
      signal.removeEventListener("abort", onAbort);
      socket.off("message", onMessage).off("error", onError);
      if (value === undefined) reject(error);
      else resolve(value);
    };
    const onMessage = (reply: Buffer): void => {
      const t4 = nowMs();
      const mode = reply.length >= PACKET ? reply.readUInt8(0) & 7 : -1;
      // Only an answer to this request counts: server mode, our transmit time echoed as its origin time.
      if (mode !== 4 || !reply.subarray(24, 32).equals(request.subarray(40, 48))) return;
      finish(undefined, { reply, t1, t4 });
    };
    const onError = (error: Error): void => finish(error);
    const onAbort = (): void => finish(signal.reason);
    if (signal.aborted) {
      finish(signal.reason);
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    socket.on("message", onMessage).on("error", onError);
    socket.connect(port, address, () => {
      t1 = nowMs();
      writeTimestamp(request, 40, t1);
      socket.send(request, (error) => {
        if (error) finish(error);
      });
    });
  });
}
