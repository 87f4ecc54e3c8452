# kube-proxy on Debian with iptables and conntrack. Like the upstream image's
# iptables-wrapper, the first run picks the iptables mode (nft or legacy) that
# the node already uses, so kube-proxy's rules sit beside Docker's.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq \
    && apt-get install -y -qq iptables conntrack ipset >/dev/null \
    && rm -rf /var/lib/apt/lists/*
# Modes come from the build context (a RUN chmod would copy the binary into a
# second layer).
COPY bin/kube-proxy /usr/local/bin/kube-proxy.bin
COPY kube-proxy-wrapper /usr/local/bin/kube-proxy
