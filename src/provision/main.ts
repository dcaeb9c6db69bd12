// Entry point named by Pulumi.yaml for plain `pulumi` commands.
import { program } from "./program.ts";

export default program;
