import assert from "node:assert/strict";
import { resolveConfig } from "./config.ts";
import { publicRegistryUrl, registryCacheDir } from "./npm_registry.ts";

Deno.test("registryCacheDir() names the folder as Deno does: domain, _port, path segments", async (t) => {
  const cases: [string, string][] = [
    ["https://registry.npmjs.org/", "/d/npm/registry.npmjs.org"],
    ["http://127.0.0.1:4873/", "/d/npm/4873"],
    ["http://[::1]:4873/", "/d/npm/4873"],
    ["http://localhost:4873/", "/d/npm/localhost_4873"],
    ["https://r.example.com/npm/", "/d/npm/r.example.com/npm"],
    ["https://r.example.com:8443/a/b/", "/d/npm/r.example.com_8443/a/b"],
    ["https://user:secret@r.example.com/", "/d/npm/r.example.com"],
  ];
  for (const [url, dir] of cases) {
    await t.step(url, () => assert.equal(registryCacheDir("/d", url), dir));
  }
});

Deno.test("publicRegistryUrl() drops the credentials and keeps the rest", () => {
  assert.equal(
    publicRegistryUrl("https://user:s3cret@r.example.com:8443/npm/"),
    "https://r.example.com:8443/npm/",
  );
  assert.equal(publicRegistryUrl("http://127.0.0.1:4873/"), "http://127.0.0.1:4873/");
});

Deno.test("resolveConfig() takes npmRegistry as an http(s) URL ending in a slash", async (t) => {
  await t.step("as given, with a slash added", () => {
    assert.equal(
      resolveConfig({ npmRegistry: "http://127.0.0.1:4873" }, "/base").npmRegistry,
      "http://127.0.0.1:4873/",
    );
    assert.equal(
      resolveConfig({ npmRegistry: "https://r.example.com/npm/" }, "/base").npmRegistry,
      "https://r.example.com/npm/",
    );
  });
  for (const bad of ["", "registry.npmjs.org", "ftp://r.example.com/", 42]) {
    await t.step(`refused: ${JSON.stringify(bad)}`, () => {
      assert.throws(() => resolveConfig({ npmRegistry: bad }, "/base"), {
        name: "ConfigError",
        message: /"npmRegistry" must be an http\(s\) URL/,
      });
    });
  }
});
