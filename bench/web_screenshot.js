// Drives Rerun's web viewer in headless Chromium for bench/web_screenshot.py (which documents the steps).
// usage: node web_screenshot.js SETTINGS_JSON
// SETTINGS_JSON: {url, out, console, chromium, width, height, loadSeconds, steps, settleSeconds}
// Needs playwright-core (found through NODE_PATH). Every request that is not to 127.0.0.1 is blocked.
const { chromium } = require('playwright-core');
const fs = require('fs');

(async () => {
  const s = JSON.parse(process.argv[2]);
  const log = fs.createWriteStream(s.console);
  const began = Date.now();
  const note = (text) => log.write(`[${((Date.now() - began) / 1000).toFixed(1)} s] ${text}\n`);
  const browser = await chromium.launch({
    executablePath: s.chromium,
    // SwiftShader: WebGL without a GPU. No sandbox: containers lack the namespaces it needs.
    args: ['--headless=new', '--no-sandbox', '--enable-unsafe-swiftshader', '--use-angle=swiftshader',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: s.width, height: s.height } });
    // Left out: the renderer's and query engine's chatter, and the failures of the requests blocked below.
    const chatter = /wgpu_hal|naga|datafusion|^\s*$|^Failed to load resource: net::ERR_FAILED|^TypeError: Failed to fetch/;
    page.on('console', (m) => { if (!chatter.test(m.text())) note(`${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => note(`pageerror: ${e}`));
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      note(`blocked ${url.href}`);
      return route.abort();
    });
    await page.goto(s.url, { timeout: 180000 });
    await page.waitForSelector('#the_canvas_id.visible', { timeout: 180000 });
    note('viewer started');
    await page.waitForTimeout(s.loadSeconds * 1000); // the recording streams in; frames take seconds here
    // Pause: the viewer follows the data as it arrives, and a video view whose time moves on before the
    // asynchronous WebCodecs decoder answers shows nothing. Keys go to the canvas once it has been clicked
    // (on the top bar's empty middle, which selects nothing).
    await page.mouse.click(s.width * 0.25, 15);
    await page.keyboard.press('Space');
    if (s.steps !== null) {
      await page.keyboard.press('Home'); // the first time on the timeline
      for (let i = 0; i < s.steps; i++) await page.keyboard.press('ArrowRight'); // the next logged time
    }
    note(`paused${s.steps !== null ? `, ${s.steps} steps from the start` : ''}`);
    await page.waitForTimeout(s.settleSeconds * 1000); // decoders and textures catch up
    await page.screenshot({ path: s.out, timeout: 180000 });
    note(`screenshot ${s.out}`);
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
