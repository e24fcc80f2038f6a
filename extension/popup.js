// Mattermost Takeout — popup. Shows the tab's site, the options and the state of its backup.
// It never sees the login token: the background reads the cookie and talks to the helper; the popup
// only asks for access to the site (from the click itself) and displays what the background stores.
'use strict';

const api = globalThis.browser ?? globalThis.chrome;

const HELPER_INSTALL_COMMAND = 'pipx install . && mmtakeout install';
const ACTIVE = new Set(['starting', 'running', 'cancelling']);

const $ = (id) => document.getElementById(id);

const page = {
  target: null, // {url, storeId}
  origin: null,
  pattern: null,
  info: null, // what the background found out about the site
  job: null, // the stored state of this site's backup
  showOptions: false, // "Change options" pressed in the summary
  localError: null, // an error found in the popup itself (e.g. access refused)
  optionsTouched: false, // the user changed the options since the popup opened
};

// ------------------------------------------------------------------------------------------ formatting

const number = (value) => (typeof value === 'number' ? value.toLocaleString() : '–');

function plural(count, one, many) {
  return `${number(count)} ${count === 1 ? one : many}`;
}

function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  const total = Math.max(0, Math.round(seconds));
  // Non-breaking spaces keep "2 s" on one line.
  if (total < 60) return `${total}\u00a0s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes}\u00a0min ${total % 60}\u00a0s`;
  return `${Math.floor(minutes / 60)}\u00a0h ${minutes % 60}\u00a0min`;
}

function bytes(value) {
  if (typeof value !== 'number' || value <= 0) return '';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let size = value;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return `${size.toFixed(unit === 0 || size >= 100 ? 0 : 1)} ${units[unit]}`;
}

function ofTotal(done, total) {
  if (typeof done !== 'number') return '–';
  return typeof total === 'number' && total > 0 ? `${number(done)} / ${number(total)}` : number(done);
}

const PHASES = {
  starting: 'Starting the helper…',
  connecting: 'Connecting to the server…',
  listing: 'Finding your conversations…',
  messages: 'Saving messages',
  files: 'Saving files',
  users: 'Saving people and profile pictures',
  finishing: 'Finishing…',
  done: 'Finishing…',
  viewer: 'Writing the archive viewer…',
};

function phaseText(progress) {
  if (!progress) return PHASES.starting;
  const base = PHASES[progress.phase] ?? `${String(progress.phase ?? 'Working').replace(/[_-]/g, ' ')}…`;
  return progress.current && !base.endsWith('…') ? `${base}: ${progress.current}` : base;
}

// ------------------------------------------------------------------------------------------ errors

function errorText(code, host, detail) {
  const texts = {
    'permission-denied': {
      title: `Access to ${host} was not allowed`,
      text: 'Mattermost Takeout needs to read your login on this site to back it up. Click “Back up my chats” again and choose Allow.',
    },
    'not-mattermost': {
      title: `${host} doesn't look like Mattermost`,
      text: 'No Mattermost server answered on this site. Open your Mattermost in this tab, where you read your chats, and click again.',
    },
    'not-logged-in': {
      title: `You are not logged in to ${host}`,
      text: 'Log in to Mattermost in this tab, then click “Back up my chats”.',
    },
    'session-expired': {
      title: 'Your session has expired',
      text: 'Log in again in this tab and click “Back up my chats”. What was already saved is kept; the backup continues from there.',
    },
    'helper-missing': {
      title: 'The helper app is not installed',
      text: 'Mattermost Takeout saves your chats with a small helper program on this computer. Install it once: open a terminal in the folder where you downloaded Mattermost Takeout and run:',
      command: HELPER_INSTALL_COMMAND,
      after: 'Then click “Back up my chats” again. Already installed? Run “mmtakeout doctor” to see what is missing.',
    },
    'helper-forbidden': {
      title: 'The helper does not know this extension',
      text: 'The helper is installed but was set up for another copy of the extension. In a terminal, run:',
      command: `mmtakeout install --extension-id ${api.runtime.id}`,
    },
    'helper-crashed': {
      title: 'The helper stopped unexpectedly',
      text: 'In a terminal, run “mmtakeout doctor”: it shows what is wrong and how to fix it.',
    },
    'helper-failed': {
      title: 'The helper could not be started',
      text: 'In a terminal, run “mmtakeout doctor”: it shows what is wrong and how to fix it.',
    },
    unreachable: {
      title: `Can't reach ${host}`,
      text: 'The helper could not connect to the server. Check your network or VPN, then click “Back up my chats” again: it continues where it stopped.',
    },
    'disk-full': {
      title: 'The disk is full',
      text: 'Free some space on the drive that holds your archive, then click “Back up my chats” again: it continues where it stopped.',
    },
    busy: {
      title: `A backup of ${host} is already running`,
      text: 'Another browser window may be running it. Wait until it finishes, then click again to update.',
    },
    interrupted: {
      title: 'The backup was interrupted',
      text: 'The browser stopped it, for example when it was closed. Click “Back up my chats” to continue where it stopped.',
    },
    'unsupported-version': {
      title: 'The helper and the extension do not match',
      text: 'Update both to the same version, then run “mmtakeout install” again.',
    },
  };
  const known = texts[code];
  // The helper's or browser's own words, in small print, where they add something (a path, a reason).
  const withDetail = code.startsWith('helper') || code === 'unreachable' || code === 'disk-full';
  if (known) return { ...known, detail: withDetail ? detail : '' };
  return {
    title: 'Something went wrong',
    text: 'Click “Back up my chats” to try again. If it keeps failing, run “mmtakeout doctor” in a terminal.',
    detail,
  };
}

