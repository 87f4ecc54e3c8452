"""SIGKILL soak: the operator killed at random moments while workloads churn.

Issue #14 item 5. The operator (`paddock run`, a real subprocess) is killed with SIGKILL at
least 100 times, sometimes during its start-up, sometimes mid-cycle, while a background thread
creates, resizes and deletes a few hundred AgentWorkloads against budgets and pools sized so
that some fit and some queue. After every kill and every restart the cluster is sampled and
checked for doubled admissions; at the end the operator runs undisturbed until nothing changes,
and every workload left queued that fits is a lost admission. Both counts must be 0.

    PADDOCK_SOAK=long            more workloads, nodes and kills (300)
    PADDOCK_SOAK_SEED=<n>        replay a run (the seed is printed)
    PADDOCK_SOAK_KILLS=<n>       override the number of kills
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground
from tests.support.soak import (
    Budget,
    Churn,
    KilledOperator,
    Snapshot,
    SoakSize,
    doubled,
    fingerprint,
    lost,
    settled_mismatch,
)
from tests.support.waiting import WaitTimeout, wait_for


def stamp() -> str:
    """Wall-clock time as the operator's log writes it, to find a sample's moment there."""
    return datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]


def deep_in_a_queue(snap: Snapshot, name: str, workload: dict[str, Any]) -> bool:
    """A new workload waiting behind others: by design its status is never written (a deep
    queue position is computed on demand, issue #15), so it has no observedGeneration. It holds
    nothing; `lost` checks afterwards that it really could not be admitted."""
    status = workload.get("status") or {}
    return not status.get("reason") and not snap.deployed_replicas(name) and not snap.pods.get(name)


def settle(take: Any, quiet: float, timeout: float) -> Snapshot:
    """Wait until the fingerprint has not changed for `quiet` seconds; return the snapshot."""
    state: dict[str, Any] = {"print": None, "since": time.monotonic(), "why": "not sampled"}

    def still() -> Snapshot | None:
        snap: Snapshot = take()
        now = fingerprint(snap)
        behind = [
            f"{name} (generation {w['metadata']['generation']}, status observed "
            f"{(w.get('status') or {}).get('observedGeneration')})"
            for name, w in sorted(snap.workloads.items())
            if (w.get("status") or {}).get("observedGeneration") != w["metadata"]["generation"]
            and not deep_in_a_queue(snap, name, w)
        ]
        if now != state["print"] or behind:
            changed = sorted(set(now) - set(state["print"] or ()))
            state["why"] = (
                f"status behind its spec: {', '.join(behind)}"
                if behind
                else f"still changing (name, generation, observed, phase, admitted, "
                f"deployed, pods): {changed[:5]}"
            )
            state["print"], state["since"] = now, time.monotonic()
            return None
        return snap if time.monotonic() - state["since"] >= quiet else None

    try:
        found = wait_for(still, timeout=timeout, interval=1.0, what="a settled cluster")
    except WaitTimeout as error:
        raise WaitTimeout(f"{error}; last seen: {state['why']}") from None
    assert found is not None
    return found


def test_sigkill_soak_loses_and_doubles_no_admission(
    cluster: Cluster,
    api_client: client.ApiClient,
    ground: Ground,
    operator: OperatorProcess,
) -> None:
    seed = int(os.environ.get("PADDOCK_SOAK_SEED") or random.randrange(2**31))
    size = SoakSize.from_env()
    rng = random.Random(seed)
    print(f"\nsoak: seed={seed} (PADDOCK_SOAK_SEED={seed} replays it) size={size}")

    ground.add_nodes("small", "c8g.2xlarge", size.small_nodes)  # 7 whole cores each
    ground.add_nodes("large", "c8g.4xlarge", size.large_nodes)  # 15 whole cores each
    pools = [ground.pool("small"), ground.pool("large")]
    scale, cohort = size.budget_scale, ground.name("shared")
    budgets = [
        Budget(ground.budget("solo", 60 * scale), 60 * scale),
        Budget(
            ground.budget("left", 40 * scale, cohort=cohort, borrowingLimit=20 * scale),
            40 * scale,
            cohort,
            20 * scale,
        ),
        Budget(
            ground.budget("right", 40 * scale, cohort=cohort, borrowingLimit=20 * scale),
            40 * scale,
            cohort,
            20 * scale,
        ),
    ]
    node_label = f"karpenter.sh/nodepool in ({','.join(pools)})"

    def take() -> Snapshot:
        return Snapshot.take(api_client, ground.namespace, node_label)

    churn = Churn(client.CustomObjectsApi(api_client), ground.namespace, budgets, size, rng)
    # Kept where pytest's rotation of temporary directories cannot delete it.
    log_path = REPO_ROOT / ".local" / "soak" / f"operator-{seed}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    print(f"soak: operator log {log_path}", flush=True)
    soak = KilledOperator(
        kubeconfig=cluster.kubeconfig,
        log_path=log_path,
        lease_namespace=ground.namespace,  # its own Lease: nothing else can lead meanwhile
    )
    samples: list[str] = []
    sampled, dead = 0, 0
    started = time.monotonic()
    operator.stop()  # the session's operator must not schedule while the soak's runs
    try:
        churn.start(period=0.6)
        for kill in range(size.kills):
            soak.launch()
            if rng.random() < 0.25:
                time.sleep(rng.uniform(0, 3))  # may land before it is even ready
            else:
                soak.wait_ready()
                snap = take()
                sampled += 1
                samples += [
                    f"{stamp()} after restart {kill}: {d}" for d in doubled(snap, churn, budgets)
                ]
                time.sleep(rng.uniform(0, 4))
            soak.kill(api_client)
            snap = take()
            sampled += 1
            found = doubled(snap, churn, budgets)
            samples += [f"{stamp()} after kill {kill}: {d}" for d in found]
            dead += len(found)
            if kill % 10 == 9:
                print(
                    f"soak: {kill + 1} kills, {churn.created} created, {churn.resized} resized, "
                    f"{churn.deleted} deleted, {len(samples)} doubled, "
                    f"{time.monotonic() - started:.0f}s",
                    flush=True,
                )
        churn.stop()
        churn_seconds = time.monotonic() - started

        # Recovery: one last restart, left alone until nothing changes for 20 s.
        soak.launch()
        soak.wait_ready()
        final = settle(take, quiet=20, timeout=600)
        lost_found = lost(final, budgets)
        mismatched = settled_mismatch(final)
        samples += [f"settled: {d}" for d in doubled(final, churn, budgets)]
        sampled += 1

        # Writes that repeat: restarts over a settled cluster must not rewrite Deployments.
        rewritten, restarts = 0, 3
        for _ in range(restarts):
            before = {
                d["metadata"]["name"]: d["metadata"]["resource_version"]
                for ds in final.deployments.values()
                for d in ds
            }
            soak.kill(api_client)
            soak.launch()
            soak.wait_ready()
            final = settle(take, quiet=10, timeout=300)
            after = {
                d["metadata"]["name"]: d["metadata"]["resource_version"]
                for ds in final.deployments.values()
                for d in ds
            }
            rewritten += sum(1 for name, rv in before.items() if after.get(name) != rv)
        load = os.getloadavg()
        queued = sum(
            1
            for w in final.workloads.values()
            if not (w.get("status") or {}).get("admittedReplicas")
        )
        print(
            f"soak: seed={seed} kills={size.kills} workloads created={churn.created} "
            f"resized={churn.resized} deleted={churn.deleted} live={len(final.workloads)} "
            f"(queued {queued}) samples={sampled} doubled={len(samples)} "
            f"(with the operator dead: {dead}) "
            f"lost={len(lost_found)} settled-mismatch={len(mismatched)} "
            f"deployments rewritten by {restarts} settled restarts={rewritten}/"
            f"{sum(len(ds) for ds in final.deployments.values())} "
            f"churn errors={dict(churn.errors)} churn+kills={churn_seconds:.0f}s "
            f"total={time.monotonic() - started:.0f}s "
            f"load={load[0]:.2f},{load[1]:.2f},{load[2]:.2f}"
        )
    finally:
        churn.stop()
        soak.stop()
        operator.start()
    assert lost_found == [], f"lost admissions (seed {seed}):\n" + "\n".join(lost_found)
    assert mismatched == [], f"settled but inconsistent (seed {seed}):\n" + "\n".join(mismatched)
    assert rewritten == 0, f"{rewritten} Deployments rewritten by restarts of a settled cluster"
    report = f"doubled admissions (seed {seed}):\n" + "\n".join(samples[:40])
    assert samples == [], report
