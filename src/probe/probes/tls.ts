import type { Observation, Probe, ProbeContext, Target } from "../types.ts";
import { attemptSignal, classify, failed, since } from "./observe.ts";
import type { ProbeOptions } from "./options.ts";
import { tlsHandshake } from "./tlsconnect.ts";

/**
 * A TLS handshake against the election CA bundle: chain, hostname, days to
 * expiry, protocol version, optionally with a client certificate (mTLS).
 * A certificate problem is ok=false, failure "tls", with the certificate's
 * values still reported; a peer that does not speak TLS is "protocol".
 */
export function tlsProbe(options: ProbeOptions): Probe {
  return {
    kind: "tls",
    async probe(target: Target, context: ProbeContext): Promise<Observation> {
      const signal = attemptSignal(context);
      const start = performance.now();
      try {
        const hs = await tlsHandshake(target, options.allow, options.tls, signal, { awaitClientVerdict: true });
        hs.socket.destroy();
        const timings = { connect: hs.connectMs, tls: hs.tlsMs, total: since(start) };
        if (hs.problem !== undefined) return failed("tls", `${target.address}:${target.port ?? "?"}: ${hs.problem}`, timings, hs.values);
        return { ok: true, timings, values: hs.values };
      } catch (error) {
        const { failure, detail, code } = classify(error, signal);
        return failed(failure, `${target.address}:${target.port ?? "?"}: ${detail}`, { total: since(start) }, { TLS_ERROR: code });
      }
    },
  };
}
