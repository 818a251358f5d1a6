// Reads the runtime configuration written by `alorig-app export-frontend`
// (/config.json) and shows the app name; then pings the backend's API.
(async function main() {
  const nameEl = document.getElementById('app-name');
  const apiEl = document.getElementById('api-base');
  const statusEl = document.getElementById('backend-status');
  let config = {};
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    config = await res.json();
  } catch (err) {
    nameEl.textContent = 'config.json missing';
    return;
  }
  nameEl.textContent = config.app_name || config.app || 'unknown app';
  document.title = nameEl.textContent;
  apiEl.textContent = config.api_base || '(same origin)';
  try {
    const res = await fetch((config.api_base || '') + '/api/ping/');
    statusEl.textContent = res.ok ? 'reachable' : 'HTTP ' + res.status;
  } catch (err) {
    statusEl.textContent = 'unreachable';
  }
})();
