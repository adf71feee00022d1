// The command centre: plain JavaScript, no dependencies, served by the gateway.
// Every read and every action is an HTTP/JSON call to the gateway's /api/ with
// the viewer's own token, so the services' policy tables apply unchanged.
'use strict';

const BLOCKS = 'flatgov.blocks.v1.BlockRegistry';
const CASES = 'flatgov.cases.v1.CaseDispatch';
const ENFORCEMENT = 'flatgov.enforcement.v1.JointEnforcement';
const MEDIATION = 'flatgov.mediation.v1.Mediation';
// The trend charts cover this month and the five before it.
const TREND_MONTHS = 6;
const TOKEN_KEY = 'flatgov.command.token';
const LANG_KEY = 'flatgov.command.lang';
// The list shows the newest 1,000 matching its filters; the map counts every
// open case (CountOpenCases), however many.
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
    summonsStates: { SUMMONS_STATE_AWAITING_REPORT: '待报到', SUMMONS_STATE_LATE: '超时未报到', SUMMONS_STATE_REPORTED_IN: '已报到' },
    byDepartment: '按部门（本月）', department: '部门', noGroups: '本月暂无数据',
    upsDowns: '三升三降', upsDownsHint: '本月（截至今天）与上月相比。满意率升为好；矛盾纠纷、风险隐患降为好。',
    trendsTitle: '月度趋势（近六个月）', satisfactionUp: '满意率', disputesDown: '矛盾纠纷（调解受理）',
    hazardsDown: '风险隐患（上报）', thisMonthValue: '本月', lastMonthValue: '上月', better: '向好', worse: '变差',
    unchanged: '持平', points: (n) => `${n} 个百分点`, pieces: (n) => `${n} 件`, notVisible: '无权查看',
    left: (text) => `剩余 ${text}`, late: (text) => `已超时 ${text}`, operationPending: '联合执法正在启动…', subdistrict: '街道', received: '受理',
    responseRate: '响应率', resolutionRate: '解决率', satisfactionRate: '满意率',
    onTimeRate: '按时办结率', reworkRate: '返工率', whistleRate: '吹哨率', all: '全部',
    notStaff: '此令牌不是工作人员的令牌（例如居民令牌），不能使用指挥中心。',
    badToken: '令牌无效或已过期，请重新获取。', loading: '正在加载区块…',
    oidcOr: '或者', oidcLogin: '通过身份提供方登录',
    loginErrors: {
      state_mismatch: '登录被拒绝：回调中的 state 与本浏览器发起登录时的不一致（登录链接可能被伪造或篡改）。请重新登录。',
      not_pending: '登录被拒绝：本浏览器没有待完成的登录——它已完成（授权码只能使用一次）、已超时，或不是在本浏览器发起的。请重新登录。',
      code_refused: '登录被拒绝：身份提供方不接受此授权码——它已被使用、已过期，或与本次登录的 PKCE 校验码不符。请重新登录。',
      wrong_issuer: '登录被拒绝：回调来自另一个身份提供方。',
      token_invalid: '登录被拒绝：身份提供方返回的令牌未通过校验。',
      not_staff: '此账号不是工作人员账号（例如居民），不能使用指挥中心。',
      provider_unreachable: '暂时无法连接身份提供方，请稍后再试。',
      provider: '身份提供方未完成登录',
      collect: '登录已完成，但未能取回令牌（已超时或已取回）。请重新登录。',
    },
    loaded: (n, ms) => `已显示 ${n} 个区块（${ms} 毫秒）`, noCases: '暂无在办案件',
    liveOn: '实时更新已连接', liveOff: '实时更新未连接', liveNone: '本网关未配置实时更新',
    done: '已完成', households: (n) => `${n} 户`, phoneWithheld: '电话不向您显示',
    noTeam: '此区块尚无团队', meetingScheduled: '协调会已安排',
    posts: { TEAM_POST_GOVERNOR: '治理员', TEAM_POST_ASSISTANT: '协理员', TEAM_POST_SUPERVISOR: '监督员' },
    states: {
      CASE_STATE_REPORTED: '已受理', CASE_STATE_AWAITING_MANUAL_LOCATION: '待人工定位',
      CASE_STATE_TRIAGED: '已分拨', CASE_STATE_DISPATCHED: '已派单', CASE_STATE_ACCEPTED: '已签收',
      CASE_STATE_IN_PROGRESS: '处置中', CASE_STATE_RESOLVED: '已处置', CASE_STATE_VERIFIED: '已核查',
      CASE_STATE_RATED: '已评价', CASE_STATE_PARKED: '挂账', CASE_STATE_CLOSED: '已办结',
    },
    tiers: {
      HANDLING_TIER_FRONT_LINE: '区块处置', HANDLING_TIER_COORDINATION_MEETING: '协调会',
      HANDLING_TIER_WHISTLE: '吹哨',
    },
    kinds: {
      reported: '新上报', triaged: '已分拨', dispatched: '新派单', accepted: '已签收', escalated: '已升级',
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
    byDepartment: 'By department (this month)', department: 'Department', noGroups: 'Nothing this month yet',
    upsDowns: 'Three ups, three downs', upsDownsHint: 'This month (so far) against last month. Satisfaction up is better; disputes and hazards down are better.',
    trendsTitle: 'Monthly trends (last six months)', satisfactionUp: 'Satisfaction', disputesDown: 'Disputes (mediation)',
    hazardsDown: 'Safety hazards (reported)', thisMonthValue: 'This month', lastMonthValue: 'Last month', better: 'better', worse: 'worse',
    unchanged: 'unchanged', points: (n) => `${n} points`, pieces: (n) => `${n}`, notVisible: 'not visible to you',
    left: (text) => `${text} left`, late: (text) => `${text} late`, operationPending: 'The joint operation is opening…', subdistrict: 'Subdistrict',
    received: 'Received', responseRate: 'Response', resolutionRate: 'Resolution',
    satisfactionRate: 'Satisfaction', onTimeRate: 'Closed on time', reworkRate: 'Rework',
    whistleRate: 'Whistle', all: 'All',
    notStaff: 'This token is not a staff token (a resident\'s, for instance); the command centre is for staff.',
    badToken: 'The token is not valid or has expired; get a new one.', loading: 'Loading blocks…',
    oidcOr: 'or', oidcLogin: 'Log in with the identity provider',
    loginErrors: {
      state_mismatch: 'Login refused: the callback\'s state is not the one this browser started the login with (the login link may be forged or tampered with). Please log in again.',
      not_pending: 'Login refused: no login is pending in this browser — it was completed already (a code works once), timed out, or was started elsewhere. Please log in again.',
      code_refused: 'Login refused: the identity provider did not accept the code — it was used already, has expired, or does not match this login\'s PKCE verifier. Please log in again.',
      wrong_issuer: 'Login refused: the callback came from another identity provider.',
      token_invalid: 'Login refused: the tokens the identity provider returned did not pass the checks.',
      not_staff: 'This account is not a staff account (a resident\'s, for instance); the command centre is for staff.',
      provider_unreachable: 'The identity provider cannot be reached right now; try again later.',
      provider: 'The identity provider did not complete the login',
      collect: 'The login completed but its token could not be collected (timed out or collected already). Please log in again.',
    },
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
  counts: new Map(), // block code → {open, overdue}, for the map's colours
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
  if (state.trends) renderTrends();
  if (state.loginError && !state.session) {
    $('login-error').textContent = state.loginError === 'collect' ? t('loginErrors').collect : loginErrorText(state.loginError);
  }
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
  state.loginError = '';
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
  // The list loads beside the map but the coloured map does not wait for it.
  const listed = loadCases();
  await Promise.all([loadMap(), loadCounts(), loadIndicators()]);
  paintMap();
  // From the login to the coloured map on screen, counts and indicators included.
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  state.mapReadyMs = Math.round(performance.now() - started);
  await listed;
  // Block names in the list, now that the map knows them.
  renderCases();
  connectLive();
  // Departments, trends and 三升三降 are below the fold: after the map.
  loadTrends();
}

