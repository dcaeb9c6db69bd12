// The engine's events as amadegi reads them for progress (issue 19): a step starts with its
// resourcePreEvent and ends with its outputs (done) or a failure. The events are written here as
// the engine sends them; test/provision/workspace.test.ts runs the real engine.
import type { EngineEvent } from "@pulumi/pulumi/automation/index.js";
import { describe, expect, it } from "vitest";
import { stepEndOf, stepOf } from "../../src/provision/workspace.ts";

const metadata = { op: "create", urn: "urn:pulumi:s::amadegi::command:remote:Command::pki", type: "command:remote:Command", provider: "" } as const;
const event = (fields: Partial<EngineEvent>): EngineEvent => ({ sequence: 1, timestamp: 0, ...fields });
const step = { op: "create", urn: metadata.urn, type: metadata.type };

describe("a step's start and end in the engine's events", () => {
  it("starts with its resourcePreEvent, ends done with its outputs or failed with resOpFailedEvent", () => {
    expect(stepOf(event({ resourcePreEvent: { metadata } }))).toEqual(step);
    expect(stepEndOf(event({ resourcePreEvent: { metadata } }))).toBeUndefined();
    expect(stepEndOf(event({ resOutputsEvent: { metadata } }))).toEqual({ step, moment: "done" });
    expect(stepEndOf(event({ resOpFailedEvent: { metadata, status: 1, steps: 1 } }))).toEqual({ step, moment: "failed" });
    expect(stepEndOf(event({ diagnosticEvent: { message: "m", color: "never", severity: "info" } }))).toBeUndefined();
  });
});
