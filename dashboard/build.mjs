// Builds the dashboard into dist/ (committed; herald embeds it with include_bytes!).
//
//   node build.mjs           write dist/ and print sizes
//   node build.mjs --check   build in memory; fail if dist/ differs (CI: the embedded
//                            bundle must be built from the current sources)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const check = process.argv.includes("--check");
/** Budget from the issue: the whole dashboard under 150 KB gzipped. */
const BUDGET_GZIP = 150 * 1024;

const common = { bundle: true, minify: true, write: false, legalComments: "none", logLevel: "warning" };
const js = await esbuild.build({
  ...common,
  entryPoints: [join(root, "src/main.ts")],
  format: "iife",
  target: ["es2022", "chrome100", "firefox100", "safari15"],
  outfile: join(dist, "app.js"),
});
const css = await esbuild.build({
  ...common,
  entryPoints: [join(root, "src/styles.css")],
  outfile: join(dist, "app.css"),
});
const files = {
  "index.html": readFileSync(join(root, "src/index.html")),
  "app.js": Buffer.from(js.outputFiles[0].contents),
  "app.css": Buffer.from(css.outputFiles[0].contents),
};

const stale = [];
let gzTotal = 0;
for (const [name, bytes] of Object.entries(files)) {
  const gz = gzipSync(bytes, { level: 9 }).length;
  gzTotal += gz;
  if (check) {
    let committed = null;
    try {
      committed = readFileSync(join(dist, name));
    } catch {
      // missing counts as stale
    }
    if (!committed?.equals(bytes)) stale.push(name);
  } else {
    mkdirSync(dist, { recursive: true });
    writeFileSync(join(dist, name), bytes);
  }
  console.log(`${name.padEnd(11)} ${String(bytes.length).padStart(7)} B  ${String(gz).padStart(6)} B gzipped`);
}
console.log(`total       ${String(gzTotal).padStart(16)} B gzipped (budget ${BUDGET_GZIP})`);
if (gzTotal > BUDGET_GZIP) {
  console.error(`the dashboard is over its size budget: ${gzTotal} B gzipped > ${BUDGET_GZIP} B`);
  process.exit(1);
}
if (stale.length) {
  console.error(
    `dashboard/dist is not built from the current sources (${stale.join(", ")} differ; the bundle includes dashboard/src and client-js/src): run \`npm run build\` in dashboard/ and commit dist/`,
  );
  process.exit(1);
}
