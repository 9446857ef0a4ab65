// A real browser for the console's tests: Debian's Chromium, headless, driven by playwright-core
// (no browser download: the box's own package is the one a technician's laptop would not have,
// but it is a real Blink with a real CSP, EventSource, WebSocket and canvas). Each test gets a
// fresh browser profile and context; the browser is closed in the test's teardown, pass or fail,
// and playwright kills its process group if the close hangs or this process dies.
//
// Screenshots go to a folder the test prints. It is kept when the test fails (to see why) or when
// CITYEDGE_SCREENSHOTS is set; with CITYEDGE_SCREENSHOTS=docs the named ones are also written to
// docs/img/console-NAME.png for docs/console.md.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { withTimeout } from './wait.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** No GPU, no QUIC, nothing phoning home: the same run on a CI box and an offline one. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const DOCS_IMG = join(import.meta.dirname, '..', '..', 'docs', 'img');

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** A further context (another user's cookies), closed with the browser. */
  newContext(): Promise<BrowserContext>;
  /**
   * Saves a screenshot as NN-name.png in the test's folder and returns its path; `docs: true`
   * also writes docs/img/console-NAME.png when CITYEDGE_SCREENSHOTS=docs.
   */
  shot(name: string, opts?: { page?: Page; docs?: boolean; fullPage?: boolean }): Promise<string>;
  /** Errors the pages logged (console.error, uncaught exceptions, CSP refusals). */
  errors: string[];
  readonly shotsDir: string;
}

export async function openBrowser(t: Test, opts: { viewport?: { width: number; height: number }; locale?: string } = {}): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (test/setup/install-debian-deps.sh does)`);
  const shotsDir = mkdtempSync(join(tmpdir(), 'cityedge-console-shots-'));
  t.comment(`screenshots: ${shotsDir}`);
  const keep = process.env.CITYEDGE_SCREENSHOTS;
  t.teardown(() => {
    if (!keep && t.passing()) rmSync(shotsDir, { recursive: true, force: true });
    else t.comment(`screenshots kept in ${shotsDir}`);
  });

  // launch() gives the browser a fresh temporary profile (--user-data-dir) and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  // Registered at once, before anything else can throw: a leftover Chromium holds memory for ever.
  t.teardown(() => withTimeout(browser.close(), 30_000, 'chromium to close').catch(() => {}));

  const errors: string[] = [];
  const newContext = async () => {
    const c = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 }, locale: opts.locale ?? 'zh-CN', timezoneId: 'Asia/Shanghai' });
    c.on('page', (p) => watch(p, errors));
    return c;
  };
  const context = await newContext();
  const page = await context.newPage();
  watch(page, errors);

  let n = 0;
  const shot: BrowserSession['shot'] = async (name, o = {}) => {
    const file = join(shotsDir, `${String(++n).padStart(2, '0')}-${name}.png`);
    await (o.page ?? page).screenshot({ path: file, fullPage: o.fullPage ?? false, animations: 'disabled' });
    if (o.docs && keep === 'docs') {
      mkdirSync(DOCS_IMG, { recursive: true });
      copyFileSync(file, join(DOCS_IMG, `console-${name}.png`));
    }
    return file;
  };
  return { browser, context, page, newContext, shot, errors, shotsDir };
}

const watched = new WeakSet<Page>();
function watch(page: Page, errors: string[]): void {
  if (watched.has(page)) return;
  watched.add(page);
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${page.url()}: uncaught ${e.message}`));
}
