/**
 * CertificateText: ssh-keygen's -V validity grammar and -O options (pure; the interop test compares -L output
 * with ssh-keygen's).
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as Certificate from "../../../src/keys/Certificate.js"
import * as CertificateText from "../../../src/keys/CertificateText.js"

const now = 1_800_000_030n
const ok = (spec: string) => Either.getOrThrow(CertificateText.parseValidity(spec, now))

describe("CertificateText.parseValidity", () => {
  it("reads ssh-keygen's forms", () => {
    assert.deepStrictEqual(ok("forever"), { validAfter: 0n, validBefore: Certificate.FOREVER })
    assert.deepStrictEqual(ok("always:forever"), { validAfter: 0n, validBefore: Certificate.FOREVER })
    // A lone +time starts a minute before now, rounded down to the minute.
    assert.deepStrictEqual(ok("+1h"), { validAfter: now - 30n - 60n, validBefore: now + 3600n })
    assert.deepStrictEqual(ok("-1d:+1w2d"), { validAfter: now - 86400n, validBefore: now + 9n * 86400n })
    assert.deepStrictEqual(ok("0x10:0x20"), { validAfter: 16n, validBefore: 32n })
    assert.deepStrictEqual(ok("20240101Z:20250101000000Z"), { validAfter: 1704067200n, validBefore: 1735689600n })
  })

  it("refuses what ssh-keygen refuses", () => {
    for (const bad of ["", "tomorrow", "20240101", ":forever", "always:", "20241301:forever", "+1y", "20250101Z:20240101Z", "-1d:-2d"]) {
      assert.isTrue(Either.isLeft(CertificateText.parseValidity(bad, now)), bad)
    }
  })
})

describe("CertificateText.applyOptions", () => {
  it("starts from ssh-keygen's user defaults and applies -O in order", () => {
    const r = Either.getOrThrow(CertificateText.applyOptions("user", ["no-pty", "No-X11-Forwarding", "force-command=ls", "extension:a@b=1", "critical:c@d"]))
    assert.deepStrictEqual(Object.keys(r.extensions).sort(), ["a@b", "permit-agent-forwarding", "permit-port-forwarding", "permit-user-rc"])
    assert.deepStrictEqual(r.criticalOptions, { "force-command": "ls", "c@d": true })
    const cleared = Either.getOrThrow(CertificateText.applyOptions("user", ["clear", "permit-pty"]))
    assert.deepStrictEqual(cleared.extensions, { "permit-pty": true })
  })

  it("a host certificate carries no options; unknown and repeated options are refused", () => {
    assert.deepStrictEqual(Either.getOrThrow(CertificateText.applyOptions("host", ["no-pty"])), { criticalOptions: {}, extensions: {} })
    assert.isTrue(Either.isLeft(CertificateText.applyOptions("user", ["bogus"])))
    assert.isTrue(Either.isLeft(CertificateText.applyOptions("user", ["force-command=a", "force-command=b"])))
    assert.isTrue(Either.isLeft(CertificateText.applyOptions("user", ["no-pty=1"])))
  })
})
