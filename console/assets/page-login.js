// `/login`: trade an API token for a session cookie (only with --auth).

import { h, errorBox } from './ui.js';

export async function render(main) {
  const next = new URLSearchParams(location.search).get('next') || '/';
  const token = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', 'aria-label': 'API token' });
  const msg = h('div');
  const submit = async (ev) => {
    ev.preventDefault();
    msg.replaceChildren();
    const res = await fetch('/login', {
      method: 'POST', headers: { 'content-type': 'application/json' }, credentials: 'same-origin',
      body: JSON.stringify({ token: token.value }),
    });
    if (res.ok) location.href = next.startsWith('/') && !next.startsWith('//') ? next : '/';
    else msg.replaceChildren(errorBox(new Error((await res.json().catch(() => ({}))).message || 'login failed')));
  };
  main.replaceChildren(h('form', { class: 'card login', onsubmit: submit },
    h('h1', {}, 'Sign in to Sluice'), h('label', { for: 'token' }, 'API token'), token,
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'), msg));
}
