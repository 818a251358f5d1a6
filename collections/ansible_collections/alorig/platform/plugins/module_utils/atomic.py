# -*- coding: utf-8 -*-
# Copyright: Alorig platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a file atomically: a temporary file beside it, then a rename."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def write_atomic(path, content, mode, owner=0, group=0):
    """Write ``content`` (text) to ``path`` with ``mode`` and ``owner``:``group``.

    Readers see the old file or the new one, never a part: the content goes to a
    temporary file in the same directory, which is renamed over ``path``.
    """
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".alorig-")
    try:
        os.fchmod(fd, mode)
        os.write(fd, content.encode("utf-8"))
        os.close(fd)
        os.chown(tmp, owner, group)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
