// Mattermost Takeout — background (Chromium service worker / Firefox event page).
//
// The background owns the connection to the helper program (native messaging), so a backup keeps
// running when the popup closes. Each backup's state lives in storage.session under "job:<origin>"
// (never the login token); the popup only reads that state and sends requests.
// The token is read from the cookie here, passed to the helper in one message, and never kept.
'use strict';

const api = globalThis.browser ?? globalThis.chrome;

const HOST_NAME = 'org.mmtakeout.helper';
const PROTOCOL_VERSION = 1;
const COOKIE_NAME = 'MMAUTHTOKEN';
const PING_TIMEOUT_MS = 5000;
const PENDING_START_TTL_MS = 120000;
const ACTIVE = new Set(['starting', 'running', 'cancelling']);

// origin -> {port, job}: connections that belong to this background instance.
const connections = new Map();
// origins whose start is being set up (between the click and the first frame).
const starting = new Set();
// The start a popup asked for just before the permission prompt (Firefox may close the popup).
let pendingStart = null;

const jobKey = (origin) => `job:${origin}`;

// Frames arrive in order, but each handler awaits storage; run them one after the other per site so
// a late progress frame can never overwrite "done".
const chains = new Map();
function serial(origin, task) {
  const next = (chains.get(origin) ?? Promise.resolve()).then(task, task);
  chains.set(origin, next.catch(() => {}));
  return next;
}

async function readJob(origin) {
  const stored = await api.storage.session.get(jobKey(origin));
  return stored[jobKey(origin)] ?? null;
}

async function writeJob(state) {
  await api.storage.session.set({ [jobKey(state.origin)]: state });
}

async function updateJob(origin, job, changes) {
  const state = await readJob(origin);
  if (!state || state.job !== job) return null;
  const next = { ...state, ...changes, updatedAt: Date.now() };
  await writeJob(next);
  return next;
}

// A job marked active in storage but without a connection here was cut off when the previous
// background instance ended (browser closed, extension reloaded): show it as interrupted.
const ready = (async () => {
  const all = await api.storage.session.get(null);
  const stale = Object.values(all).filter((state) => state && ACTIVE.has(state.status));
  for (const state of stale) {
    await writeJob({
      ...state,
      status: 'error',
      error: { code: 'interrupted', message: 'The backup was interrupted.' },
      updatedAt: Date.now(),
    });
  }
  await setBadge(null);
})();

// ------------------------------------------------------------------------------------------ the site

// Match patterns carry no port in Firefox (and a port-less one covers every port in Chromium), so
// access is asked for the site's scheme and host.
function accessPattern(url) {
  return `${url.protocol}//${url.hostname}/*`;
}

function siteOf(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  return { url: parsed, origin: parsed.origin, host: parsed.host, pattern: accessPattern(parsed) };
}

// Mattermost answers GET /api/v4/system/ping with {"status": "OK", ...}. The server may live under
// a sub-path (https://example.org/mattermost), so try the first path segment too.
async function findServer(site) {
  const candidates = [site.origin];
  const firstSegment = site.url.pathname.split('/').filter(Boolean)[0];
  if (firstSegment) candidates.push(`${site.origin}/${firstSegment}`);
  for (const base of candidates) {
    try {
      const response = await fetch(`${base}/api/v4/system/ping`, {
        credentials: 'omit',
        cache: 'no-store',
        signal: AbortSignal.timeout(PING_TIMEOUT_MS),
      });
      if (!response.ok) continue;
      const body = await response.json();
      if (body && typeof body === 'object' && typeof body.status === 'string') return base;
    } catch {
      // not JSON, not reachable, or not allowed: not Mattermost at this base
    }
  }
  return null;
}

async function readLoginCookie(server, storeId) {
  const details = { url: `${server}/`, name: COOKIE_NAME };
  if (storeId) details.storeId = storeId;
  try {
    const cookie = await api.cookies.get(details);
    return cookie && cookie.value ? cookie : null;
  } catch {
    return null; // no host permission: treated as "cannot tell" by the callers
  }
}

async function inspect(url, storeId) {
  await ready;
  const site = siteOf(url);
  if (!site) return { web: false };
  const result = {
    web: true,
    origin: site.origin,
    host: site.host,
    permitted: await api.permissions.contains({ origins: [site.pattern] }),
    server: null,
    mattermost: null,
    loggedIn: null,
    job: await readJob(site.origin),
  };
  if (result.permitted) {
    result.server = await findServer(site);
    result.mattermost = result.server !== null;
    if (result.server) result.loggedIn = (await readLoginCookie(result.server, storeId)) !== null;
  }
  return result;
}

// ------------------------------------------------------------------------------------------ backups

