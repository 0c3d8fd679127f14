/*
 * chatd's web client: plain script, no build step, nothing fetched but chatd.
 * It speaks docs/websocket.md (chatd.json) and falls back to docs/http.md
 * (Server-Sent Events plus POSTs, then long polling).
 *
 * URL parameters
 *   ?server=HOST:PORT          talk to that chatd instead of the page's origin
 *   ?transport=ws|sse|poll     use that transport only (no fallback); for tests
 *
 * DOM hooks for browser tests; keep them stable:
 *   #login #nick-form #nick-input #nick-error   sign-in; errors ("Nick taken") in #nick-error
 *   #chat                        the chat view, hidden until signed in
 *   #me                          own nick;  #quit-btn signs out
 *   #status[data-state]          banner: connecting | connected (hidden) | disconnected
 *                                ("Disconnected — reconnecting…"); #retry-btn
 *   #transport[data-transport]   footer "connected via WebSocket" (ws | sse | poll)
 *   #room-list li[data-room]     rooms, canonical name; classes .joined .active;
 *                                > button (aria-current when in view) holding
 *                                .name, .count (members), .unread (hidden at 0)
 *   #join-form #join-input #join-error   join or create a room by name
 *   #dm-list li[data-nick]       direct conversations; > button, .unread
 *   #conv-title #leave-btn       the conversation in view; leave the room or close the DM
 *   #messages                    its lines, oldest first:
 *     li.msg[data-room][data-epoch][data-seq][data-id][data-from]  room message;
 *         a direct one has data-peer, no room/epoch/seq. Children .time
 *         (<time datetime>), .from, .text. Classes .mine .pending .failed .action
 *     li.presence[data-kind]     join | part | quit | drop | nick | summary
 *     li.notice                  local information: errors, gaps, restarts
 *     li.empty                   "Empty": a loaded conversation with no message
 *     li.loading                 history not there yet;  li.hint  no conversation
 *   #members li[data-nick]       members of the room in view; > button opens a DM
 *                                (li.self holds a span instead)
 *   #send-form #input            textarea: Enter sends, Shift+Enter is a new line
 *   #rooms-toggle #members-toggle   narrow screens: open the panels (aria-expanded)
 *
 * Structure: transports (WsTransport; HttpTransport as 'sse' or 'poll')
 * behind one interface; the link (connect, fall back, back off, resume);
 * the state (conversations, their lines and members); actions; rendering.
 */
