import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

// Debian's chromium, driven by playwright-core (no browser download: the system executable). Installed by
// .ci/run and scripts/test.ts (apt-get install chromium); CHROMIUM_PATH overrides the path.

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error('chromium is not installed; apt-get install -y chromium (or set CHROMIUM_PATH)');
  return found;
}

export async function launchChromium(): Promise<Browser> {
  // As root (CI, containers) Chromium's own sandbox cannot start; the pages are ours and the mail is inert.
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** What a page did that hostile mail must never make it do: dialogs, CSP violations, requests off the origin. */
export interface Watch { dialogs: string[]; cspErrors: string[]; foreignRequests: string[]; pageErrors: string[] }

export function watchPage(page: Page, origin: string): Watch {
  const w: Watch = { dialogs: [], cspErrors: [], foreignRequests: [], pageErrors: [] };
  page.on('dialog', (d) => {
    w.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => undefined);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) w.cspErrors.push(m.text());
  });
  page.on('pageerror', (e) => w.pageErrors.push(e.message));
  // A request the browser refused to make (CSP, sandbox) never left; anything else that aimed elsewhere did.
  const foreign = (url: string): boolean => !(url.startsWith('data:') || url.startsWith('about:')) && new URL(url).origin !== origin;
  page.on('requestfinished', (r) => {
    if (foreign(r.url())) w.foreignRequests.push(r.url());
  });
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText ?? '';
    if (foreign(r.url()) && !/ERR_BLOCKED_BY_(CSP|CLIENT|RESPONSE)|^csp$/i.test(why)) w.foreignRequests.push(`${r.url()} (${why})`);
  });
  return w;
}
