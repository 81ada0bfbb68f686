import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser.js';

describe('launchBrowser', () => {
  it('names scripts/install-chromium.sh when Chromium is missing', async () => {
    await expect(launchBrowser({ executablePath: '/nonexistent/chromium' })).rejects.toThrow(
      'Chromium is not installed at /nonexistent/chromium. Run scripts/install-chromium.sh',
    );
  });

  it('launches Debian\'s chromium headless, and host names other than loopback do not resolve in it', async () => {
    const browser = await launchBrowser();
    try {
      expect(browser.version()).toMatch(/^\d+\./);
      const page = await browser.newPage();
      expect(await page.evaluate(() => navigator.userAgent)).toContain('HeadlessChrome');
      // --host-resolver-rules maps every name but 127.0.0.1/localhost to NOTFOUND, so not even the
      // machine's own name (which /etc/hosts resolves) is looked up: no DNS query can leave.
      await expect(page.goto(`http://${hostname()}:65530/`)).rejects.toThrow('ERR_NAME_NOT_RESOLVED');
    } finally {
      await browser.close();
    }
  });
});
