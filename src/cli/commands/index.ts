import type { Command } from "../command.ts";
import { approve } from "./approve.ts";
import { checkCommand } from "./check.ts";
import { doctor } from "./doctor.ts";
import { exportCommand } from "./export.ts";
import { gateCommand } from "./gate.ts";
import { generate } from "./generate.ts";
import { merge } from "./merge.ts";
import { publish } from "./publish.ts";
import { rehearsalCommand } from "./rehearsal.ts";
import { report } from "./report.ts";
import { destroy, preview, up } from "./stack.ts";
import { validate } from "./validate.ts";

/** Every command of the CLI, in the order `amadegi --help` lists them. */
export const commands: readonly Command[] = [doctor, validate, generate, preview, up, destroy, checkCommand, gateCommand, approve, report, merge, exportCommand, publish, rehearsalCommand];
