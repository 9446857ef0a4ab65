// Uplink messages as ChirpStack v4 and v3 write them, and what is not one: parsed without a broker.
import t from 'tap';
import { parseUplink } from '../drivers/lorawan/uplink.ts';

t.test('ChirpStack v4 and v3 give the same uplink', async (t) => {
  const v4 = parseUplink(Buffer.from(JSON.stringify({
    deduplicationId: 'x', time: '2026-11-23T09:22:01.582+00:00',
    deviceInfo: { devEui: 'A840410000000001', applicationId: 'a' }, fCnt: 12, fPort: 1, data: 'AVb/+gASALw=',
    object: { occupied: true }, rxInfo: [{ rssi: -110, snr: -3 }, { rssi: -93, snr: 6.5 }],
  })));
  t.match(v4, { ok: true, uplink: { devEui: 'a840410000000001', fCnt: 12, fPort: 1, object: { occupied: true }, time: Date.parse('2026-11-23T09:22:01.582Z'), rssi: -93, snr: 6.5 } },
    'the EUI lower-cased; the radio of the gateway that heard it best');
  t.same(v4.ok && [...v4.uplink.frame!], [0x01, 0x56, 0xff, 0xfa, 0x00, 0x12, 0x00, 0xbc]);
  const v3 = parseUplink(Buffer.from(JSON.stringify({
    applicationID: '1', devEUI: 'a840410000000001', fCnt: 13, fPort: 2, data: 'AGQ=', objectJSON: '{"occupied":false}',
    rxInfo: [{ rssi: -101, loRaSNR: 2.25 }],
  })));
  t.match(v3, { ok: true, uplink: { devEui: 'a840410000000001', fCnt: 13, fPort: 2, object: { occupied: false }, rssi: -101, snr: 2.25, time: undefined } }, 'v3: devEUI, objectJSON as text, loRaSNR');
});

t.test('what is not an uplink says why', async (t) => {
  const reason = (p: string) => { const r = parseUplink(Buffer.from(p)); return r.ok ? 'ok' : r.reason; };
  t.equal(reason('{"deviceInfo":'), 'bad json');
  t.equal(reason('"text"'), 'bad json');
  t.equal(reason('{"fCnt":1,"fPort":1}'), 'not an uplink');
  t.equal(reason('{"devEUI":"a840410000000001","fPort":1}'), 'not an uplink');
  t.equal(reason('{"devEUI":"a840410000000001","fCnt":1,"fPort":300}'), 'not an uplink');
  t.equal(reason('{"devEUI":"a840410000000001","fCnt":1,"fPort":1,"data":"not base64!"}'), 'bad base64');
  t.equal(reason('{"devEUI":"a840410000000001","fCnt":1,"fPort":1,"objectJSON":"{oops"}'), 'bad json');
  t.equal(reason('{"devEUI":"a84041000000000g","fCnt":1,"fPort":1}'), 'not an uplink', 'a DevEUI is 16 hex digits');
});
