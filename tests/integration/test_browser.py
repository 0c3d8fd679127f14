#!/usr/bin/env python3
"""The built-in web client (src/web) end to end, in real headless Chromium
driven by Selenium, against the real chatd.

- two browser sessions (two separate drivers) and a telnet user in one
  room see each other's messages, joins, parts, quits and member lists;
- a new room shows "Empty", a room with history shows its history;
- HTML in a message (from a framed client and from a browser) is shown
  literally as text: no element is made from it, nothing runs, no alert;
- after the browser's WebSocket is cut (by a TCP proxy in this process),
  the page shows the disconnected banner, reconnects over WebSocket and
  shows the messages sent meanwhile exactly once, in order;
- with --http-websocket no the page falls back to Server-Sent Events and
  still chats both ways; ?transport=poll (long polling) chats too;
- keyboard: Enter sends, Shift+Enter is a new line (chatd keeps the LF:
  protocol.md 9.3; a telnet user sees U+FFFD in its place, 17.8), the
  input keeps the focus;
- a phone-sized viewport (360x740): rooms and members reachable through
  the header's toggles, sending works, nothing wider than the screen
  (screenshot chatd-web-phone.png);
- a screenshot of a room at 1200x800 (chatd-web.png in $CHATD_ARTIFACTS,
  else the current directory: the build's tests/ directory under ctest);
- the latency from Enter in browser A to the line appearing in browser B
  (20 messages here; the figures are printed).

Run as

    python3 test_browser.py --chatd build/chatd [-k NAME]
    python3 test_browser.py --chatd build/chatd --latency 100   # latency only, 100 messages
    python3 test_browser.py --chatd build/chatd --screenshot    # screenshot only, also
                                                                # writes docs/web-client.png

Needs chromium, chromedriver and Selenium (Debian: chromium,
chromium-driver, python3-selenium); without one of them every test is
skipped (exit 77), saying which.  When the interpreter running this file
cannot import selenium but /usr/bin/python3 can (ctest may run a pyenv
Python), the file runs itself again under /usr/bin/python3.

Browsers are started once per file and shared by the tests (each test
gets a fresh chatd, hence a fresh origin; its pages are reset after it).
The pages come from the shared port; telnet users use a listener pinned
to text (see SERVER_ARGS), framed users the shared port.
"""

import argparse
import atexit
import contextlib
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") \
    else (shutil.which("chromedriver") or "/usr/bin/chromedriver")
SYSTEM_PYTHON = "/usr/bin/python3"


def _skip_all(why):
    print("SKIP all browser tests: %s" % why, flush=True)
    sys.exit(77)  # chatdtest.EXIT_SKIPPED: ctest reports it as skipped


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


if not _executable(CHROMIUM):
    _skip_all("chromium is not installed (Debian package chromium)")
if not _executable(CHROMEDRIVER):
    _skip_all("chromedriver is not installed (Debian package chromium-driver)")
try:
    import selenium  # noqa: F401
