#!/usr/bin/env node
// The effect-ssh command line: the bundle `npm run build` writes (src/cli/bin.ts, code-split per subcommand).
// `npm install`/`npm ci` in a clone build it through `prepare`; after editing src/, `npm run build:cli`.
import "../dist/bin/effect-ssh.mjs"
