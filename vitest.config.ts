import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The image's tests run in `npm run test:image` (vitest.image.config.ts): they need the built image and root.
    exclude: ["test/image/**", "**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Integration tests share one API server and start operators and simulators: one file at a time keeps them
    // from reconciling each other's objects and keeps timings sane on two cores.
    fileParallelism: false,
    globalSetup: ["test/helpers/global-setup.ts"],
  },
});
