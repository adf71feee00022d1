// The command centre: plain JavaScript, no dependencies, served by the gateway.
// Every read and every action is an HTTP/JSON call to the gateway's /api/ with
// the viewer's own token, so the services' policy tables apply unchanged.
'use strict';

const BLOCKS = 'flatgov.blocks.v1.BlockRegistry';
const CASES = 'flatgov.cases.v1.CaseDispatch';
const ENFORCEMENT = 'flatgov.enforcement.v1.JointEnforcement';
const TOKEN_KEY = 'flatgov.command.token';
const LANG_KEY = 'flatgov.command.lang';
// Enough for a district's open work; the list shows the newest first.
const CASE_PAGES = 4;

const TEXT = {
  'zh-CN': {
    title: '指挥中心', skip: '跳到案件列表', logout: '退出', loginTitle: '登录',
    tokenLabel: '访问令牌（Bearer token）', tokenHint: '令牌只保存在本浏览器标签页中，关闭即清除。',
    login: '登录', mapTitle: '区块地图', legendNone: '无在办', legendFew: '1–2 件在办',
    legendMany: '3 件以上在办', legendOverdue: '有超期', team: '1+N+1 团队', blockCases: '在办案件',
    overdue: '超期', actions: '调度操作', reason: '理由', escalate: '升级',
    assignee: '改派给（staff/… 或 departments/…）', reassign: '改派', meetingTime: '协调会时间',
    meetingLocation: '地点', schedule: '安排协调会', history: '处置经过', liveTitle: '实时动态',
    casesTitle: '案件列表', state: '状态', tier: '层级', overdueOnly: '只看超期', case: '案件',
    matter: '事项', block: '区块', indicatorsTitle: '指标（本月）', blockIndicators: '本月指标', summons: '吹哨报到',
    summonsStates: { SUMMONS_STATE_AWAITING_REPORT: '待报到', SUMMONS_STATE_LATE: '已超时', SUMMONS_STATE_REPORTED_IN: '已报到' },
    left: (text) => `剩余 ${text}`, late: (text) => `已超时 ${text}`, operationPending: '联合执法正在启动…', subdistrict: '街道', received: '受理',
    responseRate: '响应率', resolutionRate: '解决率', satisfactionRate: '满意率',
    onTimeRate: '按时办结率', reworkRate: '返工率', whistleRate: '吹哨率', all: '全部',
    notStaff: '此令牌不是工作人员的令牌（例如居民令牌），不能使用指挥中心。',
    badToken: '令牌无效或已过期，请重新获取。', loading: '正在加载区块…',
    loaded: (n, ms) => `已显示 ${n} 个区块（${ms} 毫秒）`, noCases: '暂无在办案件',
    liveOn: '实时更新已连接', liveOff: '实时更新未连接', liveNone: '本网关未配置实时更新',
    done: '已完成', households: (n) => `${n} 户`, phoneWithheld: '电话不向您显示',
    noTeam: '此区块尚无团队', meetingScheduled: '协调会已安排',
    posts: { TEAM_POST_GOVERNOR: '治理员', TEAM_POST_ASSISTANT: '协理员', TEAM_POST_SUPERVISOR: '监督员' },
    states: {
      CASE_STATE_REPORTED: '已受理', CASE_STATE_AWAITING_MANUAL_LOCATION: '待人工定位',
      CASE_STATE_TRIAGED: '已分拨', CASE_STATE_DISPATCHED: '已派遣', CASE_STATE_ACCEPTED: '已签收',
      CASE_STATE_IN_PROGRESS: '处置中', CASE_STATE_RESOLVED: '已处置', CASE_STATE_VERIFIED: '已核查',
      CASE_STATE_RATED: '已评价', CASE_STATE_PARKED: '挂账', CASE_STATE_CLOSED: '已办结',
    },
    tiers: {
      HANDLING_TIER_FRONT_LINE: '区块处置', HANDLING_TIER_COORDINATION_MEETING: '协调会',
      HANDLING_TIER_WHISTLE: '吹哨',
    },
    kinds: {
      reported: '新上报', triaged: '已分拨', dispatched: '新派遣', accepted: '已签收', escalated: '已升级',
      reassigned: '已改派', resolved: '已处置', verified: '已核查', closed: '已办结', overdue: '超期',
    },
  },
  en: {
    title: 'Command centre', skip: 'Skip to the case list', logout: 'Log out', loginTitle: 'Log in',
    tokenLabel: 'Access token (bearer)', tokenHint: 'The token stays in this browser tab and is cleared when it closes.',
    login: 'Log in', mapTitle: 'Block map', legendNone: 'No open cases', legendFew: '1–2 open',
    legendMany: '3 or more open', legendOverdue: 'Overdue', team: '1+N+1 team', blockCases: 'Open cases',
    overdue: 'Overdue', actions: 'Dispatcher actions', reason: 'Reason', escalate: 'Escalate',
    assignee: 'Reassign to (staff/… or departments/…)', reassign: 'Reassign', meetingTime: 'Meeting time',
    meetingLocation: 'Place', schedule: 'Schedule a meeting', history: 'History', liveTitle: 'Live',
    casesTitle: 'Cases', state: 'State', tier: 'Tier', overdueOnly: 'Overdue only', case: 'Case',
    matter: 'Matter', block: 'Block', indicatorsTitle: 'Indicators (this month)', blockIndicators: 'This month', summons: 'Whistle: agencies reporting in',
    summonsStates: { SUMMONS_STATE_AWAITING_REPORT: 'awaiting report', SUMMONS_STATE_LATE: 'late', SUMMONS_STATE_REPORTED_IN: 'reported in' },
    left: (text) => `${text} left`, late: (text) => `${text} late`, operationPending: 'The joint operation is opening…', subdistrict: 'Subdistrict',
    received: 'Received', responseRate: 'Response', resolutionRate: 'Resolution',
    satisfactionRate: 'Satisfaction', onTimeRate: 'Closed on time', reworkRate: 'Rework',
    whistleRate: 'Whistle', all: 'All',
    notStaff: 'This token is not a staff token (a resident\'s, for instance); the command centre is for staff.',
    badToken: 'The token is not valid or has expired; get a new one.', loading: 'Loading blocks…',
    loaded: (n, ms) => `${n} blocks shown (${ms} ms)`, noCases: 'No open cases',
    liveOn: 'Live updates connected', liveOff: 'Live updates disconnected', liveNone: 'This gateway has no live updates',
    done: 'Done', households: (n) => `${n} households`, phoneWithheld: 'phone not shown to you',
    noTeam: 'This block has no team yet', meetingScheduled: 'Meeting scheduled',
    posts: { TEAM_POST_GOVERNOR: 'Governor', TEAM_POST_ASSISTANT: 'Assistant', TEAM_POST_SUPERVISOR: 'Supervisor' },
    states: {
      CASE_STATE_REPORTED: 'Reported', CASE_STATE_AWAITING_MANUAL_LOCATION: 'Awaiting location',
      CASE_STATE_TRIAGED: 'Triaged', CASE_STATE_DISPATCHED: 'Dispatched', CASE_STATE_ACCEPTED: 'Accepted',
      CASE_STATE_IN_PROGRESS: 'In progress', CASE_STATE_RESOLVED: 'Resolved', CASE_STATE_VERIFIED: 'Verified',
      CASE_STATE_RATED: 'Rated', CASE_STATE_PARKED: 'Parked', CASE_STATE_CLOSED: 'Closed',
    },
    tiers: {
      HANDLING_TIER_FRONT_LINE: 'Front line', HANDLING_TIER_COORDINATION_MEETING: 'Coordination meeting',
      HANDLING_TIER_WHISTLE: 'Whistle',
    },
    kinds: {
      reported: 'reported', triaged: 'triaged', dispatched: 'dispatched', accepted: 'accepted', escalated: 'escalated',
      reassigned: 'reassigned', resolved: 'resolved', verified: 'verified', closed: 'closed', overdue: 'overdue',
    },
  },
};

