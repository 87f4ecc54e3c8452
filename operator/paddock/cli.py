"""The `paddock` command.

paddock run [--lease-namespace NS] [--metrics-port 8080] [--metrics-auth none|kubernetes]
            [--health-port 8081] [--lease-duration 15] [--renew-deadline 10] [--retry-period 2]
    start the operator against the current kubeconfig (or in-cluster config)
paddock crds [--check]
    write crds/ from the pydantic models (or fail when crds/ has drifted)
"""

from __future__ import annotations

import argparse
import os
import sys


def _run(args: argparse.Namespace) -> int:
    from paddock.controller import main as operator_main
    from paddock.controller.leadership import LeaderElectionConfig

    try:
        election = LeaderElectionConfig(
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
        )
    except ValueError as error:
        print(f"paddock run: {error}", file=sys.stderr)
        return 2
    return operator_main.run(
        lease_namespace=args.lease_namespace,
        metrics_port=args.metrics_port,
        health_port=args.health_port,
        log_level=args.log_level,
        json_logs=not args.plain_logs,
        election=election,
        watch_timeout=args.watch_timeout,
        metrics_auth=args.metrics_auth,
        metrics_cert_dir=args.metrics_cert_dir,
    )


def _seconds(env: str, default: str) -> float:
    return float(os.environ.get(env, default))


def _crds(args: argparse.Namespace) -> int:
    from paddock.api import crdgen

    return crdgen.main(["--check"] if args.check else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="paddock", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator")
    run.add_argument(
        "--lease-namespace",
        default=os.environ.get("PADDOCK_NAMESPACE", "default"),
        help="namespace of the leader-election Lease (env PADDOCK_NAMESPACE)",
    )
    run.add_argument(
        "--metrics-port", type=int, default=int(os.environ.get("PADDOCK_METRICS_PORT", "8080"))
    )
    run.add_argument(
        "--metrics-auth",
        choices=["kubernetes", "none"],
        default=os.environ.get("PADDOCK_METRICS_AUTH", "none"),
        help="who may read /metrics: 'kubernetes' = a bearer token RBAC allows to get "
        "/metrics (TokenReview + SubjectAccessReview), 'none' = anyone who reaches the port "
        "(env PADDOCK_METRICS_AUTH; the Helm chart sets kubernetes)",
    )
    run.add_argument(
        "--metrics-cert-dir",
        default=os.environ.get("PADDOCK_METRICS_CERT_DIR", ""),
        help="serve /metrics over TLS with tls.crt and tls.key from this folder, reloaded "
        "when they change (env PADDOCK_METRICS_CERT_DIR; empty: plain HTTP)",
    )
    run.add_argument(
        "--health-port", type=int, default=int(os.environ.get("PADDOCK_HEALTH_PORT", "8081"))
    )
    run.add_argument(
        "--lease-duration",
        type=float,
        default=_seconds("PADDOCK_LEASE_DURATION", "15"),
        help="seconds a standby waits after it last saw the Lease change before taking it over "
        "(env PADDOCK_LEASE_DURATION; default 15)",
    )
    run.add_argument(
        "--renew-deadline",
        type=float,
        default=_seconds("PADDOCK_RENEW_DEADLINE", "10"),
        help="seconds the leader may go without renewing before it stops writing and exits; "
        "less than the lease duration (env PADDOCK_RENEW_DEADLINE; default 10)",
    )
    run.add_argument(
        "--retry-period",
        type=float,
        default=_seconds("PADDOCK_RETRY_PERIOD", "2"),
        help="seconds between renewals and take-over tries (env PADDOCK_RETRY_PERIOD; default 2)",
    )
    run.add_argument(
        "--watch-timeout",
        type=int,
        default=int(os.environ.get("PADDOCK_WATCH_TIMEOUT", "300")),
        help="seconds one watch request lasts before it is resumed (env PADDOCK_WATCH_TIMEOUT)",
    )
    run.add_argument("--log-level", default=os.environ.get("PADDOCK_LOG_LEVEL", "INFO"))
    run.add_argument(
        "--plain-logs", action="store_true", help="human-readable logs instead of JSON"
    )
    run.set_defaults(func=_run)

    crds = commands.add_parser("crds", help="generate crds/ from the models")
    crds.add_argument("--check", action="store_true", help="fail if crds/ differs")
    crds.set_defaults(func=_crds)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
