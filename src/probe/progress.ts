import type { Counts } from "./summary.ts";

/**
 * One line on a terminal, redrawn a few times a second: counts per status,
 * rate and ETA. Nothing at all when the stream is not a TTY (CI logs and
 * pipes get the summary only).
 */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export class Progress {
  private readonly stream: ProgressStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly started = performance.now();
  private drawn = false;

  constructor(stream: ProgressStream | undefined) {
    this.stream = stream?.isTTY === true ? stream : undefined;
  }

  start(state: () => { counts: Counts; done: number; total: number; deadlineAt: number }): void {
    if (this.stream === undefined) return;
    this.timer = setInterval(() => this.draw(state()), 250);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.stream !== undefined && this.drawn) this.stream.write("\r\x1b[2K");
  }

  private draw(s: { counts: Counts; done: number; total: number; deadlineAt: number }): void {
    const elapsed = (performance.now() - this.started) / 1000;
    const rate = elapsed > 0 ? s.done / elapsed : 0;
    const eta = rate > 0 ? (s.total - s.done) / rate : Number.POSITIVE_INFINITY;
    const left = Math.max(0, (s.deadlineAt - performance.now()) / 1000);
    const c = s.counts;
    const line =
      `${s.done}/${s.total} up ${c.up} degraded ${c.degraded} down ${c.down} unreachable ${c.unreachable} unknown ${c.unknown} | ` +
      `${Math.round(rate)}/s | ETA ${Number.isFinite(eta) ? `${Math.ceil(eta)}s` : "-"} (deadline in ${Math.ceil(left)}s)`;
    this.stream?.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }
}