const state = {
  lang: sessionStorage.getItem(LANG_KEY) || 'zh-CN',
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  blocks: new Map(), // code → {name, households, path}
  cases: [], // the list, newest first
  mapCases: [], // every case the viewer sees, for the map's colours
  selectedBlock: '',
  selectedCase: '',
  live: null,
};
window.commandCentre = state;

const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key];
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function call(service, method, body) {
  const response = await fetch(`/api/${service}/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body || {}),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, (json.error && json.error.message) || response.statusText);
  return json;
}

// ------------------------------------------------------------------ language

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = `${t('title')} · flatgov`;
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  const other = state.lang === 'zh-CN' ? 'en' : 'zh-CN';
  $('lang').textContent = other === 'en' ? 'English' : '中文';
  $('lang').lang = other;
  fillFilters();
  if (state.cases.length) renderCases();
  if (state.selectedBlock) showBlock(state.selectedBlock);
  if (state.selectedCase) showCase(state.selectedCase);
  if (state.session) showViewer();
}

function fillFilters() {
  const fill = (select, options) => {
    const current = select.value;
    select.replaceChildren(el('option', { value: '' }, t('all')));
    for (const [value, label] of Object.entries(options)) select.append(el('option', { value }, label));
    select.value = current;
  };
  fill($('filter-state'), t('states'));
  fill($('filter-tier'), t('tiers'));
}

// ------------------------------------------------------------------ login

async function login(token) {
  const started = performance.now();
  state.token = token.trim();
  $('login-error').textContent = '';
  const response = await fetch('/command/session', { headers: { authorization: `Bearer ${state.token}` } });
  if (!response.ok) {
    sessionStorage.removeItem(TOKEN_KEY);
    const answer = await response.json().catch(() => ({}));
    $('login-error').textContent = response.status === 403 ? t('notStaff')
      : response.status === 401 ? t('badToken')
        : ((answer.error && answer.error.message) || response.statusText);
    return;
  }
  state.session = await response.json();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('login-view').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  showViewer();
  await Promise.all([loadMap(), loadCases(), loadIndicators()]);
  paintMap();
  // From the login to the coloured map on screen, cases and indicators included.
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  state.mapReadyMs = Math.round(performance.now() - started);
  connectLive();
}

function showViewer() {
  const session = state.session;
  $('viewer').textContent = `${session.subject} · ${session.roles.join(', ')} · ${session.jurisdictions.join(', ')}`;
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  if (state.live) state.live.abort();
  location.reload();
}

// ------------------------------------------------------------------ map

async function exportLayer(layer) {
  const features = [];
  let pageToken = '';
  do {
    const page = await call(BLOCKS, 'ExportGeoJson', { layer, pageSize: 500, pageToken });
    features.push(...JSON.parse(page.geojson).features);
    pageToken = page.nextPageToken || '';
  } while (pageToken);
  return features;
}

function rings(geometry) {
  if (geometry.type === 'Polygon') return geometry.coordinates;
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat();
  return [];
}

async function loadMap() {
  const started = performance.now();
  $('map-status').textContent = t('loading');
  const [blocks, subdistricts] = await Promise.all([
    exportLayer('EXPORT_LAYER_BLOCKS'),
    exportLayer('EXPORT_LAYER_SUBDISTRICTS'),
  ]);
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const feature of blocks) {
    for (const ring of rings(feature.geometry)) {
      for (const [x, y] of ring) {
        minX = Math.min(minX, x); maxX = Math.max(maxX, x);
        minY = Math.min(minY, y); maxY = Math.max(maxY, y);
      }
    }
  }
  // Equirectangular around the district's middle latitude: true to shape at a
  // district's size.
  const scale = 100000;
  const squeeze = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  const project = ([x, y]) => `${((x - minX) * squeeze * scale).toFixed(1)},${((maxY - y) * scale).toFixed(1)}`;
  const pathOf = (geometry) => rings(geometry).map((ring) => `M${ring.map(project).join('L')}Z`).join('');
  const svg = $('map');
  const width = (maxX - minX) * squeeze * scale, height = (maxY - minY) * scale;
  svg.setAttribute('viewBox', `-20 -20 ${(width + 40).toFixed(0)} ${(height + 40).toFixed(0)}`);
  const ns = 'http://www.w3.org/2000/svg';
  const fragment = document.createDocumentFragment();
  for (const feature of blocks) {
    const { code, name, households } = feature.properties;
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', pathOf(feature.geometry));
    path.setAttribute('class', 'block');
    path.setAttribute('data-code', code);
    path.setAttribute('tabindex', '0');
    path.setAttribute('role', 'button');
    path.setAttribute('aria-label', name);
    const title = document.createElementNS(ns, 'title');
    title.textContent = name;
    path.append(title);
    fragment.append(path);
    state.blocks.set(code, { name, households, path });
  }
  for (const feature of subdistricts) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', pathOf(feature.geometry));
    path.setAttribute('class', 'subdistrict');
    path.setAttribute('data-code', feature.properties.code);
    fragment.append(path);
  }
  svg.replaceChildren(fragment);
  // Measured once the browser has laid out and painted the polygons.
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  state.firstRenderMs = Math.round(performance.now() - started);
  $('map-status').textContent = t('loaded')(blocks.length, state.firstRenderMs);
}

function blockCodeOf(caseItem) {
  return (caseItem.block || '').replace('blocks/', '');
}

function isOpen(caseItem) {
  return caseItem.state !== 'CASE_STATE_CLOSED';
}

function paintMap() {
  const counts = new Map();
  for (const item of state.mapCases) {
    if (!isOpen(item)) continue;
    const code = blockCodeOf(item);
    const count = counts.get(code) || { open: 0, overdue: 0 };
    count.open += 1;
    if (item.overdue) count.overdue += 1;
    counts.set(code, count);
  }
  for (const [code, block] of state.blocks) {
    const count = counts.get(code) || { open: 0, overdue: 0 };
    const classes = block.path.classList;
    classes.toggle('few', count.open > 0 && count.open < 3);
    classes.toggle('many', count.open >= 3);
    classes.toggle('overdue', count.overdue > 0);
    classes.toggle('has-open', count.open > 0);
    classes.toggle('selected', code === state.selectedBlock);
    block.path.setAttribute('aria-label', `${block.name}: ${count.open} / ${count.overdue}`);
  }
}

// ------------------------------------------------------------------ block

async function showBlock(code) {
  state.selectedBlock = code;
  paintMap();
  const panel = $('block-panel');
  panel.hidden = false;
  const known = state.blocks.get(code);
  $('block-title').textContent = known ? `${known.name} · ${t('households')(known.households)}` : code;
  const team = $('team');
  try {
    const block = await call(BLOCKS, 'GetBlock', { name: `blocks/${code}`, view: 'BLOCK_VIEW_CONTACTS' });
    const members = (block.team && block.team.members) || [];
    team.replaceChildren(...members.map((member) => {
      const phone = member.phone
        ? el('a', { href: `tel:${member.phone}` }, member.phone)
        : (member.phoneWithheld ? t('phoneWithheld') : '');
      return el('li', { class: 'member', 'data-staff': member.staff },
        `${t('posts')[member.post] || member.post} · ${member.displayName || member.staff}`,
        member.unit ? ` · ${member.unit} ` : ' ', phone);
    }));
    if (!members.length) team.replaceChildren(el('li', {}, t('noTeam')));
  } catch (error) {
    team.replaceChildren(el('li', { class: 'error' }, error.message));
  }
  showBlockIndicators(code);
  const open = state.mapCases.filter((item) => blockCodeOf(item) === code && isOpen(item));
  $('block-cases').replaceChildren(...(open.length
    ? open.map((item) => el('li', {}, caseLink(item)))
    : [el('li', {}, t('noCases'))]));
}

// ------------------------------------------------------------------ cases

function caseLink(item) {
  const link = el('a', { href: `#${item.name}`, class: 'case-link', 'data-case': item.name },
    `${item.name.replace('cases/', '#')} ${item.matterCode || ''}`);
  return link;
}

