// The web console in a real browser (Debian's Chromium through playwright-core) against the real
// box on loopback: the pump-station PLC, a streetlight cabinet, a parking lot's LoRaWAN sensors, an
// RTSP camera, Mosquitto upstream, and the gateway serving the console. What an operator does on
// site, click by click: a wrong password is refused; the devices show as OK; a value changes on
// its own and on "read now"; a trend draws; a limit lowered from the console raises an alarm with a
// camera snapshot, which is acknowledged with a comment; a streetlight loop is switched and its
// contactor follows; the camera's picture plays. A viewer sees no controls, a request without the
// CSRF token changes nothing, an ended session goes back to the login form, and EN switches the
// labels. Screenshots at each step (docs/img/console-*.png with CITYEDGE_SCREENSHOTS=docs).
import t from 'tap';
import type { Page } from 'playwright-core';
import { openBrowser, type BrowserSession } from './helpers/browser.ts';
import { ADMIN, CAMERA_RULE, VIEWER, startConsoleStack } from './helpers/console-stack.ts';
import { waitFor, waitForValue } from './helpers/wait.ts';

const LONG = { timeout: 60_000 };

/** Console errors a page may rightly log: the 401 of the first session probe and of a wrong password,
 *  the 403s this test provokes, and the stylesheet JSMpeg injects for a player we do not use (the CSP
 *  refuses it, which is the point). */
const EXPECTED_ERRORS = [/status of 40[13]/, /Applying inline style violates .*style-src/];

async function login(page: Page, url: string, who: { user: string; password: string }): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('form.login-form', LONG);
  await page.fill('input[name=user]', who.user);
  await page.fill('input[name=password]', who.password);
  await page.click('form.login-form button[type=submit]');
  await page.waitForSelector('nav.side', LONG);
}

/**
 * Pixels of a canvas: how many are dark, how many distinct colours (coarsely), and how many are
 * close to `rgb` (a chart series' stroke: the grid and axes alone do not count as a drawn line).
 */
const canvasStats = (page: Page, selector: string, rgb: [number, number, number] = [0, 0, 0]) => page.evaluate(([sel, [r, g, b]]) => {
  const c = document.querySelector(sel) as HTMLCanvasElement | null;
  if (!c || c.width === 0) return { colours: 0, dark: 0, total: 0, near: 0 };
  const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set<number>();
  let dark = 0, near = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i]! + data[i + 1]! + data[i + 2]! < 30) dark++;
    if (data[i + 3]! > 200 && Math.abs(data[i]! - r) + Math.abs(data[i + 1]! - g) + Math.abs(data[i + 2]! - b) < 60) near++;
    colours.add(((data[i]! >> 4) << 8) | ((data[i + 1]! >> 4) << 4) | (data[i + 2]! >> 4));
  }
  return { colours: colours.size, dark, total: data.length / 4, near };
}, [selector, rgb] as const);
/** The trend chart's mean line (pages/trends.js). */
const MEAN_STROKE: [number, number, number] = [0x1d, 0x5f, 0xa8];

const text = async (page: Page, selector: string) => (await page.locator(selector).first().textContent())?.trim() ?? '';

function unexpectedErrors(b: BrowserSession): string[] {
  return b.errors.filter((e) => !EXPECTED_ERRORS.some((re) => re.test(e)));
}