async function failBeforeStart(site, code, message, options) {
  await writeJob({
    origin: site.origin,
    host: site.host,
    server: null,
    job: null,
    status: 'error',
    options,
    error: { code, message },
    startedAt: Date.now(),
    updatedAt: Date.now(),
  });
}

async function startBackup({ url, storeId, options }) {
  await ready;
  const site = siteOf(url);
  if (!site) return { ok: false };
  const current = await readJob(site.origin);
  if (starting.has(site.origin) || (current && ACTIVE.has(current.status) && connections.has(site.origin))) {
    return { ok: true, already: true };
  }
  starting.add(site.origin);
  try {
    return await launch(site, storeId, normaliseOptions(options));
  } finally {
    starting.delete(site.origin);
  }
}

function normaliseOptions(options) {
  return {
    scope: options?.scope === 'direct' ? 'direct' : 'all',
    include_files: options?.include_files !== false,
  };
}

async function launch(site, storeId, options) {
  if (!(await api.permissions.contains({ origins: [site.pattern] }))) {
    await failBeforeStart(site, 'permission-denied', 'No access to this site.', options);
    return { ok: false };
  }
  const server = await findServer(site);
  if (!server) {
    await failBeforeStart(site, 'not-mattermost', 'No Mattermost server answered here.', options);
    return { ok: false };
  }
  const cookie = await readLoginCookie(server, storeId);
  if (!cookie) {
    await failBeforeStart(site, 'not-logged-in', 'No login cookie for this site.', options);
    return { ok: false };
  }
  const job = crypto.randomUUID();
  await writeJob({
    origin: site.origin,
    host: site.host,
    server,
    job,
    status: 'starting',
    options,
    progress: null,
    startedAt: Date.now(),
    updatedAt: Date.now(),
  });
  let port;
  try {
    port = api.runtime.connectNative(HOST_NAME);
  } catch (error) {
    await updateJob(site.origin, job, { status: 'error', error: helperConnectionError(String(error?.message ?? error)) });
    return { ok: false };
  }
  connections.set(site.origin, { port, job });
  port.onMessage.addListener((message) => serial(site.origin, () => onHostMessage(site.origin, job, message)));
  port.onDisconnect.addListener((disconnected) => {
    // Chromium reports the reason in runtime.lastError (only readable right here), Firefox in port.error.
    const reason = api.runtime.lastError?.message ?? disconnected.error?.message ?? '';
    serial(site.origin, () => onHostDisconnect(site.origin, job, reason));
  });
  port.postMessage({ v: PROTOCOL_VERSION, type: 'hello', extension_version: api.runtime.getManifest().version });
  port.postMessage({
    v: PROTOCOL_VERSION,
    type: 'start',
    job,
    server,
    cookie_site: site.origin,
    cookie_domain: cookie.domain,
    cookie_secure: cookie.secure,
    token: cookie.value,
    options,
  });
  await setBadge('…');
  return { ok: true };
}

async function onHostMessage(origin, job, message) {
  if (!message || typeof message !== 'object') return;
  if (message.type === 'hello') {
    await updateJob(origin, job, { helper: { version: message.helper_version, archiveRoot: message.archive_root } });
  } else if (message.type === 'progress' && message.job === job) {
    const state = await readJob(origin);
    if (!state || state.job !== job || !ACTIVE.has(state.status)) return;
    const status = state.status === 'cancelling' ? 'cancelling' : 'running';
    await updateJob(origin, job, { status, progress: message });
    if (typeof message.percent === 'number') await setBadge(`${Math.floor(message.percent)}%`);
  } else if (message.type === 'done' && message.job === job) {
    const state = await updateJob(origin, job, { status: 'done', summary: message, finishedAt: Date.now() });
    finish(origin);
    await setBadge(message.status === 'complete' ? 'done' : message.status === 'cancelled' ? null : 'gaps');
    if (state) await notifyDone(state);
  } else if (message.type === 'error' && (message.job === job || !message.job)) {
    await updateJob(origin, job, {
      status: 'error',
      error: { code: String(message.code ?? 'helper-failed'), message: String(message.message ?? '') },
    });
    finish(origin);
    await setBadge('error');
  }
}

function helperConnectionError(text) {
  if (/not found|no such native application|not registered/i.test(text)) {
    return { code: 'helper-missing', message: text };
  }
  if (/forbidden/i.test(text)) return { code: 'helper-forbidden', message: text };
  if (/exited/i.test(text)) return { code: 'helper-crashed', message: text };
  return { code: 'helper-failed', message: text };
}