async function listCases(filters) {
  const cases = [];
  let pageToken = '';
  for (let page = 0; page < CASE_PAGES; page += 1) {
    const answer = await call(CASES, 'ListCases', { pageSize: 250, pageToken, ...filters });
    cases.push(...(answer.cases || []));
    pageToken = answer.nextPageToken || '';
    if (!pageToken) break;
  }
  return cases;
}

// The list follows the filters; the map always counts every case.
async function loadCases() {
  const filters = {
    state: $('filter-state').value || undefined,
    tier: $('filter-tier').value || undefined,
    overdueOnly: $('filter-overdue').checked || undefined,
  };
  const filtered = Object.values(filters).some((value) => value !== undefined);
  const [listed, all] = await Promise.all([listCases(filters), filtered ? listCases({}) : null]);
  state.cases = listed;
  state.mapCases = all || listed;
  renderCases();
}

function renderCases(fresh) {
  const rows = state.cases.map((item) => el('tr', {
    'data-case': item.name,
    class: [item.overdue ? 'overdue' : '', fresh && fresh.has(item.name) ? 'fresh' : ''].join(' ').trim() || undefined,
  },
  el('td', {}, caseLink(item)),
  el('td', {}, item.matterCode || ''),
  el('td', {}, (state.blocks.get(blockCodeOf(item)) || {}).name || blockCodeOf(item)),
  el('td', {}, t('states')[item.state] || item.state || ''),
  el('td', {}, tierBadge(item.tier))));
  $('cases').tBodies[0].replaceChildren(...rows);
}

