import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run test:unit`: the pure tests of test/unit, in seconds: no API server (no global setup), no simulator, files
 * in parallel. `npm test` runs them too, with everything else.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/unit/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    globalSetup: [],
    fileParallelism: true,
  },
});
