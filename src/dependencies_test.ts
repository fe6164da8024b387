import assert from "node:assert/strict";
import {
  checkDependencyPolicy,
  type Dependency,
  DependencyError,
  importMap,
  matchesPackagePattern,
  mergeDependencies,
  parseDependency,
} from "./dependencies.ts";

const dep = (spec: string): Dependency => parseDependency(spec);

Deno.test("parseDependency() accepts npm and jsr specifiers, with or without a version", async (t) => {
  const cases: [string, Dependency][] = [
    ["npm:zod@3.23.8", {
      registry: "npm",
      name: "zod",
      version: "3.23.8",
      specifier: "npm:zod@3.23.8",
    }],
    ["npm:zod", { registry: "npm", name: "zod", version: undefined, specifier: "npm:zod" }],
    ["npm:@scope/pkg@^1.2.0", {
      registry: "npm",
      name: "@scope/pkg",
      version: "^1.2.0",
      specifier: "npm:@scope/pkg@^1.2.0",
    }],
    ["npm:@scope/pkg", {
      registry: "npm",
      name: "@scope/pkg",
      version: undefined,
      specifier: "npm:@scope/pkg",
    }],
    ["npm:lodash.get@4.4.2", {
      registry: "npm",
      name: "lodash.get",
      version: "4.4.2",
      specifier: "npm:lodash.get@4.4.2",
    }],
    ["npm:pkg@1.0.0-beta.1+build.5", {
      registry: "npm",
      name: "pkg",
      version: "1.0.0-beta.1+build.5",
      specifier: "npm:pkg@1.0.0-beta.1+build.5",
    }],
    ["npm:pkg@latest", {
      registry: "npm",
      name: "pkg",
      version: "latest",
      specifier: "npm:pkg@latest",
    }],
    ["jsr:@std/path@1.0.8", {
      registry: "jsr",
      name: "@std/path",
      version: "1.0.8",
      specifier: "jsr:@std/path@1.0.8",
    }],
  ];
  for (const [spec, expected] of cases) {
    await t.step(spec, () => assert.deepEqual(parseDependency(spec), expected));
  }
});

