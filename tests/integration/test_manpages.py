#!/usr/bin/env python3
"""The man pages in docs/: chatd(8), chatd.conf(5) and chatd-swarm(1)
render with groff without a warning, and each documents everything its
program has: chatd.8 every option of `chatd --help`, chatd.conf.5 every
key of `chatd --print-config`, chatd-swarm.1 every option of
`chatd-swarm --help` (chatd-swarm is found next to chatd).  The sample
configuration contrib/chatd.conf lists every key too, commented out with
its default.  The tests ignore the chatd the harness starts for them."""

import os
import re
import shutil
import subprocess
import sys

import chatdtest as t

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DOCS = os.path.join(ROOT, "docs")
PAGES = ("chatd.8", "chatd.conf.5", "chatd-swarm.1")


def run(args, timeout=30):
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80"))
    return p.returncode, p.stdout, p.stderr


def render(page):
    """The page as plain text (groff -man -Tascii, no hyphenation, no
    adjusting), and groff's warnings."""
    rc, out, err = run(["groff", "-man", "-Tascii", "-ww", "-rHY=0", "-P-cbou",
                        os.path.join(DOCS, page)])
    t.assert_eq(rc, 0, "groff exit code for %s (%s)" % (page, err.strip()))
    return out, err


def mentions(text, word):
    """word appears as a whole option or key (not inside a longer one)."""
    return re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(word), text) is not None


def swarm_path(srv):
    p = os.path.join(os.path.dirname(os.path.abspath(srv.path)), "chatd-swarm")
    if not os.access(p, os.X_OK):
        raise AssertionError("no chatd-swarm next to chatd (%s)" % p)
    return p


def help_options(text):
    """Every --long and -s option named at the start of a --help entry."""
    opts = set()
    for line in text.splitlines():
        m = re.match(r"\s+((?:-\w, )?--[a-z][a-z-]*(?: / --[a-z][a-z-]*)?)", line)
        if m:
            opts.update(re.findall(r"(?<![\w-])(--?[a-zA-Z][a-z-]*)", m.group(1)))
    return opts


def test_pages_render_without_warnings(srv):
    if shutil.which("groff") is None:
        raise AssertionError("groff is not installed (Debian: groff-base)")
    for page in PAGES:
        rc, out, err = run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(DOCS, page)])
        if rc != 0 or err.strip():
            raise AssertionError("groff -ww %s: exit %d\n%s" % (page, rc, err))
        text, err = render(page)
        if err.strip():
            raise AssertionError("groff -Tascii %s warned:\n%s" % (page, err))
        name = page.rsplit(".", 1)[0]
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
            if not re.search(r"^%s$" % section, text, re.M):
                raise AssertionError("%s has no %s section" % (page, section))
        if not re.search(r"^%s \\?- " % re.escape(name), text.split("NAME", 1)[1].lstrip(), re.M):
            raise AssertionError("%s: NAME line does not start with '%s - '" % (page, name))
        for line in text.splitlines():
            if len(line) > 80:
                raise AssertionError("%s renders a line wider than 80 columns: %r"
                                     % (page, line))


def test_man_reads_the_page_from_docs(srv):
    if shutil.which("man") is None:
        raise AssertionError("man is not installed (Debian: man-db)")
    rc, out, err = run(["man", "-l", os.path.join(DOCS, "chatd.8")])
    if rc != 0 or "CHATD(8)" not in out or "EXIT STATUS" not in out:
        raise AssertionError("man -l docs/chatd.8: exit %d\n%s%s" % (rc, out[:500], err))
    if err.strip():
        raise AssertionError("man -l docs/chatd.8 complained:\n%s" % err)


def test_chatd_8_documents_every_option(srv):
    rc, out, _ = run([srv.path, "--help"])
    t.assert_eq(rc, 0, "chatd --help exit code")
    opts = help_options(out)
    if len(opts) < 20:
        raise AssertionError("found only %d options in chatd --help: %s" % (len(opts), opts))
    text, _ = render("chatd.8")
    options = text.split("\nOPTIONS\n", 1)[1].split("\nSIGNALS\n", 1)[0]
    missing = sorted(o for o in opts if not mentions(options, o))
    if missing:
        raise AssertionError("chatd.8's OPTIONS lack %s" % ", ".join(missing))
    for section in ("SIGNALS", "SYSTEMD", "LOGGING", "FILES", "EXIT STATUS"):
        if not re.search(r"^%s$" % section, text, re.M):
            raise AssertionError("chatd.8 has no %s section" % section)
    for word in ("SIGTERM", "SIGINT", "SIGHUP", "READY=1", "STATUS=", "WATCHDOG=1",
                 "RELOADING=1", "STOPPING=1", "FileDescriptorName=", "JOURNAL_STREAM",
                 "/etc/chatd/chatd.conf"):
        if word not in text:
            raise AssertionError("chatd.8 does not mention %s" % word)


