#!/usr/bin/env node
// The effect-ssh command line. The sources are TypeScript, so they run through tsx's ESM loader (a
// devDependency of this repository), registered in this process: no second process, and signals and exit
// codes are the CLI's own.
import { register } from "tsx/esm/api"

register()
await import(new URL("../src/cli/main.ts", import.meta.url).href)
