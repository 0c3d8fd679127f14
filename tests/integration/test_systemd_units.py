#!/usr/bin/env python3
"""The systemd units in contrib/systemd: chatd.service and the template
chatd@.service (configured from their .in files the way CMake does, with
the chatd under test as ExecStart) and chatd.socket pass `systemd-analyze
verify`, and `systemd-analyze security --offline=true` rates the services
2.0 or lower.  The template has chatd.service's sandbox.

The units are checked as files (no running systemd is needed).  The man
pages they name in Documentation= are put on a MANPATH of the test's own,
so that verify also proves those references resolve.  The tests ignore
the chatd the harness starts for them."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import chatdtest as t

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
UNITS = os.path.join(ROOT, "contrib", "systemd")
MAX_EXPOSURE = 2.0


def chatd_path():
    """The --chatd argument, as the harness parsed it."""
    return t.chatd_argument()


class Units:
    """The configured units in a temporary directory, with a MANPATH that
    holds the man pages from docs/."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-units-")
        try:
            return self._fill()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _configure(self, unit):
        with open(os.path.join(UNITS, unit + ".in"), encoding="utf-8") as f:
            text = f.read()
        if "@CMAKE_INSTALL_FULL_SBINDIR@" not in text:
            raise AssertionError("%s.in does not use @CMAKE_INSTALL_FULL_SBINDIR@" % unit)
        # CMake substitutes the sbin directory; the test uses the directory
        # of the chatd it was given, so that ExecStart names a real file.
        text = text.replace("@CMAKE_INSTALL_FULL_SBINDIR@", os.path.dirname(chatd_path()))
        if re.search(r"@[A-Z_]+@", text):
            raise AssertionError("unsubstituted @VARIABLE@ left in %s" % unit)
        path = os.path.join(self.dir, unit)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def _fill(self):
        self.service = self._configure("chatd.service")
        self.template = self._configure("chatd@.service")
        self.socket = os.path.join(self.dir, "chatd.socket")
        shutil.copy(os.path.join(UNITS, "chatd.socket"), self.socket)
        self.man = os.path.join(self.dir, "man")
        for page, sec in (("chatd.8", "8"), ("chatd.conf.5", "5"), ("chatd-swarm.1", "1")):
            os.makedirs(os.path.join(self.man, "man" + sec), exist_ok=True)
            shutil.copy(os.path.join(ROOT, "docs", page), os.path.join(self.man, "man" + sec))
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def run(self, *args):
        env = dict(os.environ, MANPATH=self.man, SYSTEMD_COLORS="0", SYSTEMD_PAGER="",
                   LC_ALL="C.UTF-8")
        p = subprocess.run(["systemd-analyze", *args], cwd=self.dir, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stdout, p.stderr


def man_args():
    """verify runs man(1) for Documentation=man:...; without man-db it
    cannot, and the check is skipped rather than failed."""
    return [] if shutil.which("man") else ["--man=no"]


def unit_settings(path):
    """{(section, key): [values]} of a unit file."""
    out, section = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                section = m.group(1)
                continue
            key, _, value = line.partition("=")
            out.setdefault((section, key.strip()), []).append(value.strip())
    return out


def test_units_pass_systemd_analyze_verify(srv):
    with Units() as u:
        rc, out, err = u.run("verify", *man_args(), u.service, u.socket)
        if rc != 0 or out.strip() or err.strip():
            raise AssertionError("systemd-analyze verify: exit %d\n%s%s" % (rc, out, err))
        # The socket on its own finds its service next to it.
        rc, out, err = u.run("verify", *man_args(), u.socket)
        if rc != 0 or out.strip() or err.strip():
            raise AssertionError("systemd-analyze verify chatd.socket: exit %d\n%s%s"
                                 % (rc, out, err))
        # The template, and an instance of it found by name next to it.
        for unit in (u.template, "chatd@node-2.service"):
            rc, out, err = u.run("verify", *man_args(), unit)
            if rc != 0 or out.strip() or err.strip():
                raise AssertionError("systemd-analyze verify %s: exit %d\n%s%s"
                                     % (os.path.basename(unit), rc, out, err))


def test_service_security_exposure_is_at_most_2(srv):
    with Units() as u:
        # An instance of the template is rated as a copy under its own name.
        instance = os.path.join(u.dir, "chatd@1.service")
        shutil.copy(u.template, instance)
        for path in (u.service, instance):
            name = os.path.basename(path)
            rc, out, err = u.run("security", "--offline=true", "--no-pager", path)
            m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(name), out)
            if m is None:
                raise AssertionError("no overall exposure level (exit %d):\n%s%s"
                                     % (rc, out, err))
            level = float(m.group(1))
            print("    systemd-analyze security: %s" % m.group(0))
            if level > MAX_EXPOSURE:
                bad = [line for line in out.splitlines() if line.startswith("✗")]
                raise AssertionError("%s: exposure %.1f > %.1f; open points:\n%s"
                                     % (name, level, MAX_EXPOSURE, "\n".join(bad)))
            # --threshold turns the same judgement into the exit code.
            rc, out, err = u.run("security", "--offline=true", "--no-pager",
                                 "--threshold=%d" % int(MAX_EXPOSURE * 10), path)
            t.assert_eq(rc, 0, "systemd-analyze security --threshold=20 exit code of %s" % name)


