import assert from "node:assert/strict";
import { prepareCode } from "./code_transform.ts";

const FILES = "/ws/c1/files";
const exposeLastExpression = async (code: string) => (await prepareCode(code, FILES)).code;

Deno.test("prepareCode() exports the last top-level expression", async (t) => {
  const cases: [string, string][] = [
    ["1 + 1", "export default (1 + 1);"],
    ["const a = 1;\na * 2;", "const a = 1;\nexport default (a * 2);"],
    [
      "const r = await fetch(u);\nconst data = await r.json();\ndata.stargazers_count",
      "const r = await fetch(u);\nconst data = await r.json();\nexport default (data.stargazers_count);",
    ],
    [
      "await Promise.resolve(3) // trailing",
      "export default (await Promise.resolve(3)); // trailing",
    ],
    ["const x: number = 2;\nx as number", "const x: number = 2;\nexport default (x as number);"],
    ["1, 2", "export default (1, 2);"],
    ["'hi'", "export default ('hi');"],
    ["({ a: 1 })", "export default (({ a: 1 }));"],
    ["(1 + 1);\n", "export default ((1 + 1));\n"],
  ];
  for (const [code, expected] of cases) {
    await t.step(JSON.stringify(code), async () => {
      assert.equal(await exposeLastExpression(code), expected);
    });
  }
});

Deno.test("prepareCode() leaves code unchanged when there is nothing to expose", async (t) => {
  const cases = [
    "const a = 1;",
    "export default 5;\n6",
    "const a = 1; export { a as default };\na",
    "function f() {}",
    "if (x) { 1 }",
    "let x = ;", // does not parse: Deno reports the SyntaxError itself
    "",
  ];
  for (const code of cases) {
    await t.step(JSON.stringify(code), async () => {
      assert.equal(await exposeLastExpression(code), code);
    });
  }
});

Deno.test("prepareCode() keeps line numbers of every statement", async () => {
  const code = "const a = 1;\n\n\nthrow_here(a)\n";
  const out = await exposeLastExpression(code);
  assert.equal(out.split("\n").findIndex((l) => l.includes("throw_here")), 3);
});

Deno.test("prepareCode() points relative imports at the workspace's files folder", async () => {
  const code = [
    'import a from "./lib.ts";',
    'import data from "../x.json" with { type: "json" };',
    'export * from "./re.ts";',
    'import b from "npm:zod@3";',
    'const c = await import("./dyn.ts");',
    "const d = await import(`./template.ts`);",
    '(await import("./last.ts")).default',
  ].join("\n");
  assert.equal(
    (await prepareCode(code, FILES)).code,
    [
      'import a from "file:///ws/c1/files/lib.ts";',
      'import data from "file:///ws/c1/x.json" with { type: "json" };',
      'export * from "file:///ws/c1/files/re.ts";',
      'import b from "npm:zod@3";',
      'const c = await import("file:///ws/c1/files/dyn.ts");',
      "const d = await import(`./template.ts`);",
      'export default ((await import("file:///ws/c1/files/last.ts")).default);',
    ].join("\n"),
  );
});

Deno.test("prepareCode() tells plain JavaScript from code that needs the TypeScript transpiler", async (t) => {
  const cases: [string, boolean][] = [
    ["1 + 1", false],
    ["const a = [1, 2].map((x) => x * 2);\na", false],
    ["const a: number = 1;", true],
    ["interface A { x: number }", true],
    ["enum E { A }", true],
    ["import type { X } from './x.ts';", true],
    ["const f = <T,>(x: T) => x;", true],
    ["x as number", true],
    ["function f(a?: string) {}", true],
    ["let x = ;", true], // does not parse: the transpiler reports it
  ];
  for (const [code, typescript] of cases) {
    await t.step(
      code,
      async () => assert.equal((await prepareCode(code, FILES)).typescript, typescript),
    );
  }
});

Deno.test("prepareCode() keeps TypeScript's ambiguous <T>( forms in small code, and never backtracks without bound", async (t) => {
  await t.step("a generic arrow function still gets its last expression returned", async () => {
    const r = await prepareCode("const id = <T>(x: T): T => x;\nid(2)", "/ws/files");
    assert.equal(r.code, "const id = <T>(x: T): T => x;\nexport default (id(2));");
    assert.equal(r.typescript, true);
  });
  await t.step(
    "in code with many `<`, it is run as written (Deno parses it in the child)",
    async () => {
      const code = `const id = <T>(x: T): T => x;\nconst n: Array<Array<number>> = [];\n${
        "1 < 2;".repeat(10)
      }\nid(2)`;
      assert.deepEqual(await prepareCode(code, "/ws/files"), { code, typescript: true });
    },
  );
  await t.step("40 nested <T>( (hours of backtracking for Babel) parse at once", async () => {
    // In a child with a deadline a thousand times the expected time, so that a regression
    // fails instead of hanging the suite.
    const module = new URL("./code_transform.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { prepareCode } from "${module}";
        const code = "<T>(".repeat(40) + ")".repeat(40);
        console.log(JSON.stringify(await prepareCode(code, "/ws")));`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.success, true, "the parse did not finish in 30 s");
    assert.equal(JSON.parse(new TextDecoder().decode(out.stdout)).typescript, true);
  });
});
