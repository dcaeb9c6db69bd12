// The project's one worker pool: never more than the limit at once, items started in order,
// `stop` honoured between items, the first failure rejects.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { forEachLimited } from "../../src/lib/pool.ts";

describe("forEachLimited", () => {
  it("runs every item, at most `limit` at once, started in order", async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    await forEachLimited([5, 1, 4, 2, 3, 1, 2], 3, async (ms, i) => {
      started.push(i);
      most = Math.max(most, ++running);
      await sleep(ms);
      running--;
    });
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(3);
  });

  it("starts nothing more once stop says so, and finishes what runs", async () => {
    const done: number[] = [];
    await forEachLimited(
      [0, 1, 2, 3, 4, 5],
      2,
      async (i) => {
        await sleep(1);
        done.push(i);
      },
      () => done.length >= 2,
    );
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThanOrEqual(3);
  });

  it("rejects with the first failure; an empty list and a limit of 0 run one worker or none", async () => {
    await expect(
      forEachLimited([1, 2, 3], 2, async (i) => {
        if (i === 2) throw new Error("two");
      }),
    ).rejects.toThrow("two");
    let calls = 0;
    await forEachLimited([], 4, async () => {
      calls++;
    });
    await forEachLimited(["a"], 0, async () => {
      calls++;
    });
    expect(calls).toBe(1);
  });
});
