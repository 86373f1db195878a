import js from "@eslint/js";
import tseslint from "typescript-eslint";
import boundaries from "eslint-plugin-boundaries";
import { importX } from "eslint-plugin-import-x";

/**
 * The layers of src/, outermost first. A layer may import the layers listed
 * after it in `mayImport`, never one above it: dependencies point inwards.
 * docs/architecture.md draws the same picture.
 */
const layers = [
  { type: "cli", pattern: "src/cli", mayImport: ["server", "http", "jobs", "delivery", "domain", "integrations", "openapi", "storage", "client"] },
  { type: "http", pattern: "src/http", mayImport: ["web", "jobs", "delivery", "domain", "integrations", "openapi", "storage"] },
  { type: "web", pattern: "src/web", mayImport: ["domain", "integrations", "openapi"] },
  { type: "jobs", pattern: "src/jobs", mayImport: ["domain", "storage"] },
  { type: "delivery", pattern: "src/delivery", mayImport: ["domain", "storage"] },
  { type: "domain", pattern: "src/domain", mayImport: ["integrations", "openapi", "storage"] },
  { type: "integrations", pattern: "src/integrations", mayImport: ["shared"] },
  { type: "openapi", pattern: "src/openapi", mayImport: ["shared"] },
  { type: "storage", pattern: "src/storage", mayImport: ["shared"] },
  // `hookline/client`, for the API's users: only its generated types and openapi-fetch.
  { type: "client", pattern: "src/client", mayImport: [] },
];

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "src/generated/", "src/client/schema.d.ts", "data/", "coverage/", "reports/", ".stryker-tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        Buffer: "readonly",
        AbortSignal: "readonly",
        fetch: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.ts"],
    plugins: { boundaries, "import-x": importX },
    settings: {
      "boundaries/include": ["src/**/*"],
      "boundaries/elements": layers.map(({ type, pattern }) => ({ type, pattern })),
      "import-x/resolver-next": [importX.createNodeResolver({ extensions: [".ts", ".js"] })],
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
    },
    rules: {
      "boundaries/dependencies": [
        "error",
        {
          default: "disallow",
          policies: layers.map(({ type, mayImport }) => ({
            from: { element: { type } },
            allow: { to: { element: { types: { anyOf: [type, ...mayImport] } } } },
          })),
        },
      ],
      "import-x/no-cycle": "error",
    },
  },
  {
    // Only the storage layer speaks SQL.
    files: ["src/**/*.ts"],
    ignores: ["src/storage/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: [{ name: "kysely", message: "SQL belongs in src/storage/: call a named storage operation instead." }] }],
    },
  },
  {
    // The files at the root of src/ (ids, errors, clock, config, logger, secret box) are what every layer
    // shares: they import no layer. server.ts is the one exception, the composition root that wires them.
    files: ["src/*.ts"],
    ignores: ["src/server.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "kysely", message: "SQL belongs in src/storage/: call a named storage operation instead." }],
          patterns: [{ regex: "^\\./(?!generated/)[^/]+/", message: "The shared files at the root of src/ import no layer: move what both need down here." }],
        },
      ],
    },
  },
  {
    // Tests read JSON from real HTTP answers and webhooks; typing every shape there adds nothing.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