'use strict';
(() => {

/* ---------- configuration, names, errors ---------- */

const params = new URLSearchParams(location.search);
const HOST = /^([\w.-]+|\[[\da-fA-F:.]+\])(:\d+)?$/.test(params.get('server') || '')
	? params.get('server') : location.host;
const TLS = location.protocol === 'https:';
const ORIGIN = (TLS ? 'https://' : 'http://') + HOST;
const API = ORIGIN + '/api/v1';
const WS_URL = (TLS ? 'wss://' : 'ws://') + HOST + '/ws';
const LEVELS = ['ws', 'sse', 'poll'];
const LABELS = {ws: 'WebSocket', sse: 'Server-Sent Events', poll: 'long polling'};
const FORCED = LEVELS.includes(params.get('transport')) ? params.get('transport') : null;
const NICK_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,31}$/;
const ROOM_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_ITEMS = 1000; // lines kept per conversation
const HOT_ROOMS = 3;    // long polls held at once: browsers open 6 connections per host

// chatd.json errors as websocket.md documents them carry the framed
// protocol's number; chatd now sends the HTTP API's words ("nick_taken"),
// which is what the client uses everywhere. Both are understood.
const WS_CODES = {201: 'not_registered', 202: 'already_registered', 203: 'nick_invalid',
	204: 'nick_taken', 205: 'room_invalid', 206: 'text_invalid', 207: 'text_too_long',
	208: 'not_in_room', 209: 'already_in_room', 210: 'no_such_room', 211: 'no_such_user',
	212: 'too_many_rooms', 213: 'room_full', 214: 'room_limit'};
// The server's own message is often just the name it refused ("bob").
const SAY = {
	nick_taken: 'Nick taken: someone online already uses it. Pick another.',
	nick_invalid: 'Not a nick: use 1 to 32 letters, digits, _ or -, starting with a letter or _.',
	room_invalid: 'A room name is 1 to 64 letters, digits, _, . or -.',
	no_such_user: 'nobody online has that nick',
	not_in_room: 'you are not in that room',
	too_many_sessions: 'Too many sessions from your address; try again later.',
	server_full: 'The server is full; try again in a moment.',
};

class ChatError extends Error {
	constructor(code, message) { super(message || code.replace(/_/g, ' ')); this.code = code; }
}
const why = (e) => SAY[e.code] || e.message;
// After these a request may or may not have reached the server.
const UNSURE = new Set(['disconnected', 'network']);

const lc = (s) => s.toLowerCase(); // names compare ASCII case-insensitively
const same = (a, b) => lc(a) === lc(b);
const roomKey = (name) => '#' + lc(name);
const dmKey = (nick) => '@' + lc(nick);
const enc = encodeURIComponent;
const saved = {
	get(k) { try { return localStorage.getItem(k); } catch { return null; } },
	set(k, v) { try { localStorage.setItem(k, v); } catch { /* storage off: forget */ } },
};

/* ---------- transport: WebSocket, chatd.json ----------
 * Every transport has the same shape:
 *   open(nick) → {nick, limits}      register; rejects ChatError (code 'refused':
 *                                    the channel itself would not open)
 *   join(room, cursor) → {room, epoch, last_seq, names, partial, truncated, epoch_changed}
 *                                    the history arrives first, through hooks.event
 *   part(room), say(room, text) → {seq, cursor, time}, msg(nick, text) → {time},
 *   nick(new), rooms() → [{name, members}], who(room) → [nick], focus(), close(quit)
 * and reports through hooks: event(obj) for messages, directs and presence (the
 * JSON of http.md section 4), lost(why) once when it goes down after open,
 * overflow({dropped, rooms}), notice(text), priority() → room keys, most wanted first.
 */
function WsTransport(hooks) {
	let ws, me = '', socketOpen = false, dead = false, ref = 0, timer = 0, lastRx = 0, pingAt = 0;
	const acks = new Map();
	// chatd answers join, part, nick, who and rooms in order and without a
	// ref, so each kind waits in a queue of its own.
	const waiting = {hello: [], join: [], part: [], nick: [], who: [], rooms: []};

	const send = (o) => ws.send(JSON.stringify(o));
	const ask = (type, o) => new Promise((resolve, reject) => {
		waiting[type].push({resolve, reject, acc: [], room: o.room});
		send(Object.assign({type}, o));
	});
	const withRef = (type, o) => new Promise((resolve, reject) => {
		ref = (ref + 1) % 4294967296;
		acks.set(ref, {resolve, reject});
		send(Object.assign({type, ref}, o));
	});
	const take = (map, k) => { const w = map.get(k); map.delete(k); return w; };

	function down(reason) {
		if (dead) return;
		dead = true;
		clearInterval(timer);
		try { ws.close(1000); } catch { /* not open */ }
		const err = new ChatError(socketOpen ? 'disconnected' : 'refused', reason);
		for (const q of Object.values(waiting)) q.splice(0).forEach((w) => w.reject(err));
		acks.forEach((w) => w.reject(err));
		acks.clear();
		if (me) hooks.lost(reason);
	}

	// Browsers answer chatd's pings without telling us, so a dead network
	// is found by asking ourselves: a ping unanswered for 15 s.
	function liveness() {
		const now = Date.now();
		if (pingAt && lastRx < pingAt) {
			if (now - pingAt > 15000) down('the server stopped answering');
		} else if (now - lastRx > 20000) {
			pingAt = now;
			send({type: 'ping'});
		}
	}

	function receive(o) {
		let w, q;
		switch (o.type) {
		case 'welcome':
			me = o.nick;
			if ((w = waiting.hello.shift())) w.resolve({nick: o.nick, limits: o.limits});
			break;
		case 'joined':
			if (waiting.join[0]) waiting.join[0].joined = o;
			break;
		case 'history_end':
			if ((w = waiting.join.shift())) w.resolve(Object.assign({}, w.joined, o));
			break;
		case 'ack':
			if ((w = take(acks, o.ref))) w.resolve(o);
			break;
		case 'rooms': case 'names':
			if (!(w = (q = waiting[o.type === 'rooms' ? 'rooms' : 'who'])[0])) break;
			w.acc.push(...(o.rooms || o.names));
			if (o.last) q.shift().resolve(w.acc);
			break;
		case 'error': {
			const err = new ChatError(typeof o.code === 'string' ? o.code : WS_CODES[o.code] || 'error_' + o.code, o.message);
			if (o.ref != null && (w = take(acks, o.ref))) w.reject(err);
			else if (waiting[o.request] && (w = waiting[o.request].shift())) w.reject(err);
			else if (!me && (w = waiting.hello.shift())) w.reject(err); // refused at accept: server full
			else hooks.notice('Server error: ' + o.message);
			break; // a fatal one is followed by chatd's close
		}
		case 'bye': case 'pong': case 'users':
			break; // the close follows a bye; users is never asked
		case 'part':
			hooks.event(o);
			// The leaver's own part event is the answer to its part.
			if (same(o.nick, me) && (w = waiting.part.findIndex((p) => same(p.room, o.room))) >= 0)
				waiting.part.splice(w, 1)[0].resolve();
			break;
		case 'nick':
			if (same(o.nick, me)) { me = o.new_nick; if ((w = waiting.nick.shift())) w.resolve(); }
			hooks.event(o);
			break;
		default:
			hooks.event(o);
		}
	}

	return {
		open: (nick) => new Promise((resolve, reject) => {
			const guard = setTimeout(() => down('no answer in 10 s'), 10000);
			const done = (f) => (v) => { clearTimeout(guard); f(v); };
			waiting.hello.push({resolve: done(resolve), reject: done(reject)});
			try { ws = new WebSocket(WS_URL, 'chatd.json'); } catch (e) { return down(e.message); }
			ws.onopen = () => {
				if (ws.protocol !== 'chatd.json') return down('the server chose no chatd.json');
				socketOpen = true;
				lastRx = Date.now();
				timer = setInterval(liveness, 5000);
				send({type: 'hello', nick});
			};
			ws.onmessage = (e) => {
				lastRx = Date.now();
				let o;
				try { o = JSON.parse(e.data); } catch { return; }
				receive(o);
			};
			ws.onclose = (e) => down(e.reason || (socketOpen ? 'connection closed' : 'WebSocket refused'));
		}),
		join: (room, cursor) => ask('join', cursor ? {room, cursor} : {room}),
		part: (room) => ask('part', {room}),
		nick: (nick) => ask('nick', {nick}),
		who: (room) => ask('who', {room}),
		rooms: () => ask('rooms', {}),
		say: (room, text) => withRef('say', {room, text}),
		msg: (nick, text) => withRef('msg', {nick, text}),
		focus() {},
		close(quit) {
			if (quit && socketOpen && !dead) send({type: 'quit'});
			me = ''; // a close we asked for is not a loss
			down('closed');
		},
	};
}

/* ---------- transport: HTTP API, as 'sse' or 'poll' ---------- */

// Kept across transports, so that a blip resumes the same session and stream.
let session = null;  // {token, nick, limits}
let lastEventId = 0; // the highest event id read from the stream or the mailbox

function HttpTransport(hooks, mode) {
	const ctl = new AbortController();
	const loops = new Map(); // room key → its poll loop (mode 'poll')
	let dead = false, opened = false;

	async function api(method, path, body, timeoutMs, stop) {
		const headers = {};
		if (session) headers.Authorization = 'Bearer ' + session.token;
		if (body) headers['Content-Type'] = 'application/json';
		let signal = ctl.signal, res, data = null;
		if (timeoutMs && AbortSignal.any) signal = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs), stop || signal]);
		try {
			// Bearer, not the cookie: the cookie is one per site, so a second
			// tab signed in as someone else would replace it.
			res = await fetch(API + path, {method, headers, signal, body: body && JSON.stringify(body),
				credentials: 'omit', cache: 'no-store'});
		} catch {
			throw new ChatError('network', 'no answer from the server');
		}
		if (res.status === 204) return null;
		try { data = await res.json(); } catch { /* not JSON: keep the status */ }
		if (res.ok) return data;
		if (res.status === 401) session = null; // a restart or the session timeout ended it
		const e = (data && data.error) || {};
		throw new ChatError(e.code || 'http_' + res.status, e.message || 'HTTP ' + res.status);
	}

	function down(reason) {
		if (dead) return;
		dead = true;
		ctl.abort();
		loops.clear();
		if (opened) hooks.lost(reason);
	}

	// EventSource cannot send a bearer token, so the stream is read by hand.
	async function openStream() {
		const headers = {Authorization: 'Bearer ' + session.token};
		if (lastEventId) headers['Last-Event-ID'] = String(lastEventId);
		let res;
		try {
			res = await fetch(API + '/events', {headers, signal: ctl.signal, credentials: 'omit', cache: 'no-store'});
		} catch {
			throw new ChatError('network', 'no answer from the server');
		}
		if (res.status === 401) { session = null; throw new ChatError('unauthorized', 'the session ended'); }
		if (!res.ok || !res.body) throw new ChatError('refused', 'event stream: HTTP ' + res.status);
		readStream(res.body.getReader()).then(() => down('the event stream ended'), () => down('the event stream broke'));
	}

	async function readStream(reader) {
		const dec = new TextDecoder();
		let buf = '', quiet = 0, i;
		// chatd sends a comment every 15 s; silence past that is a dead network.
		const arm = () => { clearTimeout(quiet); quiet = setTimeout(() => down('the event stream went quiet'), 40000); };
		try {
			for (arm(); ;) {
				const {value, done} = await reader.read();
				if (done || dead) return;
				arm();
				buf += dec.decode(value, {stream: true});
				for (; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) dispatch(buf.slice(0, i));
			}
		} finally {
			clearTimeout(quiet);
		}
	}

	function dispatch(block) {
		let event = 'message', data = '';
		for (const line of block.split('\n')) {
			const [, field, value] = line.match(/^([^:]*):? ?(.*)$/);
			if (field === 'event') event = value;
			else if (field === 'data') data += (data ? '\n' : '') + value;
			else if (field === 'id') lastEventId = Math.max(lastEventId, Number(value) || 0);
		}
		if (!data) return; // a comment, or nothing
		const o = JSON.parse(data);
		if (event === 'overflow') hooks.overflow(o);
		else if (event === 'bye') down('server ' + o.reason);
		else hooks.event(o);
	}

	// Direct messages and presence come from the mailbox.
	async function pollMailbox() {
		while (!dead) {
			const r = await api('GET', `/me/events?after=${lastEventId}&wait=25`, null, 35000);
			if (r.dropped) hooks.overflow({dropped: r.dropped, rooms: []});
			r.events.forEach(hooks.event);
			lastEventId = Math.max(lastEventId, r.next);
		}
	}

	// Room messages are not in the mailbox: one loop per room. Only the
	// rooms wanted most hold a long poll; the others look every 5 s.
	const hotRooms = () => hooks.priority().slice(0, HOT_ROOMS);
	function pollRoom(name, cursor) {
		const key = roomKey(name), loop = {wake: null, hot: false, stop: null};
		loops.set(key, loop);
		(async () => {
			while (!dead && loops.get(key) === loop) {
				const hot = loop.hot = hotRooms().includes(key), stop = loop.stop = new AbortController();
				let r;
				try {
					r = await api('GET', `/rooms/${enc(name)}/messages?after=${cursor}${hot ? '&wait=25' : ''}`, null, 35000, stop.signal);
				} catch (e) {
					if (stop.signal.aborted && !dead) continue; // cooled down: focus() freed its connection
					throw e;
				}
				if (loops.get(key) !== loop) return;
				r.messages.forEach(hooks.event);
				if (r.truncated) hooks.overflow({dropped: 0, rooms: [r.room]});
				cursor = r.next;
				if (!hot) await new Promise((wake) => { loop.wake = wake; setTimeout(wake, 5000); });
			}
		})().catch((e) => {
			if (e.code === 'not_in_room' || e.code === 'no_such_room') loops.delete(key);
			else down(e.message);
		});
	}

	async function pages(path, field) {
		const out = [];
		let after = null;
		do {
			const r = await api('GET', path + (after == null ? '' : '&after=' + enc(after)));
			out.push(...r[field]);
			after = r.next;
		} while (after != null && out.length < 10000);
		return out;
	}

	const t = {
		async open(nick) {
			try {
				if (session && same(session.nick, nick))
					await api('GET', '/me').catch((e) => { if (e.code !== 'unauthorized') throw e; });
				if (!session || !same(session.nick, nick)) {
					const s = await api('POST', '/session', {nick});
					session = {token: s.token, nick: s.nick, limits: s.limits};
					lastEventId = 0; // a new mailbox holds only what came after it was made
				}
				if (mode === 'sse') await openStream();
				else pollMailbox().catch((e) => down(e.message));
				opened = true;
				return {nick: session.nick, limits: session.limits};
			} catch (e) {
				down(e.message);
				throw e;
			}
		},
		async join(room, cursor) {
			try {
				room = (await api('POST', `/rooms/${enc(room)}/join`)).room;
			} catch (e) {
				if (e.code !== 'already_in_room') throw e; // a resumed session still is a member
			}
			const r = await api('GET', `/rooms/${enc(room)}/messages${cursor ? '?after=' + cursor : ''}`);
			r.messages.forEach((m) => hooks.event(Object.assign(m, {history: true})));
			const [epoch, last] = r.next.split('-').map(Number);
			const names = await t.who(r.room);
			if (mode === 'poll' && !dead) { pollRoom(r.room, r.next); t.focus(); }
			return {room: r.room, epoch, last_seq: last, names, truncated: r.truncated, epoch_changed: r.epoch_changed};
		},
		async part(room) {
			loops.delete(roomKey(room));
			await api('POST', `/rooms/${enc(room)}/leave`);
		},
		say: (room, text) => api('POST', `/rooms/${enc(room)}/messages`, {text}),
		msg: (nick, text) => api('POST', `/users/${enc(nick)}/messages`, {text}),
		nick: async () => { throw new ChatError('unsupported', 'the HTTP API cannot change a nick; sign in again with the new one'); },
		who: (room) => pages(`/rooms/${enc(room)}/members?limit=1000`, 'members'),
		rooms: () => pages('/rooms?limit=1000', 'rooms'),
		// A room that cools down lets go of its long poll: a held poll is a
		// held connection, and the POSTs need some of the six.
		focus() {
			const hot = hotRooms();
			loops.forEach((l, key) => (hot.includes(key) ? l.wake && l.wake() : l.hot && l.stop.abort()));
		},
		close(quit) {
			opened = false;
			down('closed');
			if (quit && session) {
				fetch(API + '/session', {method: 'DELETE', keepalive: true, credentials: 'omit',
					headers: {Authorization: 'Bearer ' + session.token}}).catch(() => {});
				session = null;
			}
		},
	};
	return t;
}

