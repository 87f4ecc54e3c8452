# The Paddock operator image: multi-arch (linux/amd64, linux/arm64), non-root, slim.
#
#   docker build -t paddock:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/paddock-dev/paddock:0.1.0 .
#   docker build --build-arg BASE_IMAGE=localhost/python:3.11-slim -t paddock:dev .
#                         (where no registry is reachable: a locally built Python base)
#
# Nothing compiles: every dependency ships manylinux wheels for x86_64 and aarch64
# (pydantic-core, PyYAML, aiohttp, multidict, yarl, frozenlist, propcache), so the
# builder needs no toolchain and an emulated arm64 build only unpacks wheels.
# No `# syntax=` line on purpose: it would make BuildKit pull a frontend image.
#
# BASE_IMAGE needs python3 >= 3.11 with the pip and venv modules (a Debian base:
# python3 python3-pip python3-venv); only python3 itself is used at runtime.
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- builder
# Runs on the target platform, so pip picks that platform's wheels.
FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# Only what the wheel is built from (.dockerignore allows nothing else in).
COPY pyproject.toml README.md ./
COPY operator/ operator/
# The paddock wheel plus a wheel of every dependency, for this platform.
RUN python3 -m pip wheel --wheel-dir /wheels .
# A self-contained virtualenv, installed offline from those wheels, without
# pip/setuptools (nothing installs packages at runtime). The last line fails
# the build if a compiled dependency does not import on this platform.
RUN python3 -m venv /opt/paddock \
 && /opt/paddock/bin/pip install --no-index --find-links /wheels paddock \
 && /opt/paddock/bin/pip uninstall --yes pip setuptools \
 && /opt/paddock/bin/python -c "import kopf, kubernetes, pydantic_core, yaml, aiohttp, paddock.cli" \
 && /opt/paddock/bin/paddock --help >/dev/null

# ---------------------------------------------------------------- runtime
# The same base, so the virtualenv's python symlink (e.g. /usr/local/bin/python3) resolves.
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="paddock" \
      org.opencontainers.image.description="Kubernetes operator: AI-agent and CPU-inference workloads on arm64 (Graviton) pools under per-team core budgets" \
      org.opencontainers.image.source="https://github.com/paddock-dev/paddock" \
      org.opencontainers.image.licenses="Apache-2.0"
# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only in the pod (the .pyc
# files were compiled at install time). MALLOC_ARENA_MAX: fewer glibc arenas keep
# the RSS of a threaded Python process down (target: <= 300 MiB at 5,000 nodes).
# USER: uid 65532 has no /etc/passwd entry, and kopf names itself with
# getpass.getuser(), which reads $USER before it asks the passwd database
# (found by tests/e2e: without it the pod crash-loops with a KeyError).
ENV PATH=/opt/paddock/bin:$PATH \
    USER=paddock \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2
COPY --from=builder /opt/paddock /opt/paddock
# The "nonroot" uid/gid of distroless images; numeric, so Kubernetes can verify
# runAsNonRoot without an /etc/passwd entry.
USER 65532:65532
# 8080: /metrics (Prometheus). 8081: /healthz and /readyz.
EXPOSE 8080 8081
# Exec form: no shell at runtime; signals reach the operator directly.
ENTRYPOINT ["paddock"]
CMD ["run"]
