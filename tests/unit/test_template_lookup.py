"""alorig.platform.template: the builtin template lookup, without its deep copy of the variables.

The builtin lookup deep-copies every variable of the host for each template (about 0.1 s per
template with the registry in the host's variables). These tests render the same templates
with both lookups, loaded by Ansible's plugin loader from the collection, and check that the
texts are the same, that the template's own variables stay in the template, and that the
host's variables are no longer deep-copied.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Run in its own interpreter: the plugin loader's collection finder is process-wide.
SCRIPT = r"""
import copy, json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar

init_plugin_loader([sys.argv[1]])
search_path = sys.argv[2]


class Probe:
    copies = 0

    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name

    def __deepcopy__(self, memo):
        Probe.copies += 1
        return Probe(self.name)


def render(name, term="site.conf.j2", **kwargs):
    loader = DataLoader()
    variables = {
        "ansible_search_path": [search_path],
        "ansible_managed": "managed by the tests",
        "sites": [{"host": "app.example.com", "port": 8011}, {"host": "api.example.com", "port": 8012}],
        "owner": Probe("alorig"),
    }
    lookup = lookup_loader.get(name, loader=loader, templar=Templar(loader=loader, variables=variables))
    Probe.copies = 0
    try:
        text = lookup.run([term], variables=variables, **kwargs)
    except Exception as exc:
        return {"error": str(exc)}
    return {"text": text, "keys": sorted(variables), "copies": Probe.copies,
            "plugin": type(lookup).__module__}


probe = Probe("x")
copy.deepcopy({"a": [probe]})
out = {"probe_copies": Probe.copies}
for name in ("ansible.builtin.template", "alorig.platform.template"):
    out[name] = {
        "plain": render(name),
        "template_vars": render(name, template_vars={"extra": "tv"}),
        "missing": render(name, term="nope.j2"),
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    search_path = tmp_path_factory.mktemp("role")
    (search_path / "templates").mkdir()
    (search_path / "templates" / "site.conf.j2").write_text(
        "# {{ ansible_managed }}\n"
        "{% for site in sites %}\n"
        "{{ site.host }} -> {{ site.port }} ({{ owner }}, {{ extra | default('none') }})\n"
        "{% endfor %}\n"
        "from {{ template_path | basename }}\n"
    )
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "collections"), str(search_path)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_collections_lookup_is_the_one_loaded(rendered):
    assert rendered["alorig.platform.template"]["plain"]["plugin"].endswith("alorig.platform.plugins.lookup.template")
    assert rendered["ansible.builtin.template"]["plain"]["plugin"].endswith("ansible.builtin.plugins.lookup.template")


@pytest.mark.parametrize("case, extra", [("plain", "none"), ("template_vars", "tv")])
def test_renders_what_the_builtin_lookup_renders(rendered, case, extra):
    ours = rendered["alorig.platform.template"][case]["text"]
    assert ours == rendered["ansible.builtin.template"][case]["text"]
    assert ours == ["# managed by the tests\n"
                    "app.example.com -> 8011 (alorig, {0})\n"
                    "api.example.com -> 8012 (alorig, {0})\n"
                    "from site.conf.j2\n".format(extra)]


def test_the_templates_own_variables_stay_in_the_template(rendered):
    for case in ("plain", "template_vars"):
        assert rendered["alorig.platform.template"][case]["keys"] == [
            "ansible_managed", "ansible_search_path", "owner", "sites"]


def test_the_host_variables_are_not_deep_copied(rendered):
    # a deep copy copies the probe, and the builtin lookup still deep-copies the host's
    # variables: what this lookup saves
    assert rendered["probe_copies"] == 1
    assert rendered["ansible.builtin.template"]["plain"]["copies"] == 1
    assert rendered["alorig.platform.template"]["plain"]["copies"] == 0
    assert rendered["alorig.platform.template"]["template_vars"]["copies"] == 0


def test_a_missing_template_is_an_error_naming_it(rendered):
    assert "nope.j2" in rendered["alorig.platform.template"]["missing"]["error"]