function currentError() {
  if (page.localError) return page.localError;
  const job = page.job;
  if (job?.status === 'error') return job.error ?? { code: 'helper-failed', message: '' };
  if (page.info?.mattermost === false) return { code: 'not-mattermost', message: '' };
  if (page.info?.loggedIn === false) return { code: 'not-logged-in', message: '' };
  return null;
}

// ------------------------------------------------------------------------------------------ rendering

function showView(name) {
  document.body.dataset.view = name;
  for (const view of document.querySelectorAll('.view')) view.hidden = view.id !== `view-${name}`;
}

function setCheck(id, value) {
  $(id).dataset.state = value === true ? 'yes' : value === false ? 'no' : 'unknown';
}

function renderSite() {
  const info = page.info;
  $('site-host').textContent = info?.host ?? page.origin ?? '';
  setCheck('check-mattermost', info?.mattermost ?? null);
  setCheck('check-login', info?.loggedIn ?? null);
  $('check-mattermost').textContent = info?.mattermost === false ? 'Not a Mattermost server' : 'Mattermost server';
  $('check-login').textContent = info?.loggedIn === false ? 'Not logged in' : 'Logged in';
  $('check-login').hidden = info?.mattermost === false;
  $('site-note').hidden = info?.permitted !== false;
}

function render() {
  if (!page.info) return showView('loading');
  if (!page.info.web) return showView('unsupported');
  renderSite();
  const job = page.job;
  if (job && ACTIVE.has(job.status)) return renderRunning(job);
  if (job?.status === 'done' && !page.showOptions) return renderDone(job);
  renderIdle();
}

function renderIdle() {
  showView('idle');
  const error = currentError();
  document.body.dataset.error = error?.code ?? '';
  const notice = $('notice');
  notice.hidden = !error;
  if (error) {
    const text = errorText(error.code, page.info.host, error.message);
    notice.dataset.tone = ['not-logged-in', 'not-mattermost', 'interrupted'].includes(error.code) ? 'warn' : 'error';
    $('notice-title').textContent = text.title;
    $('notice-text').textContent = text.text;
    $('notice-command').hidden = !text.command;
    $('notice-command-text').textContent = text.command ?? '';
    $('notice-after').hidden = !text.after;
    $('notice-after').textContent = text.after ?? '';
    $('notice-detail').hidden = !text.detail;
    $('notice-detail').textContent = text.detail ? `Details: ${text.detail}` : '';
  }
  const options = page.job?.options;
  if (options && !page.optionsTouched) {
    for (const radio of document.querySelectorAll('input[name="scope"]')) radio.checked = radio.value === options.scope;
    $('include-files').checked = options.include_files !== false;
  }
  $('backup').disabled = false;
}