/* ---------- state ---------- */

const state = {
	nick: saved.get('chatd.nick') || '',
	registered: false,       // signed in once: failures from now on mean reconnect
	limits: {max_text: 4096},
	convs: new Map(),        // '#room' or '@nick' → conversation
	active: null,            // key of the conversation in view
	listing: [],             // the last rooms listing
	partLater: new Set(),    // rooms left while disconnected
};
const seenIds = new Set();   // event ids of directs and presence: a resumed stream repeats some

function conv(key, kind, name) {
	if (!state.convs.has(key))
		state.convs.set(key, {key, kind, name, items: [], seen: new Set(), epoch: 0, lastSeq: 0,
			joined: false, loaded: kind === 'dm', unread: 0, members: new Map()});
	return state.convs.get(key);
}
const activeConv = () => state.convs.get(state.active) || null;
const roomConv = (name) => { const c = name && state.convs.get(roomKey(name)); return c && c.kind === 'room' ? c : null; };
const joinedRooms = () => [...state.convs.values()].filter((c) => c.kind === 'room' && c.joined);
const inView = (c) => c.key === state.active && !document.hidden;
const saveRooms = () => saved.set('chatd.rooms', JSON.stringify(joinedRooms().map((c) => c.name)));

// Keeps the messages of an epoch in seq order, whatever order the
// history and the live stream arrive in.
function addItem(c, it) {
	let i = c.items.length;
	if (it.seq) while (i > 0 && c.items[i - 1].epoch === it.epoch && c.items[i - 1].seq > it.seq) i--;
	c.items.splice(i, 0, it);
	const cut = c.items.length - MAX_ITEMS;
	if (cut > 0) c.items.splice(0, cut);
	if (c.key !== state.active) return;
	if (i === c.items.length - 1 && cut <= 0) appendLine(c, it);
	else renderMessages();
}
const notice = (c, text) => (c ? addItem(c, {kind: 'notice', text, time: Date.now()}) : showJoinError(text));
const RESTARTED = 'The room started over (the server restarted, or the room emptied and expired); the lines above are from before.';