function tierBadge(tier) {
  if (!tier) return '';
  return el('span', { class: tier === 'HANDLING_TIER_WHISTLE' ? 'badge whistle' : 'badge' }, t('tiers')[tier] || tier);
}

function timeText(timestamp) {
  if (!timestamp) return '';
  return new Date(timestamp).toLocaleString(state.lang, { timeZone: 'Asia/Shanghai' });
}

async function showCase(name) {
  state.selectedCase = name;
  const panel = $('case-panel');
  panel.hidden = false;
  const [item, history] = await Promise.all([
    call(CASES, 'GetCase', { name }),
    call(CASES, 'GetCaseHistory', { name }),
  ]);
  $('case-title').textContent = `${name.replace('cases/', '#')} · ${item.matterCode || ''}`;
  $('case-summary').textContent = `${t('states')[item.state] || item.state} · ${item.assignee || ''} · ${item.description || ''}`;
  const tier = $('case-tier');
  tier.textContent = t('tiers')[item.tier] || '';
  tier.className = item.tier === 'HANDLING_TIER_WHISTLE' ? 'badge whistle' : 'badge';
  tier.dataset.tier = item.tier || '';
  $('case-overdue').hidden = !item.overdue;
  $('timeline').replaceChildren(...(history.records || []).map((record) => el('li', {},
    el('time', { datetime: record.occurredAt }, timeText(record.occurredAt)),
    `${record.action || ''} → ${t('states')[record.toState] || record.toState || ''}`,
    record.reason ? ` · ${record.reason}` : '')));
  await showSummons(item);
}

