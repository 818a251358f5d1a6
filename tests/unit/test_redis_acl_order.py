"""alorig.platform.redis_acl compares the running users with those of its last load: the
order in which Redis lists a user's command rules changes from one start of the server to
the next (seen with Redis 7.0 after `docker restart`), so a restart is not a change by
hand, while a rule added or removed is."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.alorig.platform.plugins.modules.redis_acl import _users  # noqa: E402

BEFORE = ("user alorig_metrics on sanitize-payload #abc %R~igny8:celery resetchannels -@all "
          "+latency|latest +latency|histogram +type +memory|usage +llen +ping +info +select")
AFTER_RESTART = ("user alorig_metrics on sanitize-payload #abc %R~igny8:celery resetchannels -@all "
                 "+select +type +memory|usage +llen +ping +info +latency|histogram +latency|latest")


def test_a_restart_reordering_the_rules_is_not_a_change():
    assert _users([BEFORE]) == _users([AFTER_RESTART])


def test_a_rule_added_or_removed_by_hand_is_a_change():
    assert _users([BEFORE]) != _users([BEFORE + " +keys"])
    assert _users([BEFORE]) != _users([BEFORE.replace(" +info", "")])
    assert _users([BEFORE]) != _users([BEFORE.replace("%R~igny8:celery", "~*")])
