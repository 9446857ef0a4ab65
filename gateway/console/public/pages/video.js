// 视频: each camera live, decoded in the page by JSMpeg from the MPEG-TS the gateway relays over a
// websocket behind the login (GET /api/video/{camera}). The gateway starts a camera's stream on
// its first viewer and stops it after the last, so leaving this page ends the decoding and, for
// the box, the transcoding.
//
// The JavaScript decoder and the 2D canvas: the CSP allows no WebAssembly compilation, and a
// 2D canvas is what every browser (and a test) can read back; a few small pictures decode fine.
import { h, loadScript, setText } from '../dom.js';
import { fmtTime } from '../format.js';
import { t } from '../i18n.js';

const STALL_MS = 10_000;

function cameraCard(ctx, cam) {
  const canvas = h('canvas', { width: cam.width, height: cam.height, class: 'video', 'aria-label': t('video.live_of', { name: cam.name ?? cam.id }) });
  const status = h('span', { class: 'video-status', dataset: { status: 'connecting' } }, t('video.connecting'));
  const card = h('section', { class: 'card camera', dataset: { camera: cam.id } },
    h('div', { class: 'card-head' }, h('h2', {}, cam.name ?? cam.id), h('span', { class: 'spacer' }), status),
    cam.description ? h('p', { class: 'muted' }, cam.description) : null,
    h('div', { class: 'video-box' }, canvas));

  let lastFrame = 0;
  let frames = 0;
  const setStatus = (key, extra = '') => { status.dataset.status = key; setText(status, `${t(`video.${key}`)}${extra}`); };
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/video/${encodeURIComponent(cam.id)}`;
  const player = new window.JSMpeg.Player(url, {
    canvas, autoplay: true, audio: false, disableGl: true, disableWebAssembly: true,
    pauseWhenHidden: false, reconnectInterval: 5, videoBufferSize: 1024 * 1024,
    onVideoDecode: () => {
      frames++;
      lastFrame = Date.now();
      canvas.dataset.frames = String(frames);
      if (status.dataset.status !== 'playing') setStatus('playing');
    },
  });
  ctx.every(2000, () => {
    if (lastFrame && Date.now() - lastFrame > STALL_MS) setStatus('stalled', ` · ${t('video.last_frame', { time: fmtTime(lastFrame) })}`);
  });
  ctx.onCleanup(() => { try { player.destroy(); } catch { /* already torn down */ } });
  return card;
}

export default {
  id: 'video',
  nav: 'nav.video',
  available: (devices) => (devices.cameras ?? []).length > 0,
  async mount(el, ctx) {
    el.append(h('div', { class: 'page-head' }, h('h1', {}, t('nav.video'))));
    const cams = ctx.devices.cameras ?? [];
    if (cams.length === 0) { el.append(h('p', { class: 'muted' }, t('video.none'))); return; }
    await loadScript('/vendor/jsmpeg.min.js');
    if (ctx.signal.aborted) return;
    const grid = h('div', { class: 'grid cameras' });
    el.append(grid);
    for (const c of cams) grid.append(cameraCard(ctx, c));
  },
};
