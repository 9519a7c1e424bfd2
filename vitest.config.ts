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
          globalSetup: ["test/helpers/BuildCli.ts"],
          pool: "forks",
          poolOptions: { forks: { singleFork: false } },
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      },
      {
        test: {
          // npm pack, npm install into a temp project, the installed bin and both entry points against sshd.
          name: "package",
          include: ["test/package/**/*.test.ts"],
          pool: "forks",
          testTimeout: 600_000,
          hookTimeout: 600_000
        }
      }
    ]
  }
})