function showViewer() {
  const session = state.session;
  $('viewer').textContent = `${session.subject} · ${session.roles.join(', ')} · ${session.jurisdictions.join(', ')}`;
}

// ------------------------------------------------------------------ identity provider
// The gateway runs the authorization code flow with PKCE (/command/oidc/start →
// the provider → /command/oidc/callback) and hands the access token over once,
// in the answer to POST /command/oidc/session; from there it is kept like a
// pasted token (sessionStorage, this tab only). It never appears in a URL.

function loginErrorText(reason) {
  const [kind, code] = reason.split(':');
  const text = t('loginErrors')[kind];
  if (!text) return `${t('loginErrors').provider} (${reason})`;
  return code ? `${text} (${code})` : text;
}

async function offerProviderLogin() {
  const params = new URLSearchParams(location.search);
  const failure = params.get('login_error');
  const completed = params.get('login') === 'oidc';
  if (failure || completed) history.replaceState(null, '', location.pathname);
  if (failure) {
    state.loginError = failure;
    $('login-error').textContent = loginErrorText(failure);
  }
  const options = await fetch('/command/oidc').then((answer) => answer.json()).catch(() => ({}));
  $('oidc').hidden = !options.enabled;
  if (!completed) return;
  const answer = await fetch('/command/oidc/session', { method: 'POST' });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok || !body.token) {
    state.loginError = 'collect';
    $('login-error').textContent = t('loginErrors').collect;
    return;
  }
  await login(body.token);
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
  if (state.session.tiles) fragment.append(tileLayer(state.session.tiles, { minX, minY, maxX, maxY }, project));
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

