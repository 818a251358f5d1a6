# -*- coding: utf-8 -*-
# Copyright: the Alorig platform authors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's directories and small configuration files, converged (modules config_files and
compose_state): the comparison, the atomic writes, check and diff mode."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import shlex
import shutil
import tempfile


def _ids(owner, group):
    uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
    gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    return uid, gid


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


class Converger(object):
    def __init__(self, module):
        self.module = module
        self.check = module.check_mode
        self.actions = []
        self.changed_paths = []
        self.diffs = []

    def fail(self, path, msg):
        self.module.fail_json(msg="%s: %s" % (path, msg), actions=self.actions,
                              changed_paths=self.changed_paths)

    def owner_ids(self, spec):
        try:
            return _ids(spec["owner"], spec["group"])
        except KeyError:
            # in check mode on a fresh host, the user of a package not installed yet
            if self.check:
                return None
            self.fail(spec["path"], "no user %s or group %s on the host" % (spec["owner"], spec["group"]))

    def attrs_differ(self, st, spec, ids):
        mode = int(spec["mode"], 8)
        if ids is None:
            return ["owner %s:%s" % (spec["owner"], spec["group"])]
        why = []
        if (st.st_uid, st.st_gid) != ids:
            why.append("owner %s:%s" % (spec["owner"], spec["group"]))
        if (st.st_mode & 0o7777) != mode:
            why.append("mode %s" % spec["mode"])
        return why

    def record(self, path, action, diff=None):
        self.actions.append(action)
        self.changed_paths.append(path)
        if diff is not None and self.module._diff:
            self.diffs.append(diff)

    def set_attrs(self, path, spec, ids):
        if self.check:
            return
        os.chown(path, ids[0], ids[1])
        os.chmod(path, int(spec["mode"], 8))

    def fix_attrs(self, path, spec, ids, what):
        why = self.attrs_differ(os.stat(path), spec, ids)
        if why:
            self.record(path, "fix %s of %s" % (" and ".join(why), what))
            self.set_attrs(path, spec, ids)

    def directory(self, spec):
        path = spec["path"]
        ids = self.owner_ids(spec)
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            self.fail(path, "exists and is not a directory")
        if not os.path.isdir(path):
            self.record(path, "create directory %s" % path,
                        {"before_header": path, "after_header": path,
                         "before": "(absent)\n", "after": "(directory, mode %s)\n" % spec["mode"]})
            if not self.check:
                os.makedirs(path)
                self.set_attrs(path, spec, ids)
            return
        self.fix_attrs(path, spec, ids, "directory " + path)

    def file(self, spec):
        path = spec["path"]
        secret = spec["secret_content"] is not None
        if secret and spec["content"] is not None:
            self.fail(path, "content and secret_content are mutually exclusive")
        wanted = (spec["secret_content"] if secret else spec["content"])
        if wanted is None:
            self.fail(path, "a file needs content or secret_content")
        wanted = wanted.encode("utf-8")
        ids = self.owner_ids(spec)
        if os.path.isdir(path):
            self.fail(path, "is a directory, a file is declared")
        before = _read(path)
        exists = os.path.lexists(path)
        # content as declared, or left as it is (force: false): only owner, group and mode
        if exists and not os.path.islink(path) and (before == wanted or not spec["force"]):
            self.fix_attrs(path, spec, ids, path)
            return
        verb = "write" if exists else "create"
        if secret:
            action = "%s %s (secret, content not shown)" % (verb, path)
            diff = {"before_header": path, "after_header": path,
                    "before": "(secret content)\n" if exists else "(absent)\n",
                    "after": "(secret content, changed)\n"}
        else:
            action = "%s %s" % (verb, path)
            diff = {"before_header": path, "after_header": path,
                    "before": (before or b"").decode("utf-8", "replace"),
                    "after": wanted.decode("utf-8")}
        self.record(path, action, diff)
        if self.check:
            return
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            self.fail(path, "its directory %s does not exist (declare it first)" % directory)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".alorig-")
        try:
            os.fchmod(fd, int(spec["mode"], 8))
            os.fchown(fd, ids[0], ids[1])
            os.write(fd, wanted)
            os.fsync(fd)
            os.close(fd)
            fd = None
            problem = self.validate(spec, tmp)
            if problem is None:
                os.rename(tmp, path)
        except Exception as exc:  # pylint: disable=broad-except
            if fd is not None:
                os.close(fd)
            if os.path.exists(tmp):
                os.unlink(tmp)
            self.fail(path, "cannot be written: %s" % exc)
        if problem is not None:
            os.unlink(tmp)
            self.fail(path, "the new content failed to validate, the file is unchanged: %s"
                      % problem)

    def validate(self, spec, tmp):
        """None when the file's check passes (or it has none), else why it failed."""
        command = spec.get("validate")
        if not command:
            return None
        if "%s" not in command:
            return "validate %r has no %%s for the file to check" % command
        argv = [word.replace("%s", tmp) for word in shlex.split(command)]
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            return "%s exited %d: %s" % (" ".join(argv), rc, (err or out).strip()[-800:])
        return None

    def absent(self, spec):
        path = spec["path"]
        if not os.path.lexists(path):
            return
        self.record(path, "remove %s" % path,
                    {"before_header": path, "after_header": path,
                     "before": "(present)\n", "after": "(absent)\n"})
        if self.check:
            return
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def run(self, files):
        for spec in files:
            if spec["state"] != "absent" and not spec["mode"]:
                self.fail(spec["path"], "mode is required")
            if spec["mode"]:
                try:
                    int(spec["mode"], 8)
                except ValueError:
                    self.fail(spec["path"], "mode %r is not an octal string" % spec["mode"])
            getattr(self, spec["state"])(spec)


# The argument spec of a module's `files` and `units` options (their documentation is in
# the module config_files).
FILE_OPTIONS = dict(
    path=dict(type="path", required=True),
    state=dict(type="str", choices=["directory", "file", "absent"], default="file"),
    content=dict(type="str"),
    secret_content=dict(type="str", no_log=True),
    mode=dict(type="str"),
    owner=dict(type="str", default="root"),
    group=dict(type="str", default="root"),
    force=dict(type="bool", default=True),
    validate=dict(type="str"),
)


def converge_files(module, files, units):
    """Converge ``files``, then read ``units``: the result's changed, changed_paths, actions,
    diff (diff mode) and units_show (when ``units``)."""
    converger = Converger(module)
    converger.run(files)
    result = dict(changed=bool(converger.changed_paths), changed_paths=converger.changed_paths,
                  actions=converger.actions)
    if module._diff and converger.diffs:
        result["diff"] = converger.diffs
    if units:
        # read after the files: a unit written by this run is loaded from disk
        systemctl = module.get_bin_path("systemctl", required=True)
        rc, out, err = module.run_command(
            [systemctl, "show", "--property=Id,LoadState,UnitFileState,ActiveState"] + units)
        if rc != 0:
            module.fail_json(msg="systemctl show failed (rc %d): %s" % (rc, (err or out).strip()),
                             **result)
        result["units_show"] = out
    return result
