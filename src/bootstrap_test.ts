import assert from "node:assert/strict";
import { parse } from "@babel/parser";
import { BOOTSTRAP_PATH } from "./execution_plan.ts";

// Every child loads this file first. Any comment in it costs each child ~1.2 ms of CPU, an
// inline source map 1.7 ms: bootstrap.md holds what comments would say.
const MAX_BYTES = 10 * 1024;

Deno.test("bootstrap.js imports nothing and stays small, with no comments and no source map", async () => {
  const text = await Deno.readTextFile(BOOTSTRAP_PATH);
  const { comments, program } = parse(text, { sourceType: "module" });
  assert.equal(program.body.filter((n) => n.type === "ImportDeclaration").length, 0);
  assert.deepEqual((comments ?? []).map((c) => c.value.trim().slice(0, 60)), []);
  assert.doesNotMatch(text, /sourceMappingURL|denoCacheMetadata/);
  assert.ok(new TextEncoder().encode(text).length <= MAX_BYTES, `${text.length} bytes`);
});