// The configured XYZ tiles (Web Mercator) under the polygons. Each tile is
// placed by projecting its corners with the map's own projection; across a
// district the two agree to well under a pixel. The zoom is the largest at
// which the district spans at most six tiles across.
function tileLayer(tiles, bounds, project) {
  const ns = 'http://www.w3.org/2000/svg';
  const group = document.createElementNS(ns, 'g');
  group.setAttribute('class', 'tiles');
  group.setAttribute('aria-hidden', 'true');
  const tileX = (lon, zoom) => ((lon + 180) / 360) * 2 ** zoom;
  const tileY = (lat, zoom) => {
    const radians = (lat * Math.PI) / 180;
    return ((1 - Math.log(Math.tan(radians) + 1 / Math.cos(radians)) / Math.PI) / 2) * 2 ** zoom;
  };
  const lonOf = (x, zoom) => (x / 2 ** zoom) * 360 - 180;
  const latOf = (y, zoom) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / 2 ** zoom))) * 180) / Math.PI;
  let zoom = 1;
  while (zoom < 18 && tileX(bounds.maxX, zoom + 1) - tileX(bounds.minX, zoom + 1) <= 6) zoom += 1;
  const [x0, x1] = [Math.floor(tileX(bounds.minX, zoom)), Math.floor(tileX(bounds.maxX, zoom))];
  const [y0, y1] = [Math.floor(tileY(bounds.maxY, zoom)), Math.floor(tileY(bounds.minY, zoom))];
  for (let x = x0; x <= x1; x += 1) {
    for (let y = y0; y <= y1; y += 1) {
      const [left, top] = project([lonOf(x, zoom), latOf(y, zoom)]).split(',').map(Number);
      const [right, bottom] = project([lonOf(x + 1, zoom), latOf(y + 1, zoom)]).split(',').map(Number);
      const image = document.createElementNS(ns, 'image');
      image.setAttribute('class', 'tile');
      image.setAttribute('href', tiles.url.replace('{z}', zoom).replace('{x}', x).replace('{y}', y));
      image.setAttribute('x', left.toFixed(1));
      image.setAttribute('y', top.toFixed(1));
      image.setAttribute('width', (right - left).toFixed(1));
      image.setAttribute('height', (bottom - top).toFixed(1));
      image.setAttribute('preserveAspectRatio', 'none');
      group.append(image);
    }
  }
  $('map').classList.add('with-tiles');
  $('map-attribution').textContent = tiles.attribution || '';
  return group;
}

function blockCodeOf(caseItem) {
  return (caseItem.block || '').replace('blocks/', '');
}

function isOpen(caseItem) {
  return caseItem.state !== 'CASE_STATE_CLOSED';
}

// Every open case the viewer sees, counted per block by the cases service.
async function loadCounts() {
  let answer;
  try {
    answer = await call(CASES, 'CountOpenCases', {});
  } catch (error) {
    $('map-status').textContent = error.message;
    return;
  }
  state.counts = new Map((answer.blocks || []).map((block) => [block.blockCode, { open: block.open || 0, overdue: block.overdue || 0 }]));
}

