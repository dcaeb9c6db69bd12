import { describe, expect, it } from "vitest";
import { parseCondition } from "../../../src/probe/catalog/condition.ts";
import { type EvalContext, evaluate, keyFingerprint } from "../../../src/probe/catalog/evaluate.ts";
import type { Observation, ProbeKind } from "../../../src/probe/types.ts";

const DAY = 86_400_000;
const now = Date.UTC(2027, 0, 1);
const ctx: EvalContext = {
  now,
  electionEnd: now + 50 * DAY,
  pinnedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOw1h5Pf6nTzNML5qf7uUa8bAy36yQ7hVsV8MWSbLkw9",
  roleAddresses: (role) => (role === "auth" ? ["10.0.0.5", "10.0.0.6"] : []),
};

function obs(values: Observation["values"], total = 10): Observation {
  return { ok: true, timings: { total }, values };
}

const cases: [ProbeKind, string, Observation, "pass" | "warn" | "fail", RegExp?][] = [
  ["tcp", "[RTT] < 150ms", obs({}, 40), "pass"],
  ["tcp", "[RTT] < 150ms", obs({}, 180), "fail", /observed 180ms/],
  ["icmp", "[RTT] < 150ms warn 80ms", obs({ RTT: 100 }), "warn", /warn band 80ms/],
  ["icmp", "[LOSS] <= 5% warn 0%", obs({ LOSS: 0 }), "pass"],
  ["icmp", "[LOSS] <= 5% warn 0%", obs({ LOSS: 3.3 }), "warn"],
  ["icmp", "[LOSS] <= 5%", obs({ LOSS: 33.3 }), "fail", /observed 33.3%/],
  ["http", "[STATUS] == 200", obs({ STATUS: 503 }), "fail", /observed 503/],
  ["http", '[BODY] contains "ok"', obs({ BODY: "status: ok" }), "pass"],
  ["http", '[BODY] matches "^ready$"', obs({ BODY: "ready" }), "pass"],
  ["http", '[BODY] != "down"', obs({ BODY: "down" }), "fail"],
  ["tls", "[CERTIFICATE_EXPIRATION] > election+14d", obs({ CERTIFICATE_EXPIRATION: 70 }), "pass"],
  ["tls", "[CERTIFICATE_EXPIRATION] > election+14d", obs({ CERTIFICATE_EXPIRATION: 60 }), "fail", /observed 60d/],
  ["tls", "[CERTIFICATE_EXPIRATION] > election+14d warn election+30d", obs({ CERTIFICATE_EXPIRATION: 70 }), "warn"],
  ["tls", "[TLS_VERSION] >= 1.2", obs({ TLS_VERSION: "TLSv1.3" }), "pass"],
  ["tls", "[TLS_VERSION] >= 1.2", obs({ TLS_VERSION: "TLSv1.1" }), "fail"],
  ["dns", "[DNS_ANSWERS] == role(auth)", obs({ DNS_ANSWERS: ["10.0.0.6", "10.0.0.5"] }), "pass"],
  ["dns", "[DNS_ANSWERS] == role(auth)", obs({ DNS_ANSWERS: ["10.0.0.5"] }), "fail"],
  ["dns", "[DNS_ANSWERS] contains 10.0.0.5", obs({ DNS_ANSWERS: ["10.0.0.5", "10.9.9.9"] }), "pass"],
  ["ntp", "[NTP_OFFSET] < 100ms", obs({ NTP_OFFSET: -80 }), "pass"],
  ["ntp", "[NTP_OFFSET] < 100ms", obs({ NTP_OFFSET: -180 }), "fail"],
  ["ssh", "[HOST_KEY] == pinned", obs({ HOST_KEY: keyFingerprint(ctx.pinnedKey ?? "") }), "pass"],
  ["ssh", "[HOST_KEY] == pinned", obs({ HOST_KEY: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMcCHmok4elMFrzvu8m8WmmXUCiMtIX16uzE04ZoIGR0" }), "fail"],
  ["checkin", "[CHECKIN_AGE] < 24h", obs({ CHECKIN_AGE: 30 }), "fail"],
  ["http", "[STATUS] == 200", obs({}), "fail", /gave no \[STATUS\]/],
];

describe("evaluate", () => {
  it.each(cases)("%s %s", (kind, text, observation, outcome, detail) => {
    const parsed = parseCondition(text, kind);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const verdict = evaluate([parsed.condition], observation, ctx);
    expect(verdict.outcome).toBe(outcome);
    if (detail !== undefined) expect([...verdict.failed, ...verdict.warned].join(" ")).toMatch(detail);
  });
});
