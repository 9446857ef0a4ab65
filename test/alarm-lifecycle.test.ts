// The ISA-18.2 state machine, transition by transition, and what does not change a state.
import t from 'tap';
import { nextState, needsAck, type AlarmInput, type AlarmState } from '../gateway/alarms/lifecycle.ts';

const on: AlarmInput = { kind: 'condition', active: true };
const off: AlarmInput = { kind: 'condition', active: false };
const ack: AlarmInput = { kind: 'ack' };

/** Runs inputs from a state, keeping the state where an input changes nothing. */
const run = (from: AlarmState, ...inputs: AlarmInput[]): AlarmState[] => {
  const seen: AlarmState[] = [];
  let s = from;
  for (const i of inputs) { s = nextState(s, i) ?? s; seen.push(s); }
  return seen;
};

t.test('the four annunciated states', async (t) => {
  t.same(run('normal', on, ack, off), ['active', 'acknowledged', 'normal'], 'acknowledged, then it clears');
  t.same(run('normal', on, off, ack), ['active', 'rtn_unack', 'normal'], 'it clears first, then acknowledged');
  t.same(run('normal', on, off, on), ['active', 'rtn_unack', 'active'], 'back before anyone acknowledged');
  t.equal(nextState('normal', ack), undefined, 'nothing to acknowledge');
  t.equal(nextState('active', on), undefined, 'already active');
  t.equal(nextState('acknowledged', on), undefined, 'still active: no new event');
  t.equal(nextState('normal', off), undefined);
  t.equal(nextState('acknowledged', ack), undefined, 'acknowledged twice');
});

t.test('shelving, suppression by design, out of service', async (t) => {
  t.equal(nextState('active', { kind: 'shelve' }), 'shelved');
  t.equal(nextState('shelved', on), undefined, 'a shelved alarm ignores its condition');
  t.equal(nextState('shelved', { kind: 'unshelve', active: true }), 'active', 'back unacknowledged if still active');
  t.equal(nextState('shelved', { kind: 'unshelve', active: false }), 'normal');
  t.equal(nextState('shelved', ack), undefined);
  t.equal(nextState('shelved', { kind: 'suppress' }), undefined, 'a shelved alarm stays shelved until its shelf ends');
  t.equal(nextState('rtn_unack', { kind: 'suppress' }), 'suppressed');
  t.equal(nextState('suppressed', { kind: 'unsuppress', active: false }), 'normal');
  t.equal(nextState('suppressed', { kind: 'shelve' }), undefined);
  for (const s of ['normal', 'active', 'acknowledged', 'rtn_unack', 'shelved', 'suppressed'] as const) {
    t.equal(nextState(s, { kind: 'out_of_service' }), 'out_of_service', `${s} → out of service`);
  }
  t.equal(nextState('out_of_service', on), undefined);
  t.equal(nextState('out_of_service', { kind: 'unsuppress', active: true }), undefined);
  t.equal(nextState('out_of_service', { kind: 'in_service', active: true }), 'active');
  t.equal(nextState('normal', { kind: 'in_service', active: true }), undefined, 'already in service');
});

t.test('what needs an acknowledgement', async (t) => {
  t.same((['normal', 'active', 'acknowledged', 'rtn_unack', 'shelved', 'suppressed', 'out_of_service'] as const).filter(needsAck), ['active', 'rtn_unack']);
});