function paintMap() {
  for (const [code, block] of state.blocks) {
    const count = state.counts.get(code) || { open: 0, overdue: 0 };
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
  // The team and the block's open cases in parallel, shown together.
  const [block, listed] = await Promise.all([
    call(BLOCKS, 'GetBlock', { name: `blocks/${code}`, view: 'BLOCK_VIEW_CONTACTS' }).catch((error) => error),
    call(CASES, 'ListCases', { block: `blocks/${code}`, pageSize: 100 }).catch((error) => error),
  ]);
  if (state.selectedBlock !== code) return;
  if (block instanceof Error) {
    team.replaceChildren(el('li', { class: 'error' }, block.message));
  } else {
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
  }
  showBlockIndicators(code);
  if (listed instanceof Error) {
    $('block-cases').replaceChildren(el('li', { class: 'error' }, listed.message));
    return;
  }
  const open = (listed.cases || []).filter(isOpen);
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

// The list follows the filters; the map counts every open case regardless.
async function loadCases() {
  const filters = {
    state: $('filter-state').value || undefined,
    tier: $('filter-tier').value || undefined,
    overdueOnly: $('filter-overdue').checked || undefined,
  };
  state.cases = await listCases(filters);
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
  await Promise.all([showCase(name), loadCases(), loadCounts()]);
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

// The first instant of the month `back` months before this one, in China
// Standard Time (UTC+8, no daylight saving).
function shanghaiMonthStart(back) {
  const shanghai = new Date(Date.now() + 8 * 3600 * 1000);
  return new Date(Date.UTC(shanghai.getUTCFullYear(), shanghai.getUTCMonth() - back, 1) - 8 * 3600 * 1000);
}

// `YYYY-MM` of the month `back` months before this one, China time.
function shanghaiMonth(back) {
  const start = new Date(shanghaiMonthStart(back).getTime() + 8 * 3600 * 1000);
  return `${start.getUTCFullYear()}-${String(start.getUTCMonth() + 1).padStart(2, '0')}`;
}

// This month so far, in China Standard Time.
function thisMonth(groupBy) {
  return { periodStart: shanghaiMonthStart(0).toISOString(), periodEnd: new Date().toISOString(), groupBy };
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

// ------------------------------------------------------------------ trends

// Indicators by department this month, the monthly trends of everything the
// viewer sees, and the 三升三降 panel. Disputes come from the mediation
// service (disputes registered per month), hazards from the cases service
// (safety-hazard cases reported per month), satisfaction from the cases'
// monthly satisfaction rate. A service that refuses the viewer leaves its
// part "not visible" and the rest shown.
async function loadTrends() {
  const period = { periodStart: shanghaiMonthStart(TREND_MONTHS - 1).toISOString(), periodEnd: new Date().toISOString() };
  const divisions = (state.session.jurisdictions || []).map((name) => name.split('/').pop());
  const [departments, total, disputes] = await Promise.all([
    call(CASES, 'GetIndicators', thisMonth('INDICATOR_GROUPING_DEPARTMENT')).catch((error) => error),
    call(CASES, 'GetIndicators', { ...period, groupBy: 'INDICATOR_GROUPING_TOTAL' }).catch((error) => error),
    // One call per division the viewer answers for, summed month by month.
    Promise.all(divisions.map((divisionCode) => call(MEDIATION, 'GetIndicators', { ...period, divisionCode })))
      .catch((error) => error),
  ]);
  const body = $('department-indicators').tBodies[0];
  if (departments instanceof Error) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: '8', class: 'error' }, departments.message)));
  } else {
    const groups = departments.groups || [];
    body.replaceChildren(...(groups.length
      ? groups.map((group) => el('tr', {}, el('th', { scope: 'row' }, group.key || ''), ...indicatorCells(group)))
      : [el('tr', {}, el('td', { colspan: '8' }, t('noGroups')))]));
  }
  const months = Array.from({ length: TREND_MONTHS }, (_, index) => shanghaiMonth(TREND_MONTHS - 1 - index));
  let cases = null;
  if (!(total instanceof Error)) {
    // No group at all when nothing was reported in the period.
    const monthly = new Map((((total.groups || [])[0] || {}).monthly || []).map((month) => [month.month, month]));
    cases = months.map((month) => monthly.get(month) || {});
  }
  let disputesByMonth = null;
  if (!(disputes instanceof Error)) {
    const counts = new Map();
    for (const answer of disputes) {
      for (const month of answer.monthly || []) counts.set(month.month, (counts.get(month.month) || 0) + (month.disputes || 0));
    }
    disputesByMonth = months.map((month) => counts.get(month) || 0);
  }
  state.trends = { months, cases, disputes: disputesByMonth };
  renderTrends();
}

function percentOf(rate) {
  return rate && typeof rate.percent === 'number' ? rate.percent : null;
}

function renderTrends() {
  const { months, cases, disputes } = state.trends;
  const rateSeries = (field) => (cases ? cases.map((month) => percentOf(month[field])) : null);
  const countSeries = (field) => (cases ? cases.map((month) => month[field] || 0) : null);
  const satisfaction = rateSeries('satisfactionRate');
  const hazards = countSeries('hazardsReceived');
  $('ups-downs').replaceChildren(
    upDownCard('satisfaction', t('satisfactionUp'), satisfaction, true, true),
    upDownCard('disputes', t('disputesDown'), disputes, false, false),
    upDownCard('hazards', t('hazardsDown'), hazards, false, false),
  );
  $('trends').replaceChildren(
    trendChart('on-time', t('onTimeRate'), months, rateSeries('closedOnTimeRate'), true),
    trendChart('rework', t('reworkRate'), months, rateSeries('reworkRate'), true),
    trendChart('whistle', t('whistleRate'), months, rateSeries('whistleRate'), true),
    trendChart('satisfaction', t('satisfactionRate'), months, satisfaction, true),
    trendChart('disputes', t('disputesDown'), months, disputes, false),
    trendChart('hazards', t('hazardsDown'), months, hazards, false),
  );
}