Deno.test("parseDependency() refuses malformed and hostile specifiers with a DependencyError naming them", async (t) => {
  const cases: [unknown, RegExp][] = [
    ["zod", /Invalid dependency "zod": expected npm:NAME@VERSION/],
    ["zod@3.23.8", /expected npm:NAME@VERSION/],
    ["https://esm.sh/zod", /expected npm:NAME@VERSION/],
    ["node:fs", /expected npm:NAME@VERSION/],
    ["npm:", /expected npm:NAME@VERSION/],
    ["npm:Zod@1.0.0", /"Zod" is not a valid npm package name/],
    ["npm:../x", /"\.\.\/x" is not a valid npm package name/],
    ["npm:.hidden", /not a valid npm package name/],
    ["npm:a b", /not a valid npm package name/],
    ["npm:@scope/a/b", /not a valid npm package name/],
    ["npm:" + "a".repeat(215), /not a valid npm package name/],
    ["jsr:std/path@1.0.0", /"std\/path" is not a valid jsr package name/],
    ["jsr:@std/Path@1.0.0", /not a valid jsr package name/],
    ["npm:zod@", /"" is not a version or range/],
    ["npm:zod@1.0.0 || 2", /is not a version or range/],
    // The specifier ends up in a generated module and a JSON config: no quotes, no newlines.
    ['npm:zod@1.0.0";import "file:///etc/passwd', /is not a version or range/],
    ["npm:zod@1.0.0\nimport 'x'", /^Invalid dependency "npm:zod@1\.0\.0\n/],
    ["npm:zod@1.0.0\0", /is not a version or range/],
    ["npm:zod@" + "1".repeat(65), /is not a version or range/],
    [42, /expected a string like "npm:zod@3.23.8", got number/],
    [undefined, /got undefined/],
    [null, /got object/],
  ];
  for (const [spec, message] of cases) {
    await t.step(JSON.stringify(spec)?.slice(0, 60) ?? String(spec), () => {
      assert.throws(() => parseDependency(spec), (error: unknown) => {
        assert.ok(error instanceof DependencyError, String(error));
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

Deno.test("parseDependency() names a long bad specifier without echoing all of it", () => {
  const spec = "x".repeat(10_000);
  assert.throws(() => parseDependency(spec), (error: Error) => {
    assert.ok(error.message.length < 300, `message is ${error.message.length} characters`);
    return true;
  });
});

Deno.test("matchesPackagePattern() is an anchored glob where only * is special", async (t) => {
  const cases: [pattern: string, name: string, matches: boolean][] = [
    ["zod", "zod", true],
    ["zod", "zod2", false],
    ["zod", "xzod", false],
    ["@scope/*", "@scope/a", true],
    ["@scope/*", "@scope/a-b.c", true],
    ["@scope/*", "@scopex/a", false],
    ["@scope/*", "@other/a", false],
    ["@scope/*", "scope/a", false],
    ["@scope/*", "x@scope/a", false],
    ["lodash*", "lodash", true],
    ["lodash*", "lodash-es", true],
    ["lodash*", "lodash.get", true],
    ["lodash*", "xlodash", false],
    ["lodash*", "x-lodash-es", false],
    ["*", "anything", true],
    ["*", "@any/thing", true],
    ["*-plugin", "vite-plugin", true],
    ["*-plugin", "vite-plugin-x", false],
    // Regex metacharacters in a pattern are literal.
    ["lodash.get", "lodash.get", true],
    ["lodash.get", "lodashxget", false],
    ["a+b", "a+b", true],
    ["a+b", "aab", false],
    ["a?", "ab", false],
    ["(a|b)", "a", false],
  ];
  for (const [pattern, name, matches] of cases) {
    await t.step(`${pattern} ${matches ? "matches" : "does not match"} ${name}`, () => {
      assert.equal(matchesPackagePattern(name, pattern), matches);
    });
  }
});

Deno.test("checkDependencyPolicy() refuses packages outside the allowlist, naming the entry and the list", () => {
  const policy = { allow: ["zod", "@types/*", "lodash*"], requirePinned: false };
  const deps = ["npm:zod@3.23.8", "npm:@types/node@22.0.0", "npm:lodash-es", "npm:xlodash@1.0.0"]
    .map(dep);
  assert.deepEqual(checkDependencyPolicy(deps, policy), [{
    kind: "dependency",
    value: "npm:xlodash@1.0.0",
    reason: 'package "xlodash" is not in the allowlist (zod, @types/*, lodash*)',
  }]);
  assert.deepEqual(
    checkDependencyPolicy([dep("npm:zod@1.0.0")], { allow: [], requirePinned: false }),
    [{
      kind: "dependency",
      value: "npm:zod@1.0.0",
      reason: 'package "zod" is not in the allowlist (none)',
    }],
  );
});

Deno.test("checkDependencyPolicy() with requirePinned accepts exact versions only", async (t) => {
  const policy = { allow: ["*"], requirePinned: true };
  const cases: [string, boolean][] = [
    ["npm:zod@3.23.8", true],
    ["npm:zod@1.0.0-beta.1", true],
    ["npm:zod@1.0.0+build.7", true],
    ["jsr:@std/path@1.0.8", true],
    ["npm:zod", false],
    ["npm:zod@^3.23.8", false],
    ["npm:zod@~3.23.8", false],
    ["npm:zod@3.x", false],
    ["npm:zod@3.23", false],
    ["npm:zod@latest", false],
    ["npm:zod@*", false],
    ["npm:zod@>=3.0.0", false],
  ];
  for (const [spec, allowed] of cases) {
    await t.step(`${spec}: ${allowed ? "allowed" : "refused"}`, () => {
      const denied = checkDependencyPolicy([dep(spec)], policy);
      if (allowed) assert.deepEqual(denied, []);
      else {
        const d = dep(spec);
        assert.deepEqual(denied, [{
          kind: "dependency",
          value: spec,
          reason: `an exact version is required, e.g. ${d.registry}:${d.name}@1.2.3`,
        }]);
      }
    });
  }
  await t.step("without requirePinned, ranges and tags pass", () => {
    const loose = { allow: ["*"], requirePinned: false };
    assert.deepEqual(
      checkDependencyPolicy(["npm:zod", "npm:zod@^3.0.0", "npm:zod@latest"].map(dep), loose),
      [],
    );
  });
});

Deno.test("mergeDependencies() adds new packages, replaces a package's version, and sorts", () => {
  const current = ["npm:zod@3.0.0", "npm:chalk@5.0.0"].map(dep);
  const next = ["npm:zod@3.23.8", "npm:@scope/a@1.0.0", "jsr:@scope/a@2.0.0"].map(dep);
  assert.deepEqual(
    mergeDependencies(current, next).map((d) => d.specifier),
    ["jsr:@scope/a@2.0.0", "npm:@scope/a@1.0.0", "npm:chalk@5.0.0", "npm:zod@3.23.8"],
  );
  // Inputs are left alone, and merging the same set is the same set.
  assert.deepEqual(current.map((d) => d.specifier), ["npm:zod@3.0.0", "npm:chalk@5.0.0"]);
  const merged = mergeDependencies(current, next);
  assert.deepEqual(mergeDependencies(merged, merged), merged);
  assert.deepEqual(mergeDependencies([], []), []);
});

Deno.test("importMap() maps bare names, subpaths and unversioned specifiers to the installed one", () => {
  assert.deepEqual(
    importMap(["npm:zod@3.23.8", "npm:@scope/pkg@1.0.0", "npm:latest-only", "jsr:@std/path@1.0.8"]
      .map(dep)),
    {
      "zod": "npm:zod@3.23.8",
      "zod/": "npm:/zod@3.23.8/",
      "npm:zod": "npm:zod@3.23.8",
      "@scope/pkg": "npm:@scope/pkg@1.0.0",
      "@scope/pkg/": "npm:/@scope/pkg@1.0.0/",
      "npm:@scope/pkg": "npm:@scope/pkg@1.0.0",
      "latest-only": "npm:latest-only",
      "latest-only/": "npm:/latest-only/",
      "@std/path": "jsr:@std/path@1.0.8",
      "@std/path/": "jsr:/@std/path@1.0.8/",
      "jsr:@std/path": "jsr:@std/path@1.0.8",
    },
  );
  assert.deepEqual(importMap([]), {});
});
