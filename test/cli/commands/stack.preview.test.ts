// The preview's markdown (job summary and pull-request comment) from an engine
// output that names the pull request's resources after its inventory (issue
// 14): GFM (micromark) finds the structure a plain output makes, and the
// output whole inside one code block.
import { describe, expect, it } from "vitest";
import { previewMarkdown } from "../../../src/cli/commands/stack.ts";
import { visibleControls } from "../../../src/lib/encode.ts";
import { ATTACKS, gfmHtmlOf, tagCounts, textOf } from "../../helpers/encoding.ts";

/** An engine's output, one resource a line, named by `name`. */
const engine = (name: (i: number) => string) =>
  [
    "Previewing update (rehearsal):",
    ...ATTACKS.map((_, i) => `    + amadegi:central:Server ${name(i)} create`),
    "```",
    "````",
    "</details>",
    "Resources: 3 to create",
  ].join("\n");

describe("previewMarkdown", () => {
  it("keeps an engine output naming resources after attacks in one code block; the counts' names as text", () => {
    const plain = previewMarkdown(
      "rehearsal",
      { create: 3, "plain-op": 1 },
      engine((i) => `plain${i}`),
    );
    const attacked = previewMarkdown(
      "rehearsal",
      { create: 3, "<img src=x onerror=alert(1)>": 1 },
      engine((i) => ATTACKS[i] ?? ""),
    );
    const html = gfmHtmlOf(attacked);
    expect(tagCounts(html)).toEqual(tagCounts(gfmHtmlOf(plain)));
    expect(tagCounts(html)).toMatchObject({ pre: 1, details: 1, summary: 1, a: 0, img: 0 });
    const block = textOf(html.match(/<pre><code[^>]*>([^]*?)<\/code><\/pre>/)?.[1] ?? "");
    // The output is kept line for line; only invisible characters are shown as escapes.
    expect(block).toBe(
      `${engine((i) => ATTACKS[i] ?? "")
        .split("\n")
        .map((line) => visibleControls(line))
        .join("\n")}\n`,
    );
    expect(textOf(html)).toContain("<img src=x onerror=alert(1)>");
  });
});
