// Unit: how long a drill holds its fault for the notifications, and waits for their resolution; what the baseline already told.
import { describe, expect, it } from "vitest";
import { notificationBound, REHEARSAL_TIMING } from "../../../src/model/index.ts";
import { baselineCentral, baselineLinks, expectation, waits } from "../../../src/rehearsal/drill/monitoring.ts";
import { compareNotifications } from "../../../src/rehearsal/drill/notifications.ts";
import type { Notification } from "../../../src/rehearsal/receiver.ts";
import type { ResultLine } from "../../../src/rehearsal/drill/attribution.ts";
import { isWeakLink } from "../../../src/rehearsal/plan.ts";
import { sampleInventory } from "../../model/render/helpers.ts";

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

describe("the baseline's central checks", () => {
  const line = (server: string, check: string, status: ResultLine["status"]): [string, ResultLine] => [
    `${check}/${server}`,
    { key: `${check}/${server}`, check, kind: "tls", status, at: "2026-12-04T10:00:00Z", server },
  ];

  it("counts a central check the baseline saw fail as the baseline's alert, never the fault's, whenever the monitor fires it", async () => {
    const baseline = new Map([line("auth-teh2-01", "auth-tls", "down"), line("auth-teh1-01", "auth-tls", "up"), line("gw-teh1-01", "server-icmp", "down")]);
    const central = baselineCentral(baseline);
    expect(central.map((a) => `${a.alertname} ${a.id}`)).toEqual(["AmadegiCentralCheckFailing auth-teh2-01/auth-tls"]);
    const e = expectation(await sampleInventory(), { down: new Set(), noisy: new Set(), central }, []);
    const faultAt = Date.parse("2026-12-04T10:01:00Z");
    // The monitor came to fire it 10 s after the fault began: it is not told as unexpected.
    const notification = (server: string): Notification => ({
      at: "2026-12-04T10:01:30Z",
      receiver: "escalation",
      status: "firing",
      groupLabels: [["alertname", "AmadegiCentralCheckFailing"]],
      alerts: [
        {
          status: "firing",
          startsAt: "2026-12-04T10:01:10Z",
          labels: [
            ["alertname", "AmadegiCentralCheckFailing"],
            ["server", server],
            ["check", "auth-tls"],
          ],
        },
      ],
    });
    expect(compareNotifications(e.expected, e.baseline, [notification("auth-teh2-01")], { faultAt }).unexpected).toEqual([]);
    // The same alert for a server whose check passed in the baseline is the fault's, and unexpected here.
    expect(compareNotifications(e.expected, e.baseline, [notification("auth-teh1-01")], { faultAt }).unexpected).toHaveLength(1);
  });
});

describe("the baseline's links", () => {
  it("counts every link the rehearsal makes lossy as noisy, with its station, and never down, whatever the baseline's pings met", async () => {
    const inventory = await sampleInventory();
    const blindSpot = inventory.election.policy.blindSpotDbm;
    const weak = inventory.stations.flatMap((s) => s.links.filter((l) => isWeakLink(l, blindSpot)).map((l) => ({ link: l.id, station: s.id })));
    expect(weak.length).toBeGreaterThan(0); // the sample has weak mobile links (PKD-0278-M, −101 dBm)
    // A baseline where every link answered cleanly: what a 14 % link does two times in three.
    const baseline = new Map<string, ResultLine>(
      inventory.stations.flatMap((s) =>
        s.links.map((l): [string, ResultLine] => [
          `link-icmp/${s.id}/${l.id}`,
          { key: `link-icmp/${s.id}/${l.id}`, check: "link-icmp", kind: "icmp", status: "up", at: "2026-12-04T10:00:00Z", station: s.id, link: l.id },
        ]),
      ),
    );
    const { down, noisy } = baselineLinks(inventory, baseline);
    expect(down.size).toBe(0);
    for (const w of weak) {
      expect(noisy.has(w.link), w.link).toBe(true);
      expect(noisy.has(w.station), w.station).toBe(true);
    }
    expect(noisy.has("PKD-0278")).toBe(true);
    // Nor is a weak link down when the baseline lost every one of its pings (it answers the rest, by design):
    // PKD-0135's −101 dBm link, which once made the oracle expect its station unreachable during TCI's outage.
    const lost = new Map(baseline);
    const k = "link-icmp/PKD-0135/PKD-0135-M";
    lost.set(k, { ...(baseline.get(k) as ResultLine), status: "down", failure: "timeout", detail: "3 of 3 pings lost" });
    const again = baselineLinks(inventory, lost);
    expect(again.down.has("PKD-0135-M")).toBe(false);
    expect(again.noisy.has("PKD-0135")).toBe(true);
    const tci = inventory.stations.flatMap((s) => s.links.filter((l) => l.operator === "tci").map((l) => l.id));
    const e = expectation(inventory, again, tci);
    expect(e.expected.filter((a) => a.id === "PKD-0135")).toEqual([]);
    // A strong link stays out: its station's alerts are the drill's to expect.
    const strong = inventory.stations.find((s) => s.links.every((l) => !isWeakLink(l, blindSpot)));
    expect(strong).toBeDefined();
    expect(noisy.has(strong?.id ?? "")).toBe(false);
  });
});
