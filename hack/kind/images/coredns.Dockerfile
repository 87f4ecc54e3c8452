# CoreDNS built from github.com/coredns/coredns, laid out like the upstream image
# (/coredns, the entrypoint kubeadm's Deployment relies on: it passes only args).
ARG STATIC_IMAGE
FROM ${STATIC_IMAGE}
COPY bin/coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
