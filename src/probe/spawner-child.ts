// The spawner's far side (see spawner.ts): a small Node process, started once
// before a campaign watches itself, that starts the campaign's tools
// (ssh-keyscan, ssh, fping) on its behalf. Node's spawn forks the calling
// process and waits until the child has exec'd; from a large prober on a busy
// machine that wait stalls its event loop for tens or hundreds of
// milliseconds per process. Here it costs a process of a few dozen MiB that
// does nothing else.
//
// Only node: built-ins, erasable TypeScript and renice.ts (built-ins only): it runs as
// `node spawner-child.ts`.
// Messages (IPC, advanced serialization, so Buffers pass as bytes):
//   in:  { op: "spawn", id, file, args, input?, stdout, maxStdout, maxStderr, nice? }  { op: "kill", id, signal }
//   out: { id, ev: "out" | "err", data }  { id, ev: "error", message }  { id, ev: "close", code, signal }
import { type ChildProcess, spawn } from "node:child_process";
import { renice } from "./renice.ts";

interface SpawnMessage {
  readonly op: "spawn";
  readonly id: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly input?: Buffer | string;
  readonly stdout: boolean;
  readonly maxStdout: number;
  /** The caller's cap on stderr (spawner.ts DEFAULT_MAX_STDERR unless it asked for more). */
  readonly maxStderr: number;
  /** The tool's niceness (spawner.ts UNTIMED_NICE), set as soon as it is started. */
  readonly nice?: number;
}
interface KillMessage {
  readonly op: "kill";
  readonly id: number;
  readonly signal: NodeJS.Signals;
}

const children = new Map<number, ChildProcess>();

function send(message: object): void {
  if (process.connected) process.send?.(message);
}

function start(m: SpawnMessage): void {
  let child: ChildProcess;
  try {
    child = spawn(m.file, [...m.args], { stdio: [m.input === undefined ? "ignore" : "pipe", m.stdout ? "pipe" : "ignore", "pipe"] });
  } catch (error) {
    send({ id: m.id, ev: "error", message: error instanceof Error ? error.message : String(error) });
    return;
  }
  children.set(m.id, child);
  // A tool gone already is reported by its close below.
  renice(child.pid, m.nice);
  let outBytes = 0;
  let errBytes = 0;
  child.stdout?.on("data", (chunk: Buffer) => {
    // Bytes past the caller's cap are dropped here, not carried across.
    const room = m.maxStdout - outBytes;
    if (room <= 0) return;
    outBytes += Math.min(room, chunk.length);
    send({ id: m.id, ev: "out", data: chunk.length > room ? chunk.subarray(0, room) : chunk });
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    const room = m.maxStderr - errBytes;
    if (room <= 0) return;
    errBytes += Math.min(room, chunk.length);
    send({ id: m.id, ev: "err", data: chunk.length > room ? chunk.subarray(0, room) : chunk });
  });
  if (child.stdin !== null) {
    child.stdin.on("error", () => undefined);
    child.stdin.end(m.input);
  }
  child.on("error", (error) => {
    children.delete(m.id);
    send({ id: m.id, ev: "error", message: error.message });
  });
  child.on("close", (code, signal) => {
    children.delete(m.id);
    send({ id: m.id, ev: "close", code, signal });
  });
}

process.on("message", (m: SpawnMessage | KillMessage) => {
  if (m.op === "spawn") start(m);
  else if (m.op === "kill") children.get(m.id)?.kill(m.signal);
});

// The prober is gone (exit, crash, kill) or done: nothing it started outlives
// it, and with the channel closed and the tools reaped this process ends.
process.on("disconnect", () => {
  for (const child of children.values()) child.kill("SIGKILL");
});

send({ ev: "ready" });
