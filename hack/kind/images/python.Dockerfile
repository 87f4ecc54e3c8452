# A local stand-in for the public python:3.11-slim image, for the operator's
# Dockerfile (--build-arg BASE_IMAGE=...) where no registry answers: Debian's
# Python 3.11 with venv and pip, and `python` on PATH. Like the official image,
# it lets pip install (no EXTERNALLY-MANAGED marker). extra-ca/ holds the CA
# certificates of the machine that builds it (a TLS-intercepting egress proxy's,
# where there is one), so pip can reach PyPI from inside the build.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
COPY extra-ca/ /usr/local/share/ca-certificates/
RUN apt-get update -qq \
    && apt-get install -y -qq python3 python3-venv python3-pip python-is-python3 ca-certificates >/dev/null \
    && update-ca-certificates >/dev/null \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && rm -rf /var/lib/apt/lists/* /root/.cache \
    && python --version && pip --version
CMD ["python3"]
