/**
 * The "randomart" picture of a key fingerprint, as `ssh-keygen -lv` and `VisualHostKey` draw it: the drunken
 * bishop walk of Loss, Limmer and von Gernler ("The drunken bishop: an analysis of the OpenSSH fingerprint
 * visualization algorithm", 2009), with OpenSSH's field size, symbols and borders (sshkey.c
 * `fingerprint_randomart`).
 *
 * @since 0.1.0
 */

// A 17 × 9 field: odd sizes, so the bishop starts at the exact centre.
const WIDTH = 17
const HEIGHT = 9
// Symbols by visit count (0 = never); the last two mark the start and end of the walk.
const SYMBOLS = " .o+=*BOX@%&#/^SE"
const START = SYMBOLS.length - 2
const END = SYMBOLS.length - 1

const border = (label: string): string => {
  const left = Math.floor((WIDTH - label.length) / 2)
  return "+" + "-".repeat(left) + label + "-".repeat(WIDTH - left - label.length) + "+"
}

/**
 * Draws the walk over `digest` (the raw fingerprint hash). Each byte, least significant bit pair first, moves
 * the bishop one diagonal step: bit 0 chooses right or left, bit 1 down or up; it slides along a wall it would
 * cross. Every visited square counts the visits (saturating before the start and end symbols).
 * `title` is the key description (`ED25519 256`) and `hashName` the fingerprint hash (`SHA256`); lines are joined
 * with "\n" and there is no final newline, as ssh-keygen prints it.
 *
 * @since 0.1.0
 * @category formatting
 */
export const draw = (digest: Uint8Array, title: string, hashName: string): string => {
  const field: Array<Array<number>> = Array.from({ length: WIDTH }, () => new Array<number>(HEIGHT).fill(0))
  let x = Math.floor(WIDTH / 2)
  let y = Math.floor(HEIGHT / 2)
  for (const byte of digest) {
    let input = byte
    for (let b = 0; b < 4; b++) {
      x = Math.min(Math.max(x + (input & 1 ? 1 : -1), 0), WIDTH - 1)
      y = Math.min(Math.max(y + (input & 2 ? 1 : -1), 0), HEIGHT - 1)
      if (field[x]![y]! < START - 1) field[x]![y]!++
      input >>= 2
    }
  }
  field[Math.floor(WIDTH / 2)]![Math.floor(HEIGHT / 2)] = START
  field[x]![y] = END
  // "[TYPE BITS]" when it fits the border, else "[TYPE]"; never wider than the field.
  const full = `[${title}]`
  const head = (full.length > WIDTH + 1 ? `[${title.split(" ")[0]}]` : full).slice(0, WIDTH)
  const rows: Array<string> = [border(head)]
  for (let row = 0; row < HEIGHT; row++) {
    let line = "|"
    for (let col = 0; col < WIDTH; col++) line += SYMBOLS[Math.min(field[col]![row]!, END)]
    rows.push(line + "|")
  }
  rows.push(border(`[${hashName}]`.slice(0, WIDTH)))
  return rows.join("\n")
}
