// The rehearsal's notification receiver: Alertmanager's webhook payload,
// bounded and checked field by field; what is not one is refused, never kept.
import { mkdtemp, readFile } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY, parseNotification, startReceiver } from "../../src/rehearsal/receiver.ts";
import { freePort } from "../helpers/listeners.ts";

const payload = {
  version: "4",
  receiver: "oncall-pakdasht",
  status: "firing",
  groupLabels: { alertname: "AmadegiLinkDown", district: "pakdasht" },
  alerts: [{ status: "firing", labels: { alertname: "AmadegiLinkDown", link: "PKD-0001-F" }, startsAt: "2026-12-02T10:00:00Z", annotations: { summary: "x" } }],
};

describe("parseNotification", () => {
  it("keeps what the drill reads, labels as sorted pairs", () => {
    const n = parseNotification(JSON.stringify(payload), new Date("2026-12-02T10:00:05Z"));
    expect(n).toEqual({
      at: "2026-12-02T10:00:05.000Z",
      receiver: "oncall-pakdasht",
      status: "firing",
      groupLabels: [
        ["alertname", "AmadegiLinkDown"],
        ["district", "pakdasht"],
      ],
      alerts: [
        {
          status: "firing",
          labels: [
            ["alertname", "AmadegiLinkDown"],
            ["link", "PKD-0001-F"],
          ],
          startsAt: "2026-12-02T10:00:00Z",
        },
      ],
    });
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    ["an array", "[]", /not an object/],
    ["an unknown status", JSON.stringify({ ...payload, status: "burning" }), /no receiver, status/],
    ["a label name that is no label name", JSON.stringify({ ...payload, groupLabels: { "a b": "x" } }), /no receiver, status or group labels/],
    ["a label value too long", JSON.stringify({ ...payload, groupLabels: { a: "x".repeat(300) } }), /group labels/],
    ["an alert without labels", JSON.stringify({ ...payload, alerts: [{ status: "firing", startsAt: "t" }] }), /an alert without/],
  ])("refuses %s", (_, body, why) => {
    expect(parseNotification(body, new Date())).toMatch(why);
  });

  it("a label named __proto__ stays a label, not a prototype", () => {
    const n = parseNotification(`{"receiver":"r","status":"firing","groupLabels":{"__proto__":"x"},"alerts":[]}`, new Date());
    expect(typeof n === "string" ? n : n.groupLabels).toEqual([["__proto__", "x"]]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe("startReceiver", () => {
  let server: Server;
  let url = "";
  let out = "";
  beforeAll(async () => {
    out = join(await mkdtemp(join(tmpdir(), "amadegi-t-receiver-")), "n.jsonl");
    const port = await freePort("127.0.0.1");
    server = await startReceiver("127.0.0.1", port, out);
    url = `http://127.0.0.1:${port}/notify`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("appends each valid post as one line; answers 400 to a bad one, 413 to one too large, 405 to a GET; keeps neither", async () => {
    expect((await fetch(url, { method: "POST", body: JSON.stringify(payload) })).status).toBe(200);
    expect((await fetch(url, { method: "POST", body: "{" })).status).toBe(400);
    const big = await fetch(url, { method: "POST", body: "x".repeat(MAX_BODY + 1) }).then(
      (r) => r.status,
      () => 413,
    );
    expect(big).toBe(413);
    expect((await fetch(url)).status).toBe(405);
    const lines = (await readFile(out, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ receiver: "oncall-pakdasht", status: "firing" });
  });
});