// ------------------------------------------------------------------ whistle

function clockText(milliseconds) {
  const seconds = Math.floor(Math.abs(milliseconds) / 1000);
  const pad = (value) => String(value).padStart(2, '0');
  return `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
}

// Each summoned agency's report-in clock, ticking every second.
function tickSummons() {
  for (const clock of document.querySelectorAll('#summons [data-deadline]')) {
    const left = new Date(clock.dataset.deadline).getTime() - Date.now();
    clock.textContent = left >= 0 ? t('left')(clockText(left)) : t('late')(clockText(left));
    clock.classList.toggle('overdue', left < 0);
  }
}
setInterval(tickSummons, 1000);

let summonsRetry = 0;
async function showSummons(item) {
  clearTimeout(summonsRetry);
  const section = $('summons-section');
  const list = $('summons');
  if (item.tier !== 'HANDLING_TIER_WHISTLE') {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  let operations = [];
  try {
    operations = (await call(ENFORCEMENT, 'ListOperations', { case: item.name })).operations || [];
  } catch (error) {
    list.replaceChildren(el('li', { class: 'error' }, error.message));
    return;
  }
  const summons = operations.flatMap((operation) => operation.summons || []);
  if (!summons.length) {
    // The operation opens from the escalation's event, a moment later.
    list.replaceChildren(el('li', {}, t('operationPending')));
    summonsRetry = setTimeout(() => { if (state.selectedCase === item.name) showSummons(item); }, 1500);
    return;
  }
  list.replaceChildren(...summons.map((entry) => {
    const reported = entry.state === 'SUMMONS_STATE_REPORTED_IN';
    return el('li', { class: 'summons', 'data-agency': entry.agency },
      `${entry.agency}${entry.lead ? ' ★' : ''} · ${t('summonsStates')[entry.state] || entry.state || ''} · `,
      reported
        ? el('time', { datetime: entry.reportInTime }, timeText(entry.reportInTime))
        : el('span', { class: 'clock', 'data-deadline': entry.reportInDeadline }, ''));
  }));
  tickSummons();
}

async function act(what) {
  const name = state.selectedCase;
  const reason = $('action-reason').value.trim();
  const result = $('action-result');
  result.className = '';
  try {
    if (what === 'escalate') {
      await call(CASES, 'EscalateCase', { name, reason });
      result.textContent = t('done');
    } else if (what === 'reassign') {
      await call(CASES, 'ReassignCase', { name, reason, assignee: $('reassign-assignee').value.trim() });
      result.textContent = t('done');
    } else {
      const when = $('meeting-time').value;
      await call(CASES, 'ScheduleMeeting', {
        case: name,
        requestId: crypto.randomUUID(),
        scheduledFor: when ? new Date(when).toISOString() : undefined,
        location: $('meeting-location').value.trim(),
        agenda: reason,
      });
      result.textContent = t('meetingScheduled');
    }
  } catch (error) {
    result.className = 'error';
    result.textContent = error.message;
  }
  await Promise.all([showCase(name), loadCases()]);
  paintMap();
}

// ------------------------------------------------------------------ indicators

function percent(rate) {
  return rate && typeof rate.percent === 'number' ? `${rate.percent.toFixed(1)}%` : '—';
}

function indicatorCells(group) {
  return [
    el('td', {}, String(group.received || 0)),
    el('td', {}, percent(group.responseRate)),
    el('td', {}, percent(group.resolutionRate)),
    el('td', {}, percent(group.satisfactionRate)),
    el('td', {}, percent(group.closedOnTimeRate)),
    el('td', {}, percent(group.reworkRate)),
    el('td', {}, percent(group.whistleRate)),
  ];
}

// This month so far, in China Standard Time.
function thisMonth(groupBy) {
  const now = new Date();
  const shanghai = new Date(now.getTime() + 8 * 3600 * 1000);
  const monthStart = new Date(Date.UTC(shanghai.getUTCFullYear(), shanghai.getUTCMonth(), 1) - 8 * 3600 * 1000);
  return { periodStart: monthStart.toISOString(), periodEnd: now.toISOString(), groupBy };
}

async function loadIndicators() {
  const body = $('indicators').tBodies[0];
  try {
    const [subdistricts, blocks] = await Promise.all([
      call(CASES, 'GetIndicators', thisMonth('INDICATOR_GROUPING_SUBDISTRICT')),
      call(CASES, 'GetIndicators', thisMonth('INDICATOR_GROUPING_BLOCK')),
    ]);
    body.replaceChildren(...(subdistricts.groups || []).map((group) => el('tr', {},
      el('th', { scope: 'row' }, group.key || ''), ...indicatorCells(group))));
    state.blockIndicators = new Map((blocks.groups || []).map((group) => [(group.key || '').replace('blocks/', ''), group]));
  } catch (error) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '8', class: 'error' }, error.message)));
  }
}

function showBlockIndicators(code) {
  const group = state.blockIndicators && state.blockIndicators.get(code);
  const table = $('block-indicators');
  table.hidden = !group;
  if (group) table.tBodies[0].replaceChildren(el('tr', {}, ...indicatorCells(group)));
}

// ------------------------------------------------------------------ live

function addToFeed(event) {
  const block = state.blocks.get(event.block_code);
  const item = el('li', { 'data-case': event.case },
    `${new Date().toLocaleTimeString(state.lang, { timeZone: 'Asia/Shanghai' })} · `,
    el('a', { href: `#${event.case}`, class: 'case-link', 'data-case': event.case }, event.case.replace('cases/', '#')),
    ` · ${(t('kinds')[event.kind] || event.kind)} · ${block ? block.name : event.block_code}`);
  const feed = $('live-feed');
  feed.prepend(item);
  while (feed.children.length > 30) feed.lastChild.remove();
  if (block) {
    block.path.classList.remove('fresh');
    block.path.getBoundingClientRect();
    block.path.classList.add('fresh');
  }
}

