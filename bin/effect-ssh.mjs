#!/usr/bin/env node
// The effect-ssh command line: the loader `npm run build` writes (dist/bin/effect-ssh.mjs runs the one CLI bundle, cli.cjs, from a V8 code cache; --version/--help only top.mjs).
// `npm install`/`npm ci` in a clone build it through `prepare`; after editing src/, `npm run build:cli`.
import "../dist/bin/effect-ssh.mjs"
