// Runs one probe and prints its Observation as JSON: the test starts it
// inside a namespace (`ip netns exec … node probe-child.ts '<json>'`), where
// the black holes are. Input: { kind, target, allow, timeoutMs, options? }.
import { parseAllow } from "../../src/probe/allow.ts";
import { createProbes } from "../../src/probe/probes/index.ts";
import type { Target } from "../../src/probe/types.ts";

interface Request {
  readonly kind: "tcp" | "tls" | "http" | "dns" | "ntp" | "ssh";
  readonly target: Target;
  readonly allow: readonly string[];
  readonly timeoutMs: number;
}

const request = JSON.parse(process.argv[2] ?? "{}") as Request;
const probes = createProbes({ allow: parseAllow(request.allow, "test") });
const observation = await probes[request.kind].probe(request.target, { signal: new AbortController().signal, timeoutMs: request.timeoutMs });
process.stdout.write(`${JSON.stringify(observation)}\n`);
