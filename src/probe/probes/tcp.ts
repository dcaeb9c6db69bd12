import type { Socket } from "node:net";
import type { Observation, Probe, ProbeContext, Target } from "../types.ts";
import { guardedConnect } from "./connect.ts";
import { attemptSignal, classify, failed, since, type Values } from "./observe.ts";
import { requirePort, type ProbeOptions } from "./options.ts";

/** Longest banner kept: a peer that never ends its line cannot grow our memory. */
const MAX_BANNER = 512;

/**
 * Connects and measures the connect time. With params.banner = true it also
 * waits for the peer's first line (SMTP, SSH, FTP-like services), which is
 * where a reset after accept shows.
 */
export function tcpProbe(options: ProbeOptions): Probe {
  return {
    kind: "tcp",
    async probe(target: Target, context: ProbeContext): Promise<Observation> {
      const port = requirePort(target);
      const signal = attemptSignal(context);
      const start = performance.now();
      let socket: Socket | undefined;
      let connect: number | undefined;
      try {
        socket = await guardedConnect({ key: target.key, address: target.address, port }, options.allow, signal);
        connect = since(start);
        const values: Values = { CONNECTED: true, CONNECT_TIME: connect };
        if (target.params.banner === true) values.BANNER = await readLine(socket, signal);
        return { ok: true, timings: { connect, total: since(start) }, values };
      } catch (error) {
        const { failure, detail } = classify(error, signal);
        const timings = connect === undefined ? { total: since(start) } : { connect, total: since(start) };
        return failed(failure, `${target.address}:${port}: ${detail}`, timings, { CONNECTED: connect !== undefined });
      } finally {
        socket?.destroy();
      }
    },
  };
}

/**
 * Reads lines until one satisfies `want` (default: the first line; `more`
 * says whether another line is already buffered), giving
 * up after `maxLines` lines (returning the last) or MAX_BANNER bytes of an
 * unfinished line; rejects on reset, close or abort.
 */
export function readLine(socket: Socket, signal: AbortSignal, want: (line: string, more: boolean) => boolean = () => true, maxLines = 1): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    let lines = 0;
    const done = (error: unknown, line?: string): void => {
      signal.removeEventListener("abort", onAbort);
      socket.off("data", onData).off("error", onError).off("end", onEnd);
      if (line === undefined) reject(error);
      else resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("latin1");
      for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n")) {
        const line = text.slice(0, newline).replace(/\r$/, "");
        text = text.slice(newline + 1);
        lines += 1;
        const more = text.includes("\n") || socket.readableLength > 0;
        if (want(line, more) || lines >= maxLines) {
          done(undefined, line);
          return;
        }
      }
      if (text.length >= MAX_BANNER) done(undefined, text.slice(0, MAX_BANNER));
    };
    const onError = (error: Error): void => done(error);
    const onEnd = (): void => done(Object.assign(new Error("closed before sending a line"), { code: "ECLOSED" }));
    const onAbort = (): void => done(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    socket.on("data", onData).on("error", onError).on("end", onEnd);
  });
}