def config_keys(srv, *args):
    rc, out, _ = run([srv.path, "--print-config", "-c", os.devnull, *args])
    t.assert_eq(rc, 0, "chatd --print-config exit code")
    return [(k, v) for k, v in re.findall(r"^([a-z][a-z-]*) = (.*)$", out, re.M)]


def test_chatd_conf_5_documents_every_key_with_its_default(srv):
    keys = config_keys(srv)
    if len(keys) < 15:
        raise AssertionError("found only %d keys in --print-config" % len(keys))
    text, _ = render("chatd.conf.5")
    body = text.split("\nKEYS\n", 1)[1].split("\nRELOAD\n", 1)[0]
    # Each key's entry: from "key = " to the next entry.
    entries = dict(re.findall(r"^ {7}([a-z][a-z-]*) = .*\n((?:(?: {14}.*)?\n)*)", body, re.M))
    for key, value in keys:
        if key not in entries:
            raise AssertionError("chatd.conf.5 has no entry for %s" % key)
        entry = " ".join(entries[key].split())
        default = value + "/auto" if key == "listen" else value
        if default == "":
            default = "none"  # an empty value is written as "none"
        if not re.search(r"Default: %s\." % re.escape(default), entry):
            raise AssertionError("chatd.conf.5: %s does not say 'Default: %s.': %r"
                                 % (key, default, entry))
        if not re.search(r"Reload: (yes|no)", entry):
            raise AssertionError("chatd.conf.5: %s does not say whether reload changes it"
                                 % key)
    if "Reload: no" not in " ".join(entries["listen"].split()):
        raise AssertionError("chatd.conf.5: listen must say a reload does not change it")


def test_chatd_swarm_1_documents_every_option(srv):
    rc, out, _ = run([swarm_path(srv), "--help"])
    t.assert_eq(rc, 0, "chatd-swarm --help exit code")
    opts = help_options(out)
    if len(opts) < 20:
        raise AssertionError("found only %d options in chatd-swarm --help: %s"
                             % (len(opts), sorted(opts)))
    text, _ = render("chatd-swarm.1")
    options = text.split("\nOPTIONS\n", 1)[1].split("\nREPORT\n", 1)[0]
    missing = sorted(o for o in opts if not mentions(options, o))
    if missing:
        raise AssertionError("chatd-swarm.1's OPTIONS lack %s" % ", ".join(missing))
    for section in ("REPORT", "EXIT STATUS", "EXAMPLES"):
        if not re.search(r"^%s$" % section, text, re.M):
            raise AssertionError("chatd-swarm.1 has no %s section" % section)


def test_sample_config_lists_every_key_with_its_default(srv):
    sample = os.path.join(ROOT, "contrib", "chatd.conf")
    with open(sample, encoding="utf-8") as f:
        lines = f.read().splitlines()
    commented = {}
    for i, line in enumerate(lines):
        m = re.match(r"#([a-z][a-z-]*) = (.*)$", line)
        if m:
            commented[m.group(1)] = m.group(2)
            if i == 0 or not lines[i - 1].startswith("# "):
                raise AssertionError("contrib/chatd.conf: no comment above %s" % m.group(1))
    defaults = config_keys(srv)
    t.assert_eq(sorted(commented), sorted(k for k, _ in defaults),
                "keys in contrib/chatd.conf")
    for key, value in defaults:
        t.assert_eq(commented[key], value, "contrib/chatd.conf default of %s" % key)
    # As it is, the sample is a valid file that changes nothing.
    rc, out, err = run([srv.path, "--check-config", "-c", sample])
    t.assert_eq(rc, 0, "chatd --check-config -c contrib/chatd.conf (%s)" % err.strip())
    rc, out, err = run([srv.path, "--print-config", "-c", sample])
    t.assert_eq([kv for kv in re.findall(r"^([a-z][a-z-]*) = (.*)$", out, re.M)],
                defaults, "--print-config of the sample as installed")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
