// The alarm state machine of ISA-18.2 / IEC 62682 (the standard's states A–G; latching, H, is not
// used). Pure: a state and what happened give the next state, or undefined when nothing changes,
// so every transition is tested without a clock or I/O.
//
//   normal ──active──► active ──ack──► acknowledged
//     ▲                  │                 │
//     │ack            clear│                 │clear
//     │                  ▼                 │
//   rtn_unack ◄──────────┘      normal ◄───┘
//   (rtn_unack ──active──► active)
//
// shelved (by an operator, until an expiry), suppressed (by design, while a condition holds) and
// out_of_service (by an engineer) hide an alarm from any of the four; when they end, it comes back as its condition says then: active (unacknowledged) or normal.

export type AlarmState = 'normal' | 'active' | 'acknowledged' | 'rtn_unack' | 'shelved' | 'suppressed' | 'out_of_service';

export type AlarmInput =
  | { kind: 'condition'; active: boolean }
  | { kind: 'ack' }
  | { kind: 'shelve' }
  | { kind: 'unshelve'; active: boolean }
  | { kind: 'suppress' }
  | { kind: 'unsuppress'; active: boolean }
  | { kind: 'out_of_service' }
  | { kind: 'in_service'; active: boolean };

/** States in which the alarm is annunciated and its condition drives it (A–D of the standard). */
export const ANNUNCIATED: ReadonlySet<AlarmState> = new Set(['normal', 'active', 'acknowledged', 'rtn_unack']);

export function nextState(state: AlarmState, input: AlarmInput): AlarmState | undefined {
  switch (input.kind) {
    case 'condition':
      if (input.active) return state === 'normal' || state === 'rtn_unack' ? 'active' : undefined;
      if (state === 'active') return 'rtn_unack';
      if (state === 'acknowledged') return 'normal';
      return undefined;
    case 'ack':
      if (state === 'active') return 'acknowledged';
      if (state === 'rtn_unack') return 'normal';
      return undefined;
    case 'shelve':
      return ANNUNCIATED.has(state) ? 'shelved' : undefined;
    case 'suppress':
      // A shelved alarm stays shelved (the operator's decision, with its expiry); the engine
      // suppresses it when the shelf ends, if the design condition still holds.
      return ANNUNCIATED.has(state) ? 'suppressed' : undefined;
    case 'out_of_service':
      return state === 'out_of_service' ? undefined : 'out_of_service';
    case 'unshelve':
      return state === 'shelved' ? (input.active ? 'active' : 'normal') : undefined;
    case 'unsuppress':
      return state === 'suppressed' ? (input.active ? 'active' : 'normal') : undefined;
    case 'in_service':
      return state === 'out_of_service' ? (input.active ? 'active' : 'normal') : undefined;
  }
}

/** Whether an operator still has to acknowledge something in this state. */
export const needsAck = (s: AlarmState): boolean => s === 'active' || s === 'rtn_unack';
