// taskmachine ui: live updates and confirmations. No framework, no polling: the server says when
// the data behind this page changed (server-sent events) and the page fetches itself once then.
(() => {
  'use strict';
  const live = document.getElementById('live');
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' });
      // A 404 is for good (the run was deleted): show the server's page instead of the stale one and
      // stop listening. Other failures (a busy store) may pass: keep the page until the next change.
      if (!response.ok && response.status !== 404) return;
      const next = new DOMParser().parseFromString(await response.text(), 'text/html');
      const main = document.getElementById('main');
      const incoming = next.getElementById('main');
      if (!main || !incoming) return;
      if (!response.ok) {
        main.replaceWith(incoming);
        gone();
        return;
      }
      // Keep what the person opened and typed.
      const open = [...main.querySelectorAll('details')].map((d) => d.open);
      const typed = [...main.querySelectorAll('input.payload')].map((i) => [i.closest('form')?.dataset.action, i.value]);
      // The result of the last action stays until the person leaves the page.
      const flash = main.querySelector('.flash');
      incoming.querySelectorAll('.flash').forEach((old) => old.remove());
      if (flash) incoming.prepend(flash);
      main.replaceWith(incoming);
      // The stream reopened after the page was hidden must start from what is shown now.
      const nextLive = next.getElementById('live');
      if (live && nextLive && nextLive.dataset.src) live.dataset.src = nextLive.dataset.src;
      [...incoming.querySelectorAll('details')].forEach((d, i) => { if (open[i] !== undefined) d.open = open[i]; });
      for (const [action, value] of typed) {
        const input = incoming.querySelector(`form[data-action="${action}"] input.payload`);
        if (input && value) input.value = value;
      }
      document.dispatchEvent(new CustomEvent('taskmachine:refreshed'));
    } finally {
      busy = false;
      if (again) { again = false; void refresh(); }
    }
  }

  // A browser opens at most 6 HTTP/1.1 connections to one host, and each open stream holds one:
  // with six tabs of this UI open, a seventh (and every fetch or POST of the open ones) would wait
  // forever. So only a page someone can see holds a stream; a hidden one lets go of it.
  let source;
  let ended = false;
  function connect() {
    if (ended || source || !live || !live.dataset.src) return;
    // The address carries the signature of what the page shows now (`since`, updated by every
    // refresh): if the data changed while the page was hidden, the server says `change` at once
    // and the page refreshes once; if not, nothing is fetched.
    source = new EventSource(live.dataset.src);
    source.addEventListener('open', () => live.classList.add('on'));
    source.addEventListener('error', () => live.classList.remove('on'));
    source.addEventListener('change', () => void refresh());
  }
  function disconnect() {
    if (!source) return;
    source.close();
    source = undefined;
    live.classList.remove('on');
  }
  // What the page showed no longer exists: say so where it said "live", and never reconnect.
  function gone() {
    ended = true;
    disconnect();
    if (live) {
      live.textContent = '○ gone';
      live.title = 'what this page showed is no longer in the store';
    }
  }
  if (live && live.dataset.src && 'EventSource' in window) {
    document.addEventListener('visibilitychange', () => (document.hidden ? disconnect() : connect()));
    if (!document.hidden) connect();
  }

  // An action answers with a redirect back to this page and a fresh form: a payload the server
  // refused (not JSON) would be lost. It is kept for this tab and put back only after a refusal.
  const KEPT = 'taskmachine:payload';
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    const input = form.querySelector('input.payload');
    if (input && input.value) {
      try {
        sessionStorage.setItem(KEPT, JSON.stringify({ path: location.pathname, action: form.dataset.action, value: input.value }));
      } catch {
        // (Storage full or disabled: the payload is simply not kept.)
      }
    }
  });
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEPT) || 'null');
    sessionStorage.removeItem(KEPT);
    if (kept && kept.path === location.pathname && document.querySelector('#main .flash.bad')) {
      const input = document.querySelector(`form[data-action="${kept.action}"] input.payload`);
      if (input) input.value = kept.value;
    }
  } catch {
    // (No storage, or not ours: nothing to put back.)
  }
})();