let refreshTimer = 0;
const freshCases = new Set();
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(async () => {
    const fresh = new Set(freshCases);
    freshCases.clear();
    await Promise.all([loadCases(), loadIndicators()]);
    renderCases(fresh);
    paintMap();
    if (state.selectedBlock) showBlock(state.selectedBlock);
    if (state.selectedCase && fresh.has(state.selectedCase)) showCase(state.selectedCase);
  }, 250);
}

// EventSource cannot send an Authorization header, so the stream is read with
// fetch and parsed here; the token never goes into a URL.
async function connectLive() {
  if (!state.session.live) {
    $('live-status').textContent = t('liveNone');
    return;
  }
  const controller = new AbortController();
  state.live = controller;
  try {
    const response = await fetch('/command/events', {
      headers: { authorization: `Bearer ${state.token}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (!response.ok) throw new Error(String(response.status));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = 'message', data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) kind = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (kind === 'open') $('live-status').textContent = t('liveOn');
        else if (kind === 'case') {
          const event = JSON.parse(data);
          freshCases.add(event.case);
          addToFeed(event);
          refreshSoon();
        } else if (kind === 'lagged') refreshSoon();
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
  }
  $('live-status').textContent = t('liveOff');
  setTimeout(connectLive, 3000);
}

// ------------------------------------------------------------------ wiring

function openFromTarget(target) {
  const path = target.closest('path.block');
  if (path) { showBlock(path.dataset.code); return true; }
  const link = target.closest('[data-case]');
  if (link && link.dataset.case) { showCase(link.dataset.case); $('case-panel').scrollIntoView({ block: 'nearest' }); return true; }
  return false;
}

document.addEventListener('DOMContentLoaded', () => {
  applyLanguage();
  $('lang').addEventListener('click', () => {
    state.lang = state.lang === 'zh-CN' ? 'en' : 'zh-CN';
    sessionStorage.setItem(LANG_KEY, state.lang);
    applyLanguage();
  });
  $('logout').addEventListener('click', logout);
  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    login($('token').value);
  });
  $('map').addEventListener('click', (event) => openFromTarget(event.target));
  $('map').addEventListener('keydown', (event) => {
    if ((event.key === 'Enter' || event.key === ' ') && openFromTarget(event.target)) event.preventDefault();
  });
  document.body.addEventListener('click', (event) => {
    if (event.target.closest('#map')) return;
    if (event.target.closest('a[data-case]') && openFromTarget(event.target)) event.preventDefault();
  });
  for (const id of ['filter-state', 'filter-tier', 'filter-overdue']) {
    $(id).addEventListener('change', async () => { await loadCases(); paintMap(); });
  }
  $('escalate').addEventListener('click', () => act('escalate'));
  $('reassign').addEventListener('click', () => act('reassign'));
  $('schedule').addEventListener('click', () => act('schedule'));
  if (state.token) login(state.token);
});
