import assert from "node:assert/strict";
import { BOOTSTRAP_PATH } from "./execution_plan.ts";

Deno.test("bootstrap.js imports nothing and carries no inline source map", async () => {
  const text = await Deno.readTextFile(BOOTSTRAP_PATH);
  // Every child parses this file at start: an inline source map (a copy of Deno's emit
  // carried one) costs ~1.7 ms of CPU per execution, measured with `deno task bench`.
  assert.doesNotMatch(text, /sourceMappingURL|denoCacheMetadata/);
  assert.doesNotMatch(text, /^\s*import\s[^(]/m);
});
