# One static Go binary on the static root, at /usr/local/bin/<name>. Used for
# kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok, whose
# pods name their command; coredns and pause also get an entrypoint.
ARG STATIC_IMAGE
FROM ${STATIC_IMAGE}
ARG NAME
COPY bin/ /usr/local/bin/