function renderRunning(job) {
  showView('running');
  document.body.dataset.error = '';
  const progress = job.progress;
  const percent = typeof progress?.percent === 'number' ? progress.percent : null;
  const bar = $('bar');
  if (percent === null) {
    bar.dataset.indeterminate = '';
    bar.removeAttribute('aria-valuenow');
    $('percent').textContent = '';
  } else {
    delete bar.dataset.indeterminate;
    bar.setAttribute('aria-valuenow', String(Math.floor(percent)));
    $('bar-fill').style.width = `${percent}%`;
    $('percent').textContent = `${Math.floor(percent)}%`;
  }
  const eta = progress?.eta_s;
  $('eta').textContent = typeof eta === 'number' && eta > 0 ? `about ${duration(eta)} left` : '';
  $('running-title').textContent = job.status === 'cancelling' ? 'Cancelling…' : `Backing up ${job.host}…`;
  $('phase').textContent = job.status === 'cancelling' ? 'Saving what was fetched so far…' : phaseText(progress);
  $('run-channels').textContent = ofTotal(progress?.channels_done, progress?.channels_total);
  $('run-posts').textContent = ofTotal(progress?.posts_saved, progress?.posts_expected);
  $('run-files-box').hidden = job.options?.include_files === false;
  $('run-files').textContent = ofTotal(progress?.files_done, progress?.files_total);
  $('cancel').disabled = job.status === 'cancelling';
}

function runSentence(summary) {
  // What this run did; on an update most numbers are small, which is the point.
  const stats = summary.stats ?? {};
  const parts = [];
  if (typeof stats.posts_new === 'number') parts.push(plural(stats.posts_new, 'new message', 'new messages'));
  if (typeof stats.files_saved === 'number' && stats.files_saved > 0) {
    const size = bytes(stats.bytes_saved);
    parts.push(`${plural(stats.files_saved, 'file', 'files')}${size ? ` (${size})` : ''}`);
  }
  const took = duration(summary.elapsed_s);
  if (!parts.length) return took ? `This run took ${took}.` : '';
  return `This run added ${parts.join(' and ')}${took ? ` in ${took}` : ''}.`;
}

function renderDone(job) {
  showView('done');
  const summary = job.summary ?? {};
  document.body.dataset.error = '';
  document.body.dataset.status = summary.status ?? '';
  const titles = {
    complete: 'Backup complete',
    incomplete: 'Backup finished, with gaps',
    cancelled: 'Backup cancelled',
  };
  $('done-title').textContent = titles[summary.status] ?? 'Backup finished';
  const lead = {
    complete: `Everything you can see on ${job.host} is saved.`,
    incomplete: 'Everything else is saved; click “Back up again” later to try the rest.',
    cancelled: 'What was saved so far is kept; “Back up again” continues from there.',
  }[summary.status] ?? '';
  $('done-text').textContent = [lead, runSentence(summary)].filter(Boolean).join(' ');
  const archive = summary.archive ?? {};
  const progress = job.progress ?? {};
  $('done-channels').textContent = number(archive.channels ?? progress.channels_total);
  $('done-posts').textContent = number(archive.posts ?? progress.posts_saved);
  $('done-files').textContent = job.options?.include_files === false && !archive.files ? 'not included' : number(archive.files);
  const problems = Array.isArray(summary.problems) ? summary.problems : [];
  const total = typeof summary.problems_total === 'number' ? summary.problems_total : problems.length;
  $('problems').hidden = total === 0;
  $('problems-summary').textContent = `${plural(total, 'item', 'items')} could not be saved`;
  $('problems-list').replaceChildren(
    ...problems.map((text) => Object.assign(document.createElement('li'), { textContent: String(text) })),
  );
  if (total > problems.length) {
    const more = `…and ${number(total - problems.length)} more (listed in report.txt in the archive)`;
    $('problems-list').append(Object.assign(document.createElement('li'), { textContent: more }));
  }
  $('open-viewer').disabled = summary.viewer === false;
  $('archive-path').textContent = summary.archive_dir ? `Archive: ${summary.archive_dir}` : '';
}

// ------------------------------------------------------------------------------------------ actions

function chosenOptions() {
  const scope = document.querySelector('input[name="scope"]:checked')?.value === 'direct' ? 'direct' : 'all';
  return { scope, include_files: $('include-files').checked };
}

