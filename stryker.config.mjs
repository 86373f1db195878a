/**
 * Mutation testing (`npm run mutate`, not part of CI: it takes a while) of the
 * pure rules where a silent bug costs most, against the fast unit tests in
 * test/unit/. Each mutant is a small change to the code (a flipped comparison,
 * a dropped condition); a test must fail for it, else it "survived" and shows
 * a rule no test pins down. Scores and the survivors judged harmless are in
 * docs/testing.md.
 *
 * @type {import("@stryker-mutator/api/core").PartialStrykerOptions}
 */
export default {
  mutate: [
    "src/domain/query.ts",
    "src/delivery/schedule.ts",
    "src/delivery/signing.ts",
    "src/domain/destination-policy.ts",
    "src/domain/quota.ts",
    "src/delivery/consumer-health.ts",
    "src/clock.ts",
    "src/domain/custom-header-rules.ts",
    "src/storage/consumers-codec.ts",
    "src/domain/redelivery-pacer.ts",
  ],
  testRunner: "tap",
  tap: {
    testFiles: ["test/unit/*.test.ts"],
    // Stryker's hook file records which test file covers which mutant, so each mutant runs only the files that reach it.
    nodeArgs: ["--import", "tsx", "--test-reporter=tap", "-r", "{{hookFile}}", "{{testFile}}"],
  },
  coverageAnalysis: "perTest",
  // Left out of the copy the mutants run in: outputs that can be large, or change while the suite runs.
  ignorePatterns: ["coverage", "dist", "data", "reports"],
  // The type checker would compile every mutant; tsx runs them untyped, and a mutant that only breaks types is no test's concern.
  checkers: [],
  concurrency: 2,
  timeoutMS: 10000,
  reporters: ["clear-text", "progress", "html"],
  htmlReporter: { fileName: "reports/mutation.html" },
  thresholds: { high: 90, low: 75, break: null },
};
