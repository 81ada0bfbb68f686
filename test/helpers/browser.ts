import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/**
 * Real-browser tests use Debian's chromium (scripts/install-chromium.sh installs it), driven by
 * playwright-core: `npx playwright install` cannot download browsers on these machines.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless, no sandbox (containers run as root), and no background traffic to Google's services. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-default-browser-check',
  // Tests only talk to 127.0.0.1: any host name that is not loopback fails to resolve.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

/**
 * Launches headless Chromium with a fresh, throw-away profile (playwright creates and deletes its
 * own user-data dir for every launch). Close it with `browser.close()`.
 */
export async function launchBrowser(options: { executablePath?: string } = {}): Promise<Browser> {
  const executablePath = options.executablePath ?? CHROMIUM_PATH;
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is not installed at ${executablePath}. Run scripts/install-chromium.sh (installs Debian's chromium package) and try again.`,
    );
  }
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS] });
}

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A path under test-artifacts/<folder>/ (git-ignored) for screenshots; the folder is created. */
export function artifactPath(folder: string, file: string): string {
  const dir = join(repositoryRoot, 'test-artifacts', folder);
  mkdirSync(dir, { recursive: true });
  return join(dir, file);
}
