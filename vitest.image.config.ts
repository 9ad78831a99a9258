import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run test:image`: tests of the image scripts/build-image.sh built (run by runc, as root), against a control plane
 * of their own. Not in `npm test`: they need the image, root and Debian's umoci and runc.
 */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/image/**/*.test.ts"], exclude: ["**/node_modules/**"] },
});
