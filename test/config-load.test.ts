// A good file loads with its defaults filled in, relative paths resolved, and is frozen.
import t from 'tap';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadConfig, parseConfig, parseConfigWithPositions, parseValidConfig } from '../config/loader.ts';
import type { ModbusTcpDeviceConfig } from '../gateway/model/index.ts';

t.test('the example loads, frozen', async (t) => {
  const file = join(import.meta.dirname, '..', 'config/examples/pump-station.yaml');
  const c = loadConfig(file);
  t.equal(c.site.id, 'ps-gongshu-012');
  t.equal(c.buffer.path, join(import.meta.dirname, '..', 'config/examples/data'), 'relative to the config file, not the cwd');
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.devices[0]) && Object.isFrozen((c.devices[0] as { tags: unknown[] }).tags[0]), 'deep-frozen');
  t.throws(() => { (c.devices[0] as { poll_ms: number }).poll_ms = 1; }, TypeError, 'a running gateway cannot have its config changed under it');
});

t.test('defaults are filled in', async (t) => {
  const c = parseConfig(`
site: { id: s1 }
devices:
  - { id: d1, driver: modbus-tcp, host: 10.0.0.5, tags: [{ name: a, address: "hr:0", type: uint16 }] }
`, 'inline.yaml');
  const d = c.devices[0] as ModbusTcpDeviceConfig;
  t.same({ port: d.port, unit: d.unit, poll_ms: d.poll_ms, timeout_ms: d.timeout_ms, max_gap: d.max_gap, max_registers: d.max_registers, enabled: d.enabled },
    { port: 502, unit: 1, poll_ms: 1000, timeout_ms: 1000, max_gap: 0, max_registers: 125, enabled: true });
  t.same(c.upstreams, []);
  t.same(c.alarms, []);
});

t.test('every problem of a file is reported at once', async (t) => {
  try {
    parseConfig(`
site: { id: s1, colour: red }
devices:
  - { id: d1, driver: modbus-tcp, host: h, port: 0, tags: [{ name: a, address: "hr:0", type: uint16, scael: 2 }] }
`, 'many.yaml');
    t.fail('accepted');
  } catch (e) {
    const keys = (e as { issues: { key: string; line: number }[] }).issues.map((i) => `${i.line}:${i.key}`);
    t.same(keys, ['2:site.colour', '4:devices[0].port', '4:devices[0].tags[0].scael']);
  }
});

// A good file is read by js-yaml (lean), a bad one again by `yaml` (positions): both must read a
// good file the same way, or a box would run a config other than the one `check` showed.
t.test('both YAML readers give the same configuration', async (t) => {
  const example = readFileSync(join(import.meta.dirname, '..', 'config/examples/pump-station.yaml'), 'utf8');
  const tricky = `
site: { id: s1, name: 2026-01-01, district: "330105", grid: '330105001002101' }
# scalars where YAML 1.1 and 1.2, or two parsers, could part ways
upstreams:
  - &up { id: city, url: "mqtt://127.0.0.1:1883", format: json, client_id: yes }
devices:
  - id: d1
    driver: modbus-tcp
    host: 10.0.0.5
    port: 0x1F6
    unit: 0o7
    poll_ms: 1e3
    tags:
      - { name: a, address: "hr:0", type: float32, scale: .5, offset: -1.25e-1, unit: m }
      - name: b
        address: hr:2
        type: string
        length: 4
        unit: "on"
`;
  for (const [name, text] of [['pump-station.yaml', example], ['tricky.yaml', tricky]] as const) {
    const fast = parseValidConfig(text, name);
    t.ok(fast, `${name}: the fast reader accepts it`);
    t.same(fast, parseConfigWithPositions(text, name), `${name}: same result from both readers`);
  }
});

t.test('a file only the fast reader would misread still gets the positioned error', async (t) => {
  const text = 'site: { id: s1 }\nsite: { id: s2 }\n';
  t.equal(parseValidConfig(text, 'dup.yaml'), undefined, 'js-yaml refuses the duplicate key');
  t.throws(() => parseConfig(text, 'dup.yaml'), { code: 'CE_ERR_CONFIG_YAML', issues: [{ line: 2 }] });
});
