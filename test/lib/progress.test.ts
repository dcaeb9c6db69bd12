// Progress of a long command (issue 19): a redrawn line on a terminal, and elsewhere (a CI log,
// a pipe) a plain line every interval and at each phase, so a long run is never silent until it
// ends. Colour only on a terminal, and never with NO_COLOR. The clock and the timers are vitest's
// fakes: nothing here waits, and no assertion is about how long anything took.
import { Writable } from "node:stream";
import { WriteStream } from "node:tty";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fraction, lineStream, Progress, type ProgressStream, rateAndEta, spokenDuration } from "../../src/lib/progress.ts";

/** A stream that keeps what is written: a pipe, or (isTTY) a terminal that can be asked its colours as a real one is. */
function capture(isTTY: boolean): { stream: ProgressStream & Writable; written: string[] } {
  const written: string[] = [];
  const stream = new Writable() as Writable & { isTTY: boolean; getColorDepth: () => number };
  stream.isTTY = isTTY;
  // A terminal's own answer: it reads NO_COLOR, FORCE_COLOR and TERM from the environment.
  stream.getColorDepth = WriteStream.prototype.getColorDepth;
  // What is written is kept as it comes (a Writable's own write would buffer it).
  const write = (text: string): boolean => {
    written.push(text);
    return true;
  };
  return { stream: Object.assign(stream, { write }), written };
}

/** A carriage return or an escape: what a plain line never holds. */
const hasControl = (text: string): boolean => text.includes("\r") || text.includes("\x1b");

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubEnv("NO_COLOR", undefined);
  vi.stubEnv("FORCE_COLOR", undefined);
  vi.stubEnv("TERM", "xterm-256color");
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe("off a terminal (a CI log, a pipe)", () => {
  it("writes a plain line every interval of a long run, and at each phase, with no escape code", () => {
    const { stream, written } = capture(false);
    let done = 0;
    const progress = new Progress(stream, "check", ({ elapsedMs, paint }) => `${paint("red", `${done} done`)} after ${spokenDuration(elapsedMs)}`, {
      everyMs: 30_000,
      now: () => Date.now(),
    });
    progress.start();
    vi.advanceTimersByTime(29_999);
    expect(written).toEqual([]);
    for (let minute = 0; minute < 10; minute++) {
      done += 100;
      vi.advanceTimersByTime(30_000);
    }
    expect(written).toHaveLength(10);
    expect(written[0]).toBe("check: 100 done after 30 s\n");
    expect(written[9]).toBe("check: 1000 done after 5 min 0 s\n");
    progress.phase("phase 2/2: 40 tcp");
    expect(written[10]).toBe("check: 1000 done after 5 min 30 s | phase 2/2: 40 tcp\n");
    progress.stop();
    vi.advanceTimersByTime(120_000);
    expect(written).toHaveLength(11);
    for (const line of written) expect(hasControl(line), line).toBe(false);
  });

  it("stays plain even where colour is forced: FORCE_COLOR is for terminals", () => {
    vi.stubEnv("FORCE_COLOR", "3");
    const { stream, written } = capture(false);
    const progress = new Progress(stream, "up of stack s", ({ paint }) => paint("red", "1 failed"), { everyMs: 1_000 });
    progress.start();
    vi.advanceTimersByTime(3_000);
    progress.stop();
    expect(written).toEqual(["up of stack s: 1 failed\n", "up of stack s: 1 failed\n", "up of stack s: 1 failed\n"]);
  });

  it("lineStream hands a line writer (a command's io.err) whole lines, without their line break", () => {
    const lines: string[] = [];
    const progress = new Progress(
      lineStream((l) => lines.push(l)),
      "demo: stage 4/9",
      () => "running",
      { everyMs: 30_000 },
    );
    progress.start();
    vi.advanceTimersByTime(60_000);
    progress.stop();
    expect(lines).toEqual(["demo: stage 4/9: running", "demo: stage 4/9: running"]);
    expect(progress.live).toBe(false);
  });
});

describe("on a terminal", () => {
  it("redraws one line in place a few times a second and clears it at the end", () => {
    const { stream, written } = capture(true);
    let done = 0;
    const progress = new Progress(stream, "check", () => `${++done} done`, { redrawMs: 250 });
    expect(progress.live).toBe(true);
    progress.start();
    vi.advanceTimersByTime(1_000);
    progress.stop();
    expect(written).toHaveLength(5);
    for (const frame of written.slice(0, 4)) {
      expect(frame.startsWith("\r\x1b[2K")).toBe(true);
      expect(frame).not.toContain("\n");
    }
    expect(written[3]).toContain("4 done");
    expect(written[4]).toBe("\r\x1b[2K");
  });

  it("colours through util.styleText, and not at all when NO_COLOR is set", () => {
    // A terminal that takes colour, whatever the environment running the test says (CI sets some of these).
    for (const name of ["NO_COLOR", "NODE_DISABLE_COLORS", "FORCE_COLOR", "CI"]) vi.stubEnv(name, undefined);
    vi.stubEnv("TERM", "xterm-256color");
    const draw = (): string => {
      const { stream, written } = capture(true);
      const progress = new Progress(stream, "check", ({ paint }) => paint("red", "down 3"), { redrawMs: 250 });
      progress.phase("phase 1/1: 3 tcp");
      progress.stop();
      return written[0] ?? "";
    };
    expect(draw()).toContain("\x1b[31mdown 3\x1b[39m");
    vi.stubEnv("NO_COLOR", "1");
    const plain = draw();
    expect(plain).toBe("\r\x1b[2Kcheck: down 3 | phase 1/1: 3 tcp");
  });

  it("a stream that is no Node stream (styleText cannot ask it) gets no colour", () => {
    const written: string[] = [];
    const progress = new Progress({ isTTY: true, write: (t) => written.push(t) > 0 }, "check", ({ paint }) => paint("red", "down 3"));
    progress.phase("p");
    expect(written).toEqual(["\r\x1b[2Kcheck: down 3 | p"]);
  });
});

describe("the words of a progress line", () => {
  it.each([
    [0, "0.0 s"],
    [4_240, "4.2 s"],
    [42_400, "42 s"],
    [200_000, "3 min 20 s"],
    [3_900_000, "1 h 5 min"],
    [-5, "0.0 s"],
  ])("%i ms is %j", (ms, words) => {
    expect(spokenDuration(ms)).toBe(words);
  });

  it("a fraction with its percentage, or the count alone without a total; the rate and the time left", () => {
    expect(fraction(1234, 5000)).toBe("1234/5000 (24%)");
    expect(fraction(0, 0)).toBe("0/0 (100%)");
    expect(fraction(7, undefined)).toBe("7");
    expect(rateAndEta(1230, 5000, 3_000)).toBe("410/s, ETA 9.2 s");
    expect(rateAndEta(0, 5000, 3_000)).toBe("0/s, ETA -");
  });
});
