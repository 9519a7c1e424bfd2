/**
 * The progress meter of `effect-ssh sftp`, drawn as OpenSSH's progressmeter.c draws it: one line rewritten with
 * a carriage return, `name  45%  115MB  11.5MB/s   00:05 ETA`, and a last line with the elapsed time.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { ProgressEvent } from "../../sftp/SftpTransfer.js"

const UNITS = ["B", "KB", "MB", "GB", "TB", "PB"]

/**
 * A byte count in at most five columns with a unit, as OpenSSH's format_size (1024-based).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSize = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 10_000 && unit < UNITS.length - 1) {
    value = (value + 512) / 1024
    unit++
  }
  return `${Math.floor(value)}${UNITS[unit]}`
}

/**
 * A rate in bytes per second, with one decimal below 100 of its unit, as OpenSSH's format_rate.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatRate = (bytesPerSecond: number): string => {
  let value = bytesPerSecond
  let unit = 0
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value < 100 ? value.toFixed(1) : Math.round(value).toString()}${UNITS[unit]}/s`
}

const clock = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0")
  const ss = String(s % 60).padStart(2, "0")
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`
}

/**
 * One meter line for `name`, `width` columns wide.
 *
 * @since 0.1.0
 * @category formatting
 */
export const renderLine = (
  name: string,
  bytes: number,
  total: number | undefined,
  elapsedSeconds: number,
  done: boolean,
  width: number
): string => {
  const size = total ?? bytes
  const percent = size === 0 ? 100 : Math.min(100, Math.floor((bytes * 100) / size))
  const rate = elapsedSeconds > 0 ? bytes / elapsedSeconds : 0
  const eta = done
    ? `${clock(elapsedSeconds)}    `
    : rate > 0 && total !== undefined
    ? `${clock((total - bytes) / rate)} ETA`
    : "--:-- ETA"
  const right = ` ${String(percent).padStart(3)}% ${formatSize(bytes).padStart(6)} ${formatRate(rate).padStart(9)} ${eta.padStart(9)}`
  const room = Math.max(1, width - right.length - 1)
  const shown = name.length > room ? name.slice(name.length - room) : name.padEnd(room)
  return `${shown}${right}`
}

/**
 * A meter that writes to `out` (a terminal): `update` redraws at most every 250 ms and always at the end of
 * a file; the last line of a file ends with a newline.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (out: NodeJS.WriteStream) => {
  let file: string | undefined
  let started = 0
  let lastDraw = 0
  return (event: ProgressEvent): Effect.Effect<void> =>
    Effect.sync(() => {
      const now = Date.now()
      if (event.path !== file) {
        file = event.path
        started = now
        lastDraw = 0
      }
      if (!event.done && now - lastDraw < 250) return
      lastDraw = now
      const name = event.path.slice(event.path.lastIndexOf("/") + 1)
      const line = renderLine(name, event.bytes, event.total, (now - started) / 1000, event.done, out.columns > 0 ? out.columns : 80)
      out.write(`\r${line}${event.done ? "\n" : ""}`)
      if (event.done) file = undefined
    })
}
