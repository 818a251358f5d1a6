"""The filters alorig.platform.systemd_units and dpkg_installed over real command output."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.alorig.platform.plugins.filter.systemd import systemd_units  # noqa: E402

SHOW = """Id=ssh.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled

Id=apt-daily.timer
LoadState=loaded
ActiveState=inactive
UnitFileState=disabled

Id=nosuch.service
LoadState=not-found
ActiveState=inactive
UnitFileState=
"""


def test_units_by_id_and_short_name():
    units = systemd_units(SHOW)
    assert units["ssh"] is units["ssh.service"]
    assert units["ssh"]["UnitFileState"] == "enabled" and units["ssh"]["ActiveState"] == "active"
    assert units["apt-daily.timer"]["UnitFileState"] == "disabled"
    assert "apt-daily" not in units  # only a service has a short name
    assert units["nosuch"] == {"Id": "nosuch.service", "LoadState": "not-found",
                               "ActiveState": "inactive", "UnitFileState": ""}


def test_empty_output_gives_no_units():
    assert systemd_units("") == {} and systemd_units(None) == {}


def test_dpkg_installed_keeps_only_installed_packages():
    from ansible_collections.alorig.platform.plugins.filter.dpkg import dpkg_installed
    lines = ["ii  openssh-server", "rc  chrony", "iU  nftables", "ii  libc6:amd64", "un  ntp", ""]
    assert dpkg_installed(lines) == ["openssh-server", "libc6"]
    assert dpkg_installed([]) == [] and dpkg_installed(None) == []
