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
    // The entry points of test/architecture/imports.test.ts that a lint rule can state without
    // that test's list of exceptions: from outside their folders, drift and the report only
    // through their index.ts. (The model's entry points, with their exceptions, are the test's.)
    files: ["src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { regex: "(^|/)drift/(?!index\\.ts$)", message: "Import drift through its entry point, drift/index.ts (test/architecture/imports.test.ts)." },
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
