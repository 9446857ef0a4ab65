// An alarm engine on fake time for unit tests: a PLC of the given tags, the given rules, memory
// stores unless a test brings its own, and the events the engine put in the journal.
import { parseConfig } from '../../config/loader.ts';
import type { Config } from '../../config/schema.ts';
import { AlarmEngine, type AlarmEvent } from '../../gateway/alarms/engine.ts';
import { MemoryAlarmStore, type AlarmStateStore } from '../../gateway/alarms/state-store.ts';
import { MemoryOverrideStore, type OverrideStore } from '../../gateway/alarms/overrides.ts';
import { MemoryRecordLog } from '../../gateway/store/files.ts';
import { MemoryJournal } from '../../gateway/journal/memory.ts';
import type { Journal } from '../../gateway/journal/journal.ts';
import { FakeClock } from '../../gateway/model/clock.ts';
import { silentLogger } from '../../gateway/model/logger.ts';

/** A one-PLC site: `tags` and `alarms` are YAML flow lists, one entry per line. */
export function plcConfig(o: { tags: string[]; alarms: string[]; site?: string; plc?: string }): Config {
  return parseConfig(`
site: ${o.site ?? '{ id: ps1 }'}
devices:
  - id: plc1
    driver: modbus-tcp
    host: 127.0.0.1
${o.plc ?? ''}    tags:
${o.tags.map((x) => `      - ${x}`).join('\n')}
alarms:
${o.alarms.map((x) => `  - ${x}`).join('\n')}
`, 'test.yaml');
}

export interface HarnessOptions {
  store?: AlarmStateStore; overrides?: OverrideStore; clock?: FakeClock;
  /** The journal the events go to (and a JournalAlarmStore's states); a memory one when none. */
  journal?: Journal;
}

export function alarmHarness(config: Config, o: HarnessOptions = {}) {
  const clock = o.clock ?? new FakeClock(1_000_000);
  const journal = o.journal ?? new MemoryJournal({ clock });
  journal.openCursor('test');
  const history = new MemoryRecordLog<AlarmEvent>();
  const store = o.store ?? new MemoryAlarmStore();
  const engine = new AlarmEngine(config, { journal, clock, logger: silentLogger, store, overrides: o.overrides ?? new MemoryOverrideStore(), history });
  /** Events since the last call, of the rules named (all when none). */
  const events = (...rules: string[]) => journal.read('test', 1000).map((r) => JSON.parse(r.body) as AlarmEvent)
    .filter((e) => rules.length === 0 || rules.includes(e.rule));
  return { engine, journal, clock, events, history, store };
}
