// Security rules on the model: every server's SSH host key pinned.
import { describe, expect, it } from "vitest";
import { findingsAfter } from "../fixture.ts";

const S = "inventory/servers.yaml";

describe("security", () => {
  it("a server without a pinned host key is an error that no waiver can accept", async () => {
    const { found, result } = await findingsAfter([{ file: S, find: / {4}ssh: \{ hostKey: [^\n]*\n$/, replace: "    ssh: { user: amadegi }\n" }]);
    expect(found).toEqual([{ rule: "security.host-key-missing", item: "dns-a", file: S, line: 21, col: 10 }]);
    expect(result.findings[0]).toMatchObject({ severity: "error", waivable: false });
    expect(result.findings[0]?.hint).toContain("ssh-keyscan -t ed25519 10.0.0.3");
  });
});
