/**
 * The README's Configuration table is where users read the defaults, and every
 * other test compresses them. Here each default the table states is set
 * explicitly: the configuration must be the one Hookline has without it, so a
 * default changed in the code but not in the table (or the other way) fails.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ENV, loadConfig, type Config } from "../src/config.ts";

const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** The table's rows: the variables of each, and the literal defaults it states (none when it states them in words). */
function configurationTable(): Array<{ names: string[]; defaults: string[] }> {
  const start = README.indexOf("| Variable | Default | Meaning |");
  assert.ok(start >= 0, "the README has its Configuration table");
  const rows = README.slice(start).split("\n\n")[0]!.split("\n").slice(2);
  return rows.map((row) => {
    const [variables, defaults] = row.split(" | ");
    return {
      names: [...variables!.matchAll(/`(HOOKLINE_[A-Z_]+)`/g)].map((match) => match[1]!),
      defaults: [...defaults!.matchAll(/`([^`]+)`/g)].map((match) => match[1]!),
    };
  });
}

test("every default the README's Configuration table states is the one Hookline runs with", () => {
  const stated: Record<string, string> = {};
  const inWords: string[] = [];
  for (const { names, defaults } of configurationTable()) {
    if (defaults.length === names.length && defaults.every((value) => !value.includes("<"))) names.forEach((name, index) => (stated[name] = defaults[index]!));
    else inWords.push(...names);
  }
  // Whether the host, port or public URL was set at all is not a default: the CLI reads it to prefer a set URL to the recorded one.
  const withoutWhetherSet = (config: Config) => ({ ...config, publicUrlConfigured: undefined });
  assert.deepEqual(withoutWhetherSet(loadConfig(stated)), withoutWhetherSet(loadConfig({})), `defaults as the README states them: ${JSON.stringify(stated)}`);
  assert.deepEqual(
    inWords.sort(),
    [
      "HOOKLINE_ALLOWED_CIDRS",
      "HOOKLINE_API_KEY",
      "HOOKLINE_API_URL",
      "HOOKLINE_ENCRYPTION_KEY",
      "HOOKLINE_EXTRA_CA_FILE",
      "HOOKLINE_INTEGRATIONS_FILE",
      "HOOKLINE_METRICS_PORT",
      "HOOKLINE_PUBLIC_URL",
    ],
    "only these are described in words",
  );
  const unset = loadConfig({});
  assert.deepEqual(
    [unset.allowedCidrs, unset.consumers.encryptionKeys, unset.delivery.extraCaFile, unset.metricsPort, unset.integrations.file],
    [[], [], null, null, null],
  );
  assert.equal(unset.publicUrl, "http://127.0.0.1:8080", "http://<host>:<port>");
});

test("the README's table names every setting there is", () => {
  const documented = new Set(configurationTable().flatMap((row) => row.names));
  assert.deepEqual(
    Object.values(ENV).filter((name) => !documented.has(name)),
    [],
  );
});

test("the documented delivery defaults: 8 attempts over about 28 hours, 15 s each, a 60 s lease", () => {
  const { delivery, consumers, idempotencyKeyTtlMs } = loadConfig({});
  const hour = 3_600_000;
  assert.deepEqual(delivery.retryScheduleMs, [5_000, 300_000, 1_800_000, 2 * hour, 5 * hour, 10 * hour, 10 * hour]);
  const total = delivery.retryScheduleMs.reduce((sum, delay) => sum + delay, 0);
  assert.ok(total > 27 * hour && total < 28 * hour, `the retries span ${total / hour} h`);
  assert.equal(delivery.attemptTimeoutMs, 15_000);
  assert.equal(delivery.leaseMs, 60_000);
  assert.equal(delivery.autoDisableAfterMs, 5 * 24 * hour);
  assert.equal(consumers.secretRotationOverlapMs, 24 * hour);
  assert.equal(idempotencyKeyTtlMs, 24 * hour);
  assert.equal(delivery.circuitBreaker, null, "the circuit breaker is off unless turned on");
  assert.deepEqual(
    loadConfig({ HOOKLINE_CIRCUIT_BREAKER_FAILURES: "20" }).delivery.circuitBreaker,
    { failures: 20, cooldownMs: 60_000 },
    "with a one-minute cool-down",
  );
});
