// Debian's chromium, headless, as the dashboard's tests and benchmark start it: no
// sandbox (they run as root), no GPU, and nothing that reaches the network on its own.
import { chromium } from 'playwright-core';

export const EXECUTABLE = process.env.WMS_CHROMIUM || '/usr/bin/chromium';

export const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  return chromium.launch({ executablePath: EXECUTABLE, args: ARGS, headless: true });
}