function setMembers(c, names) {
	c.members = new Map(names.map((n) => [lc(n), n]));
	if (c.key === state.active) renderMembers();
}
async function refreshMembers(c) {
	try { setMembers(c, await link.t.who(c.name)); } catch { /* the next presence event or join fixes it */ }
}

// The same message can come twice over HTTP (the POST's answer and the
// stream), in either order: the first one that knows its seq wins.
function adopt(c, m) {
	const it = c.items.find((x) => x.mine && (x.pending || UNSURE.has(x.failedCode)) && x.text === m.text);
	if (it) settle(c, it, m);
	return !!it;
}
function settle(c, it, a) {
	Object.assign(it, {pending: false, failed: '', failedCode: '', time: a.time, id: a.id || it.id});
	if (a.seq) {
		it.epoch = a.epoch || Number(a.cursor.split('-')[0]);
		it.seq = a.seq;
		c.seen.add(it.epoch + '-' + it.seq);
		if (it.epoch === c.epoch) c.lastSeq = Math.max(c.lastSeq, it.seq);
	}
	repaint(c, it);
}
function settleFailed(c, it, e) {
	if (!it.pending) return;
	Object.assign(it, {pending: false, failed: why(e), failedCode: e.code});
	repaint(c, it);
}

function onEvent(ev) {
	if (ev.type !== 'message' && ev.id != null) {
		if (seenIds.has(ev.id)) return;
		seenIds.add(ev.id);
		if (seenIds.size > 5000) seenIds.delete(seenIds.values().next().value);
	}
	if (ev.type === 'message') onRoomMessage(ev);
	else if (ev.type === 'direct') onDirect(ev);
	else if (ev.type === 'nick') onNick(ev);
	else if (ev.type === 'summary') onSummary(ev);
	else if (['join', 'part', 'quit', 'drop'].includes(ev.type)) onPresence(ev);
}

function onRoomMessage(m) {
	const c = roomConv(m.room), key = m.epoch + '-' + m.seq;
	if (!c || c.seen.has(key)) return;
	c.seen.add(key);
	if (c.seen.size > 20000) c.seen.delete(c.seen.values().next().value); // beyond any replay
	if (c.epoch && m.epoch !== c.epoch) {
		notice(c, RESTARTED);
		c.lastSeq = 0;
	}
	c.epoch = m.epoch;
	c.lastSeq = Math.max(c.lastSeq, m.seq);
	const mine = same(m.from, state.nick);
	if (mine && adopt(c, m)) return;
	addItem(c, {kind: 'msg', from: m.from, text: m.text, time: m.time, epoch: m.epoch, seq: m.seq, id: m.id, mine});
	if (!mine && c.loaded && !inView(c)) bumpUnread(c);
}

function onDirect(m) {
	const c = conv(dmKey(m.from), 'dm', m.from);
	if (same(m.from, state.nick) && adopt(c, m)) return; // a message to oneself
	addItem(c, {kind: 'msg', from: m.from, text: m.text, time: m.time, id: m.id, dm: true});
	if (!inView(c)) bumpUnread(c);
	renderDms();
}

const REASONS = {closed: 'connection closed', reset: 'connection reset', timeout: 'session timed out'};
function presenceText(e) {
	const what = {join: 'joined', part: 'left', quit: 'quit', drop: `was dropped (${REASONS[e.reason] || e.reason})`};
	return e.type === 'nick' ? `${e.nick} is now known as ${e.new_nick}` : e.nick + ' ' + (what[e.type] || e.type);
}

function onPresence(e) {
	const c = roomConv(e.room);
	if (!c || same(e.nick, state.nick)) return; // our own come back as answers
	if (e.type === 'join') c.members.set(lc(e.nick), e.nick);
	else c.members.delete(lc(e.nick));
	addItem(c, {kind: 'presence', ptype: e.type, text: presenceText(e), time: e.time});
	if (c.key === state.active) renderMembers();
	soonRefreshRooms();
}

// A nick event names no room: it applies wherever the nick is a member.
function onNick(e) {
	const old = e.nick, nu = e.new_nick, mine = same(old, state.nick);
	if (mine) {
		state.nick = nu;
		saved.set('chatd.nick', nu);
	}
	const line = {kind: 'presence', ptype: 'nick', time: e.time, text: mine ? 'You are now known as ' + nu : presenceText(e)};
	for (const c of state.convs.values()) {
		if (c.kind !== 'room' || !c.members.has(lc(old))) continue;
		c.members = new Map([...c.members].map(([k, v]) => (k === lc(old) ? [lc(nu), nu] : [k, v])));
		addItem(c, Object.assign({}, line));
	}
	const d = state.convs.get(dmKey(old));
	if (d && !mine && !state.convs.has(dmKey(nu))) { // the conversation follows its person
		state.convs.delete(d.key);
		if (state.active === d.key) state.active = dmKey(nu);
		Object.assign(d, {key: dmKey(nu), name: nu});
		state.convs.set(d.key, d);
		addItem(d, line);
	}
	renderAll();
}

