import { ExitCode } from "../../lib/exit.ts";
import type { Command } from "../command.ts";

export const doctor: Command = {
  name: "doctor",
  summary: "check the tools amadegi relies on (paths, versions, sha256, build info)",
  usage: "Usage: amadegi doctor [--json]",
  options: { json: { type: "boolean" } },
  async run(_args, io) {
    io.out("doctor: not yet written");
    return ExitCode.CANNOT_RUN;
  },
};
