import { connect, type Socket } from "node:net";
import { assertAllowed, type AllowList } from "../allow.ts";

/**
 * The one place TCP probes (tcp, tls, http, ssh banner) open a socket. The
 * allow-list guard runs here, before the socket exists: nothing above this
 * function can send to an address outside probe.allow.
 */
export interface Endpoint {
  readonly key: string;
  readonly address: string;
  readonly port: number;
}

export function guardedConnect(endpoint: Endpoint, allow: AllowList, signal: AbortSignal): Promise<Socket> {
  assertAllowed(endpoint.key, endpoint.address, allow);
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) {
    return Promise.reject(Object.assign(new Error(`target ${endpoint.key}: port ${endpoint.port} is not 1–65535`), { code: "EINVALPORT" }));
  }
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    // An IPv4 literal: net.connect does no name lookup, and the address guarded is the one dialled.
    const socket = connect({ host: endpoint.address, port: endpoint.port, family: 4, noDelay: true, autoSelectFamily: false });
    const onAbort = (): void => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    const onError = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onConnect = (): void => {
      cleanup();
      resolve(socket);
    };
    function cleanup(): void {
      signal.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off("connect", onConnect);
    }
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}
