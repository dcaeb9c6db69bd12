// The rehearsal's process supervisor: `node supervise.ts SPEC.json`, started
// by `amadegi rehearsal up` inside the core namespace and left running when up
// returns. It keeps each server's sshd (in the foreground, -D -e) alive,
// restarting one that exits with a growing pause, appends each one's stderr to
// its log, and publishes pids and restart counts in a status file. SIGTERM
// stops every child, then itself. This machine has no systemd: this is the one
// place that decides how rehearsal services run.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { writeFileAtomic } from "../lib/fs.ts";

export interface SupervisedProcess {
  readonly id: string;
  readonly argv: readonly string[];
  readonly log: string;
}

export interface SupervisorSpec {
  readonly processes: readonly SupervisedProcess[];
  readonly status: string;
}

export interface SupervisorStatus {
  readonly pid: number;
  readonly startedAt: string;
  readonly processes: Record<string, { pid?: number; restarts: number; startedAt?: string; lastExit?: string }>;
}

const MAX_PAUSE_MS = 30_000;
const STOP_GRACE_MS = 3_000;

export function supervise(spec: SupervisorSpec): void {
  const status: SupervisorStatus = { pid: process.pid, startedAt: new Date().toISOString(), processes: {} };
  const children = new Map<string, ChildProcess>();
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;
  let writing = Promise.resolve();
  const publish = (): void => {
    const text = `${JSON.stringify(status)}\n`;
    writing = writing.then(() => writeFileAtomic(spec.status, text)).catch(() => undefined);
  };

  const start = (p: SupervisedProcess): void => {
    const [file, ...args] = p.argv;
    if (file === undefined) return;
    const fd = openSync(p.log, "a");
    const child = spawn(file, args, { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    children.set(p.id, child);
    const entry = status.processes[p.id] ?? { restarts: -1 };
    entry.restarts += 1;
    entry.startedAt = new Date().toISOString();
    if (child.pid !== undefined) entry.pid = child.pid;
    status.processes[p.id] = entry;
    publish();
    child.on("error", () => undefined);
    child.on("exit", (code, signal) => {
      children.delete(p.id);
      delete entry.pid;
      entry.lastExit = `${new Date().toISOString()} ${signal ?? `code ${code}`}`;
      publish();
      if (stopping) return;
      const pause = Math.min(MAX_PAUSE_MS, 500 * 2 ** Math.min(entry.restarts, 6));
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopping) start(p);
      }, pause);
      timers.add(timer);
    });
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const timer of timers) clearTimeout(timer);
    for (const child of children.values()) child.kill("SIGTERM");
    const hard = setTimeout(() => {
      for (const child of children.values()) child.kill("SIGKILL");
    }, STOP_GRACE_MS);
    hard.unref();
    const done = setInterval(() => {
      if (children.size > 0) return;
      clearInterval(done);
      void writing.then(() => rmSync(spec.status, { force: true }));
    }, 50);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => undefined);
  for (const p of spec.processes) start(p);
}

const specFile = process.argv[2];
if (import.meta.filename === process.argv[1] && specFile !== undefined) {
  supervise(JSON.parse(readFileSync(specFile, "utf8")) as SupervisorSpec);
}
