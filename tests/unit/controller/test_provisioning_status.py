"""Provisioning in status: the phase, the condition whose lastTransitionTime is the deadline's
clock, reading it back, and the latency/timeout observations."""

from __future__ import annotations

from dataclasses import replace

from paddock.controller.cluster_state import provisioning_times
from paddock.controller.status import (
    phase_of,
    provisioning_condition,
    provisioning_ended,
    workload_status,
)
from paddock.planner import Reason, WorkloadDecision

WAITING = WorkloadDecision(
    key="ns/a",
    budget="b",
    admitted_replicas=4,
    admitted_cores=32,
    requested_cores=32,
    assignments=(("auto", 4),),
    placements=(("auto/np/launchable-0", 4),),
    state="Admitted",
    reason=Reason.PROVISIONING,
    message="admitted ...; 4 of them (32 cores) wait for a node launch",
    queue_position=None,
    provisioning_replicas=4,
)
LAUNCHED = replace(WAITING, reason=Reason.ADMITTED, provisioning_replicas=0, message="admitted")
TIMED_OUT = replace(
    WAITING,
    admitted_replicas=0,
    admitted_cores=0,
    assignments=(),
    placements=(),
    state="Queued",
    reason=Reason.PROVISIONING_TIMEOUT,
    provisioning_replicas=0,
    message="4 replicas (32 cores) waited 301 seconds ...",
)


def test_phase_is_provisioning_while_replicas_wait_for_a_launch() -> None:
    assert phase_of(WAITING, 0, None) == "Provisioning"
    assert phase_of(WAITING, 4, "Provisioning") == "Running"
    assert phase_of(LAUNCHED, 4, "Provisioning") == "Running"


def test_the_condition_starts_the_clock_and_ends_launched_or_timed_out() -> None:
    started = workload_status(WAITING, 0, 1, {})
    cond = next(c for c in started["conditions"] if c["type"] == "Provisioning")
    assert (cond["status"], cond["reason"]) == ("True", "Provisioning")
    since, timed_out = provisioning_times(started)
    assert since is not None and timed_out is None

    ended = workload_status(LAUNCHED, 4, 1, started)
    cond = next(c for c in ended["conditions"] if c["type"] == "Provisioning")
    assert (cond["status"], cond["reason"]) == ("False", "NodesLaunched")
    assert provisioning_ended(started, ended)[0] == "launched"  # type: ignore[index]

    gave_up = workload_status(TIMED_OUT, 0, 1, started)
    assert provisioning_ended(started, gave_up)[0] == "timeout"  # type: ignore[index]
    since, timed_out = provisioning_times(gave_up)
    assert since is None and timed_out is not None


def test_a_workload_that_never_waited_has_no_provisioning_condition() -> None:
    assert provisioning_condition(LAUNCHED, 1, []) is None
    plain = workload_status(LAUNCHED, 4, 1, {})
    assert all(c["type"] != "Provisioning" for c in plain["conditions"])