function onSummary(e) {
	const c = roomConv(e.room);
	if (!c) return;
	for (const x of e.events) {
		if (x.type === 'join') c.members.set(lc(x.nick), x.nick);
		else if (x.type === 'nick' && c.members.delete(lc(x.nick))) c.members.set(lc(x.new_nick), x.new_nick);
		else if (x.type !== 'nick') c.members.delete(lc(x.nick));
	}
	const named = e.events.slice(0, 5).map(presenceText).join(', ');
	addItem(c, {kind: 'presence', ptype: 'summary', time: e.time,
		text: `${e.joins} joined, ${e.leaves} left` + (named ? ': ' + named + (e.events.length > 5 || e.omitted ? ', …' : '') : '')});
	if (e.omitted || c.members.size !== e.members) refreshMembers(c);
	if (c.key === state.active) renderMembers();
	soonRefreshRooms();
}

function onOverflow(o) {
	for (const name of o.rooms || []) {
		const c = roomConv(name);
		if (c) notice(c, 'Some messages were missed: the server no longer holds them.');
	}
	if (o.dropped) notice(activeConv(), `${o.dropped} direct messages or presence events were lost while you were away.`);
}

function bumpUnread(c) {
	c.unread++;
	renderUnread();
}

/* ---------- the link: connect, fall back, back off, resume ---------- */

const link = {t: null, up: false, attempt: 0, timer: 0};
let level = FORCED ? LEVELS.indexOf(FORCED) : 0;

function connect() {
	clearTimeout(link.timer);
	if (link.t) link.t.close(false);
	let t = null;
	const live = (f) => (...a) => { if (link.t === t) return f(...a); };
	const hooks = {
		event: live(onEvent), lost: live(lost), overflow: live(onOverflow),
		notice: live((text) => notice(activeConv(), text)),
		priority: () => joinedRooms().map((c) => c.key).sort((a, b) => (b === state.active) - (a === state.active)),
	};
	t = link.t = LEVELS[level] === 'ws' ? WsTransport(hooks) : HttpTransport(hooks, LEVELS[level]);
	link.up = false;
	if (!state.registered) setStatus('connecting');
	t.open(state.nick).then((info) => link.t === t && up(t, info), (e) => link.t === t && openFailed(t, e));
}

// The server answers but the channel will not open: try the next transport.
const reachable = () => fetch(ORIGIN + '/healthz', {mode: 'no-cors', cache: 'no-store', credentials: 'omit'})
	.then(() => true, () => false);

async function openFailed(t, e) {
	t.close(false);
	if (e.code === 'refused' && !FORCED && level < LEVELS.length - 1 && (await reachable())) {
		if (link.t === t) { level++; connect(); }
		return;
	}
	if (link.t !== t) return;
	if (!state.registered) {
		link.t = null;
		return loginFailed(e);
	}
	// chatd frees a nick when it notices the old connection is gone, which
	// after a silent network failure takes its ping timeout.
	retryLater(e.code === 'nick_taken' ? 'the server still holds your nick for the old connection' : e.message);
}

function retryLater(reason) {
	link.up = false;
	const cap = Math.min(10000, 500 * 2 ** link.attempt++);
	// Jitter, so that a restarted server is not hit by everyone at once.
	link.timer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
	setStatus('disconnected', reason);
}

function lost(reason) {
	for (const c of state.convs.values())
		for (const it of c.items) if (it.pending) settleFailed(c, it, new ChatError('disconnected'));
	retryLater(reason);
}

function up(t, info) {
	Object.assign(link, {up: true, attempt: 0});
	state.nick = info.nick;
	if (info.limits) state.limits = info.limits;
	saved.set('chatd.nick', state.nick);
	setStatus('connected');
	if (!state.registered) {
		state.registered = true;
		let rooms = [];
		try { rooms = JSON.parse(saved.get('chatd.rooms') || '[]'); } catch { /* start with none */ }
		// Joined below with the others; enterRoom would join them twice.
		for (const n of rooms) if (typeof n === 'string' && ROOM_RE.test(n)) conv(roomKey(n), 'room', n).joined = true;
		if (joinedRooms().length) state.active = joinedRooms()[0].key;
		showChat();
	}
	state.partLater.forEach((name) => t.part(name).catch(() => {}));
	state.partLater.clear();
	joinedRooms().forEach(syncRoom);
	refreshRooms();
	renderAll();
}

// Joins c, or rejoins it from its cursor after a reconnect: chatd then
// replays exactly what was missed (or says it cannot: truncated, epoch_changed).
async function syncRoom(c) {
	const t = link.t, before = c.epoch;
	try {
		const j = await t.join(c.name, before ? before + '-' + c.lastSeq : null);
		if (t !== link.t || !c.joined) return;
		if (before && j.epoch !== before && c.epoch === before) notice(c, RESTARTED);
		else if (before && j.truncated && !j.epoch_changed) notice(c, 'Some messages were missed: the room’s history no longer holds them.');
		if (c.epoch !== j.epoch) c.lastSeq = 0;
		Object.assign(c, {epoch: j.epoch, lastSeq: Math.max(c.lastSeq, j.last_seq), name: j.room, loaded: true});
		setMembers(c, j.names || []);
		if (j.partial) refreshMembers(c);
		saveRooms();
		soonRefreshRooms();
		renderAll();
	} catch (e) {
		if (t !== link.t || UNSURE.has(e.code) || !c.joined) return; // resumed on the next connect
		if (!c.loaded) {
			removeConv(c);
			showJoinError(`Cannot join ${c.name}: ${why(e)}`);
		} else {
			c.joined = false;
			notice(c, 'Could not rejoin: ' + why(e));
			renderAll();
		}
	}
}

/* ---------- actions ---------- */

