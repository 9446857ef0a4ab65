// An alarm state in a word and a symbol, never by colour alone (a red–green colour-blind operator
// reads the same table), and the order a list of alarms is worked through.
import { h } from '../dom.js';
import { t } from '../i18n.js';

const SYMBOL = {
  active: '✖', rtn_unack: '↺', acknowledged: '●', shelved: '⏸', suppressed: '⊘', out_of_service: '⊘', disabled: '⊘', normal: '✔',
};
/** Unacknowledged first, then what is still active, then what is hidden, then the quiet rules. */
const RANK = { active: 0, rtn_unack: 1, acknowledged: 2, shelved: 3, suppressed: 4, out_of_service: 5, disabled: 5, normal: 6 };
const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, warning: 3, info: 4 };

export function stateBadge(state) {
  return h('span', { class: `astate astate-${state}`, dataset: { state } }, `${SYMBOL[state] ?? '•'} ${t(`astate.${state}`, {}, state)}`);
}

export function severityBadge(sev) {
  return h('span', { class: `sev sev-${sev}` }, t(`sev.${sev}`, {}, sev));
}

export function byUrgency(a, b) {
  return (RANK[a.state] ?? 9) - (RANK[b.state] ?? 9)
    || (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9)
    || (b.since ?? 0) - (a.since ?? 0)
    || a.rule.localeCompare(b.rule);
}
