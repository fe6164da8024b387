/**
 * The audit log: one JSON line per execution with the fields DESIGN.md lists, no secrets.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { AuditLog } from "../src/audit.ts";
import { ConfigError } from "../src/config.ts";
import { makeRedactor } from "../src/redact.ts";
import { setLogSink } from "../src/log.ts";
import { testSandbox } from "./helpers.ts";

/** An AuditLog on a file in a fresh folder (removed after), with a redactor of no secrets. */
async function withAuditLog(
  fn: (audit: AuditLog, path: string, redact: ReturnType<typeof makeRedactor>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "audit.jsonl");
    await fn(new AuditLog(path), path, makeRedactor([]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("each execution appends one audit line with its plan and outcome, secrets redacted", async () => {
  await using ts = await testSandbox({ env: ["AUDIT_TEST_*"] });
  Deno.env.set("AUDIT_TEST_TOKEN", "tok-very-secret-123");
  try {
    const ok = await ts.sandbox.execute({
      code: "Deno.env.get('AUDIT_TEST_TOKEN')!.length",
      conversationId: "audit1",
      permissions: { env: ["AUDIT_TEST_TOKEN"] },
    });
    assert.equal(ok.returnValue, 19);
    const refused = await ts.sandbox.execute({ code: "1", permissions: { net: ["10.0.0.1"] } });
    assert.equal(refused.status, "rejected");
    await ts.sandbox.auditWritten();
    const text = await Deno.readTextFile(ts.config.auditFile!);
    assert.ok(!text.includes("tok-very-secret-123"));
    const lines = text.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    const [first, second] = lines;
    assert.deepEqual(Object.keys(first).sort(), [
      "argv",
      "codeSha256",
      "conversationId",
      "denied",
      "dependencies",
      "durationMs",
      "exitCode",
      "id",
      "limits",
      "lockfileSha256",
      "status",
      "time",
    ]);
    assert.equal(first.conversationId, "audit1");
    assert.equal(first.status, "success");
    const digest = await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode("Deno.env.get('AUDIT_TEST_TOKEN')!.length"),
    );
    assert.equal(first.codeSha256, new Uint8Array(digest).toHex());
    assert.equal(first.lockfileSha256, null, "a run without dependencies is given no lockfile");
    assert.ok(first.argv.includes("--allow-env=AUDIT_TEST_TOKEN"));
    assert.equal(first.limits.timeoutMs, 30000);
    assert.equal(second.status, "rejected");
    assert.deepEqual(second.denied.map((d: { value: string }) => d.value), ["10.0.0.1"]);
  } finally {
    Deno.env.delete("AUDIT_TEST_TOKEN");
  }
});

Deno.test("an audit file that is not a regular file is refused at start-up, by name", async (t) => {
  for (const kind of ["a folder", "a FIFO"]) {
    await t.step(kind, async () => {
      const dir = await Deno.makeTempDir({ prefix: "conductor-audit-" });
      try {
        const auditFile = join(dir, "audit.jsonl");
        if (kind === "a folder") await Deno.mkdir(auditFile);
        else {
          const made = await new Deno.Command("mkfifo", { args: [auditFile] }).output();
          assert.ok(made.success);
        }
        await using ts = await testSandbox({}, { auditFile });
        await assert.rejects(() => ts.sandbox.init(), (error: Error) => {
          assert.ok(error instanceof ConfigError, "a config error: exit code 2 in the CLI");
          assert.match(
            error.message,
            /Cannot use the audit file ".*audit\.jsonl": it is not a regular file/,
          );
          return true;
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});

Deno.test("a failed audit write is logged, and the run's result still comes back", async () => {
  await using ts = await testSandbox();
  await ts.sandbox.init();
  const auditFile = ts.config.auditFile!;
  // The file becomes a folder after start-up: every append now fails.
  await Deno.remove(auditFile);
  await Deno.mkdir(auditFile);
  const logged: string[] = [];
  setLogSink((line) => logged.push(line));
  try {
    const result = await ts.sandbox.execute({ code: "6 * 7" });
    assert.equal(result.status, "success");
    assert.equal(result.returnValue, 42);
    await ts.sandbox.auditWritten();
    assert.ok(logged.some((line) => /audit failed/.test(line)), JSON.stringify(logged));
  } finally {
    setLogSink(undefined);
  }
});

Deno.test({
  name: "an audit file that stalls (a FIFO nobody reads) holds up neither runs nor close()",
  // The stalled write stays pending until the FIFO is read below.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using ts = await testSandbox();
    await ts.sandbox.init();
    const auditFile = ts.config.auditFile!;
    await Deno.remove(auditFile);
    assert.ok((await new Deno.Command("mkfifo", { args: [auditFile] }).output()).success);
    const logged: string[] = [];
    setLogSink((line) => logged.push(line));
    try {
      for (let i = 0; i < 3; i++) {
        const result = await ts.sandbox.execute({ code: `${i} + 1` });
        assert.equal(result.returnValue, i + 1);
      }
      const begun = performance.now();
      await ts.sandbox.close();
      assert.ok(performance.now() - begun < 10_000);
      assert.ok(logged.some((line) => /line\(s\) not written/.test(line)), JSON.stringify(logged));
    } finally {
      setLogSink(undefined);
      // Read the FIFO so that the stalled write can finish.
      const reader = await Deno.open(auditFile, { read: true });
      const drained = new Response(reader.readable).text();
      await Promise.race([drained, new Promise((r) => setTimeout(r, 3000))]);
    }
  },
});

Deno.test("AuditLog writes lines in order; a record that fails, even with a non-Error, loses only itself", async () => {
  const dir = await Deno.makeTempDir();
  const logged: string[] = [];
  setLogSink((line) => logged.push(line));
  try {
    const audit = new AuditLog(join(dir, "audit.jsonl"));
    const redact = makeRedactor(["hunter2-secret"]);
    const slow = (n: number) => () =>
      new Promise<object>((r) => setTimeout(() => r({ n }), 20 - n));
    audit.add(slow(1), redact);
    audit.add(() => {
      throw undefined;
    }, redact);
    audit.add(() => ({ n: 2, pass: "hunter2-secret" }), redact);
    audit.add(slow(3), redact);
    await audit.written();
    const lines = (await Deno.readTextFile(join(dir, "audit.jsonl"))).trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l)), [
      { n: 1 },
      { n: 2, pass: "[REDACTED]" },
      { n: 3 },
    ]);
    assert.equal(audit.pending, 0);
    assert.deepEqual(logged, ["audit failed: undefined"]);
  } finally {
    setLogSink(undefined);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AuditLog writes a batch on its own, with nobody waiting for it", async () => {
  await withAuditLog(async (audit, path, redact) => {
    audit.add(() => ({ n: 1 }), redact);
    audit.add(() => ({ n: 2 }), redact);
    // No written(): the batch's own timer writes it (within a few seconds on a busy machine).
    let text = "";
    for (let i = 0; i < 500 && !text.includes('{"n":2}'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      text = await Deno.readTextFile(path).catch(() => "");
    }
    assert.equal(text, '{"n":1}\n{"n":2}\n');
    assert.equal(audit.pending, 0);
  });
});

Deno.test("an audit file removed while serving is made again, readable by its owner only", async () => {
  await withAuditLog(async (audit, path, redact) => {
    audit.add(() => ({ n: 1 }), redact);
    await audit.written();
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.remove(path);
    audit.add(() => ({ n: 2 }), redact);
    await audit.written();
    assert.equal((await Deno.readTextFile(path)).trim(), '{"n":2}');
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});