function enterRoom(name, focus = true) {
	name = name.trim().replace(/^#/, '');
	if (!ROOM_RE.test(name)) return showJoinError(SAY.room_invalid);
	showJoinError('');
	const c = conv(roomKey(name), 'room', name);
	if (focus) activate(c.key);
	if (c.joined) return;
	c.joined = true;
	state.partLater.delete(c.name);
	if (link.up) syncRoom(c);
	renderAll();
}

function openDm(nick) {
	const c = conv(dmKey(nick), 'dm', nick);
	activate(c.key);
	return c;
}

function leave(c) {
	removeConv(c);
	if (c.kind !== 'room' || !c.joined) return;
	c.joined = false;
	saveRooms();
	if (link.up) link.t.part(c.name).then(soonRefreshRooms, () => {});
	else state.partLater.add(c.name);
}

function removeConv(c) {
	state.convs.delete(c.key);
	if (state.active === c.key) {
		state.active = null;
		const next = joinedRooms()[0] || [...state.convs.values()][0];
		if (next) activate(next.key);
	}
	renderAll();
}

function activate(key) {
	state.active = key;
	const c = activeConv();
	if (c) c.unread = 0;
	closePanels();
	if (link.t) link.t.focus();
	renderAll();
	$('#input').focus();
}

function send(c, text) {
	const bytes = new TextEncoder().encode(text).length;
	let refuse = '';
	if (!link.up) refuse = 'Not connected: nothing was sent. Press Enter again once reconnected.';
	else if (c.kind === 'room' && !c.loaded) refuse = 'Still joining this room; try again in a moment.';
	else if (bytes > state.limits.max_text) refuse = `Too long: ${bytes} bytes, the limit is ${state.limits.max_text}.`;
	if (refuse) return notice(c, refuse), false;
	const it = {kind: 'msg', from: state.nick, text, time: Date.now(), mine: true, pending: true, dm: c.kind === 'dm'};
	addItem(c, it);
	(c.kind === 'room' ? link.t.say(c.name, text) : link.t.msg(c.name, text))
		.then((a) => settle(c, it, a), (e) => settleFailed(c, it, e));
	return true;
}

const HELP = 'Commands: /join ROOM, /part [ROOM], /msg NICK TEXT, /nick NEW, /me ACTION, /who, /help. ' +
	'Enter sends, Shift+Enter starts a new line, Alt+↑/↓ switches conversations; start with // to send a line beginning with /.';

// Returns whether the line was used (the input is then cleared).
function command(line) {
	const [, cmd, rest] = line.match(/^\/(\S*)\s*([\s\S]*)$/), arg = rest.trim(), c = activeConv();
	const m = rest.match(/^(\S+)(?:\s+([\s\S]+))?$/);
	switch (lc(cmd)) {
	case 'join': case 'j':
		if (arg) return enterRoom(arg), true;
		break;
	case 'part': case 'leave': {
		const r = arg ? state.convs.get(roomKey(arg.replace(/^#/, ''))) : c;
		if (r) leave(r); else notice(c, 'You are not in ' + arg);
		return true;
	}
	case 'msg': case 'query':
		if (!m || !NICK_RE.test(m[1])) break;
		return m[2] ? send(openDm(m[1]), m[2]) : (openDm(m[1]), true);
	case 'nick':
		if (!NICK_RE.test(arg)) break;
		if (!link.up) return notice(c, 'Not connected.'), false;
		link.t.nick(arg).catch((e) => notice(activeConv(), SAY[e.code] || 'Nick not changed: ' + e.message));
		return true;
	case 'who':
		if (c && c.kind === 'room') notice(c, `${c.members.size} here: ` + [...c.members.values()].join(', '));
		return true;
	case 'help':
		return notice(c, HELP), true;
	}
	notice(c, `Not understood: ${line.split('\n')[0]} — ${HELP}`);
	return false;
}

function submit() {
	const input = $('#input'), text = input.value, c = activeConv();
	if (!text.trim()) return;
	let used;
	if (/^\/(?!\/|me\s)/.test(text)) used = command(text);
	else if (c) used = send(c, text.startsWith('//') ? text.slice(1) : text);
	else showJoinError('Join a room first.');
	if (used) input.value = '';
	input.focus();
}

let roomsTimer = 0, roomsBusy = false;
async function refreshRooms() {
	clearTimeout(roomsTimer);
	roomsTimer = setTimeout(refreshRooms, 5000);
	if (!link.up || roomsBusy) return;
	roomsBusy = true;
	const t = link.t;
	try {
		const list = await t.rooms();
		if (t === link.t) { state.listing = list; renderRooms(); }
	} catch { /* the next round */ } finally {
		roomsBusy = false;
	}
}
function soonRefreshRooms() {
	clearTimeout(roomsTimer);
	roomsTimer = setTimeout(refreshRooms, 400);
}

/* ---------- rendering ---------- */

const $ = (sel) => document.querySelector(sel);
function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls) e.className = cls;
	if (text != null) e.textContent = text; // other people's text is only ever text
	return e;
}

const HHMM = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit'});
const DAY = new Intl.DateTimeFormat(undefined, {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'});
const FULL = new Intl.DateTimeFormat(undefined, {dateStyle: 'full', timeStyle: 'medium'});
function timeNode(ms) {
	const d = new Date(ms);
	const t = el('time', 'time', (d.toDateString() === new Date().toDateString() ? HHMM : DAY).format(d));
	t.dateTime = d.toISOString();
	t.title = FULL.format(d);
	return t;
}

// Links are made from text: the href is only ever an http(s) URL.
function textNode(s) {
	const span = el('span', 'text');
	let at = 0;
	for (const m of s.matchAll(/\bhttps?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'"]/g)) {
		const a = el('a', null, m[0]);
		Object.assign(a, {href: m[0], rel: 'noopener noreferrer nofollow', target: '_blank'});
		span.append(s.slice(at, m.index), a);
		at = m.index + m[0].length;
	}
	span.append(s.slice(at));
	return span;
}

function hue(nick) {
	let h = 0;
	for (const ch of lc(nick)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
	return 'nick-c' + (h % 6);
}

function lineNode(c, it) {
	let li;
	if (it.kind !== 'msg') {
		li = el('li', it.kind);
		if (it.ptype) li.dataset.kind = it.ptype;
		li.append(timeNode(it.time), ' ', el('span', 'text', it.text));
		return (it.el = li);
	}
	// By convention (protocol.md 9.3) a room line "/me waves" is an action.
	const action = !it.dm && /^\/me\s\S/.test(it.text);
	li = el('li', 'msg');
	for (const [cls, on] of [['mine', it.mine], ['pending', it.pending], ['failed', it.failed], ['action', action]])
		li.classList.toggle(cls, !!on);
	li.dataset.from = it.from;
	if (c.kind === 'dm') li.dataset.peer = c.name;
	else Object.assign(li.dataset, it.seq ? {room: c.name, epoch: it.epoch, seq: it.seq} : {room: c.name});
	if (it.id) li.dataset.id = it.id;
	li.append(timeNode(it.time), ' ', el('span', 'from ' + hue(it.from), action ? '* ' + it.from : it.from), ' ',
		textNode(action ? it.text.replace(/^\/me\s/, '') : it.text));
	if (it.pending || it.failed) li.append(el('span', 'state', it.pending ? 'sending…' : 'not sent: ' + it.failed));
	return (it.el = li);
}

// An acked line changes in place: the same element, for screen readers
// (no second announcement) and for tests that hold it.
function repaint(c, it) {
	const li = it.el;
	if (!li || !li.isConnected) return;
	const fresh = lineNode(c, it);
	li.className = fresh.className;
	Object.assign(li.dataset, fresh.dataset);
	li.querySelector('.time').replaceWith(fresh.querySelector('.time'));
	li.querySelectorAll('.state').forEach((x) => x.remove());
	li.append(...fresh.querySelectorAll('.state'));
	it.el = li;
}

const box = () => $('#messages');
const nearBottom = (b) => b.scrollHeight - b.scrollTop - b.clientHeight < 60;

function placeholder(c) {
	const b = box(), old = b.querySelector('.empty, .loading, .hint');
	const want = !c ? 'hint' : c.items.some((i) => i.kind === 'msg') ? null : c.loaded ? 'empty' : 'loading';
	if (old && old.className === want) return;
	if (old) old.remove();
	if (want) b.prepend(el('li', want, {hint: 'Pick a room, or join one by name.', empty: 'Empty', loading: 'Loading…'}[want]));
}

function appendLine(c, it) {
	const b = box(), stick = nearBottom(b) || it.mine;
	b.append(lineNode(c, it));
	placeholder(c);
	if (stick) b.scrollTop = b.scrollHeight;
}

function renderMessages() {
	const b = box(), c = activeConv(), key = c ? c.key : '';
	const stick = b.dataset.conv !== key || nearBottom(b), top = b.scrollTop;
	b.dataset.conv = key;
	b.replaceChildren(...(c ? c.items.map((it) => lineNode(c, it)) : []));
	placeholder(c);
	b.scrollTop = stick ? b.scrollHeight : top; // a reader scrolled up stays where they were
}

// Updates ul to one li per item, reusing each key's li, so that focus
// stays where it was when a list refreshes under the keyboard.
function syncList(ul, items, keyOf, make, update) {
	const old = new Map([...ul.children].map((li) => [li.dataset.key, li]));
	const had = ul.contains(document.activeElement) ? document.activeElement.closest('li').dataset.key : null;
	let prev = null;
	for (const it of items) {
		const k = keyOf(it);
		let li = old.get(k);
		if (li) old.delete(k);
		else (li = make(it)).dataset.key = k;
		update(li, it);
		const want = prev ? prev.nextSibling : ul.firstChild;
		if (want !== li) ul.insertBefore(li, want);
		prev = li;
	}
	old.forEach((li) => li.remove());
	const back = had && !ul.contains(document.activeElement) && [...ul.children].find((x) => x.dataset.key === had);
	if (back) back.querySelector('button').focus();
}

// A room or conversation entry: li > button > .name .count .unread
function entry() {
	const li = el('li'), b = el('button');
	b.type = 'button';
	b.append(el('span', 'name'), el('span', 'count'), el('span', 'unread'));
	li.append(b);
	return li;
}
function fillEntry(li, name, count, unread, active, label) {
	const b = li.firstChild, [n, k, u] = b.children;
	n.textContent = name;
	k.textContent = count == null ? '' : count;
	k.hidden = count == null;
	u.textContent = unread || '';
	u.hidden = !unread;
	li.classList.toggle('active', active);
	if (active) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
	b.setAttribute('aria-label', label + (unread ? `, ${unread} unread` : '') + (active ? ', in view' : ''));
}

function renderRooms() {
	const rows = new Map(state.listing.map((r) => [roomKey(r.name), r]));
	for (const c of state.convs.values())
		if (c.kind === 'room') rows.set(c.key, {name: c.name, members: c.loaded ? c.members.size : (rows.get(c.key) || {}).members});
	const list = [...rows.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
	syncList($('#room-list'), list, (r) => r[0], entry, (li, [key, r]) => {
		const c = state.convs.get(key), joined = !!(c && c.joined);
		li.dataset.room = r.name;
		li.classList.toggle('joined', joined);
		fillEntry(li, r.name, r.members, c ? c.unread : 0, key === state.active,
			`${r.name}, ${r.members == null ? '?' : r.members} members, ${joined ? 'joined' : 'not joined'}`);
	});
}

function renderDms() {
	const dms = [...state.convs.values()].filter((c) => c.kind === 'dm').sort((a, b) => (a.key < b.key ? -1 : 1));
	syncList($('#dm-list'), dms, (c) => c.key, entry, (li, c) => {
		li.dataset.nick = c.name;
		fillEntry(li, c.name, null, c.unread, c.key === state.active, 'Direct messages with ' + c.name);
	});
}

function renderMembers() {
	const c = activeConv(), room = c && c.kind === 'room';
	const names = room ? [...c.members.values()].sort((a, b) => (lc(a) < lc(b) ? -1 : 1)) : [];
	$('#members-heading').textContent = room ? `Members (${names.length})` : 'Members';
	syncList($('#members'), names, (n) => (same(n, state.nick) ? 'self:' : '') + lc(n), (n) => {
		const li = el('li', same(n, state.nick) ? 'self' : null);
		const x = li.className ? el('span', 'member') : el('button', 'member');
		if (!li.className) x.type = 'button';
		li.append(x);
		return li;
	}, (li, n) => {
		li.dataset.nick = n;
		li.firstChild.textContent = li.className ? n + ' (you)' : n;
		li.firstChild.title = li.className ? '' : 'Send a direct message to ' + n;
	});
}

function renderUnread() {
	let total = 0, elsewhere = 0;
	for (const c of state.convs.values()) {
		total += c.unread;
		if (c.key !== state.active) elsewhere += c.unread;
	}
	const c = activeConv(), badge = $('#rooms-toggle .unread');
	document.title = (total ? `(${total}) ` : '') + (c ? c.name + ' · ' : '') + 'chatd';
	badge.textContent = elsewhere || '';
	badge.hidden = !elsewhere;
	renderRooms();
	renderDms();
}

function renderAll() {
	const c = activeConv(), room = !!c && c.kind === 'room', leaveBtn = $('#leave-btn');
	$('#me').textContent = state.nick;
	$('#me').hidden = !state.registered;
	$('#conv-title').textContent = !c ? 'No conversation' : room ? '#' + c.name : 'Direct: ' + c.name;
	leaveBtn.hidden = !c;
	leaveBtn.textContent = room ? 'Leave' : 'Close';
	leaveBtn.setAttribute('aria-label', !c ? 'Leave' : room ? 'Leave room ' + c.name : 'Close the conversation with ' + c.name);
	$('#input').placeholder = !c ? 'Join a room first (/join NAME)' : room ? `Message #${c.name}` : 'Message ' + c.name;
	$('#chat').classList.toggle('no-members', !room);
	$('#members-toggle').hidden = !room;
	if (box().dataset.conv !== (c ? c.key : '')) renderMessages(); // lines come one by one otherwise
	else placeholder(c);
	renderMembers();
	renderUnread();
}

function setStatus(s, reason) {
	const bar = $('#status'), tr = $('#transport');
	bar.dataset.state = s;
	bar.hidden = s === 'connected' || s === 'idle';
	$('#status-text').textContent = s === 'disconnected' ? 'Disconnected — reconnecting…' + (reason ? ` (${reason})` : '') : 'Connecting…';
	$('#retry-btn').hidden = s !== 'disconnected';
	tr.dataset.transport = s === 'connected' ? LEVELS[level] : '';
	tr.textContent = s === 'connected' ? 'connected via ' + LABELS[LEVELS[level]] : 'not connected';
}

function showJoinError(text) {
	$('#join-error').textContent = text;
	$('#join-input').setAttribute('aria-invalid', text ? 'true' : 'false');
}

function loginFailed(e) {
	const unreachable = UNSURE.has(e.code) || e.code === 'refused';
	$('#nick-error').textContent = SAY[e.code] || (unreachable ? `Cannot reach chatd at ${HOST} (${e.message}).` : e.message);
	$('#nick-input').setAttribute('aria-invalid', 'true');
	$('#nick-submit').disabled = false;
	$('#nick-input').focus();
	setStatus('idle');
}

function showView(chat) {
	$('#login').hidden = chat;
	for (const id of ['#chat', '#quit-btn', '#rooms-toggle', '#me']) $(id).hidden = !chat;
}

function showChat() {
	showView(true);
	renderAll();
	if (state.convs.size) return $('#input').focus();
	// Nothing to read yet: on a phone, open the panel where rooms are joined.
	togglePanel('show-rooms', true);
	$('#join-input').focus();
}

function signOut() {
	if (link.t) link.t.close(true);
	clearTimeout(link.timer);
	clearTimeout(roomsTimer);
	Object.assign(link, {t: null, up: false, attempt: 0});
	Object.assign(state, {registered: false, active: null, listing: []});
	state.convs.clear();
	box().replaceChildren();
	delete box().dataset.conv;
	setStatus('idle');
	showView(false);
	$('#members-toggle').hidden = true;
	$('#nick-submit').disabled = false;
	$('#nick-input').focus();
}

/* ---------- input ---------- */

function togglePanel(cls, on) {
	const body = document.body.classList;
	on = body.toggle(cls, on);
	body.remove(cls === 'show-rooms' ? 'show-members' : 'show-rooms');
	$('#rooms-toggle').setAttribute('aria-expanded', body.contains('show-rooms'));
	$('#members-toggle').setAttribute('aria-expanded', body.contains('show-members'));
	return on;
}
const closePanels = () => { togglePanel('show-rooms', false); togglePanel('show-members', false); };

function wire() {
	const on = (sel, type, f) => $(sel).addEventListener(type, f);
	const form = (sel, f) => on(sel, 'submit', (e) => { e.preventDefault(); f(); });
	$('#server').textContent = 'chatd at ' + HOST;
	$('#nick-input').value = state.nick;
	form('#nick-form', () => {
		const nick = $('#nick-input').value.trim();
		if (!NICK_RE.test(nick)) return loginFailed(new ChatError('nick_invalid'));
		$('#nick-error').textContent = '';
		$('#nick-input').removeAttribute('aria-invalid');
		$('#nick-submit').disabled = true;
		state.nick = nick;
		if (!FORCED) level = 0;
		connect();
	});
	form('#join-form', () => {
		const name = $('#join-input').value;
		enterRoom(name);
		if (ROOM_RE.test(name.trim().replace(/^#/, ''))) $('#join-input').value = '';
	});
	form('#send-form', submit);
	on('#input', 'keydown', (e) => {
		if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
	});
	on('#room-list', 'click', (e) => { const li = e.target.closest('li[data-room]'); if (li) enterRoom(li.dataset.room); });
	on('#dm-list', 'click', (e) => { const li = e.target.closest('li[data-nick]'); if (li) activate(dmKey(li.dataset.nick)); });
	on('#members', 'click', (e) => { const b = e.target.closest('button.member'); if (b) openDm(b.parentNode.dataset.nick); });
	on('#leave-btn', 'click', () => { const c = activeConv(); if (c) leave(c); $('#input').focus(); });
	on('#quit-btn', 'click', signOut);
	on('#retry-btn', 'click', () => { link.attempt = 0; connect(); });
	for (const [id, cls, panel] of [['#rooms-toggle', 'show-rooms', '#sidebar'], ['#members-toggle', 'show-members', '#member-panel']])
		on(id, 'click', () => { if (togglePanel(cls)) ($(panel + ' button') || $(id)).focus(); });
	on('#skip-link', 'click', (e) => { e.preventDefault(); $(state.registered ? '#input' : '#nick-input').focus(); });
	document.addEventListener('keydown', (e) => {
		const keys = [...state.convs.keys()], step = {ArrowUp: -1, ArrowDown: 1}[e.key];
		if (e.key === 'Escape' && /show-/.test(document.body.className)) {
			closePanels();
			$('#input').focus();
		} else if (e.altKey && step && state.registered && keys.length) {
			e.preventDefault();
			activate(keys[(keys.indexOf(state.active) + step + keys.length) % keys.length]);
		} else if (state.registered && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey &&
		           [document.body, box()].includes(document.activeElement)) {
			$('#input').focus(); // typing anywhere types into the input
		}
	});
	document.addEventListener('visibilitychange', () => {
		const c = activeConv();
		if (!document.hidden && c && c.unread) { c.unread = 0; renderUnread(); }
	});
	window.addEventListener('online', () => { if (state.registered && !link.up) connect(); });
	window.addEventListener('pagehide', () => { if (link.t) link.t.close(true); });
	// Back from the back-forward cache: the connection closed at pagehide.
	window.addEventListener('pageshow', (e) => { if (e.persisted && state.registered) connect(); });
	setStatus('idle');
	$('#nick-input').focus();
}

wire();
})();
