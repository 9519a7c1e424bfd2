/**
 * SSH message numbers (RFC 4250 §4.1) and their names for logs.
 *
 * Numbers 30–49 are reused by every key exchange method (RFC 4250 §4.1.2), and 60–79 by every user
 * authentication method, so the table carries each number once under its most common name and lists the
 * aliases separately; `KexMessages` and the auth codec decide what a number means from the negotiated method.
 *
 * @since 0.1.0
 */

/**
 * Every message number we know, by its RFC 4250 §4.1 name without the `SSH_MSG_` prefix.
 *
 * @since 0.1.0
 * @category models
 */
export const MessageId = {
  // RFC 4253 §12 — transport layer generic (1–19)
  DISCONNECT: 1,
  IGNORE: 2,
  UNIMPLEMENTED: 3,
  DEBUG: 4,
  SERVICE_REQUEST: 5,
  SERVICE_ACCEPT: 6,
  // RFC 8308 §2.3
  EXT_INFO: 7,
  // RFC 4253 §12 — algorithm negotiation (20–29)
  KEXINIT: 20,
  NEWKEYS: 21,
  // RFC 4253 §8 — key exchange method specific (30–49); RFC 5656 §7.1 reuses 30/31 for ECDH
  KEXDH_INIT: 30,
  KEXDH_REPLY: 31,
  // RFC 4419 §5 — diffie-hellman-group-exchange-*
  KEX_DH_GEX_GROUP: 31,
  KEX_DH_GEX_INIT: 32,
  KEX_DH_GEX_REPLY: 33,
  KEX_DH_GEX_REQUEST: 34,
  // RFC 4252 §6 — user authentication generic (50–59)
  USERAUTH_REQUEST: 50,
  USERAUTH_FAILURE: 51,
  USERAUTH_SUCCESS: 52,
  USERAUTH_BANNER: 53,
  // RFC 4252 §7 / RFC 4256 §3.4 — method specific (60–79)
  USERAUTH_PK_OK: 60,
  USERAUTH_INFO_RESPONSE: 61,
  // RFC 4254 §9 — connection protocol (80–127)
  GLOBAL_REQUEST: 80,
  REQUEST_SUCCESS: 81,
  REQUEST_FAILURE: 82,
  CHANNEL_OPEN: 90,
  CHANNEL_OPEN_CONFIRMATION: 91,
  CHANNEL_OPEN_FAILURE: 92,
  CHANNEL_WINDOW_ADJUST: 93,
  CHANNEL_DATA: 94,
  CHANNEL_EXTENDED_DATA: 95,
  CHANNEL_EOF: 96,
  CHANNEL_CLOSE: 97,
  CHANNEL_REQUEST: 98,
  CHANNEL_SUCCESS: 99,
  CHANNEL_FAILURE: 100,
  // OpenSSH PROTOCOL §1.9 — transport-level ping (local-extension range 192–255)
  PING: 192,
  PONG: 193
} as const

/**
 * A message name from the `MessageId` table.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageName = keyof typeof MessageId

/**
 * A message number from the `MessageId` table.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageNumber = typeof MessageId[MessageName]

/**
 * Aliases of reused numbers (RFC 4250 §4.1.2): 30/31 are also KEX_ECDH_INIT/REPLY (RFC 5656 §7.1) and 30 is
 * KEX_DH_GEX_REQUEST_OLD (RFC 4419 §5); 60 is also USERAUTH_INFO_REQUEST (RFC 4256) and
 * USERAUTH_PASSWD_CHANGEREQ (RFC 4252 §8).
 *
 * @since 0.1.0
 * @category models
 */
export const MessageAlias = {
  KEX_ECDH_INIT: 30,
  KEX_ECDH_REPLY: 31,
  KEX_DH_GEX_REQUEST_OLD: 30,
  USERAUTH_INFO_REQUEST: 60,
  USERAUTH_PASSWD_CHANGEREQ: 60
} as const

/**
 * Each entry of `MessageId` and `MessageAlias` as a module-level constant, for
 * `import * as MessageId from "./MessageId.js"` and `MessageId.KEXINIT`.
 *
 * @since 0.1.0
 * @category constants
 */
export const {
  CHANNEL_CLOSE,
  CHANNEL_DATA,
  CHANNEL_EOF,
  CHANNEL_EXTENDED_DATA,
  CHANNEL_FAILURE,
  CHANNEL_OPEN,
  CHANNEL_OPEN_CONFIRMATION,
  CHANNEL_OPEN_FAILURE,
  CHANNEL_REQUEST,
  CHANNEL_SUCCESS,
  CHANNEL_WINDOW_ADJUST,
  DEBUG,
  DISCONNECT,
  EXT_INFO,
  GLOBAL_REQUEST,
  IGNORE,
  KEXDH_INIT,
  KEXDH_REPLY,
  KEXINIT,
  KEX_DH_GEX_GROUP,
  KEX_DH_GEX_INIT,
  KEX_DH_GEX_REPLY,
  KEX_DH_GEX_REQUEST,
  NEWKEYS,
  PING,
  PONG,
  REQUEST_FAILURE,
  REQUEST_SUCCESS,
  SERVICE_ACCEPT,
  SERVICE_REQUEST,
  UNIMPLEMENTED,
  USERAUTH_BANNER,
  USERAUTH_FAILURE,
  USERAUTH_INFO_RESPONSE,
  USERAUTH_PK_OK,
  USERAUTH_REQUEST,
  USERAUTH_SUCCESS
} = MessageId

/**
 * The aliases of `MessageAlias` as module-level constants.
 *
 * @since 0.1.0
 * @category constants
 */
export const {
  KEX_DH_GEX_REQUEST_OLD,
  KEX_ECDH_INIT,
  KEX_ECDH_REPLY,
  USERAUTH_INFO_REQUEST,
  USERAUTH_PASSWD_CHANGEREQ
} = MessageAlias

const NAMES: ReadonlyArray<string | undefined> = (() => {
  const out: Array<string | undefined> = Array.from({ length: 256 }, () => undefined)
  for (const [name, n] of Object.entries(MessageId)) {
    const prev = out[n]
    out[n] = prev === undefined ? name : `${prev}|${name}`
  }
  return out
})()

/**
 * The name of a message number for logs: `"KEXINIT(20)"`, `"KEXDH_REPLY|KEX_DH_GEX_GROUP(31)"` for reused numbers,
 * and the RFC 4250 §4.1 range for numbers we do not know (`"Reserved(150)"`, `"Local(200)"`).
 *
 * @since 0.1.0
 * @category utils
 */
export const messageName = (n: number): string => {
  const known = Number.isInteger(n) && n >= 0 && n < 256 ? NAMES[n] : undefined
  if (known !== undefined) return `${known}(${n})`
  return `${rangeName(n)}(${n})`
}

// RFC 4250 §4.1: the number ranges.
const rangeName = (n: number): string => {
  if (!Number.isInteger(n) || n < 0 || n > 255) return "Invalid"
  if (n === 0) return "Invalid"
  if (n <= 19) return "Transport"
  if (n <= 29) return "AlgorithmNegotiation"
  if (n <= 49) return "KexMethod"
  if (n <= 59) return "Userauth"
  if (n <= 79) return "UserauthMethod"
  if (n <= 127) return "Connection"
  if (n <= 191) return "Reserved"
  return "Local"
}
