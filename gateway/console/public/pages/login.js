// The login form. The password goes to POST /api/login and nowhere else; the reply's CSRF token is
// all the page keeps (the session itself is an HttpOnly cookie). Refusals say what to do next:
// a wrong password, or a lock after repeated failures with the time to wait.
import { api, errorText } from '../api.js';
import { field, h, notice } from '../dom.js';
import { t } from '../i18n.js';

/** Renders into `root`; calls onLoggedIn(session) after a successful login. */
export function renderLogin(root, { message = '', langSwitch, onLoggedIn }) {
  const user = h('input', { name: 'user', autocomplete: 'username', required: true, autofocus: true, maxLength: 64, spellcheck: false, autocapitalize: 'none' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxLength: 1024 });
  const msg = h('p', { class: 'notice', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('login.submit'));
  if (message) notice(msg, 'warn', message);

  const form = h('form', {
    class: 'login-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      notice(msg, 'info', t('login.checking'));
      try {
        const session = await api('/api/login', { method: 'POST', body: { user: user.value.trim(), password: password.value } });
        password.value = '';
        onLoggedIn(session);
      } catch (e) {
        password.value = '';
        if (e.status === 401) notice(msg, 'error', t('login.wrong'));
        else if (e.status === 429) notice(msg, 'error', t('login.locked', { n: e.retryAfterS ?? '?' }));
        else if (e.network) notice(msg, 'error', t('err.network'));
        else notice(msg, 'error', errorText(e));
        password.focus();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', {}, t('app.title')),
  h('p', { class: 'muted' }, t('login.intro')),
  field(t('login.user'), user),
  field(t('login.password'), password),
  msg,
  h('div', { class: 'row' }, submit, h('span', { class: 'spacer' }), langSwitch));

  root.replaceChildren(h('div', { class: 'login-page' }, form));
  user.focus();
}
