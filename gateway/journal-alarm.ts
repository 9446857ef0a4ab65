// The journal's own alarm: when its quota forces it to drop telemetry, the platform must hear of
// it (DESIGN.md: "counted, reported, and raised as an alarm"). The event goes through the priority
// lane, which is never dropped, on the `…/alarms` topic with the alarm payload of docs/mqtt.md.
// The alarm engine (rules, acknowledgement, shelving) is not this file's business.
import type { Journal } from './journal/journal.ts';
import { byteSize, type Clock, type Config, type Logger } from './model/index.ts';

export const JOURNAL_ALARM_RULE = 'journal_full';
const CHECK_MS = 1000;

export async function watchJournalQuota(journal: Journal, config: Config, deps: { clock: Clock; logger: Logger; signal: AbortSignal }): Promise<void> {
  const { clock, logger, signal } = deps;
  let raised = false;
  let droppedAtRaise = 0;
  while (!signal.aborted) {
    await clock.sleep(CHECK_MS, signal).catch(() => {});
    if (signal.aborted) break;
    const s = journal.stats();
    if (s.full === raised) continue;
    raised = s.full;
    const t = clock.now();
    if (raised) droppedAtRaise = s.droppedPoints;
    const limit = config.buffer.max_bytes !== undefined ? byteSize(config.buffer.max_bytes) : null;
    const en = raised
      ? `journal quota reached: dropping the oldest telemetry (${s.droppedPoints} points dropped so far)`
      : `journal back under its quota (${s.droppedPoints - droppedAtRaise} points dropped while full)`;
    const zh = raised ? '缓存已满：正在丢弃最早的遥测数据' : '缓存已恢复正常';
    journal.appendEvent('alarms', 'gateway', JSON.stringify({
      id: `${JOURNAL_ALARM_RULE}-${t}`, rule: JOURNAL_ALARM_RULE, device: 'gateway', tag: 'journal_bytes',
      state: raised ? 'active' : 'normal', severity: 'major', value: s.bytes, limit, t,
      component: null, grid: config.site.grid ?? null, message: `${zh} / ${en}`,
      dropped: s.dropped, droppedPoints: s.droppedPoints,
    }));
    if (raised) logger.error({ code: 'CE_ERR_JOURNAL_FULL', bytes: s.bytes, limit, droppedPoints: s.droppedPoints }, en);
    else logger.warn({ bytes: s.bytes, droppedPoints: s.droppedPoints }, en);
  }
}
