"""The capacity report carries the pending-reboot flag collected by alorig_monitor
(unattended-upgrades never reboots: /var/run/reboot-required), without making it a
violation."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "capacity_report", ROOT / "roles/alorig_monitor/files/capacity_report.py")
capacity_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(capacity_report)

THRESHOLDS = {"steady_state_ram_mb": 13312, "oom_kills": 0, "postgres_connections": 80,
              "redis_memory_mb": 2048, "celery_queue_length": 1000}
METRICS = {"containers": {"alorig_postgres": {"ram_mb": 100.0, "status": "running"}},
           "postgres_connections": 5, "redis_memory_mb": 3.0, "queues": []}


def config(**extra):
    base = {"apps": [], "infra": {"alorig_postgres": 1536}, "thresholds": THRESHOLDS,
            "upgrade_trigger_mb": 13312, "host_ram_mb": 16384, "current_app": "", "generated_at": "now"}
    base.update(extra)
    return base


def test_pending_reboot_is_reported_not_a_violation():
    flag = {"required": True, "packages": ["linux-image-amd64", "libc6"]}
    report = capacity_report.build_report(METRICS, config(reboot_required=flag))
    assert report["reboot_required"] == flag
    assert report["violations"] == []


def test_no_flag_means_no_reboot_pending():
    report = capacity_report.build_report(METRICS, config())
    assert report["reboot_required"] == {"required": False, "packages": []}
