#!/usr/bin/env python3
"""Install: `cmake --install BUILD --prefix /usr` (into a DESTDIR) puts the
binaries, the systemd units, the man pages and the sample configuration
in their places, never overwrites an existing /etc/chatd/chatd.conf, and
`cpack -G DEB` makes a .deb of the same files, named chatd, with its
dependencies, that `dpkg-deb -x` unpacks into a temporary root.

The build directory is the one holding the chatd under test (the
--chatd path's directory, where CMake puts it), or $CHATD_BUILD_DIR.
The tests ignore the chatd the harness starts for them."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import chatdtest as t

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def chatd_path():
    return t.chatd_argument()


def build_dir():
    d = os.environ.get("CHATD_BUILD_DIR") or os.path.dirname(chatd_path())
    if not os.path.isfile(os.path.join(d, "CMakeCache.txt")):
        raise AssertionError("%s is not a CMake build directory (set CHATD_BUILD_DIR)" % d)
    return d


def cache_value(name):
    with open(os.path.join(build_dir(), "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"%s:\w+=(.*)$" % re.escape(name), line.rstrip("\n"))
            if m:
                return m.group(1)
    return None


def unit_dir():
    """Where the units go, as a path under the root: the cache's
    CHATD_SYSTEMD_UNITDIR (from pkg-config systemd), relative ones under
    the prefix /usr."""
    d = cache_value("CHATD_SYSTEMD_UNITDIR")
    if not d:
        raise AssertionError("CHATD_SYSTEMD_UNITDIR is not in the CMake cache")
    return d.lstrip("/") if d.startswith("/") else "usr/" + d


def expected_files():
    units = unit_dir()
    return {
        "usr/sbin/chatd": None,
        "usr/bin/chatd-swarm": None,
        units + "/chatd.service": None,
        units + "/chatd@.service": None,
        units + "/chatd.socket": os.path.join(ROOT, "contrib", "systemd", "chatd.socket"),
        "usr/share/man/man8/chatd.8": os.path.join(ROOT, "docs", "chatd.8"),
        "usr/share/man/man5/chatd.conf.5": os.path.join(ROOT, "docs", "chatd.conf.5"),
        "usr/share/man/man1/chatd-swarm.1": os.path.join(ROOT, "docs", "chatd-swarm.1"),
        "usr/share/doc/chatd/examples/chatd.conf": os.path.join(ROOT, "contrib", "chatd.conf"),
        "etc/chatd/chatd.conf": os.path.join(ROOT, "contrib", "chatd.conf"),
    }


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def check_tree(root, what):
    """Every expected file is in root, the copies are exact, the programs
    are executable and the service names the installed chatd."""
    for rel, src in expected_files().items():
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            found = sorted(os.path.relpath(os.path.join(d, f), root)
                           for d, _, fs in os.walk(root) for f in fs)
            raise AssertionError("%s: no %s; the tree has:\n  %s"
                                 % (what, rel, "\n  ".join(found)))
        if src is not None and read(path, "rb") != read(src, "rb"):
            raise AssertionError("%s: %s differs from %s" % (what, rel, src))
    for prog in ("usr/sbin/chatd", "usr/bin/chatd-swarm"):
        if not os.access(os.path.join(root, prog), os.X_OK):
            raise AssertionError("%s: %s is not executable" % (what, prog))
    service = read(os.path.join(root, unit_dir(), "chatd.service"))
    if not re.search(r"^ExecStart=/usr/sbin/chatd$", service, re.M):
        raise AssertionError("%s: chatd.service does not start /usr/sbin/chatd:\n%s"
                             % (what, "\n".join(l for l in service.splitlines()
                                                if l.startswith("Exec"))))
    if "@" + "CMAKE_" in service:
        raise AssertionError("%s: chatd.service has an unsubstituted variable" % what)
    template = read(os.path.join(root, unit_dir(), "chatd@.service"))
    if not re.search(r"^ExecStart=/usr/sbin/chatd --reuseport --node-name %H-%i$", template, re.M):
        raise AssertionError("%s: chatd@.service does not start /usr/sbin/chatd --reuseport"
                             % what)
    if "@" + "CMAKE_" in template:
        raise AssertionError("%s: chatd@.service has an unsubstituted variable" % what)


def run(args, timeout=300, env=None, cwd=None):
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args), p.returncode,
                                                    p.stdout[-3000:], p.stderr[-3000:]))
    return p.stdout


def cmake_install(destdir):
    """cmake --install with the prefix /usr into destdir (cmake's
    --install has no --destdir option: DESTDIR is an environment
    variable)."""
    return run(["cmake", "--install", build_dir(), "--prefix", "/usr"],
               env=dict(os.environ, DESTDIR=destdir))


def test_cmake_install_puts_every_file_in_its_place(srv):
    tmp = tempfile.mkdtemp(prefix="chatd-install-")
    try:
        root = os.path.join(tmp, "root")
        cmake_install(root)
        check_tree(root, "cmake --install")
        # The installed programs run, and the installed configuration is good.
        out = run([os.path.join(root, "usr/sbin/chatd"), "--version"])
        if not out.startswith("chatd "):
            raise AssertionError("installed chatd --version said %r" % out)
        run([os.path.join(root, "usr/sbin/chatd"), "--check-config",
             "-c", os.path.join(root, "etc/chatd/chatd.conf")])
        run([os.path.join(root, "usr/bin/chatd-swarm"), "--help"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_reinstall_keeps_an_edited_config(srv):
    tmp = tempfile.mkdtemp(prefix="chatd-install-")
    try:
        root = os.path.join(tmp, "root")
        cmake_install(root)
        conf = os.path.join(root, "etc/chatd/chatd.conf")
        mine = "# edited by the operator\nhistory = 7\n"
        with open(conf, "w") as f:
            f.write(mine)
        out = cmake_install(root)
        t.assert_eq(read(conf), mine, "/etc/chatd/chatd.conf after a second install")
        if "Keeping" not in out:
            raise AssertionError("the second install does not say it kept the file:\n%s" % out)
        # The example is still refreshed.
        t.assert_eq(read(os.path.join(root, "usr/share/doc/chatd/examples/chatd.conf")),
                    read(os.path.join(ROOT, "contrib", "chatd.conf")), "the example config")
        # And with the file gone, it comes back.
        os.unlink(conf)
        cmake_install(root)
        t.assert_eq(read(conf), read(os.path.join(ROOT, "contrib", "chatd.conf")),
                    "/etc/chatd/chatd.conf after it was removed and installed again")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def needs_libsystemd():
    out = subprocess.run(["ldd", chatd_path()], capture_output=True, text=True,
                         timeout=30).stdout
    return "libsystemd.so" in out


def test_cpack_deb_has_the_same_files_and_dependencies(srv):
    tmp = tempfile.mkdtemp(prefix="chatd-deb-")
    try:
        pkgdir = os.path.join(tmp, "pkg")
        run(["cpack", "-G", "DEB", "--config", os.path.join(build_dir(), "CPackConfig.cmake"),
             "-B", pkgdir], timeout=600, cwd=build_dir())
        debs = [f for f in os.listdir(pkgdir) if f.endswith(".deb")]
        t.assert_eq(len(debs), 1, "packages made: %r" % debs)
        deb = os.path.join(pkgdir, debs[0])
        if not debs[0].startswith("chatd_"):
            raise AssertionError("package file name %r" % debs[0])

        info = run(["dpkg-deb", "-I", deb])
        fields = dict(re.findall(r"^ ([A-Za-z-]+): (.*)$", info, re.M))
        t.assert_eq(fields.get("Package"), "chatd", "Package field")
        depends = {d.strip().split()[0] for d in fields.get("Depends", "").split(",") if d}
        want = {"libc6", "libev4", "libinih1"} | ({"libsystemd0"} if needs_libsystemd() else set())
        if not want <= depends:
            raise AssertionError("Depends lacks %s: %r" % (sorted(want - depends),
                                                          fields.get("Depends")))
        for field in ("Maintainer", "Description", "Version", "Architecture"):
            if not fields.get(field):
                raise AssertionError("no %s in:\n%s" % (field, info))
        conffiles = run(["dpkg-deb", "-I", deb, "conffiles"])
        t.assert_eq(conffiles.split(), ["/etc/chatd/chatd.conf"], "conffiles")

        root = os.path.join(tmp, "root")
        run(["dpkg-deb", "-x", deb, root])
        check_tree(root, "dpkg-deb -x")
        out = run([os.path.join(root, "usr/sbin/chatd"), "--version"])
        if not out.startswith("chatd "):
            raise AssertionError("packaged chatd --version said %r" % out)
        # Owned by root in the archive, whoever built it.
        listing = run(["dpkg-deb", "-c", deb])
        for line in listing.splitlines():
            if not line.split()[1].startswith("root/root"):
                raise AssertionError("not owned by root/root: %s" % line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(t.main(globals()))
