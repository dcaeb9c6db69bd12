import { type ChildProcess, fork, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { ToolError } from "../lib/errors.ts";
import { renice } from "./renice.ts";

/**
 * How the probes start their tools (ssh-keyscan, ssh, fping).
 *
 * Node's `spawn` is synchronous in the calling thread: libuv forks the whole
 * process (page tables and all) and then waits until the child has exec'd.
 * In a prober holding a national inventory, on a machine whose cores are
 * busy, each call blocked the event loop for tens to hundreds of
 * milliseconds, and a burst of them made the self-watch invalidate the
 * campaign (issue 12: 2.7 s of main-thread time in spawn for the ssh probe).
 * A worker thread would not help: fork write-protects the whole address space
 * whichever thread calls it.
 *
 * So a campaign starts a **broker** first — a small Node process
 * (spawner-child.ts) started before the self-watch begins — and every tool is
 * started there; the prober only exchanges messages with it. The **direct**
 * spawner (the old way) stays for callers that hold little and do not watch
 * their own event loop (tests of a probe alone). Drift starts a broker too, for
 * its facts: it spawns ssh per server while holding the inventory and its render.
 *
 * Both give the same thing back: a ToolProcess with stdout (unless not asked
 * for), stderr, kill(), and the 'error' and 'close' events of a ChildProcess.
 */
export interface SpawnRequest {
  /** Written to the tool's stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string;
  /** Whether stdout is wanted (default true); it is discarded otherwise. */
  readonly stdout?: boolean;
  /** Bytes of stdout kept at most; the rest is dropped where the tool runs. */
  readonly maxStdout?: number;
  /**
   * Bytes of stderr kept at most (default 64 KiB: a tool's messages); the rest is dropped where
   * the tool runs. A tool whose report is on stderr (fping -C) asks for room for all of it.
   */
  readonly maxStderr?: number;
  /** The tool's niceness, set as soon as it is started (UNTIMED_NICE); by default the caller's. */
  readonly nice?: number;
}

/**
 * The niceness of a campaign's tools that time nothing (ssh-keyscan, ssh). fping sends its packets
 * a fraction of a millisecond apart and times the replies, and the prober times each TCP connect.
 * A key scan takes 40–50 ms of CPU (its post-quantum key exchange): four at once beside the national
 * sweep made its fping processes send late, and the sweep took 63 s instead of 40; at nice 10,
 * 47–51 s. So the scans wait for the sweep, the check-in reads (a classical exchange) run beside it,
 * and both take only the CPU that fping and the prober leave (ADR 0022).
 */
export const UNTIMED_NICE = 10;

/** What a tool's stderr may hold unless the caller asks for more: its messages, not a report. */
export const DEFAULT_MAX_STDERR = 64 * 1024;

export interface ToolProcess extends EventEmitter {
  readonly stdout: Readable | null;
  readonly stderr: Readable;
  kill(signal?: NodeJS.Signals): void;
}

export interface Spawner {
  /** "direct": spawned by this process; "broker": by the spawner process (doctor and reports name it). */
  readonly kind: "direct" | "broker";
  spawn(argv: readonly string[], request?: SpawnRequest): ToolProcess;
  close(): Promise<void>;
}

const CHILD = join(import.meta.dirname, "spawner-child.ts");
const READY_TIMEOUT_MS = 15_000;

/** Tools started by this process itself. */
export const directSpawner: Spawner = {
  kind: "direct",
  spawn(argv, request = {}) {
    const [file, ...args] = argv;
    if (file === undefined) throw new ToolError("empty command", { hint: "give the probe a tool to run" });
    const child: ChildProcess = spawn(file, args, {
      stdio: [request.input === undefined ? "ignore" : "pipe", request.stdout === false ? "ignore" : "pipe", "pipe"],
    });
    renice(child.pid, request.nice);
    if (child.stdin !== null) {
      child.stdin.on("error", () => undefined);
      child.stdin.end(request.input);
    }
    return child as ToolProcess & ChildProcess;
  },
  close: () => Promise.resolve(),
};

class BrokeredProcess extends EventEmitter implements ToolProcess {
  readonly stdout: PassThrough | null;
  readonly stderr = new PassThrough();
  private readonly broker: Broker;
  private readonly id: number;
  private ended = false;

  constructor(broker: Broker, id: number, wantStdout: boolean) {
    super();
    this.broker = broker;
    this.id = id;
    this.stdout = wantStdout ? new PassThrough() : null;
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    if (!this.ended) this.broker.post({ op: "kill", id: this.id, signal });
  }

  /** The broker's word about this process. */
  deliver(message: BrokerMessage): void {
    if (this.ended) return;
    if (message.ev === "out") this.stdout?.write(message.data);
    else if (message.ev === "err") this.stderr.write(message.data);
    else {
      this.ended = true;
      this.stdout?.end();
      this.stderr.end();
      // As with a ChildProcess, 'close' comes after the streams have given their last bytes.
      const last = message;
      setImmediate(() => {
        if (last.ev === "error") this.emit("error", new Error(last.message));
        else if (last.ev === "close") this.emit("close", last.code, last.signal);
      });
    }
  }
}

type BrokerMessage =
  | { readonly id: number; readonly ev: "out" | "err"; readonly data: Uint8Array }
  | { readonly id: number; readonly ev: "error"; readonly message: string }
  | { readonly id: number; readonly ev: "close"; readonly code: number | null; readonly signal: NodeJS.Signals | null };

class Broker implements Spawner {
  readonly kind = "broker" as const;
  private readonly child: ChildProcess;
  private readonly running = new Map<number, BrokeredProcess>();
  private next = 1;
  private gone: string | undefined;

  constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (m: BrokerMessage | { ev: "ready" }) => {
      if (!("id" in m)) return;
      const p = this.running.get(m.id);
      if (p === undefined) return;
      if (m.ev === "close" || m.ev === "error") this.running.delete(m.id);
      p.deliver({
        ...m,
        ...(m.ev === "out" || m.ev === "err" ? { data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength) } : {}),
      } as BrokerMessage);
    });
    // A failure to signal it is seen at its exit; without a listener it would crash the prober.
    child.on("error", () => undefined);
    child.on("exit", (code, signal) => {
      this.gone = `the spawner process ended (${signal ?? `exit ${code ?? "?"}`})`;
      for (const [id, p] of this.running) p.deliver({ id, ev: "error", message: this.gone });
      this.running.clear();
    });
  }

  post(message: object): void {
    if (this.gone === undefined && this.child.connected) this.child.send(message);
  }

  spawn(argv: readonly string[], request: SpawnRequest = {}): ToolProcess {
    const [file, ...args] = argv;
    if (file === undefined) throw new ToolError("empty command", { hint: "give the probe a tool to run" });
    const id = this.next++;
    const p = new BrokeredProcess(this, id, request.stdout !== false);
    if (this.gone !== undefined) {
      p.deliver({ id, ev: "error", message: this.gone });
      return p;
    }
    this.running.set(id, p);
    this.post({
      op: "spawn",
      id,
      file,
      args,
      ...(request.input === undefined ? {} : { input: request.input }),
      stdout: request.stdout !== false,
      maxStdout: request.maxStdout ?? 1 << 30,
      maxStderr: request.maxStderr ?? DEFAULT_MAX_STDERR,
      ...(request.nice === undefined ? {} : { nice: request.nice }),
    });
    return p;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    // Disconnecting is the broker's signal to kill what it still runs and leave.
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Start the broker and wait until it answers. Call it before the event loop
 * is watched: this is the one large fork of the campaign.
 */
export async function startSpawner(): Promise<Spawner> {
  const child = fork(CHILD, [], { serialization: "advanced", stdio: ["ignore", "ignore", "inherit", "ipc"], execArgv: [] });
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new ToolError(`cannot start the probes' spawner process (${CHILD}): ${why}`, { hint: "run `amadegi doctor`; Node 24 must be the node on PATH" }));
    };
    const timer = setTimeout(() => fail(`no answer within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.once("error", (error) => fail(error.message));
    child.once("exit", (code, signal) => fail(`it exited (${signal ?? `exit ${code ?? "?"}`})`));
    child.once("message", () => {
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.removeAllListeners("error");
      resolve();
    });
  });
  return new Broker(child);
}