except ImportError:
    # python3-selenium lives in Debian's dist-packages, which a pyenv or
    # venv interpreter does not see: run under the system Python instead.
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and not os.environ.get("CHATD_BROWSER_REEXEC") and _executable(SYSTEM_PYTHON)
            and subprocess.run([SYSTEM_PYTHON, "-c", "import selenium"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL).returncode == 0):
        os.environ["CHATD_BROWSER_REEXEC"] = "1"
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    _skip_all("Selenium is not installed (Debian package python3-selenium)")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (NoAlertPresentException,  # noqa: E402
                                        StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.remote_connection import RemoteConnection  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import chatdtest as t  # noqa: E402
from chatdtest import MESSAGE, PRESENCE  # noqa: E402
from textclient import CLOCK, chat_re, listener_port, text_client  # noqa: E402

# The pages load from the shared port, as README's "open
# http://127.0.0.1:7000/" says.  Chromium opens spare connections while it
# loads a page and may send nothing on them for a while (0.1-0.4 s seen
# for chat.js); chatd waits longer before greeting a silent connection as
# a person when its address has just loaded a page (protocol.md 17.2), so
# those are not taken for telnet users.  For the same reason the telnet
# users here use a listener pinned to text, which greets at once.
SERVER_ARGS = ("--detect-window", "0.2", "--listen", "127.0.0.1:0/text")
WAIT = 10.0           # default deadline of a wait on a page
LATENCY_MESSAGES = 20  # --latency N changes it
SCREENSHOT_DOCS = False
ARTIFACTS = os.environ.get("CHATD_ARTIFACTS") or os.getcwd()
XSS = "<img src=x onerror=alert(1)>"

# No call to chromedriver may hang a test past its time bound.
RemoteConnection.set_timeout(30)


# ---------------------------------------------------------------------------
# Browsers: started once, shared by the tests, reset after each


def _new_driver():
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,800",
              "--disable-dev-shm-usage", "--lang=en-US", "--no-first-run",
              "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
              "--disable-backgrounding-occluded-windows", "--disable-extensions"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
    d.set_page_load_timeout(15)
    d.set_script_timeout(15)
    return d


class Pool:
    def __init__(self):
        self.drivers = []

    def driver(self, i):
        while len(self.drivers) <= i:
            self.drivers.append(None)
        if self.drivers[i] is None:
            self.drivers[i] = _new_driver()
        return self.drivers[i]

    def discard(self, d):
        for i, x in enumerate(self.drivers):
            if x is d:
                self.drivers[i] = None
        with contextlib.suppress(Exception):
            d.quit()

    def quit_all(self):
        for d in self.drivers:
            if d is not None:
                with contextlib.suppress(Exception):
                    d.quit()
        self.drivers = []


POOL = Pool()
atexit.register(POOL.quit_all)

# One call gathers what the tests look at, so that a check reads one
# consistent snapshot (and no element can go stale between two calls).
STATE_JS = r"""
const q = (s) => document.querySelector(s);
if (!q('#messages')) return null;
const lines = [...document.querySelectorAll('#messages > li')].map((li) => {
  const tx = li.querySelector('.text');
  return {cls: li.className, kind: li.dataset.kind || '', from: li.dataset.from || '',
          room: li.dataset.room || '', seq: li.dataset.seq ? Number(li.dataset.seq) : 0,
          text: tx ? tx.textContent : li.textContent};
});
return {status: q('#status').dataset.state, statusShown: !q('#status').hidden,
  statusText: q('#status-text').textContent, transport: q('#transport').dataset.transport,
  title: q('#conv-title').textContent, me: q('#me').textContent, chat: !q('#chat').hidden,
  lines, members: [...document.querySelectorAll('#members > li')].map((li) => li.dataset.nick),
  self: [...document.querySelectorAll('#members > li.self')].map((li) => li.dataset.nick),
  rooms: [...document.querySelectorAll('#room-list > li')].map((li) => li.dataset.room),
  nickError: q('#nick-error').textContent, joinError: q('#join-error').textContent,
  input: q('#input').value, focus: document.activeElement ? document.activeElement.id : ''};
"""


class Page:
    """One browser window showing the web client of one chatd."""

    def __init__(self, driver, label):
        self.d = driver
        self.label = label
        self.nick = None

    # -- looking ----------------------------------------------------------

    def state(self):
        return self.d.execute_script(STATE_JS)

    def msgs(self):
        """The room lines in view: [(from, text, seq)], oldest first (seq 0
        while a line of one's own is still pending)."""
        s = self.state() or {"lines": []}
        return [(x["from"], x["text"], x["seq"]) for x in s["lines"]
                if x["cls"].split()[:1] == ["msg"]]

    def lines(self, kind):
        s = self.state() or {"lines": []}
        return [x for x in s["lines"] if x["cls"].split()[:1] == [kind]]

    def console(self):
        try:
            return ["%s %s" % (e.get("level"), e.get("message"))
                    for e in self.d.get_log("browser")][-15:]
        except WebDriverException:
            return []

    def describe(self):
        """What the page shows, for failure messages."""
        try:
            s = self.state()
        except WebDriverException as e:
            return "    (page state unreadable: %s)" % str(e).splitlines()[0]
        if s is None:
            return "    (not on the web client: %s)" % self.d.current_url
        out = ["    url %s" % self.d.current_url,
               "    status=%s (%r) transport=%r me=%r title=%r focus=%r input=%r" % (
                   s["status"], s["statusText"], s["transport"], s["me"], s["title"],
                   s["focus"], s["input"]),
               "    members=%r rooms=%r nick-error=%r join-error=%r" % (
                   s["members"], s["rooms"], s["nickError"], s["joinError"])]
        for x in s["lines"][-20:]:
            out.append("    | %-22s %-8s seq=%-3s %s" % (x["cls"], x["from"] or x["kind"],
                                                         x["seq"], x["text"][:100]))
        for c in self.console():
            out.append("    console: %s" % c[:200])
        return "\n".join(out)

    def until(self, cond, what, timeout=WAIT):
        """Wait (WebDriverWait, bounded) until cond() is true; returns its value."""
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.02,
                                 ignored_exceptions=(StaleElementReferenceException,)
                                 ).until(lambda _d: cond())
        except TimeoutException:
            raise t.Timeout("%s: %s not seen within %.1fs; the page shows:\n%s"
                            % (self.label, what, timeout, self.describe())) from None

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    # -- doing ------------------------------------------------------------

    def open(self, url):
        self.d.get(url)
        self.until(lambda: self.d.execute_script(
            "const n = document.querySelector('#nick-input');"
            "return !!n && !document.querySelector('#login').hidden"), "the sign-in form")

    def sign_in(self, url, nick, transport=None):
        """Open the client and sign in; returns the transport it chose."""
        self.open(url)
        box = self.el("#nick-input")
        box.clear()
        box.send_keys(nick + Keys.ENTER)
        self.until(lambda: (lambda s: s and s["chat"] and s["status"] == "connected"
                            and s["me"] == nick)(self.state()),
                   "signed in as %s" % nick)
        self.nick = nick
        tr = self.state()["transport"]
        if transport is not None:
            t.assert_eq(tr, transport, "%s: #transport data-transport" % self.label)
        return tr

    def join(self, room):
        """Join a room through the join form and wait until it is loaded
        (no "Loading…", own nick among the members)."""
        box = self.el("#join-input")
        box.clear()
        box.send_keys(room + Keys.ENTER)
        self.until(lambda: (lambda s: s["title"] == "#" + room and self.nick in s["self"]
                            and not any(x["cls"] == "loading" for x in s["lines"]))(self.state()),
                   "room %s joined and loaded" % room)

    def say(self, text):
        """Type text (no newline) into the input and press Enter; waits
        until the server acknowledged it (the line has its seq); returns
        the seq."""
        self.el("#input").send_keys(text + Keys.ENTER)
        return self.wait_msg(self.nick, text)

    def wait_msg(self, frm, text, timeout=WAIT):
        """Wait for a room line from frm with this text, acknowledged (it
        has a seq); returns the seq."""
        def seen():
            for f, x, seq in self.msgs():
                if f == frm and x == text and seq:
                    return seq
            return None
        return self.until(seen, "message <%s> %r" % (frm, text), timeout)

    def wait_presence(self, text, timeout=WAIT):
        return self.until(lambda: any(x["text"] == text for x in self.lines("presence")),
                          "presence line %r" % text, timeout)

    def wait_members(self, nicks, timeout=WAIT):
        want = sorted(nicks, key=str.lower)
        return self.until(lambda: self.state()["members"] == want,
                          "members %r" % (want,), timeout)

    def no_alert(self, what):
        try:
            a = self.d.switch_to.alert
        except NoAlertPresentException:
            return
        text = a.text
        a.dismiss()
        raise AssertionError("%s: %s: an alert opened (%r): script ran" % (self.label, what, text))

    def metrics(self, width, height, mobile=False):
        """Emulate a viewport of exactly width x height CSS pixels."""
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def reset(self):
        """Leave the page: forget what it stored, back to about:blank (which
        signs out: pagehide closes the connection)."""
        try:
            with contextlib.suppress(NoAlertPresentException):
                self.d.switch_to.alert.dismiss()
            self.d.execute_script("try { localStorage.clear(); } catch (e) {}")
            self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            self.d.get("about:blank")
            self.d.get_log("browser")  # drop this test's console lines
        except Exception:  # noqa: BLE001 - a wedged browser is replaced
            POOL.discard(self.d)


