import assert from "node:assert/strict";
import { makeRedactor, redactDeep, REDACTED } from "./redact.ts";

Deno.test("makeRedactor() hides exact secret values and operator patterns", () => {
  const redact = makeRedactor(["hunter2-value", "abc"], ["corp-[0-9]{6}"]);
  assert.equal(redact("pw=hunter2-value id corp-123456"), `pw=${REDACTED} id ${REDACTED}`);
  assert.equal(
    redact("abc stays: too short to be a secret"),
    "abc stays: too short to be a secret",
  );
});

Deno.test("makeRedactor() hides common token shapes", async (t) => {
  const redact = makeRedactor();
  const cases: [string, string][] = [
    ["ghp_" + "a".repeat(36), REDACTED],
    ["key sk-ant-" + "b".repeat(30), `key ${REDACTED}`],
    ["AKIAABCDEFGHIJKLMNOP", REDACTED],
    ["xoxb-1234567890-abcdef", REDACTED],
    ["Authorization: Bearer abc.def-ghi_jkl", `Authorization: Bearer ${REDACTED}`],
    [
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      REDACTED,
    ],
    ['{"api_key": "s3cr3tvalue"}', `{"api_key": "${REDACTED}"}`],
    ["password=correcthorse", `password=${REDACTED}`],
    ["-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", REDACTED],
  ];
  for (const [input, expected] of cases) {
    await t.step(input.slice(0, 30), () => assert.equal(redact(input), expected));
  }
  assert.equal(redact("nothing secret here: 1+1"), "nothing secret here: 1+1");
});

Deno.test("private keys are redacted from each BEGIN to the next END, in linear time", () => {
  const key = (body: string) =>
    `-----BEGIN EC PRIVATE KEY-----\n${body}\n-----END EC PRIVATE KEY-----`;
  const redact = makeRedactor();
  assert.equal(redact(`a ${key("K1")} b ${key("K2")} c`), `a ${REDACTED} b ${REDACTED} c`);
  assert.equal(
    redact(`-----BEGIN PRIVATE KEY----- x ${key("K")}`),
    REDACTED,
    "an unclosed BEGIN before a key: all of it",
  );
  const open = "-----BEGIN PRIVATE KEY-----\nno end";
  assert.equal(redact(open), open);
  // Code chooses this text (its output, its error's name). As one regex, BEGIN, anything,
  // END took quadratic time: about 6 s of the conductor's only thread for 1 MB of BEGINs.
  const hostile = "-----BEGIN PRIVATE KEY-----".repeat(160_000); // 4.3 MB
  const started = performance.now();
  assert.equal(redact(hostile), hostile);
  const ms = performance.now() - started;
  // A bound 100 times what linear time takes here: quadratic would take minutes.
  assert.ok(ms < 3000, `took ${Math.round(ms)} ms`);
});

Deno.test("redactDeep() redacts every string in a JSON value", () => {
  const redact = makeRedactor(["s3cret-token"]);
  assert.deepEqual(redactDeep({ a: ["x s3cret-token"], b: { c: "s3cret-token", n: 1 } }, redact), {
    a: [`x ${REDACTED}`],
    b: { c: REDACTED, n: 1 },
  });
});
