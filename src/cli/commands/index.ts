import type { Command } from "../command.ts";
import { doctor } from "./doctor.ts";
import { destroy, preview, up } from "./stack.ts";

/** Every command of the CLI, in the order `amadegi --help` lists them. */
export const commands: readonly Command[] = [doctor, preview, up, destroy];
