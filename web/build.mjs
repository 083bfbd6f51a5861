// Copies the pinned front-end packages into the Python package's static files, so the
// dashboards are served by strigil itself (no CDN). Run by `make` through `npm run build`.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "src", "strigil", "dashboards", "static", "vendor");
mkdirSync(vendor, { recursive: true });
const files = [
  ["uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js"],
  ["uplot/dist/uPlot.min.css", "uPlot.min.css"],
  ["uplot/LICENSE", "uPlot.LICENSE"],
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
  ["swagger-ui-dist/LICENSE", "swagger-ui.LICENSE"],
];
for (const [from, to] of files) {
  copyFileSync(join(here, "node_modules", from), join(vendor, to));
}
console.log(`copied ${files.length} files into ${vendor}`);