async function onHostDisconnect(origin, job, reason) {
  const connection = connections.get(origin);
  if (connection && connection.job === job) connections.delete(origin);
  const state = await readJob(origin);
  if (!state || state.job !== job || !ACTIVE.has(state.status)) return;
  await updateJob(origin, job, {
    status: 'error',
    error: helperConnectionError(reason || 'The helper stopped without a word (Native host has exited).'),
  });
  await setBadge('error');
}

function finish(origin) {
  const connection = connections.get(origin);
  if (!connection) return;
  connections.delete(origin);
  connection.port.disconnect();
}

async function cancelBackup(origin) {
  const connection = connections.get(origin);
  if (!connection) return { ok: false };
  await updateJob(origin, connection.job, { status: 'cancelling' });
  connection.port.postMessage({ v: PROTOCOL_VERSION, type: 'cancel', job: connection.job });
  return { ok: true };
}

async function openArchive(origin, target) {
  const state = await readJob(origin);
  if (!state?.server) return { ok: false, message: 'There is no backup of this site yet.' };
  try {
    const reply = await api.runtime.sendNativeMessage(HOST_NAME, {
      v: PROTOCOL_VERSION,
      type: 'open-archive',
      server: state.server,
      target,
    });
    if (reply?.type === 'opened') return { ok: true, path: reply.path };
    return { ok: false, message: String(reply?.message ?? 'The helper could not open it.') };
  } catch (error) {
    return { ok: false, message: String(error?.message ?? error) };
  }
}

async function clearJob(origin) {
  const state = await readJob(origin);
  if (state && !ACTIVE.has(state.status)) await api.storage.session.remove(jobKey(origin));
  await setBadge(null);
  return { ok: true };
}

// ------------------------------------------------------------------------------------------ badge & notification

const BADGE_COLOURS = { done: '#1f883d', gaps: '#9a6700', error: '#cf222e' };
const BADGE_TEXT = { done: '✓', gaps: '!', error: '!' };

async function setBadge(value) {
  const text = value === null ? '' : (BADGE_TEXT[value] ?? value);
  await api.action.setBadgeText({ text });
  await api.action.setBadgeBackgroundColor({ color: BADGE_COLOURS[value] ?? '#1f6feb' });
}

function plural(count, word) {
  return `${Number(count ?? 0).toLocaleString()} ${word}${count === 1 ? '' : 's'}`;
}

async function notifyDone(state) {
  const summary = state.summary ?? {};
  const stats = summary.stats ?? {};
  const titles = { complete: 'Backup complete', incomplete: 'Backup finished with gaps', cancelled: 'Backup cancelled' };
  const saved = stats.posts_saved ?? stats.posts ?? summary.posts_saved;
  const parts = [state.host];
  if (typeof saved === 'number') parts.push(`${plural(saved, 'message')} saved`);
  if (summary.problems_total) parts.push(`${plural(summary.problems_total, 'item')} could not be saved`);
  try {
    await api.notifications.create(`done:${state.origin}`, {
      type: 'basic',
      iconUrl: api.runtime.getURL('icons/icon-128.png'),
      title: titles[summary.status] ?? 'Backup finished',
      message: parts.join(' · '),
    });
  } catch {
    // notifications may be switched off by the user or the OS
  }
}

api.notifications.onClicked.addListener((id) => {
  if (id.startsWith('done:')) openArchive(id.slice('done:'.length), 'viewer');
});

// ------------------------------------------------------------------------------------------ requests

api.permissions.onAdded.addListener((permissions) => {
  const pending = pendingStart;
  if (!pending || Date.now() - pending.at > PENDING_START_TTL_MS) return;
  const site = siteOf(pending.url);
  if (site && (permissions.origins ?? []).includes(site.pattern)) {
    pendingStart = null;
    startBackup(pending);
  }
});

const HANDLERS = {
  inspect: (request) => inspect(request.url, request.storeId),
  prepare: (request) => {
    pendingStart = { url: request.url, storeId: request.storeId, options: request.options, at: Date.now() };
    return { ok: true };
  },
  start: (request) => {
    pendingStart = null;
    return startBackup(request);
  },
  cancel: (request) => serial(request.origin, () => cancelBackup(request.origin)),
  open: (request) => openArchive(request.origin, request.target === 'folder' ? 'folder' : 'viewer'),
  clear: (request) => clearJob(request.origin),
};

api.runtime.onMessage.addListener((request, sender, sendResponse) => {
  // Only our own pages (the popup) may ask; there are no content scripts.
  if (sender.id !== api.runtime.id || !String(sender.url ?? '').startsWith(api.runtime.getURL(''))) return false;
  const handler = HANDLERS[request?.type];
  if (!handler) return false;
  Promise.resolve(handler(request)).then(sendResponse, (error) =>
    sendResponse({ ok: false, message: String(error?.message ?? error) }),
  );
  return true;
});
