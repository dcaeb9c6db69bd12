// Small UDP servers for the dns and ntp probe tests, written here so each
// test can make them misbehave exactly: SERVFAIL, silence, a kiss-of-death,
// a clock that is off, a reply that answers someone else's request.
import { createSocket, type Socket } from "node:dgram";

export interface UdpServer {
  readonly address: string;
  readonly port: number;
  /** Datagrams received so far. */
  readonly received: () => number;
  close(): Promise<void>;
}

async function serve(address: string, answer: (message: Buffer) => Buffer | undefined): Promise<UdpServer> {
  const socket: Socket = createSocket("udp4");
  let received = 0;
  socket.on("message", (message, from) => {
    received += 1;
    const reply = answer(message);
    if (reply !== undefined) socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return {
    address,
    port: socket.address().port,
    received: () => received,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

// DNS --------------------------------------------------------------------

export type DnsBehaviour = { readonly records: Readonly<Record<string, readonly string[]>> } | "servfail" | "refused" | "silent";

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

/** Answers A questions from `records` (NXDOMAIN for other names), or misbehaves. */
export function dnsServer(address: string, behaviour: DnsBehaviour): Promise<UdpServer> {
  return serve(address, (query) => {
    if (behaviour === "silent" || query.length < 12) return undefined;
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset] ?? 0;
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString("latin1"));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    const qtype = query.readUInt16BE(offset + 1);
    const name = labels.join(".").toLowerCase();
    const answers = typeof behaviour === "object" && qtype === 1 ? (behaviour.records[name] ?? undefined) : undefined;
    const rcode =
      behaviour === "servfail"
        ? RCODE.SERVFAIL
        : behaviour === "refused"
          ? RCODE.REFUSED
          : typeof behaviour === "object" && !(name in behaviour.records)
            ? RCODE.NXDOMAIN
            : RCODE.NOERROR;
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | rcode, 2); // response, recursion desired + available
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers?.length ?? 0, 6);
    const records = (answers ?? []).map((ip) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      ip.split(".").forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
      return rr;
    });
    return Buffer.concat([header, query.subarray(12, questionEnd), ...records]);
  });
}

// NTP --------------------------------------------------------------------

export type NtpBehaviour =
  | { readonly offsetMs: number; readonly stratum: number }
  | { readonly kiss: string }
  | "silent"
  /** Answers with an origin time that is not the request's (a stray or spoofed reply). */
  | "stray";

const NTP_EPOCH_OFFSET = 2_208_988_800;

function timestamp(buffer: Buffer, offset: number, ms: number): void {
  const seconds = Math.floor(ms / 1000);
  buffer.writeUInt32BE(seconds + NTP_EPOCH_OFFSET, offset);
  buffer.writeUInt32BE(Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32), offset + 4);
}

export function ntpServer(address: string, behaviour: NtpBehaviour): Promise<UdpServer> {
  return serve(address, (request) => {
    if (behaviour === "silent" || request.length < 48) return undefined;
    const reply = Buffer.alloc(48);
    reply.writeUInt8((0 << 6) | (4 << 3) | 4, 0); // version 4, mode 4 (server)
    if (typeof behaviour === "object" && "kiss" in behaviour) {
      reply.writeUInt8(0, 1);
      reply.write(behaviour.kiss.padEnd(4, "\0").slice(0, 4), 12, "latin1");
    } else {
      reply.writeUInt8(typeof behaviour === "object" ? behaviour.stratum : 2, 1);
      reply.write("LOCL", 12, "latin1");
    }
    if (behaviour === "stray") timestamp(reply, 24, Date.now() - 5000);
    else request.copy(reply, 24, 40, 48); // origin = the client's transmit time
    const now = performance.timeOrigin + performance.now() + (typeof behaviour === "object" && "offsetMs" in behaviour ? behaviour.offsetMs : 0);
    timestamp(reply, 32, now);
    timestamp(reply, 40, now);
    return reply;
  });
}
