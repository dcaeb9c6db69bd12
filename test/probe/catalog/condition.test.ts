import { describe, expect, it } from "vitest";
import { parseCondition } from "../../../src/probe/catalog/condition.ts";
import type { ProbeKind } from "../../../src/probe/types.ts";

describe("condition syntax: accepted", () => {
  const ok: [ProbeKind, string, object][] = [
    ["tcp", "[RTT] < 150ms", { placeholder: "RTT", op: "<", value: { kind: "number", value: 150 } }],
    ["tcp", "[RTT] < 1.5s", { value: { kind: "number", value: 1500 } }],
    ["icmp", "[RTT] < 150ms warn 80ms", { warn: { kind: "number", value: 80 } }],
    ["icmp", "[LOSS] <= 5%", { placeholder: "LOSS", op: "<=", value: { kind: "number", value: 5 } }],
    ["http", "[STATUS] == 200", { placeholder: "STATUS", value: { kind: "number", value: 200 } }],
    ["http", '[BODY] contains "ok"', { op: "contains", value: { kind: "string", value: "ok" } }],
    ["http", '[BODY] matches "^rea.y$"', { op: "matches", value: { kind: "regex" } }],
    ["tls", "[CERTIFICATE_EXPIRATION] > election+14d", { value: { kind: "election", days: 14 } }],
    ["tls", "[CERTIFICATE_EXPIRATION] > election + 48h warn election+30d", { value: { kind: "election", days: 2 }, warn: { kind: "election", days: 30 } }],
    ["tls", "[CERTIFICATE_EXPIRATION] > 30d", { value: { kind: "number", value: 30 } }],
    ["tls", "[TLS_VERSION] >= 1.2", { value: { kind: "number", value: 1.2 } }],
    ["http", "[TLS_VERSION] >= TLSv1.3", { value: { kind: "number", value: 1.3 } }],
    ["dns", "[DNS_ANSWERS] == [10.0.0.1, 10.0.0.2]", { value: { kind: "list", value: ["10.0.0.1", "10.0.0.2"] } }],
    ["dns", "[DNS_ANSWERS] == role(auth)", { value: { kind: "role", role: "auth" } }],
    ["dns", "[DNS_ANSWERS] contains 10.0.0.9", { value: { kind: "list", value: ["10.0.0.9"] } }],
    ["ntp", "[NTP_OFFSET] < 100ms", { placeholder: "NTP_OFFSET" }],
    ["ntp", "[STRATUM] <= 3", { value: { kind: "number", value: 3 } }],
    ["ssh", "[HOST_KEY] == pinned", { value: { kind: "pinned" } }],
    ["ssh", '[BANNER] contains "OpenSSH"', { value: { kind: "string", value: "OpenSSH" } }],
    ["checkin", "[CHECKIN_AGE] < 24h", { value: { kind: "number", value: 24 } }],
    ["checkin", "[CHECKIN_AGE] < 2d", { value: { kind: "number", value: 48 } }],
    ["tcp", "  [RTT]<150ms  ", { op: "<" }],
  ];
  it.each(ok)("%s: %s", (kind, text, expected) => {
    const result = parseCondition(text, kind);
    if (!result.ok) throw new Error(`${result.error.message} at ${result.error.offset}`);
    expect(result.condition).toMatchObject(expected);
  });
});

describe("condition syntax: rejected with the offset and a suggestion", () => {
  const bad: [ProbeKind, string, number, RegExp][] = [
    ["tcp", "[RTTT] < 150ms", 1, /unknown placeholder \[RTTT\] \(did you mean \[RTT\]\?\)/],
    ["tcp", "[rtt] < 150ms", 1, /capitals \(did you mean \[RTT\]\?\)/],
    ["tcp", "RTT < 150ms", 0, /starts with a placeholder in brackets/],
    ["tcp", "[RTT < 150ms", 0, /unclosed placeholder/],
    ["tcp", "[STATUS] == 200", 1, /\[STATUS\] is not measured by a tcp probe/],
    ["icmp", "[CERTIFICATE_EXPIRATION] > 30d", 1, /not measured by a icmp probe/],
    ["tcp", "[RTT] =< 150ms", 6, /unknown operator "=<" \(did you mean "<="\?\)/],
    ["tcp", "[RTT] = 150ms", 6, /did you mean "=="/],
    ["http", '[BODY] contians "ok"', 7, /unknown operator "contians" \(did you mean "contains"\?\)/],
    ["http", '[BODY] < "ok"', 7, /\[BODY\] is text: "<" does not apply/],
    ["tcp", "[RTT] < 150mss", 11, /unknown unit "mss" \(did you mean "ms"\?\)/],
    ["tcp", "[RTT] < 150", 11, /"150" needs a unit/],
    ["tcp", "[RTT] <", 7, /needs a value/],
    ["icmp", "[LOSS] <= 5", 11, /is a percentage: "5" has no %/],
    ["icmp", "[LOSS] <= 500%", 10, /more than 100%/],
    ["http", "[STATUS] == 2xx", 12, /whole number/],
    ["tls", "[CERTIFICATE_EXPIRATION] > electon+14d", 27, /"electon" is not a duration \(did you mean "election"\?\)/],
    ["tcp", "[RTT] < election+1d", 8, /cannot be compared with election day/],
    ["tls", "[TLS_VERSION] >= 1.4", 17, /not a TLS version/],
    ["http", '[BODY] matches "(("', 15, /not a regular expression/],
    ["http", '[BODY] matches "^ok(?!ay)"', 15, /a negative lookahead \(\?!…\) cannot be checked by blackbox_exporter \(RE2 syntax\)/],
    // Inside quotes a backslash escapes the next character: the catalog writes \\1 for the pattern's \1.
    ["http", String.raw`[BODY] matches "(a)\\1"`, 15, /a backreference \\1 cannot be checked by blackbox_exporter/],
    ["http", '[BODY] == "ok', 10, /unclosed quote/],
    ["dns", "[DNS_ANSWERS] == role(auht)", 22, /no server role "auht" \(did you mean "auth"\?\)/],
    ["dns", "[DNS_ANSWERS] == 10.0.0.1", 17, /needs a list/],
    ["ssh", "[HOST_KEY] == pined", 14, /did you mean "pinned"/],
    ["tcp", "[RTT] < 150ms warning 80ms", 14, /unexpected "warning 80ms" after the value \(did you mean "warn"\?\)/],
    ["tcp", "[RTT] < 150ms warn 200ms", 19, /outside the pass range/],
    ["tls", "[CERTIFICATE_EXPIRATION] > election+30d warn election+14d", 45, /outside the pass range/],
    ["http", "[STATUS] == 200 warn 201", 16, /warn band needs a number compared with </],
    ["tcp", "[RTT] < 150ms 80ms", 14, /unexpected "80ms"/],
  ];
  it.each(bad)("%s: %s", (kind, text, offset, message) => {
    const result = parseCondition(text, kind);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.message).toMatch(message);
    expect(result.error.offset).toBe(offset);
    expect(result.error.hint).not.toBe("");
  });
});