def test_service_has_what_the_issue_asks(srv):
    with Units() as u:
        s = unit_settings(u.service)
        want = {
            "Type": "notify",
            "ExecReload": "/bin/kill -HUP $MAINPID",
            "DynamicUser": "yes",
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "CapabilityBoundingSet": "",
            "AmbientCapabilities": "",
            "SystemCallArchitectures": "native",
            "ConfigurationDirectory": "chatd",
            "StateDirectory": "chatd",
        }
        for key, value in want.items():
            t.assert_eq(s.get(("Service", key), [None])[-1], value, "chatd.service %s=" % key)
        t.assert_eq(s[("Service", "ExecStart")], [os.path.dirname(chatd_path()) + "/chatd"],
                    "ExecStart")
        if int(s[("Service", "WatchdogSec")][-1]) <= 0:
            raise AssertionError("no watchdog")
        if int(s[("Service", "LimitNOFILE")][-1]) < 65536:
            raise AssertionError("LimitNOFILE not raised: %r" % s[("Service", "LimitNOFILE")])
        families = set(s[("Service", "RestrictAddressFamilies")][-1].split())
        t.assert_eq(families, {"AF_INET", "AF_INET6", "AF_UNIX"}, "RestrictAddressFamilies")
        if not any("@system-service" in v for v in s[("Service", "SystemCallFilter")]):
            raise AssertionError("no @system-service system call filter")
        k = unit_settings(u.socket)
        t.assert_eq(k[("Socket", "ListenStream")], ["127.0.0.1:7000"], "chatd.socket ListenStream")
        if ("Socket", "FileDescriptorName") in k:
            raise AssertionError("chatd.socket pins a protocol; the default is auto")



def test_template_runs_instances_with_reuseport_and_the_same_sandbox(srv):
    """chatd@.service differs from chatd.service only where an instance
    must: its description, ExecStart with --reuseport and the instance as
    node name, and a state directory of its own; everything else (the
    sandbox, the watchdog, the limits) is the same."""
    with Units() as u:
        one, many = unit_settings(u.service), unit_settings(u.template)
        t.assert_eq(many[("Service", "ExecStart")],
                    [os.path.dirname(chatd_path()) + "/chatd --reuseport --node-name %H-%i"],
                    "chatd@.service ExecStart")
        t.assert_eq(many[("Service", "StateDirectory")], ["chatd/%i"],
                    "chatd@.service StateDirectory")
        t.assert_eq(many[("Service", "ConfigurationDirectory")], ["chatd"],
                    "chatd@.service ConfigurationDirectory")
        if any(k[1] == "RuntimeDirectory" for k in many):
            raise AssertionError("chatd@.service has a RuntimeDirectory= chatd.service lacks")
        differ = sorted(k for k in set(one) | set(many) if one.get(k) != many.get(k))
        t.assert_eq(differ, [("Service", "ExecStart"), ("Service", "StateDirectory"),
                             ("Unit", "Description")], "settings where the two units differ")
        # The instance's name reaches chatd as a value it accepts.
        rc = subprocess.run([chatd_path(), "-c", os.devnull, "--reuseport", "--node-name", "box1-2",
                             "--check-config"], capture_output=True, timeout=10).returncode
        t.assert_eq(rc, 0, "chatd --reuseport --node-name box1-2 --check-config exit code")


if __name__ == "__main__":
    sys.exit(t.main(globals()))
