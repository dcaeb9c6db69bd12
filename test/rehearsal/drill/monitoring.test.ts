// Unit: how long a drill holds its fault for the notifications, and waits for their resolution.
import { describe, expect, it } from "vitest";
import { notificationBound, REHEARSAL_TIMING } from "../../../src/model/index.ts";
import { waits } from "../../../src/rehearsal/drill/monitoring.ts";

describe("waits", () => {
  const t = REHEARSAL_TIMING;
  const boundMs = notificationBound(t, t.linkFor.fiber, 2) * 1000;
  const e = { expected: [], baseline: [], noisy: new Set<string>(), boundMs };

  it("holds the fault until a straggler joining the group after its first notification is told, at the next group_interval", () => {
    // The latest a fiber link's alert starts firing: its for:, a scrape, the probe's timeout and two evaluations.
    const lastFiring = (t.linkFor.fiber + t.scrapeInterval + 2 + 2 * t.evaluationInterval) * 1000;
    // The group's first notification came at the bound; the straggler fired just after it: told one group_interval later.
    expect(lastFiring).toBeLessThanOrEqual(boundMs);
    expect(waits(e).notifyMs).toBeGreaterThan(boundMs + t.groupInterval * 1000);
  });

  it("waits for the resolution past keep_firing_for, a group_interval and the rules seeing the link up again", () => {
    const least = (t.keepFiringFor + t.groupInterval + t.scrapeInterval + t.evaluationInterval) * 1000;
    expect(waits(e).resolveMs).toBeGreaterThan(least);
  });
});
