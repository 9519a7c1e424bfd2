/**
 * The pure core of client authentication (RFC 4252 §5.1): which credential comes next, which signature
 * algorithm a key uses (RFC 8332, RFC 8308), and how peer text is made displayable (SEC-12). No Effect, no I/O.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import { sanitizePeerText } from "../../SshError.js"
import * as Auth from "../AuthMethod.js"


/** @internal */
export interface AuthPlan {
  readonly methods: ReadonlyArray<Auth.AuthMethod>
  /** Per credential: already tried (or found unusable); every credential is tried at most once. */
  readonly used: ReadonlyArray<boolean>
  /** The methods the server's last USERAUTH_FAILURE allowed (empty before the first one). */
  readonly allowed: ReadonlyArray<string>
  /** The credential whose request the next USERAUTH_FAILURE answers; `undefined` for the opening "none". */
  readonly current: number | undefined
  /** The methods that succeeded partially (RFC 4252 §5.1), in order. */
  readonly factors: ReadonlyArray<Auth.MethodName>
  /** Whether any partial success was seen. */
  readonly partialSuccess: boolean
}

/** @internal */
export type PlanStep =
  | { readonly _tag: "Try"; readonly index: number; readonly plan: AuthPlan }
  | { readonly _tag: "Exhausted"; readonly plan: AuthPlan }

/** @internal */
export interface FailureInfo {
  readonly methods: ReadonlyArray<string>
  readonly partialSuccess: boolean
}

/** @internal */
export const initialPlan = (methods: ReadonlyArray<Auth.AuthMethod>): AuthPlan => ({
  methods,
  used: methods.map((m) => m._tag === "None"),
  allowed: [],
  current: undefined,
  factors: [],
  partialSuccess: false
})

/** @internal */
export const nextMethod = (plan: AuthPlan, failure: FailureInfo): PlanStep => {
  // RFC 4252 §5.1: partial success means the request succeeded but more authentication is needed.
  const factors = failure.partialSuccess
    ? [...plan.factors, plan.current === undefined ? "none" as const : Auth.methodName(plan.methods[plan.current]!)]
    : plan.factors
  const allowed = new Set(failure.methods)
  const index = plan.methods.findIndex((m, i) => !plan.used[i] && allowed.has(Auth.methodName(m)))
  const base = { ...plan, allowed: failure.methods, factors, partialSuccess: plan.partialSuccess || failure.partialSuccess }
  if (index < 0) return { _tag: "Exhausted", plan: { ...base, current: undefined } }
  return { _tag: "Try", index, plan: { ...base, current: index, used: plan.used.map((u, i) => u || i === index) } }
}

/** @internal */
export const skipCurrent = (plan: AuthPlan): PlanStep => nextMethod(plan, { methods: plan.allowed, partialSuccess: false })

/**
 * RFC 8332 §3.3 / RFC 8308 §3.1: the signature algorithm for a key. RSA keys take rsa-sha2-512, then
 * rsa-sha2-256, from the server's server-sig-algs; without that extension rsa-sha2-256 (OpenSSH ≥ 7.2);
 * the SHA-1 ssh-rsa only when the credential allows it and the server offers it. `undefined`: none fits.
 *
 * @internal
 */
export const pickAlgorithm = (
  key: Pick<Auth.PrivateKey, "keyType" | "allowSshRsa"> & { readonly certificate?: Uint8Array | undefined },
  serverSigAlgs: Option.Option<ReadonlyArray<string>>
): string | undefined => {
  if (key.certificate !== undefined) {
    // PROTOCOL.certkeys: the certificate algorithm of the plain one (rsa-sha2-512 → rsa-sha2-512-cert-v01@…),
    // chosen from server-sig-algs as for the plain key (OpenSSH lists only plain names there).
    const plainType = key.keyType === "ssh-rsa-cert-v01@openssh.com" ? "ssh-rsa" : key.keyType.replace(/-cert-v01@openssh\.com$/, "")
    const plain = pickAlgorithm({ keyType: plainType, allowSshRsa: key.allowSshRsa }, serverSigAlgs)
    return plain === undefined ? undefined : `${plain}-cert-v01@openssh.com`
  }
  if (key.keyType !== "ssh-rsa") return key.keyType
  if (Option.isNone(serverSigAlgs)) return "rsa-sha2-256"
  const offered = serverSigAlgs.value
  const alg = ["rsa-sha2-512", "rsa-sha2-256"].find((a) => offered.includes(a))
  if (alg !== undefined) return alg
  return key.allowSshRsa && offered.includes("ssh-rsa") ? "ssh-rsa" : undefined
}

/**
 * Peer text for display (SEC-12, SEC-40): line breaks kept, every other control character escaped, each line
 * capped at 1 024 characters.
 *
 * @internal
 */
export const displayText = (text: string): string =>
  text.split(/\r\n|\r|\n/).map((line) => sanitizePeerText(line, 1024)).join("\n")