// Called straight from a click: permissions.request must run before anything is awaited, or the
// browser no longer counts it as the user's gesture.
function backUp(options) {
  if (!page.pattern) return;
  const request = { url: page.target.url, storeId: page.target.storeId, options };
  page.localError = null;
  api.runtime.sendMessage({ type: 'prepare', ...request });
  api.permissions
    .request({ origins: [page.pattern] })
    .then((granted) => {
      if (!granted) {
        page.localError = { code: 'permission-denied', message: '' };
        render();
        return null;
      }
      $('backup').disabled = true;
      $('again').disabled = true;
      page.showOptions = false;
      return api.runtime.sendMessage({ type: 'start', ...request });
    })
    .then(() => refresh())
    .catch((error) => {
      page.localError = { code: 'helper-failed', message: String(error?.message ?? error) };
      render();
    })
    .finally(() => {
      $('backup').disabled = false;
      $('again').disabled = false;
    });
}

async function openArchive(target) {
  $('open-result').textContent = '';
  const reply = await api.runtime.sendMessage({ type: 'open', origin: page.origin, target });
  $('open-result').textContent = reply?.ok ? '' : (reply?.message ?? 'Could not open it.');
}

async function refresh() {
  page.info = await api.runtime.sendMessage({ type: 'inspect', url: page.target.url, storeId: page.target.storeId });
  // Inspecting takes a moment (it pings the server); a state change seen meanwhile is newer, keep it.
  const fetched = page.info?.job ?? null;
  if (!page.job || (fetched && (fetched.updatedAt ?? 0) >= (page.job.updatedAt ?? 0))) page.job = fetched;
  render();
}

async function resolveTarget() {
  // Automated tests open the popup as a tab and name the site to look at; only unpacked
  // (development) installs accept that.
  const wanted = new URLSearchParams(location.search).get('target');
  if (wanted) {
    const self = await api.management?.getSelf?.();
    if (self?.installType === 'development') return { url: wanted, storeId: undefined };
  }
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  if (!tab) return { url: '', storeId: undefined };
  let storeId = tab.cookieStoreId; // Firefox containers and private windows
  if (!storeId && api.cookies.getAllCookieStores) {
    const stores = await api.cookies.getAllCookieStores();
    storeId = stores.find((store) => store.tabIds.includes(tab.id))?.id;
  }
  return { url: tab.url ?? '', storeId };
}

function wire() {
  $('backup').addEventListener('click', () => backUp(chosenOptions()));
  $('again').addEventListener('click', () => backUp(page.job?.options ?? chosenOptions()));
  $('change-options').addEventListener('click', () => {
    page.showOptions = true;
    render();
  });
  $('cancel').addEventListener('click', () => {
    $('cancel').disabled = true;
    api.runtime.sendMessage({ type: 'cancel', origin: page.origin });
  });
  $('open-viewer').addEventListener('click', () => openArchive('viewer'));
  $('open-folder').addEventListener('click', () => openArchive('folder'));
  $('copy-command').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('notice-command-text').textContent);
      $('copy-command').textContent = 'Copied';
    } catch {
      $('copy-command').textContent = 'Select and copy';
    }
  });
  for (const input of document.querySelectorAll('fieldset input, #include-files')) {
    input.addEventListener('change', () => {
      page.optionsTouched = true;
    });
  }
  api.storage.onChanged.addListener((changes, area) => {
    const key = `job:${page.origin}`;
    if (area !== 'session' || !(key in changes)) return;
    const before = page.job;
    page.job = changes[key].newValue ?? null;
    if (page.job?.status === 'done' && before?.status !== 'done') page.showOptions = false;
    if (page.job && ACTIVE.has(page.job.status)) page.localError = null;
    render();
  });
}

async function main() {
  wire();
  page.target = await resolveTarget();
  try {
    const url = new URL(page.target.url);
    if (url.protocol === 'https:' || url.protocol === 'http:') {
      page.origin = url.origin;
      page.pattern = `${url.protocol}//${url.hostname}/*`; // as the background's accessPattern
      $('site-host').textContent = url.host;
    }
  } catch {
    // not a URL: shown as "open your Mattermost first"
  }
  await refresh();
}

main();
