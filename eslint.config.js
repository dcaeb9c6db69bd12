// Lint: the recommended and type-aware rules of typescript-eslint, plus the
// house rules of STYLE.md that a type-checker cannot see.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "reports/", ".amadegi/", "inventory/", "checks/", "stacks/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `a || b` swallows false and 0: defaults use `??` (STYLE.md).
      "@typescript-eslint/prefer-nullish-coalescing": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']",
          message: "Return an exit code; only bin/ sets process.exitCode.",
        },
      ],
    },
  },
  {
    // The entry points of test/architecture/imports.test.ts, said to an editor: from outside
    // their folders, the model only through index.ts, render/index.ts, kit.ts (and the
    // generator, synthetic/national.ts); drift through index.ts (types.ts for its kinds); the
    // report and a campaign through their index.ts. Inside a folder, its own modules import each other freely.
    files: ["src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "(^|/)model/(?!(index|kit)\\.ts$|render/index\\.ts$|synthetic/national\\.ts$)",
              message: "Import the model through its entry points: model/index.ts, model/kit.ts or model/render/index.ts (test/architecture/imports.test.ts).",
            },
            {
              regex: "(^|/)drift/(?!(index|types)\\.ts$)",
              message: "Import drift through its entry point, drift/index.ts (test/architecture/imports.test.ts).",
            },
            {
              regex: "(^|/)campaign/(?!index\\.ts$)",
              message: "Run a campaign through its entry point, campaign/index.ts (test/architecture/imports.test.ts).",
            },
            {
              regex: "(^|/)report/(?!index\\.ts$)",
              message: "Import the report through its entry point, report/index.ts (test/architecture/imports.test.ts).",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["bin/**/*.js", "scripts/**/*.js", "eslint.config.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
