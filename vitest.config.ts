import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "test/loopback/**/*.test.ts", "test/fuzz/**/*.test.ts", "test/architecture.test.ts", "test/docs.test.ts"],
          sequence: { concurrent: true },
          testTimeout: 60_000
        }
      },
      {
        test: {
          name: "interop",
          include: ["test/interop/**/*.test.ts"],
          pool: "forks",
          poolOptions: { forks: { singleFork: false } },
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      }
    ]
  }
})