function figureText(value, isRate) {
  if (value === null || value === undefined) return '—';
  return isRate ? `${value.toFixed(1)}%` : String(value);
}

// One of 三升三降: this month against last month, and whether the move is
// for the better (`upIsBetter`).
function upDownCard(key, label, series, upIsBetter, isRate) {
  const card = el('li', { 'data-indicator': key });
  if (!series) {
    card.append(el('span', {}, label), el('span', { class: 'figure' }, '—'), el('span', { class: 'hint' }, t('notVisible')));
    return card;
  }
  const current = series[series.length - 1];
  const previous = series[series.length - 2];
  card.dataset.thisMonth = current === null ? '' : String(current);
  card.append(el('span', {}, label),
    el('span', { class: 'figure' }, `${t('thisMonthValue')} ${figureText(current, isRate)}`),
    el('span', { class: 'hint' }, `${t('lastMonthValue')} ${figureText(previous, isRate)}`));
  if (current !== null && previous !== null && previous !== undefined) {
    const change = current - previous;
    const size = isRate ? t('points')(Math.abs(change).toFixed(1)) : t('pieces')(Math.abs(change));
    const verdict = change === 0 ? 'unchanged' : ((change > 0) === upIsBetter ? 'better' : 'worse');
    card.dataset.verdict = verdict;
    card.append(el('span', { class: `change ${verdict}` },
      ` ${change > 0 ? '↑' : change < 0 ? '↓' : '→'} ${size} · ${t(verdict)}`));
  }
  return card;
}

// A small line chart in hand-written SVG: one point per month, gaps where a
// rate is undefined (no case to measure), the values written beside the
// points and in the accessible name, so the chart is not colour alone.
function trendChart(key, label, months, series, isRate) {
  const ns = 'http://www.w3.org/2000/svg';
  const svgEl = (tag, attributes) => {
    const node = document.createElementNS(ns, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  };
  const figure = el('figure', { class: 'trend', 'data-trend': key });
  figure.append(el('figcaption', {}, label));
  if (!series) {
    figure.append(el('p', { class: 'hint' }, t('notVisible')));
    return figure;
  }
  const width = 300, height = 120, left = 8, right = 8, top = 16, bottom = 20;
  const defined = series.filter((value) => value !== null);
  const ceiling = isRate ? 100 : Math.max(1, ...defined);
  const x = (index) => left + (index * (width - left - right)) / Math.max(1, months.length - 1);
  const y = (value) => top + (1 - value / ceiling) * (height - top - bottom);
  const svg = svgEl('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${label}: ${months.map((month, index) => `${month} ${figureText(series[index], isRate)}`).join(', ')}`,
  });
  svg.append(svgEl('line', { class: 'axis', x1: left, x2: width - right, y1: y(0), y2: y(0) }));
  let segment = [];
  const flush = () => {
    if (segment.length > 1) svg.append(svgEl('polyline', { class: 'line', points: segment.join(' ') }));
    segment = [];
  };
  series.forEach((value, index) => {
    const monthLabel = svgEl('text', { x: x(index), y: height - 5, 'text-anchor': 'middle' });
    monthLabel.textContent = months[index].slice(5);
    svg.append(monthLabel);
    if (value === null) { flush(); return; }
    segment.push(`${x(index).toFixed(1)},${y(value).toFixed(1)}`);
    svg.append(svgEl('circle', { class: 'dot', cx: x(index), cy: y(value), r: 3 }));
    const text = svgEl('text', { class: 'value', x: x(index), y: y(value) - 5, 'text-anchor': 'middle' });
    text.textContent = isRate ? value.toFixed(0) : String(value);
    svg.append(text);
  });
  flush();
  figure.append(svg);
  return figure;
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
    await Promise.all([loadCases(), loadCounts(), loadIndicators(), loadTrends()]);
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
  // Back from the identity provider, the new login wins over a token this
  // tab kept from before.
  const back = new URLSearchParams(location.search).get('login') === 'oidc';
  offerProviderLogin();
  if (state.token && !back) login(state.token);
});
