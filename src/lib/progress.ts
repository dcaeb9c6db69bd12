import { Writable } from "node:stream";
import { styleText } from "node:util";

/**
 * Progress of a long command (`check`, `up`, the demo), in one of two
 * renderings chosen by where it goes. On a terminal: one line, redrawn a few
 * times a second. Anywhere else (a CI log, a pipe, a file): a plain line —
 * no carriage return, no escape code — every PLAIN_EVERY_MS and at each phase,
 * so a twenty-minute run shows it is alive and how far it got. Colour only on
 * a terminal, through util.styleText, which leaves it out when NO_COLOR is set
 * (and for a stream that is not a Node stream, which it cannot ask).
 *
 * The line itself is the caller's (src/probe/progress.ts: a campaign's counts);
 * this holds when it is written and how.
 */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

/** Off a terminal, a line this often (and at each phase). */
export const PLAIN_EVERY_MS = 30_000;
/** On a terminal, the line is redrawn this often. */
export const REDRAW_MS = 250;

export type Style = Parameters<typeof styleText>[0];
/** Styles `text` for the stream the line goes to: unchanged off a terminal or with NO_COLOR. */
export type Paint = (style: Style, text: string) => string;

export interface ProgressOptions {
  /** Off a terminal, a line every this many ms (default PLAIN_EVERY_MS). */
  readonly everyMs?: number;
  /** On a terminal, the line is redrawn every this many ms (default REDRAW_MS). */
  readonly redrawMs?: number;
  /** The clock, in ms, elapsed time is read on (default performance.now). */
  readonly now?: () => number;
}

/** What a line is drawn from: the elapsed time, the clock's reading and the stream's paint. */
export interface ProgressView {
  readonly elapsedMs: number;
  readonly now: number;
  readonly paint: Paint;
}

const CLEAR_LINE = "\r\x1b[2K";

export class Progress {
  private readonly stream: ProgressStream | undefined;
  private readonly tty: boolean;
  private readonly paint: Paint;
  private readonly everyMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private phaseText: string | undefined;
  private readonly label: string;
  private readonly body: (view: ProgressView) => string;

  /** Nothing is written when `stream` is undefined. `label` starts every line (`check`, `up of stack x`); `body` is the rest. */
  constructor(stream: ProgressStream | undefined, label: string, body: (view: ProgressView) => string, options: ProgressOptions = {}) {
    this.stream = stream;
    this.label = label;
    this.body = body;
    this.tty = stream?.isTTY === true;
    const node = this.tty && stream instanceof Writable ? stream : undefined;
    this.paint = node === undefined ? (_style, text) => text : (style, text) => styleText(style, text, { stream: node });
    this.everyMs = this.tty ? (options.redrawMs ?? REDRAW_MS) : (options.everyMs ?? PLAIN_EVERY_MS);
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  /** Whether the line is redrawn in place (a terminal) rather than written a line at a time. */
  get live(): boolean {
    return this.tty;
  }

  start(): void {
    if (this.stream === undefined || this.timer !== undefined) return;
    this.timer = setInterval(() => this.write(), this.everyMs);
    // Progress never keeps the process alive.
    this.timer.unref();
  }

  /** A new phase: named on every line after it, and written at once. */
  phase(text: string): void {
    this.phaseText = text;
    this.write();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.stream !== undefined && this.tty && this.drawn) this.stream.write(CLEAR_LINE);
    this.drawn = false;
  }

  /** The line as it would be written now, without its terminal control. */
  line(): string {
    const now = this.now();
    const body = this.body({ elapsedMs: now - this.started, now, paint: this.paint });
    const phase = this.phaseText === undefined ? "" : ` | ${this.phaseText}`;
    return `${this.paint("bold", this.label)}: ${body}${phase}`;
  }

  private write(): void {
    if (this.stream === undefined) return;
    if (this.tty) {
      this.stream.write(`${CLEAR_LINE}${this.line()}`);
      this.drawn = true;
    } else this.stream.write(`${this.line()}\n`);
  }
}

/** A stream for progress made of a line writer (a command's `io.err`): never a terminal, so plain lines. */
export function lineStream(writeLine: (line: string) => void): ProgressStream {
  return {
    isTTY: false,
    write(text) {
      for (const line of text.split("\n")) if (line !== "") writeLine(line);
      return true;
    },
  };
}

/**
 * A duration as a progress line says it: `4.2 s` under ten seconds, `42 s`,
 * `3 min 20 s`, `1 h 5 min`.
 */
export function spokenDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

/** `1234/5000 (24%)`; without a total (not known yet), `1234`. */
export function fraction(done: number, total: number | undefined): string {
  if (total === undefined) return String(done);
  const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
  return `${done}/${total} (${percent}%)`;
}

/** `410/s, ETA 9 s` from what is done of `total` in `elapsedMs`; `ETA -` until there is a rate. */
export function rateAndEta(done: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = rate > 0 ? spokenDuration(((total - done) / rate) * 1000) : "-";
  return `${Math.round(rate)}/s, ETA ${eta}`;
}
