/**
 * MaxStartups random early drop (LIM-19, SEC-38): the pure decision of src/server/internal/startups.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Startups from "../../../src/server/internal/startups.js"

const limits = { start: 10, rate: 30, full: 100 }

describe("MaxStartups (LIM-19)", () => {
  it("LIM-19: below start every connection is served, at full every one is refused", () => {
    for (let n = 0; n < 10; n++) assert.isFalse(Startups.shouldDrop(limits, n, 0))
    for (let n = 100; n < 110; n++) assert.isTrue(Startups.shouldDrop(limits, n, 0.9999))
  })

  it("LIM-19: between start and full the refusal probability rises linearly from rate % to 100 %", () => {
    // At start: 30 %; halfway (55): 65 %; just below full (99): 99.2 %.
    assert.isTrue(Startups.shouldDrop(limits, 10, 0.2999))
    assert.isFalse(Startups.shouldDrop(limits, 10, 0.3))
    assert.isTrue(Startups.shouldDrop(limits, 55, 0.6499))
    assert.isFalse(Startups.shouldDrop(limits, 55, 0.65))
    assert.isTrue(Startups.shouldDrop(limits, 99, 0.99))
  })

  it("sshd's plain MaxStartups N (N:100:N) refuses exactly from N on", () => {
    const plain = { start: 5, rate: 100, full: 5 }
    assert.isFalse(Startups.shouldDrop(plain, 4, 0.99))
    assert.isTrue(Startups.shouldDrop(plain, 5, 0))
  })

  it("invalid settings are named", () => {
    assert.isUndefined(Startups.validate(limits))
    assert.include(Startups.validate({ start: 0, rate: 30, full: 100 }) ?? "", "maxStartups 0:30:100")
    assert.isDefined(Startups.validate({ start: 10, rate: 130, full: 100 }))
    assert.isDefined(Startups.validate({ start: 20, rate: 30, full: 10 }))
  })
})