t.test('the console, operated in Chromium against the running box', async (t) => {
  const stack = await startConsoleStack(t);
  const { url } = stack;

  await t.test('an admin on site', async (t) => {
    const b = await openBrowser(t);
    const { page, shot } = b;

    await page.goto(url);
    await page.waitForSelector('form.login-form', LONG);
    t.match(await page.locator('html').getAttribute('lang'), 'zh-CN', 'Chinese by default');
    await page.fill('input[name=user]', ADMIN.user);
    await page.fill('input[name=password]', 'not-the-password');
    await page.click('form.login-form button[type=submit]');
    await page.waitForSelector('.login-form .notice.error', LONG);
    t.match(await text(page, '.login-form .notice'), /用户名或密码错误/, 'a wrong password is refused, saying so');
    await shot('login-refused', { docs: true });
    t.equal(await page.locator('nav.side').count(), 0, 'and nothing behind the login shows');

    await login(page, url, ADMIN);
    await page.waitForFunction(() => ['plc1', 'cab1'].every((id) => document.querySelector<HTMLElement>(`tr[data-device="${id}"] [data-state]`)?.dataset.state === 'ok'), null, LONG);
    t.pass('the overview lists plc1 and cab1 as OK');
    t.match(await text(page, 'tr[data-upstream="city"]'), /已连接/, 'the upstream shows connected');
    await shot('overview', { docs: true });

    // Live values: the PLC's heartbeat counts up by itself.
    await page.goto(`${url}/#/live?device=plc1`);
    const hb = 'tr[data-tag="heartbeat"] td.value';
    const first = await waitForValue(async () => { const s = await text(page, hb); return s && s !== '—' ? s : undefined; }, { what: 'the heartbeat in the live table', timeoutMs: 30_000 });
    await waitFor(async () => (await text(page, hb)) !== first, { what: 'the heartbeat to change in the live table', timeoutMs: 30_000 });
    t.pass(`the live table follows the PLC (heartbeat ${first} → ${await text(page, hb)})`);
    t.match(await text(page, 'tr[data-tag="wet_well_level"] td.value'), /^\d+(\.\d+)? m$/, 'a level shows with its unit');
    t.match(await text(page, 'tr[data-tag="wet_well_level"] td.q'), '正常', 'and its quality');
    await page.click('button.read-now');
    await page.waitForSelector('.live-device .notice.ok', LONG);
    t.match(await text(page, '.live-device .notice.ok'), /已读取 \d+ 个点/, '"read now" scans the device at once');
    await shot('live', { docs: true });

    // A limit changed from the console: the camera rule's limit lowered below the inlet sewer's level.
    await page.goto(`${url}/#/alarms`);
    const row = `tr[data-rule="${CAMERA_RULE}"]`;
    await page.waitForSelector(row, LONG);
    t.equal(await page.locator(row).getAttribute('data-state'), 'normal', 'the rule starts normal');
    await page.click(`${row} button[data-action="limit"]`);
    await page.fill('form.form-limit input[name="above"]', '0.05');
    await page.fill('form.form-limit input[name="comment"]', '汛前演练：降低限值以触发抓拍');
    await shot('alarm-limit', { docs: true });
    await page.click('form.form-limit button[type=submit]');
    await page.waitForSelector('p.notice.ok', LONG);
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-state') === 'active', row, LONG);
    t.match(await text(page, `${row} td.limit`), '> 0.05 m', 'the new limit shows on the row');
    t.pass('the alarm went active');

    // Its snapshot, taken by the gateway from the camera, linked from the history and viewable.
    const link = `.history tr[data-rule="${CAMERA_RULE}"][data-state="active"] a.snapshot-link`;
    await page.waitForSelector(link, { timeout: 90_000 });
    const href = await page.locator(link).first().getAttribute('href');
    // The event names the file at once; ffmpeg writes it when the camera has given a frame.
    const jpeg = await waitForValue(async () => { const r = await page.request.get(`${url}${href}`); return r.ok() ? r : undefined; }, { what: 'the snapshot file', timeoutMs: 60_000, intervalMs: 500 });
    t.equal(jpeg.headers()['content-type'], 'image/jpeg', 'the snapshot link serves a JPEG');
    t.same([...(await jpeg.body()).subarray(0, 3)], [0xff, 0xd8, 0xff], 'with a JPEG\'s first bytes');
    await page.click(link);
    await page.waitForFunction(() => { const i = document.querySelector<HTMLImageElement>('dialog[open] img'); return !!i && i.complete && i.naturalWidth > 0; }, null, LONG);
    t.pass('the snapshot opens in the console');
    await shot('alarm-snapshot', { docs: true });
    await page.click('dialog[open] button.close-dialog');

    await page.click(`${row} button[data-action="ack"]`);
    await page.fill('form.form-ack input[name="comment"]', '已派单，<b>现场</b>查看');
    await page.click('form.form-ack button[type=submit]');
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-state') === 'acknowledged', row, LONG);
    const alarms = await (await page.request.get(`${url}/api/alarms`)).json() as { alarms: { rule: string; state: string }[] };
    t.equal(alarms.alarms.find((a) => a.rule === CAMERA_RULE)?.state, 'acknowledged', 'acknowledged in the UI and in GET /api/alarms');
    const ackRow = `.history tr[data-rule="${CAMERA_RULE}"][data-state="acknowledged"]`;
    await page.waitForSelector(ackRow, { timeout: 30_000 });
    t.equal(await text(page, `${ackRow} td.comment-cell`), '已派单，<b>现场</b>查看', 'the comment shows in the history as typed, markup as text');
    t.match(await text(page, ackRow), 'admin', 'with who acknowledged');
    await shot('alarms', { docs: true, fullPage: true });

    // A streetlight loop switched off and on again through the command path; the contactor follows.
    await page.goto(`${url}/#/lights`);
    const loop = 'article[data-loop="2"]';
    const contactor = `${loop} [data-tag="loop2_contactor"]`;
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '吸合', contactor, LONG);
    await page.click(`${loop} button[data-action="off"]`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '断开', contactor, LONG);
    t.equal(stack.cabinet.physics.get(1)!.loop(2).contactor, false, 'loop 2 off: the cabinet\'s contactor opened');
    await page.click(`${loop} button[data-action="on"]`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === '吸合', contactor, LONG);
    t.equal(stack.cabinet.physics.get(1)!.loop(2).contactor, true, 'loop 2 on: the contactor closed, and the console shows it');
    t.match(await text(page, `${loop} .notice.ok`), /已执行，回读 开/, 'the write was read back');
    await page.selectOption(`${loop} select[data-action="dim"]`, '50');
    await page.waitForFunction((sel) => /^50 %$/.test(document.querySelector(sel)?.textContent ?? ''), `${loop} [data-tag="loop2_dim"]`, LONG);
    t.pass('loop 2 dimmed to 50 %');
    await shot('lights', { docs: true });

    // A writable tag set from the live table: an allow-list offers its values only.
    await page.goto(`${url}/#/live?device=cab1`);
    await page.click('tr[data-tag="loop3_dim"] button.write-btn');
    t.same(await page.locator('tr[data-tag="loop3_dim"] form select option').allTextContents(), ['0', '30', '50', '70', '100'], 'the dim steps the cabinet allows');
    await page.selectOption('tr[data-tag="loop3_dim"] form select', { label: '70' });
    await page.click('tr[data-tag="loop3_dim"] form button[type=submit]');
    await page.waitForSelector('tr[data-tag="loop3_dim"] .notice.ok', LONG);
    t.match(await text(page, 'tr[data-tag="loop3_dim"] .notice.ok'), /回读.*70/, 'written and read back from the cabinet');
    await waitFor(() => stack.cabinet.physics.get(1)!.loop(3).dim === 70, { what: 'loop 3 at 70 % in the cabinet' });

    // The parking lot: free bays as the gateway counts them.
    await page.goto(`${url}/#/parking`);
    await page.waitForSelector('.lot [data-field="free"]', LONG);
    const free = Number(await text(page, '.lot [data-field="free"]'));
    const lot = (await (await page.request.get(`${url}/api/values`)).json() as { values: Record<string, Record<string, { v: number }>> }).values['lot-a']!;
    t.ok(Number.isInteger(free) && free >= 0 && free <= 12, `the lot shows its free bays (${free}; the gateway counts ${lot.bays_free?.v})`);
    t.equal(await page.locator('.lot li.bay').count(), 12, 'and a tile per bay');
    await shot('parking', { docs: true });

    // The camera live: frames decoded onto a 2D canvas that is neither blank nor one colour.
    await page.goto(`${url}/#/video`);
    await page.waitForFunction(() => Number(document.querySelector<HTMLCanvasElement>('canvas.video')?.dataset.frames ?? 0) >= 3, null, { timeout: 60_000 });
    const px = await canvasStats(page, 'canvas.video');
    t.ok(px.colours > 8 && px.dark < px.total * 0.9, `the camera's picture shows (${px.colours} colours, ${px.dark}/${px.total} dark pixels)`);
    await shot('video', { docs: true });

    // Trends: the wet well's level over the minutes this test has run, drawn on uPlot's canvas.
    await page.goto(`${url}/#/trends?tag=plc1.wet_well_level&hours=1`);
    await page.waitForSelector('.chart canvas', LONG);
    await waitFor(async () => (await canvasStats(page, '.chart canvas', MEAN_STROKE)).near > 150, { what: 'the trend chart to draw its line', timeoutMs: 60_000 });
    t.match(await text(page, '.trend-summary'), /最新 \d/, 'the trend summary names the latest value');
    await shot('trends', { docs: true });

    // Mutations need the session's CSRF token: the cookie alone, from a script, changes nothing.
    const forged = await page.evaluate(async () => {
      const r = await fetch('/api/commands/unshelve-alarm', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'forged-1', rule: 'wet_well_hh' }) });
      return { status: r.status, body: await r.json() };
    });
    t.match(forged, { status: 403, body: { error: { code: 'CE_ERR_CSRF' } } }, 'a POST without the CSRF token is refused');

    // On a phone at the cabinet door.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/#/overview`);
    await page.waitForSelector('tr[data-device="plc1"]', LONG);
    t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'the page fits a phone\'s width (tables scroll inside)');
    await shot('phone', { docs: true });

    // The session ends on the server (as when it idles out): the next poll returns to the login form.
    const session = await (await page.request.get(`${url}/api/session`)).json() as { csrf: string };
    t.equal((await page.request.post(`${url}/api/logout`, { headers: { 'x-csrf-token': session.csrf } })).status(), 204, 'the session ended on the server');
    await page.waitForSelector('form.login-form', LONG);
    t.match(await text(page, '.login-form .notice'), /会话已过期/, 'an ended session returns to the login form, saying so');
    t.same(unexpectedErrors(b), [], 'no errors in the page\'s console');
  });

  await t.test('a viewer sees values but no controls', async (t) => {
    const b = await openBrowser(t);
    const { page, shot } = b;
    await login(page, url, VIEWER);
    t.match(await text(page, 'header .who'), '只读', 'the header says read-only');
    await page.goto(`${url}/#/alarms`);
    await page.waitForSelector(`tr[data-rule="${CAMERA_RULE}"]`, LONG);
    t.equal(await page.locator('button[data-action]').count(), 0, 'no acknowledge, shelve or limit buttons');
    await page.goto(`${url}/#/lights`);
    await page.waitForSelector('article[data-loop="1"]', LONG);
    t.equal(await page.locator('article[data-loop] button, article[data-loop] select').count(), 0, 'no loop switches');
    await page.goto(`${url}/#/live?device=cab1`);
    await page.waitForSelector('tr[data-tag="loop1_on"]', LONG);
    t.equal(await page.locator('.write-btn').count(), 0, 'no write buttons on writable tags');
    await shot('viewer-lights');
    // (No named functions inside evaluate(): tsx would wrap them in a helper the page does not have.)
    const tries = await page.evaluate(async () => {
      const s = await (await fetch('/api/session')).json();
      const out = [];
      for (const headers of [{}, { 'x-csrf-token': String(s.csrf) }] as Record<string, string>[]) {
        const r = await fetch('/api/commands/write', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ id: 'viewer-1', device: 'cab1', tag: 'loop1_on', value: false }) });
        out.push({ status: r.status, code: (await r.json()).error?.code });
      }
      return { noCsrf: out[0], withCsrf: out[1] };
    });
    t.match(tries.noCsrf, { status: 403, code: 'CE_ERR_CSRF' }, 'a forged POST without the CSRF token: 403');
    t.match(tries.withCsrf, { status: 403, code: 'CE_ERR_CMD_FORBIDDEN' }, 'and with it, a viewer\'s command is still refused');
    t.equal(stack.cabinet.physics.get(1)!.loop(1).relay, true, 'loop 1 stayed on');
    t.same(unexpectedErrors(b), [], 'no errors in the page\'s console');
  });

  await t.test('中文/EN: the switch changes the labels and is remembered', async (t) => {
    const b = await openBrowser(t);
    const { page, shot } = b;
    await login(page, url, ADMIN);
    t.same(await page.locator('nav.side .nav-label').allTextContents(), ['总览', '实时数据', '趋势', '报警', '停车', '路灯', '视频'], 'Chinese labels first');
    const incomplete = await page.evaluate(async () => {
      const path = '/i18n.js'; // the page's module, by its URL (not a file of this checkout)
      const { TABLE } = await import(path) as { TABLE: Record<string, string[]> };
      return Object.entries(TABLE).filter(([, v]) => v.length !== 2 || !v[0] || !v[1]).map(([k]) => k);
    });
    t.same(incomplete, [], 'every label has its Chinese and its English');
    await page.click('button.lang-btn:has-text("EN")');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    t.same(await page.locator('nav.side .nav-label').allTextContents(), ['Overview', 'Live values', 'Trends', 'Alarms', 'Parking', 'Streetlights', 'Video'], 'English after the switch');
    await page.reload();
    await page.waitForSelector('tr[data-device="plc1"]', LONG);
    t.match(await text(page, 'nav.side'), 'Overview', 'still English after a reload (localStorage)');
    await page.goto(`${url}/#/alarms`);
    await page.waitForSelector(`tr[data-rule="${CAMERA_RULE}"]`, LONG);
    await shot('alarms-en', { docs: true });
    t.same(unexpectedErrors(b), [], 'no errors in the page\'s console');
  });
});
