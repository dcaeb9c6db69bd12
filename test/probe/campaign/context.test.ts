// A lane's turns (context.ts): a loop gives timers and I/O a turn once it has held the event loop
// for TURN_MS, however few items that took, and costs nothing while it has not.
import { describe, expect, it } from "vitest";
import { TURN_MS, turns } from "../../../src/probe/campaign/context.ts";

/** Hold the thread as a connect(2) through a busy veth does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe("turns", () => {
  it("yields inside a loop whose items are slow, after at most a few of them", async () => {
    const turn = turns();
    let timerRan = -1;
    setImmediate(() => (timerRan = i));
    let i = 0;
    // Twenty items of TURN_MS / 2 each: a count-based turn every 256 items would never yield here.
    for (; i < 20; i++) {
      busy(TURN_MS / 2);
      await turn();
    }
    expect(timerRan).toBeGreaterThanOrEqual(1);
    expect(timerRan).toBeLessThan(20);
  });

  it("does not yield while the loop has not held the thread for TURN_MS", async () => {
    const turn = turns();
    let yields = 0;
    for (let i = 0; i < 100; i++) if (turn() !== undefined) yields++;
    expect(yields).toBe(0);
  });
});
