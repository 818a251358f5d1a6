"""Tasks whose module returns a container's inspection are not logged.

community.docker's docker_container_info, and docker_container with any state but absent,
return the container's whole inspection, Config.Env included: an app's passwords, printed at
-v and logged at -vvvv. The molecule scenarios' secret scans catch it only on the paths they
run; this test reads every task of the collection's roles and playbooks (blocks included)
and names each such task that lacks ``no_log: true``."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INSPECTING = {"community.docker.docker_container_info", "docker_container_info"}
CONTAINER = {"community.docker.docker_container", "docker_container"}


def task_files():
    for base in ("roles", "playbooks"):
        for path in sorted((ROOT / base).rglob("*.yml")):
            if "tasks" in path.parts or base == "playbooks":
                yield path


def tasks_of(node):
    """Every task dict in a task list or a play list, blocks and play sections included."""
    if isinstance(node, list):
        for item in node:
            yield from tasks_of(item)
    elif isinstance(node, dict):
        sections = ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers")
        if any(key in node for key in sections):
            for key in sections:
                yield from tasks_of(node.get(key))
        else:
            yield node


def leaks(task):
    for module in INSPECTING:
        if module in task:
            return True
    for module in CONTAINER:
        if module in task:
            args = task[module] if isinstance(task[module], dict) else {}
            return args.get("state", "started") != "absent"
    return False


def offenders(paths):
    found = []
    for path in paths:
        data = yaml.safe_load(path.read_text())
        for task in tasks_of(data):
            if leaks(task) and task.get("no_log") is not True:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.append("%s: %s" % (where, task.get("name", "<unnamed>")))
    return found


def test_every_container_inspection_is_not_logged():
    paths = list(task_files())
    assert len(paths) > 100
    assert offenders(paths) == []


@pytest.mark.parametrize("task,expected", [
    ({"name": "x", "community.docker.docker_container_info": {"name": "a"}}, True),
    ({"name": "x", "community.docker.docker_container": {"name": "a", "state": "stopped"}}, True),
    ({"name": "x", "community.docker.docker_container": {"name": "a"}}, True),
    ({"name": "x", "community.docker.docker_container": {"name": "a", "state": "absent"}}, False),
    ({"name": "x", "ansible.builtin.debug": {"msg": "a"}}, False),
])
def test_the_check_finds_what_it_looks_for(tmp_path, task, expected):
    path = tmp_path / "tasks.yml"
    path.write_text(yaml.safe_dump([{"name": "b", "block": [task]}]))
    assert bool(offenders([path])) == expected
    task["no_log"] = True
    path.write_text(yaml.safe_dump([{"name": "b", "block": [task]}]))
    assert offenders([path]) == []