@contextlib.contextmanager
def pages(*labels):
    """Browser pages, one per driver (separate browsers: separate cookie
    jars, storage and connection pools); reset when the test ends."""
    ps = [Page(POOL.driver(i), label) for i, label in enumerate(labels)]
    try:
        yield ps if len(ps) > 1 else ps[0]
    finally:
        for p in ps:
            p.reset()


def web_port(srv):
    """The pages' port: the shared one."""
    return srv.port


def telnet(srv, name):
    """A telnet user on the listener pinned to text (SERVER_ARGS)."""
    return text_client(srv, name, port=listener_port(srv, "text"))


def url(srv, port=None, query=""):
    return "http://127.0.0.1:%d/%s" % (port or web_port(srv), query)


def png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("not a PNG")
    return struct.unpack(">II", data[16:24])


def save_png(data, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print("    wrote %s (%dx%d, %d bytes)" % ((path,) + png_size(data) + (len(data),)), flush=True)


# ---------------------------------------------------------------------------
# A TCP proxy that can cut the browser's WebSocket


class CutProxy:
    """Loopback TCP proxy in front of chatd, two threads per connection.

    The browser loads the page through it, so the page's origin (and the
    Host it sends) is the proxy's: same-origin for chatd's Origin check.
    cut_websockets() closes both sides of every connection that began
    with "GET /ws", so chatd sees the WebSocket end and the browser sees
    it dropped.  While hold() is on, new connections are accepted but not
    relayed until release(): the browser's reconnection waits, which
    keeps it disconnected for as long as the test needs, without the
    refusal that would make it fall back to another transport."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.port = self.lsock.getsockname()[1]
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()
        self.conns = []   # [{"c": sock, "u": sock, "kind": None | "ws" | "http", "open": bool}]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        while not self.gate.wait(0.05):
            if self.closed:
                c.close()
                return
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
        except OSError:
            c.close()
            return
        u.settimeout(None)
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = {"c": c, "u": u, "kind": None, "open": True, "ends": 0}
        with self.lock:
            self.conns.append(conn)
        threading.Thread(target=self._pump, args=(c, u, conn, True), daemon=True).start()
        self._pump(u, c, conn, False)

    def _pump(self, src, dst, conn, from_browser):
        head = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_browser and conn["kind"] is None:
                    head += data
                    if len(head) >= 8:
                        conn["kind"] = "ws" if head.startswith(b"GET /ws") else "http"
                dst.sendall(data)
        except OSError:
            pass
        self._end(conn)

    def _end(self, conn):
        with self.lock:
            conn["open"] = False
            conn["ends"] += 1
            last = conn["ends"] == 2
        for s in (conn["c"], conn["u"]):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        if last:
            conn["c"].close()
            conn["u"].close()

    def websockets(self, alive=True):
        with self.lock:
            return [c for c in self.conns if c["kind"] == "ws" and (c["open"] or not alive)]

    def cut_websockets(self):
        """Close every open WebSocket connection on both sides; returns how many."""
        cut = self.websockets()
        for conn in cut:
            for s in (conn["c"], conn["u"]):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
        return len(cut)

    def hold(self):
        self.gate.clear()

    def release(self):
        self.gate.set()

    def close(self):
        self.closed = True
        self.gate.set()
        self.lsock.close()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            for s in (conn["c"], conn["u"]):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------
# Scenarios


def test_two_browsers_and_a_telnet_user_see_each_other(srv):
    """ann and cy in two browsers and bob at a terminal in #lobby: each
    sees the others' messages, joins, parts, a quit and the member list."""
    with pages("ann", "cy") as (ann, cy):
        t.assert_eq(ann.sign_in(url(srv), "ann"), "ws", "ann's transport")
        ann.join("lobby")
        bob = telnet(srv, "bob")
        t.assert_eq(sorted(bob.join("lobby").split(": ", 1)[1].split()), ["ann", "bob"],
                    "bob's join header: the members")
        ann.wait_presence("bob joined")
        ann.wait_members(["ann", "bob"])
        t.assert_eq(cy.sign_in(url(srv), "cy"), "ws", "cy's transport")
        cy.join("lobby")
        cy.wait_members(["ann", "bob", "cy"])
        ann.wait_presence("cy joined")
        ann.wait_members(["ann", "bob", "cy"])
        bob.expect_line(r"^%s \* cy joined #lobby$" % CLOCK)
        for p in (ann, cy):  # the room list's count follows (refreshed soon after)
            p.until(lambda p=p: p.el('#room-list li[data-room="lobby"] .count').text == "3",
                    "lobby counted 3 in the room list")

        a = ann.say("hello from ann's browser")
        cy.wait_msg("ann", "hello from ann's browser")
        bob.expect_line(chat_re("lobby", "ann", "hello from ann's browser"))
        c = cy.say("and hi from cy")
        ann.wait_msg("cy", "and hi from cy")
        bob.expect_line(chat_re("lobby", "cy", "and hi from cy"))
        bob.send_line("bob here, on telnet")
        b = ann.wait_msg("bob", "bob here, on telnet")
        t.assert_eq(cy.wait_msg("bob", "bob here, on telnet"), b, "bob's seq in cy's page")
        t.assert_eq((a, c, b), (1, 2, 3), "seqs of the three messages")
        want = [("ann", "hello from ann's browser", 1), ("cy", "and hi from cy", 2),
                ("bob", "bob here, on telnet", 3)]
        t.assert_eq(ann.msgs(), want, "ann's lines")
        t.assert_eq(cy.msgs(), want, "cy's lines")

        bob.send_line("/part lobby")
        bob.expect_line(r"^%s \* bob left #lobby$" % CLOCK)
        for p in (ann, cy):
            p.wait_presence("bob left")
            p.wait_members(["ann", "cy"])
        bob.join("lobby")
        for p in (ann, cy):
            p.wait_presence("bob joined")
            p.wait_members(["ann", "bob", "cy"])
        cy.el("#leave-btn").click()
        ann.wait_presence("cy left")
        ann.wait_members(["ann", "bob"])
        bob.expect_line(r"^%s \* cy left #lobby$" % CLOCK)
        bob.send_line("/quit")
        ann.wait_presence("bob quit")
        ann.wait_members(["ann"])
        t.assert_eq([x["text"] for x in ann.lines("presence")],
                    ["bob joined", "cy joined", "bob left", "bob joined", "cy left", "bob quit"],
                    "ann's presence lines")
        t.assert_eq(cy.state()["title"], "No conversation", "cy's view after leaving")


def test_a_new_room_shows_empty_and_an_old_one_its_history(srv):
    carl = srv.client("carl")
    carl.join("old")
    for i in (1, 2):
        t.assert_ack(carl.say("old", "history %d" % i), "carl's SAY")
    with pages("ann") as ann:
        ann.sign_in(url(srv), "ann")
        ann.join("fresh")
        ann.until(lambda: [(x["cls"], x["text"]) for x in ann.state()["lines"]]
                  == [("empty", "Empty")], 'only the line "Empty"')
        carl.join("fresh")
        t.assert_ack(carl.say("fresh", "first!"), "carl's SAY")
        ann.wait_msg("carl", "first!")
        t.assert_eq([x["cls"] for x in ann.state()["lines"] if x["cls"] == "empty"], [],
                    '"Empty" once a message came')
        ann.join("old")
        t.assert_eq(ann.msgs(), [("carl", "history 1", 1), ("carl", "history 2", 2)],
                    "the history of #old")
        t.assert_eq([x for x in ann.state()["lines"] if x["cls"] == "empty"], [],
                    '"Empty" in a room with history')


def test_html_in_messages_is_text_and_runs_nothing(srv):
    """<img onerror> from a framed client and from the browser is shown as
    the literal text: no <img> (nor any element) inside the line, no alert;
    a URL next to markup links to the URL only."""
    carl = srv.client("carl")
    carl.join("r")
    link = 'see https://example.com/a"><img src=x onerror=alert(2)> ok'
    with pages("ann") as ann:
        ann.sign_in(url(srv), "ann")
        ann.join("r")
        t.assert_ack(carl.say("r", XSS), "carl's SAY")
        ann.wait_msg("carl", XSS)
        ann.say(XSS)
        m = carl.expect(MESSAGE, from_="ann")
        t.assert_eq(m.text, XSS, "what carl received from ann's browser")
        t.assert_ack(carl.say("r", link), "carl's SAY")
        ann.wait_msg("carl", link)
        # A barrier: a line sent after them is shown, so any image those
        # lines made would have been created and failed to load by now.
        t.assert_ack(carl.say("r", "barrier"), "carl's SAY")
        ann.wait_msg("carl", "barrier")
        ann.no_alert("after the HTML messages")
        got = ann.d.execute_script(r"""
            const box = document.querySelector('#messages');
            return {imgs: document.querySelectorAll('img').length,
                    inMessages: box.querySelectorAll('img, script, iframe, svg, object').length,
                    texts: [...box.querySelectorAll('li.msg .text')].map((s) => [s.textContent,
                        [...s.children].map((c) => c.tagName + ' ' + (c.getAttribute('href') || ''))])};
        """)
        t.assert_eq((got["imgs"], got["inMessages"]), (0, 0), "img/script elements in the page")
        t.assert_eq(got["texts"], [[XSS, []], [XSS, []],
                                   [link, ["A https://example.com/a"]], ["barrier", []]],
                    "the lines' text and their only child elements")
        ann.no_alert("at the end")


def test_cut_websocket_reconnects_and_shows_missed_messages_once(srv):
    """The page reaches chatd through a proxy; the proxy cuts its
    WebSocket while carl sends 5 messages; the banner shows, the page
    reconnects over WebSocket and shows the 5 once each, in order."""
    carl = srv.client("carl")
    carl.join("r")
    proxy = CutProxy(web_port(srv))
    try:
        with pages("ann") as ann:
            t.assert_eq(ann.sign_in(url(srv, proxy.port), "ann"), "ws", "transport")
            ann.join("r")
            carl.expect(PRESENCE, kind=t.P_JOIN, nick="ann")
            before = ["before %d" % i for i in (1, 2)]
            for x in before:
                t.assert_ack(carl.say("r", x), "carl's SAY")
            ann.wait_msg("carl", before[-1])
            t.assert_eq(len(proxy.websockets()), 1, "open WebSockets through the proxy")

            proxy.hold()
            t.assert_eq(proxy.cut_websockets(), 1, "WebSockets cut")
            carl.expect(PRESENCE, kind=t.P_DROP, nick="ann", timeout=5)
            ann.until(lambda: (lambda s: s["status"] == "disconnected" and s["statusShown"]
                               and s["statusText"].startswith("Disconnected"))(ann.state()),
                      "the disconnected banner")
            meanwhile = ["meanwhile %d" % i for i in range(1, 6)]
            for x in meanwhile:
                t.assert_ack(carl.say("r", x), "carl's SAY")
            proxy.release()

            ann.until(lambda: ann.state()["status"] == "connected", "reconnected", timeout=15)
            carl.expect(PRESENCE, kind=t.P_JOIN, nick="ann", timeout=5)
            ann.wait_msg("carl", meanwhile[-1])
            t.assert_ack(carl.say("r", "after"), "carl's SAY")
            ann.wait_msg("carl", "after")
            want = [("carl", x, i + 1) for i, x in enumerate(before + meanwhile + ["after"])]
            t.assert_eq(ann.msgs(), want, "ann's lines after the reconnection")
            s = ann.state()
            t.assert_eq((s["transport"], s["statusShown"]), ("ws", False),
                        "transport and banner after the reconnection")
            t.assert_eq([x["text"] for x in s["lines"] if x["cls"] == "notice"], [],
                        "notices (missed messages, restarts)")
            t.assert_eq(len(proxy.websockets(alive=False)), 2, "WebSockets opened in all")
    finally:
        proxy.close()


@t.server_args("--http-websocket", "no")
def test_without_websocket_the_page_falls_back_to_sse_and_poll_also_chats(srv):
    carl = srv.client("carl")
    carl.join("r")
    with pages("ann", "pol") as (ann, pol):
        t.assert_eq(ann.sign_in(url(srv), "ann"), "sse", "ann's transport (fallback)")
        t.assert_eq(pol.sign_in(url(srv, query="?transport=poll"), "pol"), "poll",
                    "pol's transport (?transport=poll)")
        ann.join("r")
        pol.join("r")
        ann.wait_members(["ann", "carl", "pol"])
        t.assert_ack(carl.say("r", "framed to the web"), "carl's SAY")
        ann.wait_msg("carl", "framed to the web")
        pol.wait_msg("carl", "framed to the web")
        ann.say("sse to everyone")
        t.assert_eq(carl.expect(MESSAGE, from_="ann").text, "sse to everyone", "carl from ann")
        pol.wait_msg("ann", "sse to everyone")
        pol.say("long poll to everyone")
        t.assert_eq(carl.expect(MESSAGE, from_="pol").text, "long poll to everyone",
                    "carl from pol")
        ann.wait_msg("pol", "long poll to everyone")
        want = [("carl", "framed to the web", 1), ("ann", "sse to everyone", 2),
                ("pol", "long poll to everyone", 3)]
        t.assert_eq(ann.msgs(), want, "ann's lines")
        t.assert_eq(pol.msgs(), want, "pol's lines")
        carl.part("r")
        ann.wait_presence("carl left")
        pol.wait_presence("carl left")
        t.assert_eq((ann.state()["transport"], pol.state()["transport"]), ("sse", "poll"),
                    "transports at the end")


def test_keyboard_enter_sends_shift_enter_is_a_newline_and_focus_stays(srv):
    """Shift+Enter puts a newline in the input, Enter sends; chatd keeps
    the LF (protocol.md 9.3: the server does not alter text), a telnet
    user sees U+FFFD for it (17.8); the input stays focused, so the next
    keys go on into it."""
    carl = srv.client("carl")
    carl.join("r")
    bob = telnet(srv, "bob")
    bob.join("r")
    with pages("ann") as ann:
        ann.sign_in(url(srv), "ann")
        ann.join("r")
        bob.expect_line(r"^%s \* ann joined #r$" % CLOCK)
        box = ann.el("#input")
        box.click()
        box.send_keys("first line")
        ActionChains(ann.d).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        box.send_keys("second line")
        s = ann.state()
        t.assert_eq((s["input"], s["focus"]), ("first line\nsecond line", "input"),
                    "the input after Shift+Enter")
        t.assert_eq(ann.msgs(), [], "lines before Enter")
        box.send_keys(Keys.ENTER)
        m = carl.expect(MESSAGE, from_="ann")
        t.assert_eq(m.text, "first line\nsecond line", "what carl received")
        ann.wait_msg("ann", "first line\nsecond line")
        bob.expect_line(chat_re("r", "ann", "first line\ufffdsecond line"))
        s = ann.state()
        t.assert_eq((s["input"], s["focus"]), ("", "input"), "the input after Enter")
        # Keys to whatever has the focus, not to the input by name.
        ActionChains(ann.d).send_keys("and again" + Keys.ENTER).perform()
        t.assert_eq(carl.expect(MESSAGE, from_="ann").text, "and again", "carl's second")
        ann.wait_msg("ann", "and again")
        t.assert_eq(ann.state()["focus"], "input", "focus after the second Enter")
        # Enter on blanks sends nothing.
        ActionChains(ann.d).send_keys("   " + Keys.ENTER).perform()
        t.assert_ack(carl.say("r", "barrier"), "carl's SAY")
        ann.wait_msg("carl", "barrier")
        t.assert_eq([x for x, _, _ in ann.msgs()], ["ann", "ann", "carl"],
                    "senders of the lines (no blank message)")


def test_phone_width_rooms_members_and_sending_work(srv):
    """At 360x740 the panels fold behind the header's toggles: joining,
    switching rooms, the member list and sending all work, and nothing is
    wider than the screen."""
    carl = srv.client("carl")
    carl.join("r")
    carl.join("s")
    with pages("ann") as ann:
        ann.metrics(360, 740, mobile=True)
        ann.sign_in(url(srv), "ann")
        t.assert_eq(ann.d.execute_script("return innerWidth"), 360, "viewport width")
        # Signed in with no room: the rooms panel is open, on the join box.
        ann.until(lambda: ann.el("#sidebar").is_displayed(), "the rooms panel")
        t.assert_eq(ann.el("#rooms-toggle").get_attribute("aria-expanded"), "true",
                    "rooms toggle expanded")
        ann.join("r")
        ann.until(lambda: not ann.el("#sidebar").is_displayed(), "the rooms panel closed")
        t.assert_eq(ann.el("#input").is_displayed(), True, "input shown")
        ann.el("#input").send_keys("hi from a phone")
        ann.el("#send-btn").click()
        ann.wait_msg("ann", "hi from a phone")
        t.assert_eq(carl.expect(MESSAGE, from_="ann").text, "hi from a phone", "carl got it")

        ann.el("#rooms-toggle").click()
        ann.until(lambda: ann.el("#sidebar").is_displayed(), "the rooms panel (toggle)")
        ann.join("s")
        ann.until(lambda: not ann.el("#sidebar").is_displayed(), "the rooms panel closed")
        t.assert_ack(carl.say("s", "welcome to s"), "carl's SAY")
        ann.wait_msg("carl", "welcome to s")
        ann.el("#rooms-toggle").click()
        ann.until(lambda: ann.el('#room-list li[data-room="r"] button').is_displayed(),
                  "room r in the rooms panel")
        ann.el('#room-list li[data-room="r"] button').click()
        ann.until(lambda: ann.state()["title"] == "#r" and not ann.el("#sidebar").is_displayed(),
                  "room r in view, panel closed")
        t.assert_eq(ann.msgs(), [("ann", "hi from a phone", 1)], "the lines of r")

        ann.el("#members-toggle").click()
        ann.until(lambda: ann.el("#member-panel").is_displayed(), "the members panel")
        ann.wait_members(["ann", "carl"])
        t.assert_eq(ann.el('#members li[data-nick="carl"] button').is_displayed(), True,
                    "carl in the members panel")
        ann.el("#members-toggle").click()
        ann.until(lambda: not ann.el("#member-panel").is_displayed(), "the members panel closed")
        ann.el("#input").send_keys("sent after the panels" + Keys.ENTER)
        t.assert_eq(carl.expect(MESSAGE, from_="ann").text, "sent after the panels", "carl")
        ann.wait_msg("ann", "sent after the panels")
        geo = ann.d.execute_script(r"""
            const r = (s) => document.querySelector(s).getBoundingClientRect();
            return {scroll: document.documentElement.scrollWidth, input: r('#input').right,
                    send: r('#send-btn').right, bottom: r('#send-form').bottom};""")
        t.assert_eq(geo["scroll"] <= 360 and geo["input"] <= 360 and geo["send"] <= 360
                    and geo["bottom"] <= 740, True, "page within 360x740: %r" % geo)
        save_png(ann.d.get_screenshot_as_png(), os.path.join(ARTIFACTS, "chatd-web-phone.png"))


def test_screenshot_of_a_room(srv):
    """ann (browser), bob (telnet) and carl (framed) chat in #lobby; the
    page at 1200x800 is saved as chatd-web.png (and, with --screenshot,
    as docs/web-client.png)."""
    with pages("ann") as ann:
        ann.metrics(1200, 800)
        ann.sign_in(url(srv), "ann")
        ann.join("lobby")
        bob = telnet(srv, "bob")
        bob.join("lobby")
        ann.wait_presence("bob joined")
        carl = srv.client("carl")
        carl.join("lobby")
        ann.wait_presence("carl joined")
        bob.send_line("morning all! coffee is on in the kitchen")
        ann.wait_msg("bob", "morning all! coffee is on in the kitchen")
        ann.say("Morning bob, perfect timing.")
        t.assert_ack(carl.say("lobby", "hi both - the new build is up on staging "
                                       "if anyone wants a look"), "carl's SAY")
        ann.wait_msg("carl", "hi both - the new build is up on staging if anyone wants a look")
        ann.say("Nice, I'll give it a spin after standup.")
        bob.send_line("same here, thanks carl")
        ann.wait_msg("bob", "same here, thanks carl")
        ann.wait_members(["ann", "bob", "carl"])
        ann.until(lambda: ann.el('#room-list li[data-room="lobby"] .count').text == "3",
                  "lobby counted 3 in the room list")
        ann.d.execute_script("document.activeElement.blur()")
        png = ann.d.get_screenshot_as_png()
        t.assert_eq(png_size(png), (1200, 800), "screenshot size")
        save_png(png, os.path.join(ARTIFACTS, "chatd-web.png"))
        if SCREENSHOT_DOCS:
            save_png(png, os.path.join(REPO, "docs", "web-client.png"))


# How the latency is measured.  Both browsers run on this machine, so
# their pages read one clock: performance.timeOrigin + performance.now()
# is the wall clock in milliseconds with sub-millisecond resolution in
# every page (each page's time origin is taken from the system clock and
# now() counts from it).  A MutationObserver injected into B's page
# (execute_script) stamps each room line with a seq (an acknowledged or
# received message) the moment it is added to #messages, keyed by its
# text, and again at the next animation frame (when it is painted).  A
# stamps the time right before it dispatches Enter on its input (the
# client's own keydown handler sends), inside one execute_script call,
# so that no WebDriver round trip is inside the measured interval.  The
# latency of a message is B's stamp minus A's: A's client, WebSocket,
# chatd, B's WebSocket, B's client and DOM insertion.  Messages go one
# at a time: the next is sent once B has shown the previous one.  The
# skew between the two pages' clocks is checked against Date.now() (the
# same system clock, 1 ms resolution) and printed.  Each message adds a
# line to both pages, and today a line costs more the more lines are in
# view (both pages lay the whole list out again), so the figures depend
# on N: with N >= 40 the medians by fifths of the run show the drift.
OBSERVE_JS = r"""
window.__lat = {dom: {}, frame: {}, repeats: 0};
const now = () => performance.timeOrigin + performance.now();
new MutationObserver((records) => {
  const at = now();
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType !== 1 || !n.matches('li.msg[data-seq]')) continue;
    const k = n.querySelector('.text').textContent;
    if (k in window.__lat.dom) { window.__lat.repeats++; continue; }
    window.__lat.dom[k] = at;
    requestAnimationFrame(() => { window.__lat.frame[k] = now(); });
  }
}).observe(document.querySelector('#messages'), {childList: true});
return performance.timeOrigin + performance.now() - Date.now();
"""
SEND_JS = r"""
const input = document.querySelector('#input');
input.value = arguments[0];
const t0 = performance.timeOrigin + performance.now();
input.dispatchEvent(new KeyboardEvent('keydown',
  {key: 'Enter', code: 'Enter', bubbles: true, cancelable: true}));
return t0;
"""
SKEW_JS = "return performance.timeOrigin + performance.now() - Date.now();"


def pct(values, p):
    """The p-th percentile, nearest rank."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))]


def test_latency_from_enter_in_one_browser_to_display_in_another(srv):
    n = LATENCY_MESSAGES
    with pages("ann", "cy") as (a, b):
        a.sign_in(url(srv), "ann", transport="ws")
        b.sign_in(url(srv), "cy", transport="ws")
        a.join("lat")
        b.join("lat")
        a.wait_members(["ann", "cy"])
        skew_b = b.d.execute_script(OBSERVE_JS)
        skew_a = a.d.execute_script(SKEW_JS)
        sent, texts = {}, ["latency probe %03d" % i for i in range(1, n + 1)]
        for x in texts:
            sent[x] = a.d.execute_script(SEND_JS, x)
            b.until(lambda x=x: b.d.execute_script("return window.__lat.dom[arguments[0]]", x),
                    "message %r in B" % x)
        a.wait_msg("ann", texts[-1])
        lat = b.d.execute_script("return window.__lat")
        want = [("ann", x, i + 1) for i, x in enumerate(texts)]
        t.assert_eq(b.msgs(), want, "B's lines (each once, in order)")
        t.assert_eq(a.msgs(), want, "A's own lines (each once, acknowledged, in order)")
        dom = [lat["dom"][x] - sent[x] for x in texts]
        frame = [lat["frame"].get(x, lat["dom"][x]) - sent[x] for x in texts]
        print("    latency, Enter in browser A -> line in browser B, %d messages over WebSocket:"
              % n)
        for name, v in (("added to the DOM", dom), ("next frame", frame)):
            print("      %-16s median %.2f ms, p90 %.2f ms (min %.2f, max %.2f)"
                  % (name, statistics.median(v), pct(v, 90), min(v), max(v)))
        if n >= 40:  # drift along the run (a page that slows as its lines pile up)
            print("      DOM median by fifths of the run: %s ms" % ", ".join(
                "%.2f" % statistics.median(dom[i * n // 5:(i + 1) * n // 5]) for i in range(5)))
        print("      clocks: page A - page B = %.2f ms (against Date.now(), +-1 ms); "
              "B saw %d line(s) re-added" % (skew_a - skew_b, lat["repeats"]), flush=True)
        if min(dom) <= 0:
            raise AssertionError("a latency <= 0 (%.3f ms): the pages' clocks disagree"
                                 % min(dom))


# ---------------------------------------------------------------------------


def _main():
    global LATENCY_MESSAGES, SCREENSHOT_DOCS
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--latency", type=int, metavar="N",
                    help="run only the latency test, with N messages")
    ap.add_argument("--screenshot", action="store_true",
                    help="run only the screenshot test and also write docs/web-client.png")
    extra, rest = ap.parse_known_args()
    ns = dict(globals())
    if extra.latency:
        LATENCY_MESSAGES = extra.latency
        ns = {k: v for k, v in ns.items() if not k.startswith("test_") or "latency" in k}
        ns["TIME_LIMIT"] = 30 + extra.latency
    if extra.screenshot:
        SCREENSHOT_DOCS = True
        ns = {k: v for k, v in ns.items() if not k.startswith("test_") or "screenshot" in k}
    try:
        return t.main(ns, rest)
    finally:
        POOL.quit_all()


if __name__ == "__main__":
    sys.exit(_main())
