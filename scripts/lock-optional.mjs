// Adds lockfile entries for platform-specific optional packages that the npm registry mirror of our machines
// does not serve (it answers 404 for, e.g., @rollup/rollup-darwin-arm64). npm 11 writes a lockfile without
// them, then `npm ci` refuses that lockfile ("Missing: … from lock file"). Each stub carries the os/cpu/libc
// that the package name states, so npm skips it on every other platform and never fetches it.
// Run after `npm install` changes package-lock.json: `node scripts/lock-optional.mjs`. See
// docs/decisions/0004-lockfile-optional-platform-packages.md.
import * as fs from "node:fs"

const file = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(fs.readFileSync(file, "utf8"))
const OS = ["android", "darwin", "freebsd", "linux", "openbsd", "openharmony", "win32", "sunos", "aix", "netbsd"]
const CPU = { "arm-eabi": "arm", arm: "arm", arm64: "arm64", x64: "x64", ia32: "ia32", loong64: "loong64", ppc64: "ppc64", riscv64: "riscv64", s390x: "s390x" }
let added = 0
for (const [where, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`
    if (lock.packages[key] || lock.packages[`${where}/node_modules/${name}`]) continue
    const parts = name.split("/").pop().split("-")
    const os = parts.find((p) => OS.includes(p))
    const i = parts.indexOf(os)
    const rest = parts.slice(i + 1)
    const cpuPart = rest.length > 1 && rest[0] === "arm" && rest[1] === "eabi" ? "arm-eabi" : rest[0]
    const cpu = CPU[cpuPart]
    if (!os || !cpu) throw new Error(`cannot tell the platform of ${name}`)
    const libc = rest.some((p) => p.includes("musl")) ? ["musl"] : rest.some((p) => p.startsWith("gnu")) && os === "linux" ? ["glibc"] : undefined
    lock.packages[key] = {
      version: version.replace(/^[\^~]/, ""),
      cpu: [cpu],
      ...(pkg.dev ? { dev: true } : {}),
      ...(libc ? { libc } : {}),
      optional: true,
      os: [os]
    }
    added++
  }
}
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + "\n")
console.log(`lock-optional: added ${added} platform stubs`)
