// Lint: the recommended JS and TypeScript rules, plus the few habits we keep.
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "data/", ".bench-tmp/", ".bench-build/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The web console: plain browser JavaScript. Only the browser globals it uses.
    files: ["src/http/console/**/*.js"],
    languageOptions: {
      globals: Object.fromEntries([
        "document", "window", "location", "history", "sessionStorage", "fetch", "URL", "URLSearchParams", "FormData",
        "Node", "HTMLElement", "setTimeout", "clearTimeout", "setInterval", "clearInterval"
      ].map((name) => [name, "readonly"]))
    }
  },
  {
    // @effect/vitest 0.30's layer() rewrites the global it.effect for every later test; see test/support/describeWithLayer.ts.
    files: ["test/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{ name: "@effect/vitest", importNames: ["layer"], message: "layer() replaces the global it.effect: use describeWithLayer (test/support/describeWithLayer.ts)." }]
      }],
      "no-restricted-syntax": ["error", {
        selector: "CallExpression[callee.object.name='it'][callee.property.name='layer']",
        message: "it.layer() replaces the global it.effect: use describeWithLayer (test/support/describeWithLayer.ts)."
      }]
    }
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-explicit-any": "error",
      "no-console": "off"
    }
  }
)
